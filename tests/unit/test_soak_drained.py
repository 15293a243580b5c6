"""When the soak counts the queue drained (bench.soak.run._drained), on made-up readings and a made-up
clock: SQS's counts are approximate, and a record a poller released comes back after its delay."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bench.soak import run
from bench.soak.load import plan_load
from bench.soak.run import SETTLED_POLL_S, SoakOptions, SoakResult

EMPTY = {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
EMPTY |= {"ApproximateNumberOfMessagesDelayed": "0"}
ONE_BACK = EMPTY | {"ApproximateNumberOfMessages": "1"}  # the released record, visible again


def drained(monkeypatch: pytest.MonkeyPatch, readings: list[dict[str, str]]) -> tuple[float | None, SoakResult]:
    """_drained over these readings, one per poll (the last repeated), on a clock the polls advance."""
    clock = [0.0]
    answers = iter(readings)

    class Sqs:
        def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
            return {"Attributes": next(answers, readings[-1])}

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    monkeypatch.setattr(run.boto3, "client", lambda *_: Sqs())
    monkeypatch.setattr(run.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(run.time, "sleep", sleep)
    stack = SimpleNamespace(outputs={"NotificationQueueUrl": "queue"})
    supervisor = SimpleNamespace(exited=lambda: None)
    result = SoakResult(SoakOptions(notifications=100, jobs=10), plan_load(100, 10, seed=3, start_ms=0), Path())
    return run._drained(stack, supervisor, result, deadline=60.0), result  # type: ignore[arg-type]


def test_one_empty_reading_is_not_drained(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty reading, then the released record back: drained only from when it stayed empty."""
    back_at = 2  # polls: the record comes back within the poller's 1 s delay
    readings = [EMPTY] * back_at + [ONE_BACK] + [EMPTY]
    at, result = drained(monkeypatch, readings)
    assert at == pytest.approx((back_at + 1) * SETTLED_POLL_S)  # the first empty reading after it
    assert result.problems == []


def test_a_queue_empty_for_the_whole_wait_is_drained_when_first_seen_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    at, _ = drained(monkeypatch, [ONE_BACK, EMPTY])
    assert at == pytest.approx(SETTLED_POLL_S)


def test_a_queue_never_empty_for_long_enough_is_not_drained(monkeypatch: pytest.MonkeyPatch) -> None:
    flickers = [EMPTY, EMPTY, ONE_BACK] * 1000  # never empty for 3 s
    at, result = drained(monkeypatch, flickers)
    assert at is None
    assert result.problems and "not empty" in result.problems[0]
