"""A stand-in for MediaConvert's GetJob and ListJobs on loopback, serving the jobs it is told of.

moto has no MediaConvert. The simulator knows each job's truth; it tells this stand-in, and the
reconciler's real boto3 client reaches it through ``AWS_ENDPOINT_URL_MEDIACONVERT`` (botocore's
service-specific endpoint variable), while everything else goes to the emulator. Answers are
serialized from the SDK's own service model (member names, unix-second timestamps), so the client
parses them exactly as it parses MediaConvert's; an unknown job is a 404 NotFoundException.

Each job is filed under the account and Region of its ``Arn`` (a job without one: the emulator's
account and Region), and each request is answered from the caller's account and Region, as
MediaConvert does: the account of the request's access key (as the emulator maps keys to accounts:
an assumed role's keys act in the role's account) and the Region of its SigV4 credential scope
(``Credential=KEY/DATE/REGION/mediaconvert/aws4_request``). Another account's or Region's job is a
404 NotFoundException, as MediaConvert answers.

Where it differs from MediaConvert: only these two operations; the signature itself is not checked,
nor IAM (an unsigned request is refused, 403, as MediaConvert refuses it); ListJobs pages with an
opaque token of its own and orders by creation time, as MediaConvert does.

For a bad day: ``throttled`` answers every request as MediaConvert does over its quota (429
TooManyRequestsException); ``hanging()`` is an endpoint that accepts connections and never answers;
``unreachable()`` one where nothing listens.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import botocore.session

from .emulator import ACCOUNT, REGION
from .loopback import serving

_API = "/2017-08-29/jobs"
_MODEL = botocore.session.get_session().get_service_model("mediaconvert")
_JOB_SHAPE = _MODEL.shape_for("Job")
MAX_RESULTS = 20  # MediaConvert's default page size
# The SigV4 credential scope: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/mediaconvert/aws4_request")
Place = tuple[str, str]  # (account, Region)


class MediaConvertStandIn:
    """The jobs MediaConvert would know, as boto3-shaped ``Job`` dicts, and a server answering for them."""

    def __init__(self) -> None:
        self._jobs: dict[Place, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.requests = 0
        self.throttled = False  # answer everything with 429 TooManyRequestsException

    def put(self, job: dict[str, Any]) -> None:
        """Record (or replace) what MediaConvert knows of a job, in the account and Region of its ARN."""
        with self._lock:
            self._jobs.setdefault(place_of(job), {})[job["Id"]] = job

    def forget(self, job_id: str) -> None:
        """As MediaConvert does 90 days after a job."""
        with self._lock:
            for jobs in self._jobs.values():
                jobs.pop(job_id, None)

    def get(self, job_id: str, place: Place = (ACCOUNT, REGION)) -> dict[str, Any] | None:
        """The job, if ``place`` (account, Region) ran it."""
        with self._lock:
            self.requests += 1
            return self._jobs.get(place, {}).get(job_id)

    def page(
        self,
        queue: str | None,
        status: str | None,
        order: str,
        token: str | None,
        size: int,
        *,
        place: Place = (ACCOUNT, REGION),
    ) -> tuple[list[dict[str, Any]], str | None]:
        with self._lock:
            self.requests += 1
            jobs = [
                job
                for job in self._jobs.get(place, {}).values()
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
            place = caller(self.headers.get("Authorization", ""))
            if stand_in.throttled:
                stand_in.requests += 1
                self._error(429, "TooManyRequestsException", "Too many requests.")
            elif place is None:
                self._error(403, "ForbiddenException", "Missing Authentication Token")
            elif url.path.startswith(_API + "/"):
                job = stand_in.get(url.path[len(_API) + 1 :], place)
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
                    place=place,
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


def place_of(job: dict[str, Any]) -> Place:
    """The account and Region a job's ARN names (arn:PARTITION:mediaconvert:REGION:ACCOUNT:jobs/ID)."""
    parts = str(job.get("Arn") or "").split(":")
    return (parts[4], parts[3]) if len(parts) == 6 else (ACCOUNT, REGION)


def caller(authorization: str) -> Place | None:
    """The account and Region a signed request acts in: its access key's account, as the emulator
    maps keys to accounts, and its credential scope's Region. None: not signed."""
    from moto.iam.models import get_account_id_from

    signed = _CREDENTIAL.search(authorization)
    return None if signed is None else (get_account_id_from(signed.group(1)), signed.group(2))


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
