"""The CLI's SIGTERM and SIGHUP interrupts (cli/signals.py), in this process."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from transcoder_status.cli.signals import Interrupted, exit_code, interruptible


@pytest.fixture
def hangup_ignored() -> Iterator[None]:
    """As `nohup` starts a command: SIGHUP ignored."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_sigterm_interrupts_the_block_and_says_how() -> None:
    with pytest.raises(Interrupted) as stopped, interruptible():
        os.kill(os.getpid(), signal.SIGTERM)  # its handler runs before os.kill returns
    assert exit_code(stopped.value) == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored


def test_a_hangup_that_nohup_ignores_stays_ignored(hangup_ignored: None) -> None:
    """`nohup transcoder-status dlq redrive &` must outlive the terminal it was started from."""
    try:
        with interruptible():
            os.kill(os.getpid(), signal.SIGHUP)
    except Interrupted:
        pytest.fail("an ignored SIGHUP interrupted the command")
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
