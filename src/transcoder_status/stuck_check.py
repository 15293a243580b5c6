"""The scheduled function: count running jobs not updated for STUCK_AFTER_MINUTES, and repair
the MediaConvert ones whose events were lost.

Every 15 minutes (an EventBridge schedule in template.yaml) it queries the RUNNING shards of the
status index for rows whose ``updatedAt`` is older than the threshold. For the MediaConvert rows
among them (the longest stuck first, at most RECONCILE_LIMIT a run) it asks MediaConvert (GetJob,
paced) and writes the answer as a notification (``reconcile.Reconciler``): metrics ``Reconciled``,
``ReconcileNotFound``, ``ReconcileFailed``. What is still stuck after that is the ``StuckJobs``
metric (also when it is 0, so the alarm and the dashboard see the check run), and the IDs of the
longest-stuck are logged. A stuck job is a lost notification or a hung transcode:
``transcoder-status list --stuck 2h`` lists them.

Before counting, it discovers: MediaConvert sends no SUBMITTED event, so a job whose first events
were lost, or that waits in a paused queue, has no row for the check to see. It lists the stack's
SUBMITTED and PROGRESSING jobs (ListJobs, created within DISCOVERY_LOOKBACK_HOURS, in the stack's
queue and userMetadata filters) and writes a row, marked discovered, for each the table lacks
(metric ``Discovered``).

Each row is asked in its own account and Region (the ``account`` and ``region`` its events
recorded): through the reader role READER_ROLE_NAME there (``mediaconvert_clients``), with no role in
the stack's own account. Discovery lists the stack's own account and each source account, each in
this Region and SOURCE_REGIONS. The source accounts are those the ingest bus's
policy names (INGEST_EVENT_BUS_NAME, read each run: a stack update changes it): a list parameter has no
length bound, and the function's environment must stay under 4 KB. With SourceOrganizationId the
policy names an organization, whose accounts cannot be listed without AWS Organizations: discovery
then covers the stack's own account only (rows of the organization's accounts are still repaired).
Discovery has at most DISCOVERY_SHARE of the time left (the repairs the rest, however many places
it lists), each place its share of that and no less than its calls need, in a new random order each
run (places left out of time one run come first in another); one that hangs or refuses its role
does not keep the others from being asked.

Every call is bounded by the invocation's time left less DEADLINE_MARGIN_S (one DynamoDB write and
the metrics' flush fit in it), so a hanging MediaConvert cannot get the function killed before its
metrics go out: StuckJobs would go missing and its alarm drift to OK just when it matters. For
the same reason a table it cannot write (TableUnavailable: no UpdateItem, say) ends discovery and
repairs but not the count, a read: StuckJobs goes out, then the invocation fails with the reason.

Its import path is as lean as the handler's: boto3, Powertools' Logger and Metrics, and the pure
modules behind table.py and listing.py. ``lambda_handler(event, context, check=...)`` takes another
check, as the status writer's handler takes another writer (the tests give it their table).
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
import botocore.session
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .listing import LISTING_PAGE, query_jobs, with_times
from .mediaconvert_clients import DEFAULT_READER_ROLE_NAME, STS_CONFIG, Place, PlaceClients
from .notification import Source
from .reconcile import Reconciler, Report, TableUnavailable, Verdict, mediaconvert_clients
from .status import JobStatus
from .table import (
    DEFAULT_RETENTION_DAYS,
    FINISHED,
    JOB_ID,
    SOURCE,
    STATUS,
    UPDATED_AT,
    StatusTable,
    TableNotConfiguredError,
    iso_time,
)

DEFAULT_STUCK_AFTER_MINUTES = 120
LOGGED_JOB_IDS = 100  # the longest-stuck job IDs in the log line; the metric counts them all
RECONCILE_LIMIT = 100  # GetJob calls a run makes at most (at 2 a second: under a minute)
DEADLINE_MARGIN_S = 15  # no MediaConvert call outlasts this close to the timeout: a write and the metrics fit
DEFAULT_DISCOVERY_LOOKBACK_HOURS = 24.0
# Discovery's part of the time left at most: the repairs (at most RECONCILE_LIMIT GetJob calls, under
# a minute) have the rest, however many accounts and Regions discovery lists.
DISCOVERY_SHARE = 0.5
METRIC = "StuckJobs"
DISCOVERED_METRIC = "Discovered"
RECONCILE_METRICS = {
    Verdict.REPAIRED: "Reconciled",
    Verdict.NOT_FOUND: "ReconcileNotFound",
    Verdict.FAILED: "ReconcileFailed",
}

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "transcoder-status")
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TranscoderStatus"), service=SERVICE)


@dataclass(frozen=True)
class StuckReport:
    """What one check found: how many, the longest-stuck job IDs (oldest update first), the cutoff."""

    count: int
    job_ids: tuple[str, ...]
    updated_before: str
    reconciled: dict[Verdict, list[str]] | None = None  # job IDs by verdict; None: not asked
    discovered: tuple[str, ...] | None = None  # rows written for jobs the table lacked; None: not asked
    stopped: tuple[str, ...] = ()  # why discovery or repairs ended early
    unwritable: TableUnavailable | None = None  # no row could be written: counted all the same

    def as_response(self) -> dict[str, Any]:
        response: dict[str, Any] = {
            "stuckJobs": self.count,
            "jobIds": list(self.job_ids),
            "updatedBefore": self.updated_before,
        }
        if self.reconciled is not None:
            response["reconciled"] = {verdict.value: ids for verdict, ids in self.reconciled.items()}
        if self.discovered is not None:
            response["discovered"] = list(self.discovered)
        if self.stopped:
            response["stopped"] = list(self.stopped)
        return response


@dataclass
class StuckCheck:
    table: StatusTable
    stuck_after_minutes: float = DEFAULT_STUCK_AFTER_MINUTES
    reconciler: Reconciler | None = None  # None: count only, repair nothing, discover nothing
    discovery_lookback_hours: float = DEFAULT_DISCOVERY_LOOKBACK_HOURS
    queue: str | None = None  # the stack's MediaConvertQueueArn filter
    user_metadata: tuple[str, str] | None = None  # the stack's userMetadata filter (key, value)
    source_regions: tuple[str, ...] = ()  # the Regions besides the home's that discovery lists
    ingest_bus: str | None = None  # the ingest bus, whose policy names the source accounts

    @classmethod
    def from_environment(cls) -> StuckCheck:
        name = os.environ.get("TABLE_NAME")
        if not name:
            raise TableNotConfiguredError("TABLE_NAME is not set: the stuck check has no table to query.")
        minutes = float(os.environ.get("STUCK_AFTER_MINUTES", DEFAULT_STUCK_AFTER_MINUTES))
        # Two attempts of at most 5 s each: a write started before the deadline ends within its margin.
        config = Config(
            connect_timeout=2,
            read_timeout=3,
            max_pool_connections=16,
            retries={"mode": "standard", "total_max_attempts": 2},
        )
        retention = int(float(os.environ.get("RETENTION_DAYS", DEFAULT_RETENTION_DAYS)))  # a repair's TTL
        # One botocore session for every client (the table's, EventBridge's, MediaConvert's in each
        # place): the service models and endpoint data load once in a cold start, not once a session.
        session = botocore.session.get_session()
        boto3.setup_default_session(botocore_session=session)
        table = StatusTable(name, boto3.client("dynamodb", config=config), retention)
        repairs = os.environ.get("RECONCILE_MEDIACONVERT", "true") == "true"
        key, _, value = os.environ.get("MEDIACONVERT_USER_METADATA", "").partition("=")
        clients = mediaconvert_clients(
            os.environ.get("AWS_REGION") or boto3.session.Session().region_name or "us-east-1",
            os.environ.get("HOME_ACCOUNT_ID") or _caller_account,  # the template sets it; else asked once
            reader_role=os.environ.get("READER_ROLE_NAME") or DEFAULT_READER_ROLE_NAME,
            session_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "transcoder-status-stuck-check"),
            session=session,
        )
        return cls(
            table,
            minutes,
            Reconciler(table, clients) if repairs else None,
            float(os.environ.get("DISCOVERY_LOOKBACK_HOURS", DEFAULT_DISCOVERY_LOOKBACK_HOURS)),
            os.environ.get("MEDIACONVERT_QUEUE_ARN") or None,
            (key, value) if key else None,
            tuple(region for region in os.environ.get("SOURCE_REGIONS", "").split(",") if region),
            os.environ.get("INGEST_EVENT_BUS_NAME") or None,
        )

    def discovery_places(self, clients: PlaceClients, stopped: list[str]) -> list[Place]:
        """The stack's own account and each source account, each in the home Region and the source
        Regions (the stack's own account sends from its other Regions through forwarders too)."""
        regions = (clients.home.region, *self.source_regions)
        accounts = (None, *self.source_accounts(stopped))
        return list(dict.fromkeys(clients.place(account, region) for account in accounts for region in regions))

    def source_accounts(self, stopped: list[str]) -> tuple[str, ...]:
        """The accounts the ingest bus's policy lets put events, read each run (a stack update changes
        them without a new execution environment); a failure: none this run, and why."""
        if self.ingest_bus is None:
            return ()
        try:
            policy = json.loads(_events_client().describe_event_bus(Name=self.ingest_bus).get("Policy") or "{}")
        except (ClientError, BotoCoreError) as error:
            stopped.append(f"discovery: the source accounts are unknown (DescribeEventBus: {error})")
            return ()
        except ValueError as error:  # not JSON: said as a refusal is, and the check goes on
            stopped.append(f"discovery: the source accounts are unknown (the policy of {self.ingest_bus}: {error})")
            return ()
        return accounts_allowed(policy)

    def run(self, now: float | None = None, deadline: float | None = None) -> StuckReport:
        """The running jobs whose row is older than the threshold, after repairing what MediaConvert
        says has ended (only IDs, times, source and status are read from the index; where each job
        ran, from its row). ``deadline`` (monotonic): no GetJob starts after it."""
        now = time.time() if now is None else now
        discovered: tuple[str, ...] | None = None
        stopped: list[str] = []
        unwritable: TableUnavailable | None = None
        if self.reconciler is not None:
            places = self.discovery_places(self.reconciler.clients, stopped)
            # A new order each run: the places left out of time in one come first in another.
            random.shuffle(places)  # nosec B311
            try:
                found = self.reconciler.discover(
                    datetime.fromtimestamp(now - self.discovery_lookback_hours * 3600, UTC),
                    self.queue,
                    self.user_metadata,
                    self.reconciler.share(deadline, DISCOVERY_SHARE),
                    places=places,
                )
            except TableUnavailable as error:  # the count below is a read: it goes out all the same
                unwritable = error
                stopped.append(f"discovery: {error}")
            else:
                discovered = tuple(c.job_id for c in found.checked if c.verdict is Verdict.REPAIRED)
                if found.stopped:
                    stopped.append(f"discovery: {found.stopped}")
        cutoff = iso_time(now - self.stuck_after_minutes * 60)
        rows = query_jobs(
            self.table,
            (JobStatus.RUNNING,),
            until=cutoff,
            page_size=LISTING_PAGE * 10,
            attributes=(JOB_ID, UPDATED_AT, SOURCE, STATUS, FINISHED),
        )
        stuck = sorted(rows, key=lambda row: (row.updated_at or "", row.job_id))  # the longest stuck first
        reconciled: dict[Verdict, list[str]] | None = None
        if self.reconciler is not None and unwritable is None:
            # At most RECONCILE_LIMIT a run, drawn at random among the MediaConvert rows: jobs that
            # stay stuck (hung, or forgotten by MediaConvert) never keep the others from being asked.
            askable = [row for row in stuck if row.source == Source.MEDIACONVERT]
            chosen = random.sample(askable, min(RECONCILE_LIMIT, len(askable)))  # nosec B311
            try:
                # The index holds no account or Region: one BatchGetItem reads where each chosen job ran.
                report = self.reconciler.reconcile(list(with_times(self.table, chosen)), deadline)
            except TableUnavailable as error:
                unwritable = error
                stopped.append(f"repairs: {error}")
                report = Report()
            if report.stopped:
                stopped.append(f"repairs: {report.stopped}")
            reconciled = {verdict: [] for verdict in Verdict if verdict not in (Verdict.WOULD_REPAIR, Verdict.TOO_OLD)}
            for checked in report.checked:
                reconciled[checked.verdict].append(checked.job_id)
            moved_on = set(reconciled[Verdict.REPAIRED])  # a repaired row is no longer stuck: it just changed
            stuck = [row for row in stuck if row.job_id not in moved_on]
        job_ids = tuple(row.job_id for row in stuck[:LOGGED_JOB_IDS])
        return StuckReport(len(stuck), job_ids, cutoff, reconciled, discovered, tuple(stopped), unwritable)


@cache
def _events_client() -> Any:
    """EventBridge, bounded as the table's client is: a slow answer cannot eat the run's deadline."""
    return boto3.client(
        "events",
        config=Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 2}),
    )


