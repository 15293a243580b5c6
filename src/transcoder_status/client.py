"""Wait for transcoding jobs: ``JobMonitor`` (one job) and ``wait_all`` (many), reading the table.

The verbs are the old SqsWorker's (start, stop, finished, job_status, process_status), so that
migrating is a rename; each read is one GetItem of only the attributes it needs. Nothing here
consumes the queue: any number of monitors, on any number of machines, can watch the same job.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError, NoRegionError

from .status import JobStatus, ProcessStatus
from .table import (
    ALL_ATTRIBUTES,
    PROGRESS_ATTRIBUTES,
    STATUS_ATTRIBUTES,
    JobRow,
    StatusTable,
    table_name_from_env,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

BATCH_GET_LIMIT = 100  # keys per BatchGetItem call


class JobWaitTimeout(TimeoutError):
    """The jobs did not all finish in time. ``statuses`` has the last status seen of each job."""

    def __init__(self, statuses: dict[str, JobStatus], timeout: float):
        self.statuses = statuses
        pending = sorted(job for job, status in statuses.items() if not status.terminal)
        shown = ", ".join(pending[:5]) + (f" and {len(pending) - 5} more" if len(pending) > 5 else "")
        super().__init__(f"{len(pending)} job(s) not finished after {timeout:g} s: {shown}")


class StatusTableError(RuntimeError):
    """The status table cannot be read; the message says what to check."""


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter, for polling the table."""

    initial: float = 0.5
    maximum: float = 10.0
    factor: float = 2.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            # Equal jitter: never less than half the step, so pollers spread out but keep pace.
            yield delay / 2 + random.uniform(0, delay / 2)
            delay = min(self.maximum, delay * self.factor)


