"""The local stack's emulator, as the benchmark needs it: every request counted, long polls fair.

Counting: a WSGI middleware on moto's own server counts each request at the HTTP level by caller,
service and operation; no proxy hop, so it adds no latency to either side. Callers are told apart
by the (dummy) access key ID that every SigV4 request names in its Authorization header: each actor
of the benchmark signs with its own, and moto accepts any.

Fair long polls: see ``_prompt_wait``.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from unittest import mock
from urllib.parse import parse_qs

from transcoder_status.local.emulator import Emulator, running_emulator

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True, order=True)
class Call:
    principal: str  # the access key ID the caller signed with
    service: str  # from the SigV4 credential scope: sqs, sns, dynamodb, ...
    operation: str  # ReceiveMessage, Publish, GetItem, ...

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"


def _matches(principal: str, principals: tuple[str, ...]) -> bool:
    return principal in principals or principal.rpartition("-")[0] in principals


@dataclass(frozen=True)
class Counts:
    """A snapshot: requests per Call, server errors (5xx) per Call, and messages that
    ReceiveMessage handed to each principal."""

    calls: Counter[Call]
    errors: Counter[Call]
    received: Counter[str]

    def __sub__(self, earlier: Counts) -> Counts:
        return Counts(self.calls - earlier.calls, self.errors - earlier.errors, self.received - earlier.received)

    def of(self, *principals: str) -> Counter[str]:
        """Calls by these principals (``p`` also matches ``p-1``, ``p-2``...), keyed ``service:operation``."""
        calls: Counter[str] = Counter()
        for call, n in self.calls.items():
            if _matches(call.principal, principals):
                calls[call.name] += n
        return calls

    def total(self, *principals: str) -> int:
        return sum(self.of(*principals).values())

    def errors_of(self, *principals: str) -> int:
        return sum(n for call, n in self.errors.items() if _matches(call.principal, principals))

    def received_by(self, *principals: str) -> int:
        return sum(n for principal, n in self.received.items() if _matches(principal, principals))


class CallCounter:
    """The middleware. Thread-safe: moto's server handles each request on its own thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[Call] = Counter()
        self._errors: Counter[Call] = Counter()
        self._received: Counter[str] = Counter()

    def snapshot(self) -> Counts:
        with self._lock:
            return Counts(Counter(self._calls), Counter(self._errors), Counter(self._received))

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def counted(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            call = _identify(environ)

            def start(status: str, *args: Any) -> Any:
                if status.startswith("5"):  # moto failing under load; botocore retries these
                    with self._lock:
                        self._errors[call] += 1
                return start_response(status, *args)

            with self._lock:
                self._calls[call] += 1
            if call.operation != "ReceiveMessage":
                return app(environ, start)
            # Count the messages handed out: how often every worker receives every message.
            body = b"".join(app(environ, start))
            with self._lock:
                self._received[call.principal] += _messages_in(body)
            return [body]

        return counted


def _identify(environ: dict[str, Any]) -> Call:
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    principal, service = match.groups() if match else ("unsigned", "unknown")
    target = environ.get("HTTP_X_AMZ_TARGET", "")  # JSON protocols: "AmazonSQS.ReceiveMessage"
    if target:
        return Call(principal, service, target.rpartition(".")[2])
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if not action and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        # Query protocols (SNS) put Action in the form body: read it, and hand moto a fresh copy.
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = BytesIO(body)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
    return Call(principal, service, action[0] if action else environ.get("REQUEST_METHOD", "?"))


def _messages_in(body: bytes) -> int:
    try:
        return len(json.loads(body).get("Messages", []))
    except ValueError:  # the query (XML) protocol
        return body.count(b"<ReceiptHandle>")


def _prompt_wait(queue: Any, timeout: int) -> None:
    """moto's long poll re-checks the queue only when a message arrives or after ``timeout`` (1 s).
    So when a message's visibility timeout ends, the poller that took it last (and re-polled at
    once) is the first to look again, takes it again, and the same wrong worker of the old design
    can hold another job's message for minutes. SQS leaves the next receiver to chance: re-check
    at short random intervals instead. Only waiting changes; what a receive returns does not."""
    with queue._messages_lock:
        queue._messages_lock.wait_for(lambda: queue.messages, timeout=min(timeout, random.uniform(0.02, 0.1)))


@contextmanager
def bench_emulator(*, fair_long_polls: bool = True) -> Iterator[tuple[Emulator, CallCounter]]:
    """``running_emulator()`` with every request it serves counted (and, by default, fair long polls).

    The counter wraps the emulator's whole WSGI application (``running_emulator``'s middleware).
    """
    import moto.sqs.models

    counter = CallCounter()
    with ExitStack() as stack:
        if fair_long_polls:
            stack.enter_context(mock.patch.object(moto.sqs.models.Queue, "wait_for_messages", _prompt_wait))
        emulator = stack.enter_context(running_emulator(middleware=counter.wrap))
        yield emulator, counter
