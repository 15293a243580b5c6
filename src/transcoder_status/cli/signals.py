"""SIGTERM and SIGHUP as interrupts, so a command's ``finally`` blocks run when it is stopped.

A closed terminal (SIGHUP), ``timeout`` or a CI runner (SIGTERM) would otherwise end the process
at once: a look would leave what it read hidden, a redrive would not say what it moved.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_STOPPING = (signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """The command was stopped by ``signum``."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(stop: KeyboardInterrupt) -> int:
    """The shell's convention: 128 plus the signal's number (130 for Ctrl-C)."""
    return 128 + (stop.signum if isinstance(stop, Interrupted) else signal.SIGINT)


@contextmanager
def interruptible() -> Iterator[None]:
    """For the block's duration, SIGTERM and SIGHUP raise Interrupted, as SIGINT raises KeyboardInterrupt
    (unless ignored, as under nohup)."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    # A signal ignored when the command started stays ignored: `nohup` ignores SIGHUP so that the
    # command outlives its terminal.
    previous = {
        number: signal.signal(number, stop) for number in _STOPPING if signal.getsignal(number) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