def _pacing(backoff: Backoff, timeout: float | None) -> Iterator[float]:
    """The pauses between polls, cut to the time left; ends when ``timeout`` seconds have passed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for delay in backoff.delays():
        if deadline is None:
            yield delay
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        yield min(delay, remaining)


def _finished_or_timeout(job_id: str, status: JobStatus, timeout: float | None) -> JobStatus:
    if status is JobStatus.RUNNING:
        raise JobWaitTimeout({job_id: status}, timeout or 0)
    return status


def connect(
    table_name: str | None = None,
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    session: boto3.Session | None = None,
    client: DynamoDBClient | None = None,
) -> StatusTable:
    """The status table through a DynamoDB client built as boto3 users expect.

    ``table_name`` defaults to TABLE_NAME; region, endpoint (AWS_ENDPOINT_URL) and credentials come
    from ``session`` or boto3's usual chain unless given.
    """
    name = table_name_from_env(table_name)
    if client is None:
        try:
            client = (session or boto3.Session()).client("dynamodb", region_name=region_name, endpoint_url=endpoint_url)
        except NoRegionError:
            raise StatusTableError(
                "No AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or pass region_name=... / --region."
            ) from None
    return StatusTable(name, client)


@contextmanager
def explained_errors(table: StatusTable) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        region = table.client.meta.region_name
        if code == "ResourceNotFoundException":
            raise StatusTableError(
                f"Table {table.name!r} does not exist in {region}: check TABLE_NAME (or --table) against "
                "the stack's TableName output, and that the region is the stack's."
            ) from error
        if code in ("AccessDeniedException", "UnrecognizedClientException"):
            raise StatusTableError(
                f"Not allowed to read table {table.name!r} ({code}): attach the stack's "
                "JobStatusReadPolicyArn output to the role or user running this code."
            ) from error
        raise


class JobMonitor:
    """Monitors one transcoding job through its row in the status table.

    >>> monitor = JobMonitor("1502631977930-rabioh")   # TABLE_NAME from the environment
    >>> monitor.start()
    >>> monitor.wait(timeout=600)
    <JobStatus.SUCCESS: 'SUCCESS'>
    """

    def __init__(
        self,
        job_id: str,
        table_name: str | None = None,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        session: boto3.Session | None = None,
        client: DynamoDBClient | None = None,
        consistent_read: bool = True,
        backoff: Backoff = Backoff(),
    ):
        self.job_id = job_id
        self.consistent_read = consistent_read
        self.backoff = backoff
        self._table = connect(
            table_name, region_name=region_name, endpoint_url=endpoint_url, session=session, client=client
        )
        self._process_status = ProcessStatus.READY
        self._final: JobStatus | None = None  # the job's terminal status, once seen

    # -- the old worker's verbs ------------------------------------------------------------

    def start(self) -> None:
        """Begin monitoring. Raises RuntimeError if this monitor was started before."""
        if self._process_status is not ProcessStatus.READY:
            raise RuntimeError(f"JobMonitor for {self.job_id} already started.")
        self._process_status = ProcessStatus.IN_PROGRESS

    def stop(self) -> None:
        """End monitoring. Before the job finished, this monitor reports ABORTED and UNKNOWN.

        Local to this monitor: the table keeps recording the job, and other monitors still see its
        real outcome. Raises RuntimeError if the monitor was never started.
        """
        if self._process_status is ProcessStatus.READY:
            raise RuntimeError(f"JobMonitor for {self.job_id} not started.")
        if self._process_status is ProcessStatus.IN_PROGRESS and not self.finished():
            self._process_status = ProcessStatus.ABORTED

    def finished(self) -> bool:
        """True once the job succeeded or failed, or this monitor was stopped before that."""
        return self._status() is not JobStatus.RUNNING

    def job_status(self) -> JobStatus:
        """RUNNING until the job's row is terminal; UNKNOWN if this monitor was stopped first."""
        return self._status()

    def process_status(self) -> ProcessStatus:
        """READY, IN_PROGRESS, FINISHED (the job reached a terminal state) or ABORTED."""
        if self._process_status is ProcessStatus.IN_PROGRESS:
            self._status()
        return self._process_status

    # -- beyond the old worker ---------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> JobStatus:
        """Poll until the job finishes; return its status. Raises JobWaitTimeout after ``timeout`` s."""
        for delay in _pacing(self.backoff, timeout):
            status = self._status()
            if status is not JobStatus.RUNNING:
                return status
            time.sleep(delay)
        return _finished_or_timeout(self.job_id, self._status(), timeout)

    def details(self) -> JobRow | None:
        """The job's whole row (outputs, error, warnings, times), or None before any notification."""
        with explained_errors(self._table):
            return self._table.get(self.job_id, consistent=self.consistent_read, attributes=ALL_ATTRIBUTES)

    def progress(self) -> int | None:
        """The last percent complete reported (MediaConvert STATUS_UPDATE), or None."""
        row = self._read(PROGRESS_ATTRIBUTES)
        return None if row is None else row.progress

    def __enter__(self) -> JobMonitor:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"JobMonitor(job_id={self.job_id!r}, table={self._table.name!r}, status={self._process_status.name})"

    # -- one read per verb -------------------------------------------------------------------

    def _read(self, attributes: Sequence[str] = STATUS_ATTRIBUTES) -> JobRow | None:
        with explained_errors(self._table):
            return self._table.get(self.job_id, consistent=self.consistent_read, attributes=attributes)

    def _status(self) -> JobStatus:
        if self._process_status is ProcessStatus.ABORTED:
            return JobStatus.UNKNOWN
        if self._final is None:  # terminal states never change: once seen, no need to read again
            row = self._read()
            if row is None or not row.finished:
                return JobStatus.RUNNING
            self._final = row.status
        if self._process_status is ProcessStatus.IN_PROGRESS:
            self._process_status = ProcessStatus.FINISHED
        return self._final


