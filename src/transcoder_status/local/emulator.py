"""An AWS emulator (moto in server mode) on 127.0.0.1 and a free port, spoken to over HTTP.

Everything that talks to it uses real boto3 clients through ``AWS_ENDPOINT_URL``: the wire path
production uses, with dummy credentials that never leave the machine.

moto's DynamoDB checks a write's condition and stores the item in separate steps, so two concurrent
conditional writes to one item can both pass (both see no item) and the later store wins. DynamoDB
never does that, and the status table's correctness rests on it. So the emulator serves DynamoDB
requests one at a time (a lock around moto's DynamoDB apps, chosen by moto's own routing).

moto's queues are no safer: a delete rebuilds the queue's list of messages, so a send or a delete
that lands meanwhile is undone (a message lost, or a deleted one back after its visibility timeout:
the soak saw a batch processed twice, 180 s late). So the requests that change queues (SQS's, and
SNS's and EventBridge's, which deliver to them) are served one at a time too, under a second lock
that a long poll lets go of while it waits. SQS never waits behind a table write, nor a table write
behind SQS. moto is also spared work whose result never changes (``moto_speed``), so that it
carries a soak's load.

An action moto has not implemented (SQS's StartMessageMoveTask, say) is answered as AWS answers an
action it does not know: a 400 ``InvalidAction``, which clients can tell apart and botocore does not
retry, rather than moto's 500 and traceback. A rule's target on an event bus of another account or
Region is delivered as EventBridge does, its bus policy enforced (``bus_delivery``). A role that does
not exist in its account cannot be assumed (``accounts.roles_must_exist``), as STS refuses it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .loopback import serving

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from flask import Flask
    from moto.backends import SERVICE_NAMES

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
DUMMY_KEY = "testing"  # credentials that only the emulator accepts

# moto's backends that hold DynamoDB's tables (the streams read the same tables).
DYNAMODB_BACKENDS = frozenset({"dynamodb", "dynamodb_v20111205", "dynamodbstreams"})
# moto's backends that change queues: SQS, and SNS and EventBridge, which deliver to them.
QUEUE_BACKENDS = frozenset({"sqs", "sns", "events"})

# The lock the request this thread serves holds, if any (a long poll lets go of it while it waits).
_serving = threading.local()


@dataclass(frozen=True)
class Emulator:
    endpoint_url: str
    region: str = REGION

    def environment(self) -> dict[str, str]:
        """What a shell or a process needs to reach the emulator with boto3 or the AWS CLI."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": DUMMY_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
        }


@contextmanager
def running_emulator(
    *, export: bool = True, middleware: Callable[[WSGIApplication], WSGIApplication] | None = None
) -> Iterator[Emulator]:
    """Start moto's server on a free loopback port; stop it on exit. With ``export``, point this
    process's boto3 at it (the previous environment is restored on exit). ``middleware`` wraps the
    whole server's WSGI application (the benchmarks count requests with it)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from .accounts import roles_must_exist
    from .bus_delivery import deliver_between_buses
    from .moto_speed import speed_up_moto

    speed_up_moto()
    _let_long_polls_wait_unlocked()
    _events_keep_their_account()
    deliver_between_buses()
    roles_must_exist()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    dynamodb_lock, queues_lock = threading.Lock(), threading.Lock()

    def create_app(backend: SERVICE_NAMES) -> Flask:
        app = create_backend_app(backend)  # moto builds one app per backend, on its first request
        lock = dynamodb_lock if backend in DYNAMODB_BACKENDS else queues_lock if backend in QUEUE_BACKENDS else None
        if lock is not None:
            app.wsgi_app = _one_at_a_time(app.wsgi_app, lock)  # type: ignore[method-assign,assignment]
        return app

    # What moto's ThreadedMotoServer does, with our create_app: a threaded WSGI server on loopback.
    application: WSGIApplication = _unimplemented_is_invalid_action(DomainDispatcherApplication(create_app))
    if middleware is not None:
        application = middleware(application)
    server = make_server("127.0.0.1", 0, application, threaded=True, request_handler=MotoRequestHandler)
    with serving(server, "aws-emulator") as url:
        emulator = Emulator(endpoint_url=url)
        with exported(emulator.environment() if export else {}):
            yield emulator


@contextmanager
def exported(variables: dict[str, str]) -> Iterator[None]:
    """Set environment variables (for this process and those it starts meanwhile); restore them on exit."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _one_at_a_time(app: WSGIApplication, lock: threading.Lock) -> WSGIApplication:
    """A WSGI middleware: moto computes the whole response inside ``app``, so the lock covers the
    condition check and the store."""

    def serialized(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with lock:
            _serving.lock = lock
            try:
                return app(environ, start_response)
            finally:
                _serving.lock = None

    return serialized


def _unimplemented_is_invalid_action(app: WSGIApplication) -> WSGIApplication:
    """A WSGI middleware: moto's NotImplementedError becomes AWS's answer to an unknown action."""

    def answered(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            return app(environ, start_response)
        except NotImplementedError as error:
            message = str(error).replace("&", "&amp;").replace("<", "&lt;")
            if "json" in environ.get("CONTENT_TYPE", ""):
                body = json.dumps({"__type": "InvalidAction", "message": str(error)}).encode()
                headers = [
                    ("Content-Type", "application/x-amz-json-1.0"),
                    ("x-amzn-query-error", "InvalidAction;Sender"),
                ]
            else:
                body = (
                    "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code>"
                    f"<Message>{message}</Message></Error></ErrorResponse>"
                ).encode()
                headers = [("Content-Type", "text/xml")]
            start_response("400 Bad Request", [*headers, ("Content-Length", str(len(body)))])
            return [body]

    return answered


class _LongPollCondition(threading.Condition):
    """The condition a moto queue's long poll waits on (new messages), which lets go of the
    request's lock while it waits, so that the sends it waits for can come in."""

    def wait(self, timeout: float | None = None) -> bool:
        lock: threading.Lock | None = getattr(_serving, "lock", None)
        if lock is None:
            return super().wait(timeout)
        lock.release()
        try:
            return super().wait(timeout)
        finally:
            # Take them back in the order every request takes them (the request's lock, then the
            # queue's), or a send holding the first and wanting the second would deadlock with us.
            self.release()
            lock.acquire()
            self.acquire()


def _let_long_polls_wait_unlocked() -> None:
    """moto's queues, created from now on, wait for messages on a ``_LongPollCondition``."""
    from moto.sqs import models

    models.Condition = _LongPollCondition  # type: ignore[attr-defined]


def _events_keep_their_account() -> None:
    """moto's rules deliver an event without its "account" field (its default input template leaves
    it out); EventBridge delivers it whole:
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html"""
    from moto.events.utils import EventTemplateParser

    template = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
    if '"account"' not in template:
        EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = template.replace(
            '"source": "<source>", ', '"source": "<source>", "account": "<account>", '
        )
