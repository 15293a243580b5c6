"""The finished events' redrive: put a job's "Transcoding Job Finished" event again, from its row.

For events the publisher gave up on (its on-failure queue describes the stream batch, not the
rows), lost downstream, or wanted again by a new consumer. The event is the one the publisher
builds (``finished_event``), so an idempotent consumer (by jobId) ignores what it already has.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .event_bus import EventBus
from .finished_event import finished_detail, put_events_entry
from .listing import list_jobs
from .status import JobStatus
from .table import JOB_ID, StatusTable, row_from_item

BATCH_GET_LIMIT = 100
UNPROCESSED_ATTEMPTS = 5
FINISHED = (JobStatus.SUCCESS, JobStatus.ERROR, JobStatus.CANCELED)


@dataclass
class RepublishReport:
    """What a republish did: the jobs whose event is on the bus again, and why the others are not."""

    published: list[str] = field(default_factory=list)
    not_published: dict[str, str] = field(default_factory=dict)


def republish(
    table: StatusTable, bus: EventBus, job_ids: Iterable[str], report: RepublishReport | None = None
) -> RepublishReport:
    """Put each job's finished event again, read from its row (a consistent read). ``report`` is
    filled as it goes: what an interrupt leaves it holding was done."""
    report = RepublishReport() if report is None else report
    wanted = list(dict.fromkeys(job_ids))
    for start in range(0, len(wanted), BATCH_GET_LIMIT):
        chunk = wanted[start : start + BATCH_GET_LIMIT]
        items = {str(item[JOB_ID]["S"]): item for item in _read(table, chunk, report)}
        entries: list[dict[str, Any]] = []
        jobs: list[str] = []
        for job_id in chunk:
            if job_id in report.not_published:
                continue
            if job_id not in items:
                report.not_published[job_id] = "no row: not in the table (never notified, or expired)"
                continue
            try:
                entries.append(put_events_entry(finished_detail(row_from_item(items[job_id])), bus.name))
                jobs.append(job_id)
            except ValueError as error:
                report.not_published[job_id] = str(error)
        failed = bus.put(entries)
        for index, job_id in enumerate(jobs):
            if index in failed:
                report.not_published[job_id] = f"PutEvents refused it: {failed[index]}"
            else:
                report.published.append(job_id)
    return report


def _read(table: StatusTable, job_ids: list[str], report: RepublishReport) -> list[Any]:
    items: list[Any] = []
    keys = job_ids
    for attempt in range(UNPROCESSED_ATTEMPTS):
        found, keys = table.get_many_items(keys)
        items.extend(found)
        if not keys:
            return items
        time.sleep(0.1 * 2**attempt)  # unprocessed keys: DynamoDB asks for a pause
    report.not_published.update(dict.fromkeys(keys, "not read: DynamoDB left the key unprocessed; try again"))
    return items


def finished_since(table: StatusTable, since: timedelta) -> Iterator[str]:
    """Jobs finished in the last ``since``: every finished row updated since then (a superset, as a
    late warning also updates a row; its event is the same)."""
    for row in list_jobs(FINISHED, since=since, table_name=table.name, client=table.client):
        yield row.job_id
