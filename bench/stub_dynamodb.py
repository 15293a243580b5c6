"""A stand-in for DynamoDB's network: every request is answered after a fixed latency, with no work.

Run in a process of its own (``python -m bench.stub_dynamodb PORT LATENCY_MS``), so that answering
costs the measured process nothing. It measures what production pays: a client whose writes wait
on the network (DynamoDB's few milliseconds), not on an emulator's CPU. Every UpdateItem succeeds
(``{}``, as DynamoDB answers ReturnValues NONE); any other operation gets the same empty answer.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    disable_nagle_algorithm = True  # else a response's headers and body wait on a delayed ACK (40 ms)
    latency_s = 0.0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(self.latency_s)
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


def serve(port: int, latency_ms: float) -> None:
    _Handler.latency_s = latency_ms / 1000
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    server.request_queue_size = 256  # a burst of a hundred concurrent connections
    server.serve_forever()


@contextmanager
def running_stub(latency_ms: float) -> Iterator[str]:
    """The stub in its own process on a free port; its endpoint URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = subprocess.Popen([sys.executable, "-m", "bench.stub_dynamodb", str(port), str(latency_ms)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    serve(int(sys.argv[1]), float(sys.argv[2]))
