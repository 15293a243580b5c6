"""An HTTP proxy in front of the emulator that answers some DynamoDB calls with throttling errors.

The handler's boto3 client talks to the proxy, so the errors cross the same wire, parser and retry
logic as DynamoDB's own throttling would.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

THROTTLED = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "The level of configured provisioned throughput for the table was exceeded.",
    }
).encode()


THROTTLED = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "The level of configured provisioned throughput for the table was exceeded.",
    }
).encode()


class ThrottlingProxy:
    def __init__(self, upstream: str, throttled_jobs: set[str], operation: str = "UpdateItem"):
        self.upstream = upstream
        self.throttled_jobs = throttled_jobs
        self.operation = operation
        self.throttled_calls = 0
        self.forwarded_calls = 0
        self._lock = threading.Lock()

    def should_throttle(self, target: str, body: bytes) -> bool:
        if not target.endswith(f".{self.operation}"):
            return False
        job_id = json.loads(body).get("Key", {}).get("jobId", {}).get("S")
        return job_id in self.throttled_jobs

    @contextmanager
    def running(self) -> Iterator[str]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if proxy.should_throttle(self.headers.get("X-Amz-Target", ""), body):
                    with proxy._lock:
                        proxy.throttled_calls += 1
                    self._reply(400, THROTTLED)
                    return
                with proxy._lock:
                    proxy.forwarded_calls += 1
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                request = urllib.request.Request(proxy.upstream + self.path, body, headers, method="POST")
                try:
                    with urllib.request.urlopen(request) as response:
                        self._reply(response.status, response.read())
                except urllib.error.HTTPError as error:
                    self._reply(error.code, error.read())

            def _reply(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            thread.join()