def _caller_account() -> str:
    """This function's own account, from STS (GetCallerIdentity needs no permission)."""
    return str(boto3.client("sts", config=STS_CONFIG).get_caller_identity()["Account"])


def accounts_allowed(policy: Any) -> tuple[str, ...]:
    """The account IDs an event bus policy's Allow statements name as principals (by ID or as an
    account root ARN); an organization's condition names none. Any shape IAM's grammar allows (a
    Statement or a list of them, a principal or a list: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html),
    and none from what is not a policy (edited by hand): a crash would lose the run's metrics."""
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    found: list[str] = []
    for statement in _listed(statements):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        for entry in _listed(principal.get("AWS") if isinstance(principal, dict) else None):
            match = _ACCOUNT_PRINCIPAL.fullmatch(entry) if isinstance(entry, str) else None
            if match:
                found.append(match.group(1) or match.group(2))
    return tuple(dict.fromkeys(found))


def _listed(value: Any) -> list[Any]:
    """A policy element that is one value or a list of them, as a list."""
    return value if isinstance(value, list) else [] if value is None else [value]


_ACCOUNT_PRINCIPAL = re.compile(r"(\d{12})|arn:[\w-]+:iam::(\d{12}):root")


@cache
def default_check() -> StuckCheck:
    """Built on the first invocation and reused while the environment stays warm."""
    return StuckCheck.from_environment()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, check: StuckCheck | None = None) -> dict[str, Any]:
    check = check or default_check()
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - DEADLINE_MARGIN_S
    report = check.run(deadline=deadline)
    metrics.add_metric(name=METRIC, unit=MetricUnit.Count, value=report.count)
    if report.discovered is not None:
        metrics.add_metric(name=DISCOVERED_METRIC, unit=MetricUnit.Count, value=len(report.discovered))
        if report.discovered:
            logger.warning("MediaConvert jobs with no row: rows written", discovered=list(report.discovered))
    if report.stopped:
        logger.warning("the check ended early", stopped=list(report.stopped))
    if report.reconciled is not None:
        for verdict, name in RECONCILE_METRICS.items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=len(report.reconciled[verdict]))
        repaired = report.reconciled[Verdict.REPAIRED]
        if repaired or report.reconciled[Verdict.NOT_FOUND] or report.reconciled[Verdict.FAILED]:
            logger.warning(
                "stuck MediaConvert jobs asked about",
                repaired=repaired,
                notFound=report.reconciled[Verdict.NOT_FOUND],
                failed=report.reconciled[Verdict.FAILED],
            )
    if report.count:
        logger.warning(
            "stuck jobs: running, with no notification for the threshold",
            stuckJobs=report.count,
            stuckAfterMinutes=check.stuck_after_minutes,
            updatedBefore=report.updated_before,
            jobIds=list(report.job_ids),
            jobIdsNotLogged=report.count - len(report.job_ids),
        )
    else:
        logger.info("no stuck jobs", stuckAfterMinutes=check.stuck_after_minutes)
    if report.unwritable is not None:
        raise report.unwritable  # after the count: FunctionErrorsAlarm says so, and StuckJobs still goes out
    return report.as_response()
