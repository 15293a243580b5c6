"""Listings of the status index: jobs by status and time window, newest first; stuck jobs.

``list_jobs`` and ``stuck_jobs`` are the library's face (a table from TABLE_NAME, boto3's usual
settings, errors that say what to do). ``query_jobs`` is the core they share with the scheduled
stuck check: it queries every shard of every status asked for (see table.py for the key design
and what a listing costs) and merges the shards newest first, fetching a shard's next page only
when the merge reaches its end. The index's attribute names all come from table.py.

The index is eventually consistent: a row written a moment ago may be missing, or listed under the
status it had just before.

``since`` and ``until`` bound when a row was last written (``updatedAt``, the index's range). "Which
jobs failed today" is a question about ``finishedAt``, which the index does not project: since a
row's finishedAt never exceeds its updatedAt, ``finished_since`` narrows the index's range, and each
listed row's times are read with BatchGetItem (one per 100 rows) and filtered. The rows a listing
shows carry their finishedAt, repairedAt and discoveredAt the same way (``with_times``).

``account`` and ``region`` (where a MediaConvert job ran: a central stack gathers many) are read
and filtered the same way, for the same reason: the index does not project them. Adding them to its
projection is not a change CloudFormation makes in place: it adds or deletes one index per update
and changes an existing one's throughput only
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-dynamodb-table.html#cfn-dynamodb-table-globalsecondaryindexes,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GlobalSecondaryIndexUpdate.html),
so a new projection is a new index under a new name, built from every row, then the old one dropped.
What it costs instead: every row of the window is read until ``limit`` rows match, so a filter that
matches few rows of a wide window reads many; ``since`` bounds it.
"""

from __future__ import annotations

import heapq
import re
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from .sources import ACCOUNT_ID, REGION_NAME
from .status import TERMINAL_STATUSES, JobStatus
from .table import (
    ACCOUNT,
    DISCOVERED_AT,
    FINISHED_AT,
    JOB_ID,
    LISTING_ATTRIBUTES,
    REGION,
    REPAIRED_AT,
    STATUS_SHARDS,
    JobRow,
    StatusTable,
    iso_time,
    row_from_item,
)

# What a listing without a status lists: every status the table stores (UNKNOWN is a monitor's).
LISTED_STATUSES = (JobStatus.RUNNING, *sorted(TERMINAL_STATUSES, key=lambda status: status.value))
LISTING_PAGE = 100  # rows per Query of one shard
# What ``with_times`` reads of each listed row: what the index does not project that a listing shows.
TIMES = (JOB_ID, FINISHED_AT, REPAIRED_AT, DISCOVERED_AT, ACCOUNT, REGION)
UNPROCESSED_RETRIES = 5
PARALLEL_QUERIES = STATUS_SHARDS  # the shards' first pages, this many at once (botocore pools 10 connections)

