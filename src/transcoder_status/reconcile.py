"""Repair rows whose events were lost, from what MediaConvert itself knows (I/O, rate-bounded).

Each job is asked in the account and Region that ran it (``mediaconvert_clients``): a row's own
``account`` and ``region`` (none: the home's, the caller's own account and Region); a listing in the
places it is given. An answer with no usable ARN is recorded as from the place asked.

- ``Reconciler.reconcile(rows)``: for each running MediaConvert row, GetJob, and the answer goes
  through the same rules and the same conditional write as an event: a repair never overwrites a
  newer event, and a late event after a repair changes nothing.
- ``Reconciler.backfill(since)``: ListJobs (paged, newest first, by queue and status), and the same
  write for each job, so that rows the table lacks or that are behind catch up.

- ``Reconciler.discover(since)``: ListJobs of SUBMITTED and PROGRESSING jobs, and a row for each
  the table lacks (MediaConvert sends no SUBMITTED event: a job whose first events were lost, or
  that waits in a paused queue, would otherwise have none), marked discovered.

Calls are paced well under MediaConvert's request quotas, and botocore's adaptive retries back off
when it throttles anyway. With a deadline, no call can outlast it: near the end each call goes
through a client whose connect and read timeouts fit the time left, with one attempt; and a run of
MAX_CONSECUTIVE_FAILURES failed calls stops the sweep of that place (MediaConvert unreachable,
throttling or hanging there: the rest would fail the same way). Each place gets its share of the
time left, and a place whose reader role is refused fails its jobs with the reason (RoleRefused).
A table that cannot be written (missing, not allowed) stops it at once: TableUnavailable. Clients
are built the boto3 way, so ``AWS_ENDPOINT_URL_MEDIACONVERT`` points them elsewhere (the local
stand-in), unless an endpoint is given. Current SDKs call MediaConvert's regional endpoint
directly (https://docs.aws.amazon.com/general/latest/gr/mediaconvert.html); no DescribeEndpoints
call is needed. Elastic Transcoder rows are never reconciled: the service is closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, NoReturn

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .mediaconvert_clients import (
    ASSUME_ROLE_WORST_S,
    MediaConvertClients,
    OneClient,
    Place,
    PlaceClients,
    RoleRefused,
    within,
)
from .notification import Notification, Source
from .sources.base import ParseError
from .sources.mediaconvert_api import notification_from_job
from .table import JobRow, StatusTable, WriteOutcome
from .transitions import clash_text, clashes, order_key

if TYPE_CHECKING:
    from mypy_boto3_mediaconvert.client import MediaConvertClient

# GetJob and ListJobs allow a few requests a second per account; a repair sweep stays well under.
DEFAULT_RATE_PER_SECOND = 2.0
TERMINAL_STATUSES = frozenset({"COMPLETE", "ERROR", "CANCELED"})
RUNNING_STATUSES = ("SUBMITTED", "PROGRESSING")  # what discovery lists
CONNECT_TIMEOUT_S, READ_TIMEOUT_S, ATTEMPTS = 3.0, 10.0, 3
CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "total_max_attempts": ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
)
# The longest one call through CLIENT_CONFIG can take: every attempt times out, with botocore's
# longest backoff (20 s) between them, after the reader role's AssumeRole if one is due. With less
# time left, a call goes through a bounded client (and a bounded AssumeRole).
WORST_CALL_S = ATTEMPTS * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) + (ATTEMPTS - 1) * 20 + ASSUME_ROLE_WORST_S
MIN_CALL_S = 0.5  # no call starts with less time than this left
MAX_CONSECUTIVE_FAILURES = 5
# DynamoDB's answers that mean no write to the table can succeed: stop, say so.
TABLE_UNAVAILABLE = frozenset(
    {"ResourceNotFoundException", "AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException"}
)


class TableUnavailable(RuntimeError):
    """The status table cannot be written: no job's repair can land."""


class _Stop(Exception):
    """The sweep stops: ``reason`` says why (out of time, or calls failing in a row)."""

    def __init__(self, reason: str, *, out_of_time: bool = False):
        super().__init__(reason)
        self.out_of_time = out_of_time


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
    stopped: str | None = None  # why the sweep ended before it was through
    out_of_time: bool = False

    def stop(self, reason: str, out_of_time: bool = False) -> None:
        """One more reason the sweep (or one place's part of it) ended early."""
        self.stopped = f"{self.stopped}; {reason}" if self.stopped else reason
        self.out_of_time = self.out_of_time or out_of_time

    def count(self, verdict: Verdict) -> int:
        return sum(1 for item in self.checked if item.verdict is verdict)

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": [
                {"jobId": c.job_id, "verdict": c.verdict.value, "status": c.status, "reason": c.reason}
                for c in self.checked
            ],
            "unasked": self.unasked,
            "stopped": self.stopped,
            "outOfTime": self.out_of_time,
        }


