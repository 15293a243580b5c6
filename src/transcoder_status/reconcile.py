"""Repair rows whose events were lost, from what MediaConvert itself knows (I/O, rate-bounded).

- ``Reconciler.reconcile(rows)``: for each running MediaConvert row, GetJob, and the answer goes
  through the same rules and the same conditional write as an event: a repair never overwrites a
  newer event, and a late event after a repair changes nothing.
- ``Reconciler.backfill(since)``: ListJobs (paged, newest first, by queue and status), and the same
  write for each job, so that rows the table lacks or that are behind catch up.

Calls are paced well under MediaConvert's request quotas, and botocore's adaptive retries back off
when it throttles anyway. The client is built the boto3 way, so ``AWS_ENDPOINT_URL_MEDIACONVERT``
points it elsewhere (the local stand-in). Current SDKs call MediaConvert's regional endpoint
directly; no DescribeEndpoints call is needed. Elastic Transcoder rows are never reconciled: the
service is closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .notification import Notification, Source
from .sources.base import ParseError
from .sources.mediaconvert_api import notification_from_job
from .table import JobRow, StatusTable, WriteOutcome
from .transitions import order_key

if TYPE_CHECKING:
    from mypy_boto3_mediaconvert.client import MediaConvertClient

# GetJob and ListJobs allow a few requests a second per account; a repair sweep stays well under.
DEFAULT_RATE_PER_SECOND = 2.0
TERMINAL_STATUSES = frozenset({"COMPLETE", "ERROR", "CANCELED"})
CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=3, read_timeout=10)


class Verdict(Enum):
    """What asking MediaConvert about one job did."""

    REPAIRED = "repaired"  # the row took MediaConvert's answer
    UNCHANGED = "unchanged"  # the row already held that much (or more), or the job still runs
    WOULD_REPAIR = "would repair"  # a dry run: the row would take the answer
    NOT_FOUND = "not found"  # MediaConvert no longer knows the job (jobs expire after 90 days)
    TOO_OLD = "too old"  # ended before rows are kept: writing it would bring an expired job back
    FAILED = "failed"  # the call or the write failed; the next sweep tries again


@dataclass(frozen=True)
class Checked:
    job_id: str
    verdict: Verdict
    status: str | None = None  # MediaConvert's status of the job
    reason: str | None = None


@dataclass
class Report:
    checked: list[Checked] = field(default_factory=list)
    unasked: int = 0  # candidates left for the next run: out of time

    def count(self, verdict: Verdict) -> int:
        return sum(1 for item in self.checked if item.verdict is verdict)


def mediaconvert_client(**options: Any) -> MediaConvertClient:
    import boto3

    return boto3.client("mediaconvert", config=CLIENT_CONFIG, **options)


class Reconciler:
    """Asks MediaConvert, writes through the status table; one call per ``1 / rate`` seconds at most."""

    def __init__(
        self,
        table: StatusTable,
        client: MediaConvertClient,
        *,
        rate_per_second: float = DEFAULT_RATE_PER_SECOND,
        dry_run: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.table, self.client, self.dry_run = table, client, dry_run
        self._interval = 1 / rate_per_second
        self._clock, self._sleep = clock, sleep
        self._next_call = 0.0

    def reconcile(self, rows: Iterable[JobRow], deadline: float | None = None) -> Report:
        """GetJob for each running MediaConvert row (others are skipped); an answer that the job
        ended is written as its notification. A job MediaConvert says still runs is left as it is,
        stuck: a hung transcode must stay visible. No call starts after ``deadline`` (monotonic)."""
        report = Report()
        candidates = [row for row in rows if row.source == Source.MEDIACONVERT and not row.finished]
        for index, row in enumerate(candidates):
            if deadline is not None and self._clock() + self._interval >= deadline:
                report.unasked = len(candidates) - index
                break
            self._pace()
            try:
                job = self.client.get_job(Id=row.job_id)["Job"]
            except self.client.exceptions.NotFoundException:
                report.checked.append(Checked(row.job_id, Verdict.NOT_FOUND))
                continue
            except (ClientError, BotoCoreError) as error:
                report.checked.append(Checked(row.job_id, Verdict.FAILED, reason=f"{type(error).__name__}: {error}"))
                continue
            if job.get("Status") not in TERMINAL_STATUSES:
                report.checked.append(Checked(row.job_id, Verdict.UNCHANGED, str(job.get("Status")), "still running"))
                continue
            report.checked.append(self._write(row.job_id, dict(job)))
        return report

    def backfill(
        self,
        since: datetime,
        queue: str | None = None,
        statuses: Iterable[str] = (),
        user_metadata: tuple[str, str] | None = None,
    ) -> Report:
        """Every job MediaConvert created since ``since``, written as a notification: rows missing
        or behind catch up. Only the jobs the stack records: of ``queue`` and with ``user_metadata``
        (key, value) when the stack narrows its rule so (MediaConvertQueueArn, ...UserMetadata...),
        in ``statuses`` (all if none). A job that ended before the table keeps rows is skipped."""
        report = Report()
        horizon = time.time() - (self.table.retention_days - 1) * 86_400
        for status in tuple(statuses) or (None,):
            for job in self._jobs_since(since, queue, status):
                job_id = str(job["Id"])
                if (
                    user_metadata is not None
                    and (job.get("UserMetadata") or {}).get(user_metadata[0]) != user_metadata[1]
                ):
                    continue
                finished = (job.get("Timing") or {}).get("FinishTime")
                if isinstance(finished, datetime) and finished.timestamp() < horizon:
                    reason = f"ended {finished:%Y-%m-%d}, before the {self.table.retention_days} days rows are kept"
                    report.checked.append(Checked(job_id, Verdict.TOO_OLD, str(job.get("Status")), reason))
                    continue
                report.checked.append(self._write(job_id, job))
        return report

    def _jobs_since(self, since: datetime, queue: str | None, status: str | None) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {"Order": "DESCENDING", "MaxResults": 20}
        if queue:
            request["Queue"] = queue
        if status:
            request["Status"] = status
        while True:
            self._pace()
            page = self.client.list_jobs(**request)
            for job in page.get("Jobs", []):
                created = job.get("CreatedAt")
                if created is not None and created < since:
                    return  # newest first: the rest are older still
                yield dict(job)
            if not page.get("NextToken"):
                return
            request["NextToken"] = page["NextToken"]

    def _write(self, job_id: str, job: dict[str, Any]) -> Checked:
        try:
            notification = notification_from_job(job, round(time.time() * 1000))
        except ParseError as error:
            return Checked(job_id, Verdict.FAILED, reason=str(error))
        try:
            if self.dry_run:
                return Checked(job_id, self._would_write(notification), notification.state)
            result = self.table.apply(notification)
        except (ClientError, BotoCoreError) as error:
            return Checked(job_id, Verdict.FAILED, notification.state, f"{type(error).__name__}: {error}")
        verdict = Verdict.REPAIRED if result.outcome is WriteOutcome.APPLIED else Verdict.UNCHANGED
        return Checked(job_id, verdict, notification.state)

    def _would_write(self, notification: Notification) -> Verdict:
        """A dry run reads what the state write's condition would: the row's order key and flag."""
        stored = self.table.stored_order(notification.job_id)
        lands = stored is None or (not stored[1] and (stored[0] or "") < order_key(notification))
        return Verdict.WOULD_REPAIR if lands else Verdict.UNCHANGED

    def _pace(self) -> None:
        wait = self._next_call - self._clock()
        if wait > 0:
            self._sleep(wait)
        self._next_call = max(self._clock(), self._next_call) + self._interval
