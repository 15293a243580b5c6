"""An AWS emulator (moto in server mode) on 127.0.0.1 and a free port, spoken to over HTTP.

Everything that talks to it uses real boto3 clients through ``AWS_ENDPOINT_URL``: the wire path
production uses, with dummy credentials that never leave the machine.

moto's DynamoDB checks a write's condition and stores the item in separate steps, so two concurrent
conditional writes to one item can both pass (both see no item) and the later store wins. DynamoDB
never does that, and the status table's correctness rests on it. So the emulator serves DynamoDB
requests one at a time (a lock around moto's DynamoDB apps, chosen by moto's own routing); the
other services stay concurrent, and SQS long polls never wait behind a table write. moto is also
spared work whose result never changes (``moto_speed``), so that it carries a soak's load.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from flask import Flask
    from moto.backends import SERVICE_NAMES

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
DUMMY_KEY = "testing"  # credentials that only the emulator accepts

# moto's backends that hold DynamoDB's tables (the streams read the same tables).
SERIALIZED_BACKENDS = frozenset({"dynamodb", "dynamodb_v20111205", "dynamodbstreams"})


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

    from .moto_speed import speed_up_moto

    speed_up_moto()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    dynamodb_lock = threading.Lock()

    def create_app(backend: SERVICE_NAMES) -> Flask:
        app = create_backend_app(backend)  # moto builds one app per backend, on its first request
        if backend in SERIALIZED_BACKENDS:
            app.wsgi_app = _one_at_a_time(app.wsgi_app, dynamodb_lock)  # type: ignore[method-assign,assignment]
        return app

    # What moto's ThreadedMotoServer does, with our create_app: a threaded WSGI server on loopback.
    application: WSGIApplication = DomainDispatcherApplication(create_app)
    if middleware is not None:
        application = middleware(application)
    server = make_server("127.0.0.1", 0, application, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="aws-emulator", daemon=True)
    thread.start()
    emulator = Emulator(endpoint_url=f"http://127.0.0.1:{server.server_port}")
    saved = {name: os.environ.get(name) for name in emulator.environment()}
    if export:
        os.environ.update(emulator.environment())
    try:
        yield emulator
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        if export:
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
            return app(environ, start_response)

    return serialized
