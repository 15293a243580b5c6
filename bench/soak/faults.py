"""An HTTP proxy in front of the emulator that answers chosen calls with AWS errors.

Clients pointed at the proxy (``endpoint_url``, or ``AWS_ENDPOINT_URL`` for a whole process) reach
the emulator through it; a ``Fault`` looks at each call and may answer it with an error instead,
so the error crosses the same wire, parser and retry logic as the real service's would. An error
can also come *after* the call was forwarded: the call took effect and its answer was lost, as a
DynamoDB 500 after a committed write. Or only some entries of an SQS batch call fail
(``FailedEntries``): SQS answers those in ``Failed`` and the call itself succeeds, so no retry
logic but the caller's own ever sees them.

It speaks the JSON protocols (DynamoDB, SQS); other calls pass through untouched.
"""

from __future__ import annotations

import http.client
import json
import random
import sys
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from transcoder_status.local.loopback import serving

# The X-Amz-Target prefix of each JSON service, and the namespace its error types are named in.
_SERVICES = {"DynamoDB_20120810": "dynamodb", "AmazonSQS": "sqs"}
_ERROR_NAMESPACES = {"dynamodb": "com.amazonaws.dynamodb.v20120810", "sqs": "com.amazonaws.sqs"}
_HOP_BY_HOP = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding"})


@dataclass(frozen=True)
class Call:
    """One request through the proxy: ``dynamodb`` / ``UpdateItem`` and its JSON body."""

    service: str
    operation: str
    body: dict[str, Any]


@dataclass(frozen=True)
class AwsError:
    """The error to answer with. ``after_forwarding``: the call reaches the emulator first."""

    status: int
    code: str
    message: str
    after_forwarding: bool = False


@dataclass(frozen=True)
class FailedEntries:
    """Entries of an SQS batch call to fail, by their ``Id``: the call goes through without them,
    and its answer lists them under ``Failed``, ``SenderFault`` set for a 4xx error, as SQS's does."""

    errors: Mapping[str, AwsError]


Fault = Callable[[Call], AwsError | FailedEntries | None]

THROTTLED = {
    "dynamodb": AwsError(400, "ProvisionedThroughputExceededException", "Throughput exceeds the table's limit."),
    "sqs": AwsError(400, "RequestThrottled", "Request is throttled."),
}
SERVER_ERROR = {
    "dynamodb": AwsError(500, "InternalServerError", "Internal server error"),
    "sqs": AwsError(500, "InternalError", "We encountered an internal error. Please try again."),
}


def share_of_calls(
    rates: Mapping[tuple[str, str], float], *, seed: int | None = None, lost_answers: Collection[str] = ()
) -> Fault:
    """Fail each listed (service, operation) call with its probability: half throttled, half a
    500. For the services in ``lost_answers``, half the 500s come after the call took effect
    (retries must be idempotent: DynamoDB does commit some writes it answers 500 to)."""
    # Fault injection, not a secret: the standard generator is right here.
    chance = random.Random(seed)  # nosec B311
    lock = threading.Lock()

    def fault(call: Call) -> AwsError | None:
        rate = rates.get((call.service, call.operation), 0.0)
        with lock:
            draw, kind, late = chance.random(), chance.random(), chance.random()
        if draw >= rate:
            return None
        if kind < 0.5:
            return THROTTLED[call.service]
        error = SERVER_ERROR[call.service]
        if call.service in lost_answers and late < 0.5:
            return AwsError(error.status, error.code, error.message, after_forwarding=True)
        return error

    return fault


