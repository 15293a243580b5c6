"""A stand-in for MediaConvert's GetJob and ListJobs on loopback, serving the jobs it is told of.

moto has no MediaConvert. The simulator knows each job's truth; it tells this stand-in, and the
reconciler's real boto3 client reaches it through ``AWS_ENDPOINT_URL_MEDIACONVERT`` (botocore's
service-specific endpoint variable), while everything else goes to the emulator. Answers are
serialized from the SDK's own service model (member names, unix-second timestamps), so the client
parses them exactly as it parses MediaConvert's; an unknown job is a 404 NotFoundException.

Where it differs from MediaConvert: only these two operations; no authentication; ListJobs pages
with an opaque token of its own and orders by creation time, as MediaConvert does.

For a bad day: ``throttled`` answers every request as MediaConvert does over its quota (429
TooManyRequestsException); ``hanging()`` is an endpoint that accepts connections and never answers;
``unreachable()`` one where nothing listens.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import botocore.session

from .loopback import serving

_API = "/2017-08-29/jobs"
_MODEL = botocore.session.get_session().get_service_model("mediaconvert")
_JOB_SHAPE = _MODEL.shape_for("Job")
MAX_RESULTS = 20  # MediaConvert's default page size


class MediaConvertStandIn:
    """The jobs MediaConvert would know, as boto3-shaped ``Job`` dicts, and a server answering for them."""

    def __init__(self) -> None:
        self._jobs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.requests = 0
        self.throttled = False  # answer everything with 429 TooManyRequestsException

    def put(self, job: dict[str, Any]) -> None:
        """Record (or replace) what MediaConvert knows of a job."""
        with self._lock:
            self._jobs[job["Id"]] = job

    def forget(self, job_id: str) -> None:
        """As MediaConvert does 90 days after a job."""
        with self._lock:
            self._jobs.pop(job_id, None)

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            self.requests += 1
            return self._jobs.get(job_id)

    def page(
        self, queue: str | None, status: str | None, order: str, token: str | None, size: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        with self._lock:
            self.requests += 1
            jobs = [
                job
                for job in self._jobs.values()
                if (queue is None or job.get("Queue") == queue) and (status is None or job.get("Status") == status)
            ]
        jobs.sort(key=lambda job: (job.get("CreatedAt") or datetime.min, job["Id"]), reverse=order != "ASCENDING")
        start = int(token or 0)
        following = start + size
        return jobs[start:following], str(following) if following < len(jobs) else None

    @contextmanager
    def running(self) -> Iterator[str]:
        """Serve on a free loopback port; the endpoint URL to give AWS_ENDPOINT_URL_MEDIACONVERT."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        with serving(server, "mediaconvert-stand-in") as url:
            yield url


def _handler(stand_in: MediaConvertStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            if stand_in.throttled:
                stand_in.requests += 1
                self._error(429, "TooManyRequestsException", "Too many requests.")
            elif url.path.startswith(_API + "/"):
                job = stand_in.get(url.path[len(_API) + 1 :])
                if job is None:
                    self._error(404, "NotFoundException", "The job ID was not found.")
                else:
                    self._reply({"job": to_wire(job, _JOB_SHAPE)})
            elif url.path == _API:
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                jobs, token = stand_in.page(
                    query.get("queue"),
                    query.get("status"),
                    query.get("order", "DESCENDING"),
                    query.get("nextToken"),
                    int(query.get("maxResults", MAX_RESULTS)),
                )
                answer: dict[str, Any] = {"jobs": [to_wire(job, _JOB_SHAPE) for job in jobs]}
                if token:
                    answer["nextToken"] = token
                self._reply(answer)
            else:
                self._error(400, "BadRequestException", f"not served by the stand-in: {url.path}")

        def _reply(self, answer: dict[str, Any], status: int = 200, error: str | None = None) -> None:
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if error:
                self.send_header("x-amzn-ErrorType", error)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, code: str, message: str) -> None:
            self._reply({"message": message}, status, code)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    return Handler


@contextmanager
def hanging() -> Iterator[str]:
    """An endpoint that accepts connections and never answers (a hung service); its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # the kernel completes the handshakes; nothing ever reads or answers
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def unreachable() -> str:
    """An endpoint where nothing listens: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def to_wire(value: Any, shape: Any) -> Any:
    """A boto3-shaped value in MediaConvert's REST-JSON wire form, as the service model defines it."""
    if shape.type_name == "structure":
        return {
            shape.members[name].serialization.get("name", name): to_wire(item, shape.members[name])
            for name, item in value.items()
            if name in shape.members
        }
    if shape.type_name == "list":
        return [to_wire(item, shape.member) for item in value]
    if shape.type_name == "map":
        return {key: to_wire(item, shape.value) for key, item in value.items()}
    if shape.type_name == "timestamp":
        return value.timestamp() if isinstance(value, datetime) else value
    return value
