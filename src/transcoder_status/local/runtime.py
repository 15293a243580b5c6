"""A local Lambda for one function: one process that runs the function's SQS trigger.

``start_runtime`` launches it; the process runs the event-source poller, which starts the
function's execution environments (child processes, see ``environment``) as batches arrive. Their
output is this process's: the function's log (Powertools JSON lines, EMF metrics) goes to one file,
as CloudWatch Logs would hold it. SIGTERM or SIGINT stops it cleanly, running invocations first.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess  # nosec B404
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from types import FrameType

from .emulator import Emulator
from .provision import LocalFunction, LocalTrigger

# How long the main thread waits at a time for a stop that comes by signal (see ``idle_until``).
SIGNAL_CHECK_S = 0.5


def idle_until(stopping: threading.Event) -> None:
    """Block the main thread until ``stopping`` is set, yet run a signal's handler within
    SIGNAL_CHECK_S. The kernel may give a process's signal to any of its threads (signal(7)); Python
    then runs the handler only when the main thread next runs bytecode
    (https://docs.python.org/3/library/signal.html#signals-and-threads), and a wait with no timeout
    never returns to it: SIGTERM was lost, about 1 in 8 ``local`` runs here."""
    while not stopping.wait(SIGNAL_CHECK_S):
        pass


class Runtime:
    """The runtime process, seen from the parent."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path):
        self.process = process
        self.log_path = log_path

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_runtime(trigger: LocalTrigger, emulator: Emulator, log_path: Path, retry_after_s: int = 1) -> Runtime:
    spec = {"trigger": asdict(trigger), "retry_after_s": retry_after_s}
    log = log_path.open("ab")
    process = subprocess.Popen(  # nosec B603
        [sys.executable, "-m", "transcoder_status.local.runtime", json.dumps(spec)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **emulator.environment()},
    )
    log.close()
    return Runtime(process, log_path)


def main(spec_json: str) -> int:
    from .poller import EventSourcePoller

    for stream in (sys.stdout, sys.stderr):  # one write per line: the environments share this log file
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True, write_through=False)
    spec = json.loads(spec_json)
    fields = spec["trigger"]
    trigger = LocalTrigger(**{**fields, "function": LocalFunction(**fields["function"])})
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    poller = EventSourcePoller(
        trigger,
        retry_after_s=spec["retry_after_s"],
        on_error=lambda error: print(f"poller: {type(error).__name__}: {error}", file=sys.stderr, flush=True),
    ).start()
    idle_until(stopping)
    poller.stop()
    print(json.dumps({"poller": asdict(poller.stats), "cold_starts": poller.environments.started}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
