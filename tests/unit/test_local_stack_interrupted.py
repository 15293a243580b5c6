"""An interrupt (Ctrl-C, or SIGTERM, which `demo` and `local` turn into one) while the embedded stack
is still starting stops what has started: the function's runtime is a process of its own, and left
running it outlives the command, orphaned."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from transcoder_status.local import demo


def test_an_interrupt_while_the_stack_starts_stops_the_runtime(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stopped: list[str] = []

    class Runtime:
        log_path = tmp_path / "function.log"

        def stop(self) -> None:
            stopped.append("runtime")

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # Ctrl-C just after the runtime started, as the publisher starts

    trigger = SimpleNamespace(function=SimpleNamespace(handler="handler"), batch_size=10, batching_window_s=1)
    stack = SimpleNamespace(name="stack", refs={}, triggers=[trigger], stream_triggers=[trigger])
    emulator = SimpleNamespace(endpoint_url="http://127.0.0.1:1")
    monkeypatch.setattr(demo, "running_emulator", lambda: contextlib.nullcontext(emulator))
    monkeypatch.setattr(demo.MediaConvertStandIn, "running", lambda self: contextlib.nullcontext("http://127.0.0.1:2"))
    monkeypatch.setattr(demo, "provision", lambda **parameters: stack)
    monkeypatch.setattr(demo, "start_runtime", lambda *args: Runtime())
    monkeypatch.setattr(demo, "StreamMapping", interrupted)

    with pytest.raises(KeyboardInterrupt), demo.local_stack(Console(file=io.StringIO()), tmp_path):
        pass
    assert stopped == ["runtime"]
