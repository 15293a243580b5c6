"""Lambda handlers for the poller's tests, named by handler path (``tests.integration.functions.X``).

Each runs in an execution environment process, so it reports what happened through files in
``TEST_TRACE_DIR`` (set in the function's environment): a ``.start`` file when an invocation begins
and an ``.end`` file when it returns, each with the process ID, a system-wide monotonic time, and the
batch's message IDs, bodies and receive counts.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

GATE = "gate-open"  # the gated handler waits for this file
WAIT_LIMIT_S = 30  # a handler that waits for the test gives up after this, so nothing hangs


def trace_dir() -> Path:
    return Path(os.environ["TEST_TRACE_DIR"])


def _write(path: Path, content: dict[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(content))
    os.replace(partial, path)  # readers never see half a file


@contextmanager
def traced(event: dict[str, Any], **details: Any) -> Iterator[dict[str, Any]]:
    name = f"{os.getpid()}-{uuid.uuid4().hex}"
    trace = {
        "pid": os.getpid(),
        "started": time.monotonic(),  # CLOCK_MONOTONIC: one clock for every process of the machine
        "messages": [
            {"id": r["messageId"], "body": r["body"], "receiveCount": int(r["attributes"]["ApproximateReceiveCount"])}
            for r in event["Records"]
        ],
        **details,
    }
    _write(trace_dir() / f"{name}.start", trace)
    yield trace
    _write(trace_dir() / f"{name}.end", {**trace, "ended": time.monotonic()})


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def recording(event: dict[str, Any], context: Any) -> Any:
    """The real handler, traced."""
    from transcoder_status.handler import lambda_handler

    with traced(event):
        return lambda_handler(event, context)


def succeeding(event: dict[str, Any], context: Any) -> Any:
    with traced(event):
        return {"batchItemFailures": []}


def rendezvous(event: dict[str, Any], context: Any) -> Any:
    """Returns only once RENDEZVOUS invocations have started: they can overlap only if they run at once."""
    expected = int(os.environ["RENDEZVOUS"])
    with traced(event):
        _wait_for(lambda: len(list(trace_dir().glob("*.start"))) >= expected)
    return {"batchItemFailures": []}


def gated(event: dict[str, Any], context: Any) -> Any:
    """Returns only once the test opens the gate."""
    with traced(event):
        _wait_for((trace_dir() / GATE).exists)
    return {"batchItemFailures": []}


def fatal(event: dict[str, Any], context: Any) -> Any:
    """SIGKILLs its own environment mid-batch for a record "die-once" on its first delivery, and
    for a record "die-always" on every delivery; succeeds otherwise."""
    for record in event["Records"]:
        first = record["attributes"]["ApproximateReceiveCount"] == "1"
        if record["body"] == "die-always" or (record["body"] == "die-once" and first):
            with traced(event, killed=True):
                os.kill(os.getpid(), signal.SIGKILL)
    with traced(event):
        return {"batchItemFailures": []}


def hanging(event: dict[str, Any], context: Any) -> Any:
    """Hangs on the first delivery of a record "hang" (until the poller ends its environment)."""
    if any(r["body"] == "hang" and r["attributes"]["ApproximateReceiveCount"] == "1" for r in event["Records"]):
        with traced(event, hung=True):
            _wait_for(lambda: False)
    with traced(event):
        return {"batchItemFailures": []}


def misbehaving(event: dict[str, Any], context: Any) -> Any:
    """Raises on the first invocation, answers with an unknown record on the second, then runs the real handler."""
    from transcoder_status.handler import lambda_handler

    call = 1
    while True:  # number the calls across processes: only one can create call-N
        try:
            (trace_dir() / f"call-{call}").open("x").close()
            break
        except FileExistsError:
            call += 1
    with traced(event, call=call):
        if call == 1:
            raise RuntimeError("the whole invocation failed")
        if call == 2:
            return {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
        return lambda_handler(event, context)


def stdout_settings(event: dict[str, Any], context: Any) -> Any:
    """How the environment's stdout writes the function's log."""
    import sys

    return {"line_buffering": sys.stdout.line_buffering, "write_through": sys.stdout.write_through}
