"""Faults done to the function's runtime while the soak runs: its worker processes killed mid-batch,
the runtime (the poller) stopped and started again. Linux: workers are found through /proc.

Each fault fires at a milestone of the run (a share of the jobs seen finished by the client), so
it lands while work is in flight, however fast or slow the machine is.
"""

from __future__ import annotations

import os
import platform
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from transcoder_status.local.runtime import Runtime

# How long a milestone's fault keeps looking for a busy worker before it gives up, and how often.
KILL_PATIENCE_S = 10.0
KILL_LOOK_S = 0.01


class Milestones:
    """Shares of the run (0 to 1) that fault threads wait for; the watcher reports progress."""

    def __init__(self) -> None:
        self._progress = 0.0
        self._changed = threading.Condition()
        self.ended = False

    def report(self, progress: float) -> None:
        with self._changed:
            self._progress = max(self._progress, progress)
            self._changed.notify_all()

    def end(self) -> None:
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def wait(self, share: float) -> bool:
        """True once ``share`` of the run is done; False if the run ended first."""
        with self._changed:
            self._changed.wait_for(lambda: self.ended or self._progress >= share)
            return not self.ended


class Supervisor:
    """The function's runtime, which a restart replaces; ``start`` makes a new one."""

    def __init__(self, start: Callable[[], Runtime], stop_timeout_s: float):
        self._start = start
        self.stop_timeout_s = stop_timeout_s
        self.runtime = start()
        self._lock = threading.Lock()

    def restart(self) -> float:
        """Stop the runtime as SIGTERM does (batches in flight are finished and settled), start
        another; returns how long it was down, in seconds."""
        with self._lock:
            down = time.monotonic()
            self.runtime.stop(self.stop_timeout_s)
            self.runtime = self._start()
            return time.monotonic() - down

    def exited(self) -> int | None:
        """The runtime's exit code if it ended by itself (a restart's stop does not count)."""
        if not self._lock.acquire(blocking=False):
            return None  # restarting
        try:
            return self.runtime.process.poll()
        finally:
            self._lock.release()

    def stop(self) -> None:
        with self._lock:
            self.runtime.stop(self.stop_timeout_s)


@dataclass
class ChaosLog:
    """What the faults did, for the report."""

    kills: list[int] = field(default_factory=list)  # worker PIDs killed while busy
    kills_missed: int = 0  # milestones at which no worker was busy
    restarts: list[float] = field(default_factory=list)  # seconds down, each


def kill_workers(supervisor: Supervisor, milestones: Milestones, count: int, log: ChaosLog) -> threading.Thread:
    """At ``count`` evenly spread milestones, SIGKILL a worker process that is running a batch."""

    def run() -> None:
        for number in range(1, count + 1):
            if not milestones.wait(number / (count + 1)):
                return
            deadline = time.monotonic() + KILL_PATIENCE_S
            while not milestones.ended and time.monotonic() < deadline:
                pid = busy_worker(supervisor.runtime.process.pid)
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    log.kills.append(pid)
                    break
                time.sleep(KILL_LOOK_S)
            else:
                log.kills_missed += 1

    return _started(run, "kill-workers")


def restart_runtime(supervisor: Supervisor, milestones: Milestones, count: int, log: ChaosLog) -> threading.Thread:
    """At ``count`` evenly spread milestones, stop the runtime and start it again."""

    def run() -> None:
        for number in range(1, count + 1):
            if not milestones.wait(number / (count + 1)):
                return
            log.restarts.append(supervisor.restart())

    return _started(run, "restart-runtime")


def busy_worker(runtime_pid: int) -> int | None:
    """A worker (an execution environment process) of the runtime that is running a batch.

    Between invocations a worker's main thread waits for the next event in read(2) on its pipe;
    during one it waits for the writes (a futex) or runs. /proc tells which system call a process
    is blocked in.
    """
    for pid in _children(runtime_pid):
        if b"spawn_main" not in _read(f"/proc/{pid}/cmdline"):
            continue  # not an environment (multiprocessing's resource tracker, say)
        call = _read(f"/proc/{pid}/syscall").split(maxsplit=1)
        if call and call[0] != _READ_SYSCALL:
            return pid
    return None


# read(2)'s number, as /proc/PID/syscall shows it.
_READ_SYSCALL = {"x86_64": b"0", "aarch64": b"63", "arm64": b"63"}.get(platform.machine(), b"0")


def _children(pid: int) -> list[int]:
    """Child processes, whichever thread started them."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children += [int(child) for child in _read(str(task / "children")).split()]
    return children


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def _started(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread
