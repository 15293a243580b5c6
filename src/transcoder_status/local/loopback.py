"""Serving an HTTP server of the local stack on a free loopback port, in a thread, for a block."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from socketserver import TCPServer


@contextmanager
def serving(server: TCPServer, name: str) -> Iterator[str]:
    """Serve ``server`` (bound to 127.0.0.1) from a daemon thread; yields its URL; stops it on exit."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