class FaultProxy:
    """Forwards every request to ``upstream`` unless ``fault`` answers it; counts what it did."""

    def __init__(self, upstream: str, fault: Fault):
        self.upstream = urlsplit(upstream)
        self.fault = fault
        self.calls: Counter[tuple[str, str]] = Counter()  # (service, operation) forwarded or not
        # (service, operation, error code) answered; a failed entry of a batch call counts as one
        self.errors: Counter[tuple[str, str, str]] = Counter()
        self.after_forwarding: Counter[str] = Counter()  # service: errors answered after the call took effect
        self._lock = threading.Lock()

    @property
    def faults_sent(self) -> int:
        return sum(self.errors.values())

    @contextmanager
    def running(self) -> Iterator[str]:
        """Serve on a free loopback port; yields the proxy's endpoint URL."""
        with serving(_Server(("127.0.0.1", 0), self._handler()), "fault-proxy") as url:
            yield url

    def _answer(self, call: Call) -> AwsError | FailedEntries | None:
        answer = self.fault(call)
        with self._lock:
            self.calls[call.service, call.operation] += 1
            if isinstance(answer, FailedEntries):
                for error in answer.errors.values():
                    self.errors[call.service, call.operation, error.code] += 1
            elif answer is not None:
                self.errors[call.service, call.operation, answer.code] += 1
                self.after_forwarding[call.service] += answer.after_forwarding
        return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects
            upstream: http.client.HTTPConnection | None = None  # one per client connection

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:  # the client died mid-request (a killed worker): nothing to forward
                    self.close_connection = True
                    return
                call = _call(self.headers.get("X-Amz-Target", ""), body)
                error = None if call is None else proxy._answer(call)
                if call is None or error is None:
                    self._reply(*self._forward(body))
                    return
                if isinstance(error, FailedEntries):
                    self._reply(*self._forward_partly(call, error))
                    return
                if error.after_forwarding:
                    self._forward(body)  # the call takes effect; its answer is lost
                document = {"__type": f"{_ERROR_NAMESPACES[call.service]}#{error.code}", "message": error.message}
                self._reply(error.status, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(document).encode())

            def _forward_partly(self, call: Call, failing: FailedEntries) -> tuple[int, dict[str, str], bytes]:
                """The batch call without the failing entries, its answer with them in ``Failed``."""
                entries = call.body.get("Entries", [])
                kept = [entry for entry in entries if entry.get("Id") not in failing.errors]
                answer: dict[str, Any] = {"Successful": []}
                status, headers = 200, {"Content-Type": "application/x-amz-json-1.0"}
                if kept:  # SQS refuses an empty batch: with nothing kept, nothing is forwarded
                    status, headers, payload = self._forward(json.dumps({**call.body, "Entries": kept}).encode())
                    if status != 200:
                        return status, headers, payload  # the call failed as a whole: that answer stands
                    answer = json.loads(payload)
                answer["Failed"] = [
                    *answer.get("Failed", []),
                    *(
                        {
                            "Id": entry["Id"],
                            "SenderFault": error.status < 500,
                            "Code": error.code,
                            "Message": error.message,
                        }
                        for entry in entries
                        if (error := failing.errors.get(entry.get("Id"))) is not None
                    ),
                ]
                return status, headers, json.dumps(answer).encode()

            def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                try:
                    return self._request(body, headers)
                except (ConnectionError, http.client.HTTPException):
                    self._disconnect()  # the emulator closed an idle keep-alive connection: once more
                    return self._request(body, headers)

            def _request(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection(proxy.upstream.netloc, timeout=60)
                try:
                    self.upstream.request(self.command, self.path, body, headers)
                    response = self.upstream.getresponse()
                    payload = response.read()
                except BaseException:
                    self._disconnect()
                    raise
                kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
                return response.status, kept, payload

            def _disconnect(self) -> None:
                if self.upstream is not None:
                    self.upstream.close()
                    self.upstream = None

            def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def finish(self) -> None:
                super().finish()
                self._disconnect()

        return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away mid-call (a killed process): nothing to answer
        super().handle_error(request, client_address)


def _call(target: str, body: bytes) -> Call | None:
    """The call a JSON-protocol request makes (X-Amz-Target: ``Prefix.Operation``); None for others."""
    prefix, _, operation = target.partition(".")
    service = _SERVICES.get(prefix)
    if service is None:
        return None
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        document = {}
    return Call(service, operation, document if isinstance(document, dict) else {})
