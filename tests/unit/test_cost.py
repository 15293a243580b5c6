"""The cost model, worked by hand for one set of measurements: every line in dollars."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from bench.cost import Invocation, Measured, markdown, per_million

MEASURED = Measured(
    notifications_per_job=4,  # 250,000 jobs per million notifications
    sns_share=0.5,
    notifications_per_invocation=8,  # 125,000 invocations
    records_per_invocation=10,
    invocation=Invocation(memory_mb=256, vcpu_share=0.145, ms=40, dynamodb_latency_ms=5),
    write_units_per_notification=3,
    log_bytes_per_notification=500,
    job_minutes=5,
    reads_per_waiting_minute=40,
    old_calls_per_job=200,
    old_concurrent_jobs=50,
)

# Each line: new with polling clients, new with the finished event, the old worker.
BY_HAND = {
    "SNS publishes": (0.25, 0.25, 0.25),  # 500,000 publishes at $0.50/M
    # 1M sends + 125,000 invocations x (1 receive + 1 delete); the old side: 1M sends + 250,000 jobs x 200 calls
    "SQS requests": (0.50, 0.50, 20.40),
    # 125,000 x ($0.20/M + 0.25 GB x 0.04 s x $0.0000133334)
    "Lambda": (0.04166675, 0.04166675, 0.0),
    "DynamoDB writes": (1.875, 1.875, 0.0),  # 3M units at $0.625/M
    # (1M x 500 bytes + 125,000 REPORT lines x 250 bytes) = 0.53125 GB at $0.50
    "CloudWatch Logs": (0.265625, 0.265625, 0.0),
    "client reads": (6.25, 0.0, 0.0),  # 250,000 jobs x 5 min x 40 reads at $0.125/M
    # 250,000 x ($0.20/M + 0.25 GB x 0.05 s x $0.0000133334 for the publisher, + $1/M events)
    "finished events": (0.0, 0.3416667, 0.0),
    "EC2 time": (0.0, 0.0, 8.75),  # 250,000 x 5 min = 20,833 h of a process, 40 to a $0.0168/h instance
}


def lines(measured: Measured) -> dict[str, tuple[float, float, float]]:
    figures = {line.what: (line.new_poll, line.new_push, line.old) for line in per_million(measured)}
    return {name: next(value for what, value in figures.items() if what.startswith(name)) for name in BY_HAND}


def test_every_line_is_the_hand_worked_figure() -> None:
    assert lines(MEASURED) == {name: pytest.approx(value) for name, value in BY_HAND.items()}
    assert len(per_million(MEASURED)) == len(BY_HAND)


def test_the_old_worker_polls_at_least_while_it_waits() -> None:
    """12 long polls a minute for its 5 minutes: 60 calls per job even when the run counted fewer."""
    assert lines(replace(MEASURED, old_calls_per_job=1))["SQS requests"][2] == pytest.approx(
        (1e6 + 250_000 * 60) * 0.40 / 1e6
    )


def test_a_batch_over_ten_records_takes_a_receive_and_a_delete_per_ten() -> None:
    assert lines(replace(MEASURED, records_per_invocation=25))["SQS requests"][0] == pytest.approx(
        (1e6 + 125_000 * 6) * 0.40 / 1e6
    )


def test_the_table_totals_its_lines() -> None:
    rows = [line for line in markdown(MEASURED) if line.startswith("| ") and not line.startswith("| |")]
    *items, total = ([float(cell) for cell in re.findall(r"\$([\d.]+)", row)] for row in rows)
    assert total == pytest.approx([9.18, 3.28, 29.40], abs=0.01)
    for column in range(3):
        assert sum(item[column] for item in items) == pytest.approx(total[column], abs=0.01 * len(items))


def test_lambda_bills_the_chosen_memory_for_the_duration_measured_at_its_share() -> None:
    """1,024 MB for 10 ms: 125,000 x ($0.20/M + 1 GB x 0.01 s x $0.0000133334)."""
    faster = replace(MEASURED, invocation=Invocation(memory_mb=1024, vcpu_share=0.579, ms=10, dynamodb_latency_ms=5))
    assert lines(faster)["Lambda"][0] == pytest.approx(125_000 * (0.20 / 1e6 + 0.01 * 0.0000133334))
    text = "\n".join(markdown(faster))
    assert "Lambda (arm64, 1,024 MB" in text and "0.579 of a vCPU" in text and "Graviton2" in text