# A time: a datetime (naive ones are taken as UTC, the table's zone), or a timedelta before now.
Moment = datetime | timedelta
StatusChoice = JobStatus | str | Iterable[JobStatus | str] | None

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``7d``, ``1w``, or several: ``1h30m``."""
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    if not parts or _DURATION.sub("", compact).strip():
        raise ValueError(f"{text!r} is not a duration: write a number and a unit, like 90s, 15m, 2h or 7d")
    return timedelta(seconds=sum(int(number) * _UNITS[unit] for number, unit in parts))


def parse_moment(text: str) -> Moment:
    """A duration before now (``2h``, ``7d``) or an ISO 8601 time (``2026-12-06T17:00:00Z``; no
    zone: UTC)."""
    try:
        return parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (90s, 15m, 2h, 7d) nor an ISO 8601 time (2026-12-06T17:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def list_jobs(
    status: StatusChoice = None,
    since: Moment | None = None,
    until: Moment | None = None,
    limit: int | None = None,
    table_name: str | None = None,
    *,
    page_size: int = LISTING_PAGE,
    finished_since: Moment | None = None,
    finished_until: Moment | None = None,
    times: bool = False,
    account: str | None = None,
    job_region: str | None = None,
    **connection: Any,
) -> Iterator[JobRow]:
    """Jobs whose row was last written in [``since``, ``until``], newest first, paging for you.

    ``status``: one status, several, or None for every status. ``since`` and ``until``: datetimes
    or timedeltas before now (``since=timedelta(days=1)``: updated in the last day). ``limit``: at
    most that many rows. ``connection`` takes region_name, endpoint_url, session or client, as
    JobMonitor does. Each row holds the listing's attributes (table.LISTING_ATTRIBUTES), not the
    outputs, warnings or user metadata: ``JobMonitor(job_id).details()`` reads a whole row.
    ``finished_since``, ``finished_until``: only jobs that finished in that window (by finishedAt);
    ``account``, ``job_region``: only MediaConvert jobs that ran in that account (12 digits) or
    Region (``region_name`` is the table's, as everywhere); ``times``: each row with its finishedAt, repairedAt,
    discoveredAt, account and region. The index projects none of these: each listed row's are read
    with BatchGetItem (one per 100 rows), and a filter on them reads every row of the window until
    ``limit`` match. Errors are the client's: StatusTableError (also for a table deployed without
    the index), TableNotConfiguredError; ValueError for a malformed account or Region, or a window
    whose start is after its end.
    """
    from .client import connect

    statuses = status_choice(status)  # a bad status fails here, before the first row is asked for
    check_place(account, job_region)
    now = time.time()
    start, end = _at(since, now), _at(until, now)
    finished_start, finished_end = _at(finished_since, now), _at(finished_until, now)
    for low, high, what in ((start, end, "since"), (finished_start, finished_end, "finished_since")):
        if low is not None and high is not None and low > high:
            raise ValueError(f"{what} ({low}) is later than {what.replace('since', 'until')} ({high})")
    if finished_start is not None or finished_end is not None:
        statuses = tuple(s for s in statuses if s.terminal)
        if not statuses:
            raise ValueError("running jobs have no finish time: list SUCCESS, ERROR or CANCELED jobs")
    table = connect(table_name, **connection)
    finished = finished_start is not None or finished_end is not None
    if not finished and account is None and job_region is None:
        rows = query_jobs(table, statuses, since=start, until=end, limit=limit, page_size=page_size)
        return _explained(table, with_times(table, rows) if times else rows)
    if finished_start is not None:
        start = max(start or finished_start, finished_start)  # finishedAt <= updatedAt: the index's range
    rows = query_jobs(table, statuses, since=start, until=end, page_size=page_size)
    kept = (
        row
        for row in with_times(table, rows)
        if (
            not finished
            or (
                row.finished_at is not None
                and (finished_start is None or row.finished_at >= finished_start)
                and (finished_end is None or row.finished_at <= finished_end)
            )
        )
        and (account is None or row.account == account)
        and (job_region is None or row.region == job_region)
    )
    return _explained(table, islice(kept, limit))


def check_place(account: str | None = None, region: str | None = None) -> None:
    """``ValueError`` unless ``account`` is an account ID and ``region`` a Region name (or None)."""
    if account is not None and not ACCOUNT_ID.fullmatch(account):
        raise ValueError(f"{account!r} is not an AWS account ID: 12 digits, like 444455556666")
    if region is not None and not REGION_NAME.fullmatch(region):
        raise ValueError(f"{region!r} is not a Region name: like us-east-1 or eu-west-1")


def with_times(table: StatusTable, rows: Iterable[JobRow], batch: int = 100) -> Iterator[JobRow]:
    """``rows`` with their finishedAt, repairedAt, discoveredAt, account and region, read a
    BatchGetItem at a time; TransientReadError (a StatusTableError) if DynamoDB keeps leaving some
    unread."""
    iterator = iter(rows)
    while chunk := list(islice(iterator, batch)):
        pending = [row.job_id for row in chunk]
        items: dict[str, JobRow] = {}
        # Keys DynamoDB leaves unprocessed (it is busy) are asked again after a growing pause:
        # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
        for attempt in range(UNPROCESSED_RETRIES + 1):
            if attempt:
                time.sleep(min(0.05 * 2 ** (attempt - 1), 1.0))
            found, pending = table.get_many_items(pending, consistent=False, attributes=TIMES)
            items.update((str(item[JOB_ID]["S"]), row_from_item(item)) for item in found)
            if not pending:
                break
        else:
            # Unread, a row would pass for one without a finishedAt or an account, and a filter on
            # them would leave it out unsaid: better no listing than a silently short one.
            from .client import TransientReadError

            raise TransientReadError(
                f"DynamoDB left {len(pending)} row(s) of table {table.name!r} unprocessed after "
                f"{UNPROCESSED_RETRIES + 1} tries (it is throttling reads): try again shortly, or narrow --since."
            )
        for row in chunk:
            read = items.get(row.job_id)
            yield (
                row
                if read is None
                else replace(
                    row,
                    finished_at=read.finished_at,
                    repaired_at=read.repaired_at,
                    discovered_at=read.discovered_at,
                    account=read.account,
                    region=read.region,
                )
            )


def stuck_jobs(
    older_than: timedelta,
    limit: int | None = None,
    table_name: str | None = None,
    *,
    page_size: int = LISTING_PAGE,
    **connection: Any,
) -> Iterator[JobRow]:
    """Running jobs whose row was not updated for ``older_than``: a lost notification or a hung
    transcode. Newest first, as ``list_jobs``."""
    return list_jobs(
        JobStatus.RUNNING, until=older_than, limit=limit, table_name=table_name, page_size=page_size, **connection
    )


def _explained(table: StatusTable, rows: Iterator[JobRow]) -> Iterator[JobRow]:
    from botocore.exceptions import ClientError

    from .client import StatusTableError, explained_errors
    from .table import STATUS_INDEX

    with explained_errors(table):
        try:
            yield from rows
        except ClientError as error:
            code, message = (
                error.response.get("Error", {}).get("Code"),
                error.response.get("Error", {}).get("Message", ""),
            )
            # DynamoDB: ValidationException "The table does not have the specified index"; moto: ResourceNotFound.
            if code in ("ValidationException", "ResourceNotFoundException") and "index" in message.lower():
                raise StatusTableError(
                    f"Table {table.name!r} has no index {STATUS_INDEX!r} ({message}): deploy this version's "
                    "template.yaml, which adds it."
                ) from error
            raise


def status_choice(status: StatusChoice) -> tuple[JobStatus, ...]:
    """The statuses to list: one, several (any case), or every stored one for None."""
    if status is None:
        return LISTED_STATUSES
    given = [status] if isinstance(status, JobStatus | str) else list(status)
    if not given:
        return LISTED_STATUSES
    chosen: list[JobStatus] = []
    for item in given:
        try:
            value = item if isinstance(item, JobStatus) else JobStatus(item.strip().upper())
        except ValueError:
            names = ", ".join(s.value for s in LISTED_STATUSES)
            raise ValueError(f"{item!r} is not a job status: one of {names}") from None
        if value not in LISTED_STATUSES:
            raise ValueError(f"{value.value} is a monitor's status, never stored in the table")
        if value not in chosen:
            chosen.append(value)
    return tuple(chosen)


def _at(moment: Moment | None, now: float) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, timedelta):
        return iso_time(now - moment.total_seconds())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso_time(moment.timestamp())


def query_jobs(
    table: StatusTable,
    statuses: Sequence[JobStatus],
    *,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
    page_size: int = LISTING_PAGE,
    attributes: Sequence[str] = LISTING_ATTRIBUTES,
) -> Iterator[JobRow]:
    """Rows of these statuses updated in [since, until] (table times), newest first, at most ``limit``.

    One Query per shard and status for the first pages (in parallel), then one per further page of
    a shard, only when the merge needs it. No shard can give more than ``limit`` of the first
    ``limit`` rows, so no page asks for more.
    """
    if (limit is not None and limit <= 0) or (since is not None and until is not None and since > until):
        return iter(())  # nothing to list (DynamoDB refuses a BETWEEN whose bounds are reversed)
    size = page_size if limit is None else min(page_size, limit)
    shards = [
        _Shard(table, status=status, shard=shard, since=since, until=until, size=size, attributes=attributes)
        for status in statuses
        for shard in range(STATUS_SHARDS)
    ]
    return islice(_merged(shards), limit)


def _merged(shards: list[_Shard]) -> Iterator[JobRow]:
    if len(shards) > 1:
        with ThreadPoolExecutor(max_workers=min(PARALLEL_QUERIES, len(shards))) as pool:
            list(pool.map(_Shard.fetch, shards))
    yield from heapq.merge(*shards, key=_updated, reverse=True)


def _updated(row: JobRow) -> str:
    return row.updated_at or ""


class _Shard:
    """One shard of one status: its rows newest first, a page at a time."""

    def __init__(
        self,
        table: StatusTable,
        *,
        status: JobStatus,
        shard: int,
        since: str | None,
        until: str | None,
        size: int,
        attributes: Sequence[str],
    ):
        self.table, self.status, self.shard = table, status, shard
        self.since, self.until, self.size, self.attributes = since, until, size, attributes
        self.rows: deque[JobRow] = deque()
        self.next_key: Mapping[str, Any] | None = None
        self.fetched = False

    def fetch(self) -> None:
        rows, self.next_key = self.table.query_status(
            self.status,
            self.shard,
            since=self.since,
            until=self.until,
            limit=self.size,
            start=self.next_key,
            attributes=self.attributes,
        )
        self.rows.extend(rows)
        self.fetched = True

    def __iter__(self) -> Iterator[JobRow]:
        while True:
            while self.rows:
                yield self.rows.popleft()
            if self.fetched and self.next_key is None:
                return
            self.fetch()
