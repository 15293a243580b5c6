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


def test_an_interrupt_once_the_simulator_started_stops_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Its thread goes on putting events on an emulator that is gone, in the caller's process.
    stopped: list[str] = []

    class Simulator:
        jobs: tuple[Any, ...] = ()
        seed = 7

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def start(self) -> Simulator:
            return self

        def stop(self) -> None:
            stopped.append("simulator")

    def interrupted(fleet: Any) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the unlisted account's event is put

    stack = SimpleNamespace(name="stack", outputs={"FinishedEventBusName": "bus"})
    local = SimpleNamespace(stack=stack, mediaconvert=None, fleet=SimpleNamespace(places=(), forwarders={}))
    monkeypatch.setattr(demo, "local_stack", lambda *args, **kwargs: contextlib.nullcontext(local))
    monkeypatch.setattr(demo, "subscribe_queue", lambda bus, name: f"http://queue/{name}")
    monkeypatch.setattr(demo, "TranscoderSimulator", Simulator)
    monkeypatch.setattr(demo, "send_from_unlisted", interrupted)

    assert demo.run_demo(tmp_path, console=Console(file=io.StringIO()), accounts=2) == 130
    assert stopped == ["simulator"]
