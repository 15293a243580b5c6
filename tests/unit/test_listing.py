"""The pure parts of listing: durations, status choices, the shard key, the newest-first merge."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from transcoder_status.client import TransientReadError
from transcoder_status.listing import (
    LISTED_STATUSES,
    UNPROCESSED_RETRIES,
    parse_duration,
    query_jobs,
    status_choice,
    with_times,
)
from transcoder_status.status import JobStatus
from transcoder_status.table import STATUS_SHARDS, JobRow, status_shard


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1w", timedelta(days=7)),
        ("1h30m", timedelta(minutes=90)),
        (" 2H ", timedelta(hours=2)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "2 hours", "2y", "-5m", "1.5h", "2h!"])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="like 90s, 15m, 2h or 7d"):
        parse_duration(text)


def test_status_choices() -> None:
    assert status_choice(None) == status_choice([]) == LISTED_STATUSES
    assert set(LISTED_STATUSES) == {JobStatus.RUNNING, JobStatus.SUCCESS, JobStatus.ERROR, JobStatus.CANCELED}
    assert status_choice("error") == (JobStatus.ERROR,)
    assert status_choice(["Running", JobStatus.RUNNING, "SUCCESS"]) == (JobStatus.RUNNING, JobStatus.SUCCESS)
    with pytest.raises(ValueError, match="not a job status"):
        status_choice("DONE")
    with pytest.raises(ValueError, match="never stored"):
        status_choice(JobStatus.UNKNOWN)


def test_the_shard_key_spreads_jobs_and_never_moves_one() -> None:
    """1,000 running jobs: every shard takes a share near 1/8, none much more (no hot key)."""
    jobs = [f"{1_700_000_000_000 + n * 7919}-{n:06x}" for n in range(1000)]
    shards = Counter(status_shard(JobStatus.RUNNING, job) for job in jobs)
    assert set(shards) == {f"RUNNING#{k}" for k in range(STATUS_SHARDS)}
    assert max(shards.values()) < 1.3 * 1000 / STATUS_SHARDS
    # The shard is the job's, whatever its status: a finished job keeps its k.
    for job in jobs[:50]:
        assert status_shard(JobStatus.SUCCESS, job).split("#")[1] == status_shard(JobStatus.RUNNING, job).split("#")[1]


class FakeShards:
    """A StatusTable stand-in: rows per (status, shard), served newest first a page at a time."""

    def __init__(self, rows: dict[tuple[JobStatus, int], list[str]]):
        self.rows = rows
        self.calls: list[tuple[str, int, int]] = []

    def query_status(
        self, status: JobStatus, shard: int, *, limit: int, start: Any = None, **_: Any
    ) -> tuple[list[JobRow], Any]:
        self.calls.append((status.value, shard, limit))
        times = sorted(self.rows.get((status, shard), []), reverse=True)
        offset = start or 0
        page = times[offset : offset + limit]
        rows = [JobRow(job_id=f"{status.value}-{t}", status=status, finished=False, updated_at=t) for t in page]
        return rows, (offset + limit if offset + limit < len(times) else None)


def test_the_merge_is_newest_first_across_shards_and_statuses_and_reads_only_what_it_needs() -> None:
    times = [f"2025-08-12T12:{minute:02d}:00.000Z" for minute in range(40)]
    rows = {(JobStatus.RUNNING if n % 2 else JobStatus.ERROR, n % STATUS_SHARDS): [] for n in range(2 * STATUS_SHARDS)}
    for n, at in enumerate(times):
        rows[(JobStatus.RUNNING if n % 2 else JobStatus.ERROR, (n * 3) % STATUS_SHARDS)].append(at)
    table = FakeShards(rows)
    merged = list(query_jobs(table, (JobStatus.RUNNING, JobStatus.ERROR), page_size=2))  # type: ignore[arg-type]
    assert [row.updated_at for row in merged] == sorted(times, reverse=True)
    assert len(merged) == 40

    table.calls.clear()
    newest = list(query_jobs(table, (JobStatus.RUNNING, JobStatus.ERROR), limit=3, page_size=100))  # type: ignore[arg-type]
    assert [row.updated_at for row in newest] == sorted(times, reverse=True)[:3]
    # One Query per shard and status, none asking for more than the limit.
    assert len(table.calls) == 2 * STATUS_SHARDS and {limit for _, _, limit in table.calls} == {3}
    table.calls.clear()
    assert list(query_jobs(table, (JobStatus.RUNNING,), limit=0)) == []  # type: ignore[arg-type]
    # Updated in the last hour and at least two hours ago: nothing, and no Query DynamoDB would refuse.
    since, until = "2025-08-12T12:00:00.000Z", "2025-08-12T11:00:00.000Z"
    assert list(query_jobs(table, (JobStatus.RUNNING,), since=since, until=until)) == []  # type: ignore[arg-type]
    assert table.calls == []


class BusyTable:
    """BatchGetItem as DynamoDB answers it under load: ``stubborn`` keys are left unprocessed every
    time, any other key once, then read (with the place a central stack's row records)."""

    name = "busy"

    def __init__(self, stubborn: set[str]):
        self.stubborn, self.asked = stubborn, Counter[str]()

    def get_many_items(self, job_ids: list[str], **_: Any) -> tuple[list[dict[str, Any]], list[str]]:
        self.asked.update(job_ids)
        pending = [job_id for job_id in job_ids if job_id in self.stubborn or self.asked[job_id] == 1]
        found = [{"jobId": {"S": j}, "account": {"S": "444455556666"}} for j in job_ids if j not in pending]
        return found, pending


def test_rows_left_unprocessed_are_retried_and_never_silently_left_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A filtered listing keeps the rows whose account (or finishedAt) it read: a row DynamoDB left
    unprocessed on every retry would be filtered out as if it did not match. It is an error instead."""
    monkeypatch.setattr("transcoder_status.listing.time.sleep", lambda _: None)
    rows = [JobRow(job_id=f"job-{n}", status=JobStatus.SUCCESS, finished=True) for n in range(3)]
    read = list(with_times(BusyTable(set()), rows))  # type: ignore[arg-type]
    assert [row.account for row in read] == ["444455556666"] * 3  # each left once, read on the retry
    busy = BusyTable({"job-1"})
    with pytest.raises(TransientReadError, match=r"1 row\(s\).*unprocessed"):
        list(with_times(busy, rows))  # type: ignore[arg-type]
    assert busy.asked["job-1"] == UNPROCESSED_RETRIES + 1
