"""A stand-in for DynamoDB's network: every request is answered after a fixed latency, with no work.

Run in a process of its own (``python -m bench.stub_dynamodb PORT LATENCY_MS``), so that answering
costs the measured process nothing. It measures what production pays: a client whose writes wait
on the network (DynamoDB's few milliseconds), not on an emulator's CPU. Every UpdateItem succeeds
(``{}``, as DynamoDB answers ReturnValues NONE); any other operation gets the same empty answer,
but for what the stuck check asks (bench.lambda_cpu), on the same port and after the same latency:
- a Query of the status index of a table named ``stuck-N`` answers N running MediaConvert rows,
  all in shard ``RUNNING#0`` (every other shard is empty);
- MediaConvert's GetJob (``GET /2017-08-29/jobs/ID``) answers that the job is COMPLETE.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    disable_nagle_algorithm = True  # else a response's headers and body wait on a delayed ACK (40 ms)
    latency_s = 0.0

    def do_POST(self) -> None:
        request = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(self.latency_s)
        answer = {}
        if self.headers.get("X-Amz-Target", "").endswith(".Query"):
            answer = {"Items": _stuck_rows(json.loads(request))}
        self._reply(json.dumps(answer).encode(), "application/x-amz-json-1.0")

    def do_GET(self) -> None:
        time.sleep(self.latency_s)
        if not self.path.startswith(_GET_JOB):
            self._reply(b'{"message": "not served by the stand-in"}', "application/json", 400)
            return
        self._reply(_completed_job(self.path[len(_GET_JOB) :]), "application/json")

    def _reply(self, body: bytes, content_type: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


_GET_JOB = "/2017-08-29/jobs/"
_STUCK_TABLE = re.compile(r"stuck-(\d+)")
_STUCK_SINCE = "2026-01-01T00:00:00.000Z"


def _stuck_rows(query: dict[str, Any]) -> list[dict[str, Any]]:
    """The first page of shard RUNNING#0 of a ``stuck-N`` table: N running MediaConvert rows."""
    table = _STUCK_TABLE.fullmatch(query.get("TableName", ""))
    shard = query.get("ExpressionAttributeValues", {}).get(":p", {}).get("S")
    if table is None or shard != "RUNNING#0" or "ExclusiveStartKey" in query:
        return []
    return [
        {
            "jobId": {"S": f"{index:013d}-stuck"},
            "status": {"S": "RUNNING"},
            "source": {"S": "mediaconvert"},
            "finished": {"BOOL": False},
            "updatedAt": {"S": _STUCK_SINCE},
        }
        for index in range(int(table[1]))
    ]


@cache
def _job_shape() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("mediaconvert").shape_for("Job")


@cache
def _completed_job(job_id: str) -> bytes:
    """GetJob's answer (MediaConvert's REST shape) for a job that has ended, with its output; made
    once per job, so that answering takes the latency and not the stand-in's CPU."""
    from transcoder_status.local.mediaconvert import to_wire
    from transcoder_status.local.messages import mediaconvert_job

    submitted = 1_767_225_600_000  # 2026-01-01, as the rows' last update
    job = mediaconvert_job(
        job_id, "COMPLETE", submitted_ms=submitted, started_ms=submitted + 1000, finished_ms=submitted + 60_000
    )
    return json.dumps({"job": to_wire(job, _job_shape())}).encode()


def _exit_with_parent() -> None:
    """Ends this process when its stdin, a pipe from the parent, closes: the parent ended, even
    killed outright, and no one else would stop the server."""
    sys.stdin.buffer.read()
    os._exit(0)


def serve(port: int, latency_ms: float) -> None:
    threading.Thread(target=_exit_with_parent, daemon=True).start()
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
    command = [sys.executable, "-m", "bench.stub_dynamodb", str(port), str(latency_ms)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE)  # its end is the stand-in's lifeline
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
        assert process.stdin is not None
        process.stdin.close()
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    serve(int(sys.argv[1]), float(sys.argv[2]))