def client_config(timeout_s: float | None = None) -> Config:
    """The MediaConvert clients' config; with ``timeout_s``, one attempt whose connect and read fit in it."""
    return CLIENT_CONFIG if timeout_s is None else within(CLIENT_CONFIG, CONNECT_TIMEOUT_S, READ_TIMEOUT_S, timeout_s)


def mediaconvert_client(*, timeout_s: float | None = None, **options: Any) -> MediaConvertClient:
    """A MediaConvert client; with ``timeout_s``, one attempt whose connect and read fit in it."""
    import boto3

    return boto3.client("mediaconvert", config=client_config(timeout_s), **options)


def mediaconvert_clients(
    home_region: str, home_account: str | Callable[[], str] | None, **options: Any
) -> MediaConvertClients:
    """One client per account and Region (``mediaconvert_clients.MediaConvertClients``), with this
    module's config and bounded clients near a deadline."""
    return MediaConvertClients(home_region, home_account, config=CLIENT_CONFIG, bounded=client_config, **options)


class Reconciler:
    """Asks MediaConvert, writes through the status table; one call per ``1 / rate`` seconds at most.

    ``client``: one client for every job (``mediaconvert_client``), or clients per account and
    Region (``mediaconvert_clients``): each job is then asked in its own account and Region.
    ``bounded``, with one client: builds a client whose one call fits in the seconds given
    (``mediaconvert_client`` with ``timeout_s``); used for the calls made with less than
    WORST_CALL_S left before a deadline.

    With a deadline and several places, each place gets its share of the time left (by its number
    of rows; for a listing, an equal share), and the failure run is counted per place: a place that
    hangs or fails uses its share and no more, and the others are still asked.
    """

    def __init__(
        self,
        table: StatusTable,
        client: MediaConvertClient | PlaceClients,
        *,
        rate_per_second: float = DEFAULT_RATE_PER_SECOND,
        dry_run: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        bounded: Callable[[float], MediaConvertClient] | None = None,
    ):
        self.table, self.dry_run = table, dry_run
        self.clients: PlaceClients = client if isinstance(client, PlaceClients) else OneClient(client, bounded)
        self._interval = 1 / rate_per_second
        self._clock, self._sleep = clock, sleep
        self._next_call = 0.0
        self._failures = 0  # calls failed in a row, in the place being asked

    def reconcile(
        self, rows: Iterable[JobRow], deadline: float | None = None, *, report: Report | None = None
    ) -> Report:
        """GetJob for each running MediaConvert row (others are skipped), in the row's own account
        and Region (a row that names none: the home's); an answer that the job ended is written as
        its notification. A job MediaConvert says still runs is left as it is, stuck: a hung
        transcode must stay visible. No call starts after ``deadline`` (monotonic), and none
        outlasts it. ``report``: filled as it goes (interrupted, it holds what was done)."""
        report = Report() if report is None else report
        by_place: dict[Place, list[JobRow]] = {}
        for row in rows:
            if row.source == Source.MEDIACONVERT and not row.finished:
                by_place.setdefault(self.clients.place(row.account, row.region), []).append(row)
        left = sum(len(group) for group in by_place.values())
        for place, group in by_place.items():
            share = self.share(deadline, len(group) / left)
            left -= len(group)
            self._failures = 0
            for index, row in enumerate(group):
                try:
                    job = self._call(place, share, "get_job", Id=row.job_id)["Job"]
                except RoleRefused as refused:
                    report.checked.extend(Checked(r.job_id, Verdict.FAILED, reason=str(refused)) for r in group[index:])
                    break
                except _Stop as stop:
                    report.unasked += len(group) - index
                    report.stop(self._where(place, len(by_place)) + str(stop), stop.out_of_time)
                    break
                except _NotFound:
                    report.checked.append(Checked(row.job_id, Verdict.NOT_FOUND))
                    continue
                except _Failed as failed:
                    report.checked.append(Checked(row.job_id, Verdict.FAILED, reason=str(failed)))
                    continue
                if job.get("Status") not in TERMINAL_STATUSES:
                    report.checked.append(
                        Checked(row.job_id, Verdict.UNCHANGED, str(job.get("Status")), "still running")
                    )
                    continue
                report.checked.append(self._write(row.job_id, dict(job), place))
        return report

    def backfill(
        self,
        since: datetime,
        queue: str | None = None,
        statuses: Iterable[str] = (),
        user_metadata: tuple[str, str] | None = None,
        deadline: float | None = None,
        *,
        places: Sequence[Place] = (),
        report: Report | None = None,
    ) -> Report:
        """Every job MediaConvert created since ``since`` in each of ``places`` (none: the home's),
        written as a notification: rows missing or behind catch up. Only the jobs the stack records:
        of ``queue`` (in the home place: the stack's queue filter is of its own account and Region)
        and with ``user_metadata`` (key, value) when the stack narrows its rule so
        (MediaConvertQueueArn, ...UserMetadata...), in ``statuses`` (all if none). A job that ended
        before the table keeps rows is skipped. ``report``: filled as it goes."""
        report = Report() if report is None else report
        horizon = time.time() - (self.table.retention_days - 1) * 86_400
        wanted = tuple(statuses)

        def sweep(place: Place, share: float | None) -> None:
            for job in self._listed(place, since, queue, wanted, user_metadata, deadline=share):
                job_id = str(job["Id"])
                finished = (job.get("Timing") or {}).get("FinishTime")
                if isinstance(finished, datetime) and finished.timestamp() < horizon:
                    reason = f"ended {finished:%Y-%m-%d}, before the {self.table.retention_days} days rows are kept"
                    report.checked.append(Checked(job_id, Verdict.TOO_OLD, str(job.get("Status")), reason))
                    continue
                report.checked.append(self._write(job_id, job, place))

        self._each_place(places, deadline, report, sweep, calls=len(wanted) or 1)
        return report

    def discover(
        self,
        since: datetime,
        queue: str | None = None,
        user_metadata: tuple[str, str] | None = None,
        deadline: float | None = None,
        *,
        places: Sequence[Place] = (),
    ) -> Report:
        """A row, marked discovered, for each SUBMITTED or PROGRESSING job created since ``since``
        in each of ``places`` (none: the home's) that the table lacks, through the same conditional
        write as an event (a row written meanwhile wins). Only the jobs the stack records
        (``queue``, ``user_metadata``)."""
        report = Report()

        def sweep(place: Place, share: float | None) -> None:
            for job in self._listed(place, since, queue, RUNNING_STATUSES, user_metadata, deadline=share):
                job_id = str(job["Id"])
                try:
                    known = self.table.stored_order(job_id) is not None
                except (ClientError, BotoCoreError) as error:
                    report.checked.append(self._write_failed(job_id, None, error))
                    continue
                if not known:
                    report.checked.append(self._write(job_id, job, place, discovered=True))

        self._each_place(places, deadline, report, sweep, calls=len(RUNNING_STATUSES))
        return report

    def _each_place(
        self,
        places: Sequence[Place],
        deadline: float | None,
        report: Report,
        sweep: Callable[[Place, float | None], None],
        *,
        calls: int,
    ) -> None:
        """``sweep`` each place in an equal share of the time left, and no less than its ``calls``
        need (a place listed in part would miss a status every run: the places left out are said
        out of time, for the next run); a place refused or stopped is said in ``report.stopped``
        and the next is asked."""
        chosen = list(dict.fromkeys(places or (self.clients.home,)))
        need = calls * self._interval + MIN_CALL_S
        for index, place in enumerate(chosen):
            self._failures = 0
            if index and deadline is not None and deadline - self._clock() < need:  # the first is always asked
                report.stop(f"out of time: {len(chosen) - index} place(s) left for the next run", out_of_time=True)
                return
            try:
                sweep(place, self.share(deadline, 1 / (len(chosen) - index), at_least=need))
            except RoleRefused as refused:
                report.stop(str(refused))
            except _Stop as stop:
                report.stop(self._where(place, len(chosen)) + str(stop), stop.out_of_time)

    def share(self, deadline: float | None, fraction: float, at_least: float = 0.0) -> float | None:
        """A part's deadline: ``fraction`` of the time left before ``deadline`` (and ``at_least``
        that many seconds of it)."""
        if deadline is None:
            return None
        now = self._clock()
        left = max(deadline - now, 0)
        return now + min(max(left * fraction, at_least), left)

    @staticmethod
    def _where(place: Place, places: int) -> str:
        return f"{place}: " if places > 1 or place.account is not None else ""

    def _listed(
        self,
        place: Place,
        since: datetime,
        queue: str | None,
        statuses: Iterable[str],
        user_metadata: tuple[str, str] | None,
        *,
        deadline: float | None,
    ) -> Iterator[dict[str, Any]]:
        if place != self.clients.home:
            queue = None  # the stack's queue is of its own account and Region; the forwarders filter theirs
        for status in tuple(statuses) or (None,):
            for job in self._jobs_since(place, since, queue, status, deadline):
                if (
                    user_metadata is not None
                    and (job.get("UserMetadata") or {}).get(user_metadata[0]) != user_metadata[1]
                ):
                    continue
                yield job

    def _jobs_since(
        self, place: Place, since: datetime, queue: str | None, status: str | None, deadline: float | None
    ) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {"Order": "DESCENDING", "MaxResults": 20}
        if queue:
            request["Queue"] = queue
        if status:
            request["Status"] = status
        while True:
            try:
                page = self._call(place, deadline, "list_jobs", **request)
            except (_NotFound, _Failed) as error:
                raise _Stop(f"ListJobs failed: {error}") from error
            for job in page.get("Jobs", []):
                created = job.get("CreatedAt")
                if created is not None and created < since:
                    return  # newest first: the rest are older still
                yield dict(job)
            if not page.get("NextToken"):
                return
            request["NextToken"] = page["NextToken"]

    def _call(self, place: Place, deadline: float | None, operation: str, **request: Any) -> Any:
        """One paced MediaConvert call in ``place`` within ``deadline``. Raises _Stop (out of time,
        or the failures in a row reached their limit), _NotFound, _Failed with the error, or
        RoleRefused (the place's reader role may not be assumed)."""
        if deadline is not None and self._clock() + self._interval >= deadline:
            raise _Stop("out of time: the rest are left for the next run", out_of_time=True)
        self._pace()
        timeout_s = None
        if deadline is not None:
            left = deadline - self._clock()
            if left < MIN_CALL_S:
                raise _Stop("out of time: the rest are left for the next run", out_of_time=True)
            if left < WORST_CALL_S:
                timeout_s = left
        try:
            answer = getattr(self.clients.client(place, timeout_s), operation)(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NotFoundException":
                self._failures = 0
                raise _NotFound from error
            self._failed(error)
        except BotoCoreError as error:
            self._failed(error)
        self._failures = 0
        return answer

    def _failed(self, error: Exception) -> NoReturn:
        self._failures += 1
        reason = f"{type(error).__name__}: {error}"
        if self._failures >= MAX_CONSECUTIVE_FAILURES:
            raise _Stop(
                f"stopped after {self._failures} MediaConvert calls failed in a row (the last: {reason}): "
                "is it reachable, throttling or hanging? The rest are left for the next run"
            )
        raise _Failed(reason) from error

    def _write(self, job_id: str, job: dict[str, Any], place: Place, *, discovered: bool = False) -> Checked:
        try:
            notification = notification_from_job(job, round(time.time() * 1000))
        except ParseError as error:
            return Checked(job_id, Verdict.FAILED, reason=str(error))
        if notification.account is None or notification.region is None:  # no usable Arn: where it was asked
            notification = replace(
                notification,
                account=notification.account or place.account or self.clients.home_account(resolve=False),
                region=notification.region or place.region,
            )
        if discovered:
            notification = replace(notification, discovered=True)
        try:
            if self.dry_run:
                return self._would_write(notification)
            result = self.table.apply(notification)
        except (ClientError, BotoCoreError) as error:
            return self._write_failed(job_id, notification.state, error)
        if result.outcome is WriteOutcome.CLASH:
            return _clash(notification, result.row_account, result.row_region)
        verdict = Verdict.REPAIRED if result.outcome is WriteOutcome.APPLIED else Verdict.UNCHANGED
        return Checked(job_id, verdict, notification.state)

    def _write_failed(self, job_id: str, state: str | None, error: Exception) -> Checked:
        if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in TABLE_UNAVAILABLE:
            raise TableUnavailable(
                f"Cannot write table {self.table.name!r}: {error}. Check TABLE_NAME (or --table) and the region."
            ) from error
        return Checked(job_id, Verdict.FAILED, state, f"{type(error).__name__}: {error}")

    def _would_write(self, notification: Notification) -> Checked:
        """A dry run reads what the state write's condition would: the row's order key, flag and place."""
        stored = self.table.stored_order(notification.job_id)
        if stored is not None and clashes(notification, stored.account, stored.region):
            return _clash(notification, stored.account, stored.region)
        lands = stored is None or (not stored.finished and (stored.order_key or "") < order_key(notification))
        return Checked(notification.job_id, Verdict.WOULD_REPAIR if lands else Verdict.UNCHANGED, notification.state)

    def _pace(self) -> None:
        wait = self._next_call - self._clock()
        if wait > 0:
            self._sleep(wait)
        self._next_call = max(self._clock(), self._next_call) + self._interval


def _clash(notification: Notification, account: str | None, region: str | None) -> Checked:
    """MediaConvert's answer is another account's or Region's job than the row's (the row holds
    ``account`` in ``region``): said as the writer says it, not called unchanged."""
    reason = f"{clash_text(notification, account, region)}; the row is left as it is"
    return Checked(notification.job_id, Verdict.FAILED, notification.state, reason)


class _NotFound(Exception):
    """MediaConvert no longer knows the job."""


class _Failed(Exception):
    """One call failed; the message says how."""
