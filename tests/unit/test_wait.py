"""The polling loop of wait_all without I/O: UnprocessedKeys, backoff, timeouts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from transcoder_status.client import Backoff, JobWaitTimeout, watch_jobs
from transcoder_status.status import JobStatus
from transcoder_status.table import JobRow


class FlakyTable:
    """Answers BatchGetItem like DynamoDB under load: some keys come back unprocessed."""

    name = "flaky"

    def __init__(self, rows: dict[str, JobRow], unprocessed_rounds: int):
        self.rows = rows
        self.unprocessed_rounds = unprocessed_rounds
        self.requests: list[list[str]] = []

    def get_many(self, job_ids: Sequence[str], *, consistent: bool = True, attributes: Any = None) -> Any:
        self.requests.append(list(job_ids))
        if self.unprocessed_rounds > 0:
            self.unprocessed_rounds -= 1
            half = len(job_ids) // 2
            return [self.rows[j] for j in job_ids[:half] if j in self.rows], list(job_ids[half:])
        return [self.rows[j] for j in job_ids if j in self.rows], []


def done(job_id: str, status: JobStatus = JobStatus.SUCCESS) -> JobRow:
    return JobRow(job_id=job_id, status=status, finished=True)


def test_unprocessed_keys_are_retried_with_backoff() -> None:
    jobs = [f"job-{i}" for i in range(8)]
    table = FlakyTable({job: done(job) for job in jobs}, unprocessed_rounds=2)
    pauses: list[float] = []
    rounds = list(watch_jobs(jobs, table, backoff=Backoff(initial=1, maximum=4), sleep=pauses.append))  # type: ignore[arg-type]
    assert table.requests == [jobs, jobs[4:], jobs[6:]]
    assert len(rounds) == 1 and all(row is not None and row.finished for row in rounds[-1].values())
    assert len(pauses) == 2
    assert 0.5 <= pauses[0] <= 1 and 1 <= pauses[1] <= 2  # jittered, doubling


def test_more_than_100_jobs_are_read_100_at_a_time() -> None:
    jobs = [f"job-{i}" for i in range(230)]
    table = FlakyTable({job: done(job) for job in jobs}, unprocessed_rounds=0)
    list(watch_jobs(jobs, table, sleep=lambda _: None))  # type: ignore[arg-type]
    assert [len(request) for request in table.requests] == [100, 100, 30]


def test_timeout_reports_last_statuses() -> None:
    table = FlakyTable({"a": done("a", JobStatus.ERROR)}, unprocessed_rounds=0)
    with pytest.raises(JobWaitTimeout) as raised:
        list(watch_jobs(["a", "b"], table, timeout=0, sleep=lambda _: None))  # type: ignore[arg-type]
    assert raised.value.statuses == {"a": JobStatus.ERROR, "b": JobStatus.RUNNING}


def test_backoff_is_capped_and_jittered() -> None:
    delays = Backoff(initial=1, maximum=8).delays()
    values = [next(delays) for _ in range(10)]
    assert all(4 <= value <= 8 for value in values[4:])
    assert 0.5 <= values[0] <= 1
