"""Execution environments (transcoder_status.local.environment) on their own, without a poller."""

from __future__ import annotations

import pytest

from transcoder_status.local.environment import ExecutionEnvironment
from transcoder_status.local.provision import LocalFunction


def test_each_log_line_is_written_whole_even_when_python_runs_unbuffered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by the soak: with PYTHONUNBUFFERED (set in many containers), print() wrote a line's text
    and its newline in two writes, so concurrent environments interleaved their lines in the one
    log file, and a line's JSON was lost. Line-buffered and not written through, a line is one write."""
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    environment = ExecutionEnvironment(LocalFunction("f", "tests.integration.functions.stdout_settings", {}, 30))
    try:
        assert environment.invoke({"Records": []}) == {"line_buffering": True, "write_through": False}
    finally:
        environment.close()
