"""The client with its defaults: how soon a waiting client sees a job finish, and what it reads.

Simulated time, so a 10-minute job costs no wall time and every figure is exact: the library's own
JobMonitor.wait and watch_jobs run against tables whose rows turn terminal at a chosen moment, with
``time.monotonic``/``time.sleep`` of the client module replaced by a clock that sleeping advances.
Each read takes 10 ms. Beside the defaults, the old ones (backoff growing to 10 s) for contrast.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from transcoder_status.client import Backoff, JobMonitor, watch_jobs
from transcoder_status.status import JobStatus
from transcoder_status.table import JobRow

READ_S = 0.01
JOB_LENGTHS_S = (5, 60, 600)
TRIALS = 200


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def _simulated(clock: _Clock) -> Iterator[None]:
    # The client reads the clock through the time module: this process's clock becomes simulated.
    with mock.patch("time.monotonic", lambda: clock.now), mock.patch("time.sleep", clock.sleep):
        yield


class _Table:
    """Rows that turn terminal at ``finish_at``; counts reads and BatchGetItem calls."""

    name = "bench"

    def __init__(self, clock: _Clock, finish_at: float):
        self.clock, self.finish_at = clock, finish_at
        self.reads = 0
        self.batch_calls: list[int] = []

    def _row(self, job_id: str) -> JobRow:
        done = self.clock.now >= self.finish_at
        return JobRow(job_id=job_id, status=JobStatus.SUCCESS if done else JobStatus.RUNNING, finished=done)

    def get(self, job_id: str, **_: Any) -> JobRow:
        self.clock.now += READ_S
        self.reads += 1
        return self._row(job_id)

    def get_many(self, job_ids: Sequence[str], **_: Any) -> tuple[list[JobRow], list[str]]:
        self.clock.now += READ_S
        self.batch_calls.append(len(job_ids))
        return [self._row(job) for job in job_ids], []


@dataclass(frozen=True)
class WaitFigures:
    backoff: Backoff
    job_length_s: float
    seen_after_median_s: float
    seen_after_max_s: float
    reads_per_minute: float


def _one_wait(backoff: Backoff, length_s: float, rng: random.Random) -> tuple[float, float]:
    clock = _Clock()
    table = _Table(clock, finish_at=length_s * rng.uniform(0.9, 1.1))
    monitor = JobMonitor("job", "bench", client=object(), backoff=backoff)  # type: ignore[arg-type]
    monitor._table = table  # type: ignore[assignment]
    with _simulated(clock):
        assert monitor.wait() is JobStatus.SUCCESS
    return clock.now - table.finish_at, table.reads / (clock.now / 60)


def waits(backoff: Backoff, seed: int = 7) -> list[WaitFigures]:
    rng = random.Random(seed)
    figures = []
    for length in JOB_LENGTHS_S:
        delays, rates = zip(*(_one_wait(backoff, length, rng) for _ in range(TRIALS)), strict=True)
        figures.append(WaitFigures(backoff, length, statistics.median(delays), max(delays), statistics.median(rates)))
    return figures


def wait_all_calls_per_round(jobs: int = 1000) -> list[int]:
    """BatchGetItem calls in each polling round of a wait over ``jobs`` jobs that finish mid-way."""
    clock = _Clock()
    table = _Table(clock, finish_at=30.0)
    per_round: list[int] = []
    with _simulated(clock):
        for _ in watch_jobs([f"job-{i}" for i in range(jobs)], table, sleep=clock.sleep):  # type: ignore[arg-type]
            per_round.append(len(table.batch_calls) - sum(per_round))
    return per_round


def markdown(defaults: list[WaitFigures], old: list[WaitFigures], rounds: list[int]) -> list[str]:
    def label(backoff: Backoff) -> str:
        return f"{backoff.initial:g} s doubling to {backoff.maximum:g} s"

    lines = [
        "## The client's defaults: from a row turning terminal to the client seeing it",
        "",
        f"JobMonitor.wait in simulated time, {TRIALS} waits per job length, reads of {READ_S * 1000:.0f} ms.",
        "Target (issue 10): seen within 2 s whatever the job's length, reads per waiting minute bounded.",
        "",
        "| backoff | job length | seen after, median | seen after, max | reads per waiting minute |",
        "|---|---:|---:|---:|---:|",
    ]
    for figures in (defaults, old):
        lines += [
            f"| {label(f.backoff)}{' (default)' if figures is defaults else ''} | {f.job_length_s:g} s "
            f"| {f.seen_after_median_s:.2f} s | {f.seen_after_max_s:.2f} s | {f.reads_per_minute:.0f} |"
            for f in figures
        ]
    lines += [
        "",
        f"`wait_all` over 1,000 jobs: {max(rounds)} BatchGetItem calls per polling round at most "
        f"({len(rounds)} rounds; target: at most 10).",
    ]
    return lines
