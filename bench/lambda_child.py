"""One execution environment of a function, from its cold start, run by bench.lambda_cpu under a CPU quota.

``python -m bench.lambda_child FUNCTION EVENTS RESULT RUNS``: FUNCTION is ``writer`` (the status
writer's handler) or ``stuck`` (the stuck check); EVENTS a JSON file of the SQS batches by size
(``{"1": event, "10": ..., "100": ...}``); RESULT the JSON file its figures go to; RUNS the warm
rounds after the cold start (and one round uncounted, that opens the connections and starts the
threads a warm environment has). It stands in for Lambda's runtime: only the standard library is
loaded before the function's module, so that the import is counted whole; the function's own log
and metrics go to stdout, as on Lambda (the parent sends them to /dev/null).

The stuck check's batch of N is one run that finds N stuck MediaConvert rows (a ``stuck-N`` table
of the stand-in: bench.stub_dynamodb), asks GetJob about each and writes each repair. Warm runs
lift its pacing (2 GetJob calls a second): that sleep is the same at every memory size.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()  # the interpreter is up: what came before is its start

import importlib  # noqa: E402 - after the clock, as everything below
import json  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

MODULES = {"writer": "transcoder_status.handler", "stuck": "transcoder_status.stuck_check"}
SCHEDULED_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


class Context:
    """What the runtime passes as the context, as far as the functions and Powertools read it."""

    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 0
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    def __init__(self, timeout_s: float = 900) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def _ms(action: Callable[[], object]) -> float:
    start = time.monotonic()
    action()
    return (time.monotonic() - start) * 1000


def _invoke(module: Any, event: dict[str, Any], *override: object) -> object:
    """The handler as Lambda calls it, with a fresh context; ``override``: the check to run instead."""
    return module.lambda_handler(event, Context(), *override)


def _warm_invokers(function: str, events: dict[str, Any], module: Any) -> dict[str, Callable[[], object]]:
    """One invocation per batch size, on the environment the first invocation built."""
    if function == "writer":
        return {size: partial(_invoke, module, event) for size, event in events.items()}
    from transcoder_status.reconcile import Reconciler
    from transcoder_status.stuck_check import StuckCheck, default_check
    from transcoder_status.table import StatusTable

    built = default_check()
    assert built.reconciler is not None, "RECONCILE_MEDIACONVERT is off: the stuck check would ask nothing"
    checks = {}
    for size in events:
        table = StatusTable(f"stuck-{size}", built.table.client, built.table.retention_days)
        unpaced = Reconciler(table, built.reconciler.clients, rate_per_second=1e9)
        checks[size] = StuckCheck(table, built.stuck_after_minutes, unpaced)
    return {size: partial(_invoke, module, SCHEDULED_EVENT, check) for size, check in checks.items()}


def main() -> None:
    function, events_path, result_path, runs = sys.argv[1:5]
    events: dict[str, Any] = json.loads(Path(events_path).read_text())
    before_import = time.monotonic()
    module = importlib.import_module(MODULES[function])
    import_ms = (time.monotonic() - before_import) * 1000
    # The first invocation builds the clients: the environment's TABLE_NAME (``stuck-1`` for the check).
    first = events["1"] if function == "writer" else SCHEDULED_EVENT
    first_ms = _ms(partial(_invoke, module, first))
    invokers = _warm_invokers(function, events, module)
    for invoke in invokers.values():  # threads and connections up to the largest batch, as a warm environment has
        invoke()
    warm: dict[str, list[float]] = {size: [] for size in invokers}
    for _ in range(int(runs)):
        for size, invoke in invokers.items():  # interleaved, so the quota's phase hits every size alike
            warm[size].append(_ms(invoke))
    figures = {"started": STARTED, "import_ms": import_ms, "first_ms": first_ms, "warm_ms": warm}
    Path(result_path).write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
