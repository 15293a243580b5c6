"""The cost model: each line moves with the measurement it comes from, and the total is their sum."""

from __future__ import annotations

import re
from dataclasses import replace

from bench.cost import (
    DYNAMODB_WRITE_UNIT,
    EVENTBRIDGE_EVENT,
    OLD_IDLE_POLLS_PER_MINUTE,
    PIPES_REQUEST,
    SQS_REQUEST,
    Measured,
    markdown,
    per_million,
)

MEASURED = Measured(
    notifications_per_job=4,
    records_per_invocation=10,
    invocation_ms=40,
    write_units_per_notification=3,
    log_bytes_per_notification=500,
    job_minutes=5,
    reads_per_waiting_minute=40,
    old_calls_per_job=200,
    old_concurrent_jobs=50,
)


def lines(measured: Measured) -> dict[str, tuple[float, float, float]]:
    return {line.what: (line.new_poll, line.new_push, line.old) for line in per_million(measured)}


def test_writes_are_charged_per_unit_measured() -> None:
    writes = "DynamoDB writes (table and status index)"
    assert lines(MEASURED)[writes][0] == 3 * 1e6 * DYNAMODB_WRITE_UNIT
    assert lines(replace(MEASURED, write_units_per_notification=6))[writes][0] == 2 * lines(MEASURED)[writes][0]


def test_pushing_the_finished_event_replaces_the_clients_reads() -> None:
    reads, events = (
        lines(MEASURED)["client reads while waiting"],
        lines(MEASURED)["finished events (Pipes and the bus)"],
    )
    assert reads[0] > 0 and reads[1] == 0
    jobs = 1e6 / 4
    assert events == (0, jobs * (PIPES_REQUEST + EVENTBRIDGE_EVENT), 0)


def test_larger_batches_cost_fewer_sqs_requests_and_invocations() -> None:
    small, large = (
        lines(replace(MEASURED, records_per_invocation=2)),
        lines(replace(MEASURED, records_per_invocation=50)),
    )
    for what in ("SQS requests", "Lambda (arm64, 256 MB: requests and GB-s)"):
        assert large[what][0] < small[what][0]
    # Never below one send per notification.
    assert large["SQS requests"][0] > 1e6 * SQS_REQUEST


def test_the_old_worker_polls_at_least_while_it_waits() -> None:
    idle = replace(MEASURED, old_calls_per_job=1)
    jobs = 1e6 / 4
    assert lines(idle)["SQS requests"][2] == (1e6 + jobs * OLD_IDLE_POLLS_PER_MINUTE * 5) * SQS_REQUEST
    assert lines(MEASURED)["SQS requests"][2] == (1e6 + jobs * 200) * SQS_REQUEST


def test_the_table_totals_its_lines() -> None:
    rows = [line for line in markdown(MEASURED) if line.startswith("| ") and not line.startswith("| |")]
    values = [[float(cell) for cell in re.findall(r"\$([\d.]+)", row)] for row in rows]
    *items, total = values
    for column in range(3):
        assert abs(sum(item[column] for item in items) - total[column]) <= 0.01 * len(items)
