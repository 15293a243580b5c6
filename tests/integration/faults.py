"""An HTTP proxy in front of the emulator that answers chosen DynamoDB calls with AWS errors.

Clients talk to the proxy, so the errors cross the same wire, parser and retry logic as the real
service's would.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (operation, request body) -> (HTTP status, AWS error type, message), or None to forward the call.
Fault = Callable[[str, dict[str, Any]], tuple[int, str, str] | None]


def throttle_jobs(job_ids: set[str], operation: str = "UpdateItem") -> Fault:
    def fault(called: str, body: dict[str, Any]) -> tuple[int, str, str] | None:
        if called == operation and body.get("Key", {}).get("jobId", {}).get("S") in job_ids:
            return 400, "ProvisionedThroughputExceededException", "Throughput exceeds the table's limit."
        return None

    return fault


def always(operations: str | tuple[str, ...], status: int, error_type: str, message: str) -> Fault:
    def fault(called: str, body: dict[str, Any]) -> tuple[int, str, str] | None:
        return (status, error_type, message) if called in operations else None

    return fault


def deny(operation: str) -> Fault:
    return always(operation, 400, "AccessDeniedException", f"User is not authorized to perform: dynamodb:{operation}")


class FaultProxy:
    def __init__(self, upstream: str, fault: Fault):
        self.upstream = upstream
        self.fault = fault
        self.faults_sent = 0
        self._lock = threading.Lock()

    @contextmanager
    def running(self) -> Iterator[str]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
                answer = proxy.fault(operation, json.loads(body or b"{}"))
                if answer is not None:
                    status, error_type, message = answer
                    with proxy._lock:
                        proxy.faults_sent += 1
                    payload = {"__type": f"com.amazonaws.dynamodb.v20120810#{error_type}", "message": message}
                    self._reply(status, json.dumps(payload).encode())
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
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
