"""The emulator keeps DynamoDB's promise that conditional writes to one item are atomic.

moto alone does not: two conditional UpdateItems on a fresh item, from two threads, can both pass
``attribute_not_exists`` and the later store wins. The race below is the one that matters here: a
terminal and a running notification of a new job, written at once by two concurrent invocations.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3

from transcoder_status.notification import Notification, Source
from transcoder_status.status import JobStatus
from transcoder_status.table import StatusTable

RACES = 300


def notification(job_id: str, state: str, status: JobStatus) -> Notification:
    return Notification(
        source=Source.ELASTIC_TRANSCODER,
        job_id=job_id,
        state=state,
        status=status,
        event_time_ms=1_700_000_000_000,
        event_id=f"{job_id}-{state}",
    )


def test_a_terminal_write_always_wins_its_race_with_a_running_one(table: StatusTable) -> None:
    jobs = [f"race-{uuid.uuid4().hex[:8]}-{n:03d}" for n in range(RACES)]
    start_together = threading.Barrier(2, timeout=30)

    def write_all(state: str, status: JobStatus) -> None:
        # Each writer has its own client (its own connections), as two Lambda environments would.
        writer = StatusTable(table.name, clients.pop())
        for job in jobs:
            start_together.wait()
            writer.apply(notification(job, state, status))

    clients = [boto3.client("dynamodb"), boto3.client("dynamodb")]  # created here: client creation is not thread-safe
    with ThreadPoolExecutor(2) as pool:
        writers = [
            pool.submit(write_all, "COMPLETED", JobStatus.SUCCESS),
            pool.submit(write_all, "PROGRESSING", JobStatus.RUNNING),
        ]
        for writer in writers:
            writer.result(timeout=120)

    rows: dict[str, JobStatus] = {}
    for start in range(0, RACES, 100):
        found, unprocessed = table.get_many(jobs[start : start + 100])
        assert unprocessed == []
        rows.update((row.job_id, row.status) for row in found)
    lost = sorted(job for job in jobs if rows.get(job) is not JobStatus.SUCCESS)
    assert lost == [], f"the running write overwrote the terminal one in {len(lost)} of {RACES} races"
