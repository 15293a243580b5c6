"""An AWS emulator (moto in server mode) on 127.0.0.1 and a free port, spoken to over HTTP.

Everything that talks to it uses real boto3 clients through ``AWS_ENDPOINT_URL``: the wire path
production uses, with dummy credentials that never leave the machine.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
DUMMY_KEY = "testing"  # credentials that only the emulator accepts


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
def running_emulator(*, export: bool = True) -> Iterator[Emulator]:
    """Start moto's server on a free loopback port; stop it on exit. With ``export``, point this
    process's boto3 at it (the previous environment is restored on exit)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    emulator = Emulator(endpoint_url=f"http://{host}:{port}")
    saved = {name: os.environ.get(name) for name in emulator.environment()}
    if export:
        os.environ.update(emulator.environment())
    try:
        yield emulator
    finally:
        server.stop()
        if export:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
