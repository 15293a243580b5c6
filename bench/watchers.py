"""The two clients under test, each run in a process of its own: ``python -m bench.watchers SPEC``.

- ``old``: the AWS sample ``SqsQueueNotificationWorker.py``, loaded unchanged from its path: one
  ``SqsWorker`` (one process) per job, all on one queue; ``finished()`` is read every 20 ms.
- ``new``: one ``JobMonitor`` per job with the library's defaults, ``wait()`` in a thread each.

Its own process, so that the seed's forked workers copy no emulator threads, its prints go nowhere,
and the benchmark can kill the whole process group if a run overstays its bounds. Each finished job
is appended to the results file (JSON lines) at once, so a killed run still reports what it saw.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

FLAG_POLL_S = 0.02  # finished() is a shared-memory read: cheap, and no AWS call


def _emit(out: TextIO, lock: threading.Lock, **record: Any) -> None:
    with lock:
        out.write(json.dumps(record) + "\n")
        out.flush()


def watch_old(spec: dict[str, Any], out: TextIO) -> None:
    seed = Path(spec["seed_path"])
    sys.path.insert(0, str(seed.parent))  # importable by name, so any multiprocessing start method works
    module = importlib.import_module(seed.stem)
    lock = threading.Lock()
    workers = {job_id: module.SqsWorker(job_id, spec["queue_name"]) for job_id in spec["job_ids"]}
    started: dict[str, float] = {}
    principal = os.environ["AWS_ACCESS_KEY_ID"]
    for index, (job_id, worker) in enumerate(workers.items()):
        # Each worker signs as itself (its process builds its client after the fork), so that
        # the calls and messages of every worker can be told apart.
        os.environ["AWS_ACCESS_KEY_ID"] = f"{principal}-{index}"
        worker.start()
        started[job_id] = time.time()
    _emit(out, lock, event="started", at=started)
    deadline = time.monotonic() + spec["max_s"]
    pending = dict(workers)
    while pending and time.monotonic() < deadline:
        for job_id, worker in list(pending.items()):
            if worker.finished():
                seen = time.time()
                _emit(out, lock, event="finished", job=job_id, at=seen, status=worker.job_status().name)
                worker.stop()  # its loop has ended: join the process, as the sample's JobMonitor does
                del pending[job_id]
        time.sleep(FLAG_POLL_S)
    for process in multiprocessing.active_children():  # workers whose job never came: no stop() (joins)
        process.kill()
        process.join(5)
    _emit(out, lock, event="done", unfinished=sorted(pending))


def watch_new(spec: dict[str, Any], out: TextIO) -> None:
    from transcoder_status import JobMonitor, JobWaitTimeout

    lock = threading.Lock()
    monitors = [JobMonitor(job_id, spec["table_name"]) for job_id in spec["job_ids"]]  # clients built up front
    for monitor in monitors:
        monitor.start()

    def wait(monitor: JobMonitor) -> None:
        try:
            status = monitor.wait(timeout=spec["max_s"])
        except JobWaitTimeout:
            return
        _emit(out, lock, event="finished", job=monitor.job_id, at=time.time(), status=status.name)

    threads = [threading.Thread(target=wait, args=(monitor,)) for monitor in monitors]
    _emit(out, lock, event="started", at={monitor.job_id: time.time() for monitor in monitors})
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _emit(out, lock, event="done")


def main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    with Path(spec["results_path"]).open("a") as out:
        {"old": watch_old, "new": watch_new}[spec["side"]](spec, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