def watch_jobs(
    job_ids: Sequence[str],
    table: StatusTable,
    *,
    timeout: float | None = None,
    consistent_read: bool = True,
    backoff: Backoff = Backoff(),
    sleep: Callable[[float], None] = time.sleep,
    attributes: Sequence[str] = STATUS_ATTRIBUTES,
) -> Iterator[dict[str, JobRow | None]]:
    """Poll many jobs with BatchGetItem; yield every job's latest row (None: no row yet) per round.

    Only unfinished jobs are read again. Ends when all have finished; raises JobWaitTimeout after
    ``timeout`` seconds.
    """
    rows: dict[str, JobRow | None] = dict.fromkeys(job_ids)
    pauses = _pacing(backoff, timeout)
    while True:
        pending = [job for job, row in rows.items() if row is None or not row.finished]
        for start in range(0, len(pending), BATCH_GET_LIMIT):
            chunk = pending[start : start + BATCH_GET_LIMIT]
            rows.update(
                _batch_get(
                    table, chunk, attributes=attributes, consistent=consistent_read, backoff=backoff, sleep=sleep
                )
            )
        yield dict(rows)
        if all(row is not None and row.finished for row in rows.values()):
            return
        pause = next(pauses, None)
        if pause is None:
            raise JobWaitTimeout(_statuses(rows), timeout or 0)
        sleep(pause)


def _batch_get(
    table: StatusTable,
    job_ids: list[str],
    *,
    attributes: Sequence[str],
    consistent: bool,
    backoff: Backoff,
    sleep: Callable[[float], None],
) -> dict[str, JobRow]:
    """Rows for up to 100 jobs, retrying UnprocessedKeys with backoff."""
    found: dict[str, JobRow] = {}
    keys, delays = job_ids, backoff.delays()
    while keys:
        with explained_errors(table):
            rows, keys = table.get_many(keys, consistent=consistent, attributes=attributes)
        found.update((row.job_id, row) for row in rows)
        if keys:
            sleep(next(delays))
    return found


def _statuses(rows: dict[str, JobRow | None]) -> dict[str, JobStatus]:
    return {job: JobStatus.RUNNING if row is None else row.status for job, row in rows.items()}


def wait_all(
    job_ids: Sequence[str],
    table_name: str | None = None,
    timeout: float | None = None,
    **connection: Any,
) -> dict[str, JobStatus]:
    """Wait for many jobs at once; return each job's final status.

    Reads 100 jobs per BatchGetItem and re-reads only the unfinished ones. Raises JobWaitTimeout
    (with ``statuses``) after ``timeout`` seconds. ``connection`` takes region_name, endpoint_url,
    session or client, as JobMonitor does.
    """
    table = connect(table_name, **connection)
    (last_round,) = deque(watch_jobs(list(dict.fromkeys(job_ids)), table, timeout=timeout), maxlen=1)
    return _statuses(last_round)


class AsyncJobMonitor:
    """JobMonitor for asyncio applications: the same verbs, awaitable; reads run in a thread."""

    def __init__(self, job_id: str, table_name: str | None = None, **options: Any):
        self._monitor = JobMonitor(job_id, table_name, **options)
        self.job_id = job_id

    def start(self) -> None:
        self._monitor.start()

    async def stop(self) -> None:
        await asyncio.to_thread(self._monitor.stop)

    async def finished(self) -> bool:
        return await asyncio.to_thread(self._monitor.finished)

    async def job_status(self) -> JobStatus:
        return await asyncio.to_thread(self._monitor.job_status)

    async def process_status(self) -> ProcessStatus:
        return await asyncio.to_thread(self._monitor.process_status)

    async def details(self) -> JobRow | None:
        return await asyncio.to_thread(self._monitor.details)

    async def progress(self) -> int | None:
        return await asyncio.to_thread(self._monitor.progress)

    async def wait(self, timeout: float | None = None) -> JobStatus:
        """Like JobMonitor.wait, sleeping with asyncio so the event loop keeps running."""
        for delay in _pacing(self._monitor.backoff, timeout):
            status = await self.job_status()
            if status is not JobStatus.RUNNING:
                return status
            await asyncio.sleep(delay)
        return _finished_or_timeout(self.job_id, await self.job_status(), timeout)
