"""The Lambda entry point: a batch of SQS records -> notifications -> one update per job.

Per batch: parse every record (a bad one is reported failed, so the queue's redrive policy moves it
to the DLQ), coalesce one update per job (``transitions.coalesce``), write the jobs concurrently,
and answer with ``batchItemFailures``. A record fails only for its own reason: bad input, or a
write that failed or did not finish before the invocation's deadline (SQS redelivers it).

The response is built here rather than by Powertools' BatchProcessor: its record handler sees one
record at a time, while a job's records must be coalesced across the batch before any is written.

``lambda_handler(event, context)`` writes to the table the environment names (TABLE_NAME); tests
and ``transcoder-status replay`` pass their own ``writer=StatusWriter(...)``.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config

from .batching import sized_batches
from .notification import Notification
from .sources import Delivery, ParseError, SnsControlMessage, parse_body, safe_text
from .table import (
    DEFAULT_RETENTION_DAYS,
    MAX_EVENT_ID,
    StatusTable,
    TableNotConfiguredError,
    WriteDeadlineError,
    WriteOutcome,
    WriteResult,
    fit_to_item,
)
from .transitions import JobUpdate, clash_text, coalesce, other_places

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

BODY_EXCERPT = 512  # characters of a bad body kept in its log line
# Written jobs are logged a hundred to a line: a line per job cost a third of the handler's CPU.
# A line also ends before its IDs pass LOG_LINE_BYTES: CloudWatch Logs takes 256 KB per event.
JOBS_PER_LOG_LINE = 100
LOG_LINE_BYTES = 200_000
LOG_ENTRY_BYTES = 200  # an entry's keys, outcome, status and state
# Jobs written at once: every job of a batch of 100 (BatchSize 100 with a batching window) at once.
MAX_WRITERS = int(os.environ.get("WRITE_CONCURRENCY", "100"))
# Stop waiting for writes this long before the function's timeout, so the response still goes out.
DEADLINE_MARGIN_S = 3.0
# Below the function's 30 s timeout even with every retry: 3 attempts x (2 s + 5 s), plus backoff.
CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 5

CLASH_METRIC = "AccountClashes"  # template.yaml's AccountClashesAlarm watches it
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "transcoder-status")
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TranscoderStatus"), service=SERVICE)


class WriteFailedError(RuntimeError):
    """The job's row could not be written; SQS redelivers the record after its visibility timeout."""


class AccountClashError(RuntimeError):
    """The job's row is another account's or Region's job with the same ID: the record is failed."""


@dataclass
class StatusWriter:
    """Writes batches to one status table. Built once per process: its client is reused."""

    table: StatusTable
    accepted_pipelines: frozenset[str] = frozenset()
    max_writers: int = MAX_WRITERS
    # Threads start once and serve every invocation: starting them costs more than the writes.
    _writers: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)

    def _pool(self) -> ThreadPoolExecutor:
        if self._writers is None:
            self._writers = ThreadPoolExecutor(max_workers=self.max_writers, thread_name_prefix="writer")
        return self._writers

    @classmethod
    def connect(
        cls,
        table_name: str,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        accepted_pipelines: frozenset[str] = frozenset(),
        **client_options: Any,
    ) -> StatusWriter:
        """A writer with a DynamoDB client sized and timed for the function (see the constants)."""
        # Retries (mode, attempts) come from AWS_RETRY_MODE / AWS_MAX_ATTEMPTS, as the template sets them.
        config = Config(
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
            max_pool_connections=MAX_WRITERS,
        )
        client = boto3.client("dynamodb", config=config, **client_options)
        return cls(StatusTable(table_name, client, retention_days), accepted_pipelines)

    @classmethod
    def from_environment(cls) -> StatusWriter:
        """The writer the function's environment configures (TABLE_NAME, RETENTION_DAYS, ...)."""
        name = os.environ.get("TABLE_NAME")
        if not name:
            raise TableNotConfiguredError("TABLE_NAME is not set: the function has no table to write to.")
        # A CloudFormation Number may arrive as "30.0".
        retention = int(float(os.environ.get("RETENTION_DAYS", DEFAULT_RETENTION_DAYS)))
        accepted = frozenset(os.environ.get("ACCEPTED_PIPELINE_IDS", "").replace(",", " ").split())
        return cls.connect(name, retention, accepted)

    def handle(self, event: dict[str, Any], deadline: float) -> dict[str, Any]:
        """Apply a batch; the records to retry, in Lambda's partial batch response shape."""
        failures = self.apply_records(event.get("Records", []), deadline)
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}

    def apply_records(self, records: list[dict[str, Any]], deadline: float) -> dict[str, Exception]:
        """Parse, coalesce and write a batch; return the failed records' errors by message ID.

        ``deadline`` is a ``time.monotonic()`` value: writes not done by then fail their records.
        """
        failures: dict[str, Exception] = {}
        written: list[dict[str, Any]] = []
        counts: Counter[str] = Counter()
        message_ids: defaultdict[str, list[str]] = defaultdict(list)
        # The notifications' own IDs (SNS MessageId, EventBridge id), in messageIds' order: they trace
        # a notification from its publisher to its write, and tell a duplicate from a new message.
        event_ids: defaultdict[str, list[str]] = defaultdict(list)
        notifications: list[Notification] = []
        # Records are read as plain dicts: Powertools' data classes would cost the cold start more
        # than the three fields used here.
        parsed: list[tuple[str, Notification]] = []
        for record in records:
            notification = self._parse(record, failures, counts)
            if notification is not None:
                parsed.append((record["messageId"], notification))
        for message_id, notification in _one_place_per_job(parsed, failures):
            message_ids[notification.job_id].append(message_id)
            event_ids[notification.job_id].append(notification.event_id[:MAX_EVENT_ID])
            notifications.append(notification)

        updates = coalesce(fit_to_item(n) for n in notifications)
        pool = self._pool()
        writes: dict[Future[WriteResult], JobUpdate] = {
            pool.submit(self.table.write, update, None, deadline): update for update in updates.values()
        }
        done, late = wait_for(writes, timeout=max(0.0, deadline - time.monotonic()))
        if late:
            # Writes still hung on a socket keep their threads: leave them that pool, so that the
            # next invocation starts with free writers, never behind them.
            pool.shutdown(wait=False, cancel_futures=True)
            self._writers = None
        for write in late:
            update = writes[write]
            self._fail(
                update, message_ids[update.job_id], WriteDeadlineError("not written before the deadline"), failures
            )
            counts["WriteFailed"] += update.records
        for write in done:
            update = writes[write]
            try:
                result = write.result()
            except Exception as error:
                self._fail(update, message_ids[update.job_id], error, failures)
                counts["WriteFailed"] += update.records
                continue
            if result.outcome is WriteOutcome.CLASH:
                _report_clash(update, result, message_ids[update.job_id], failures)
                counts[CLASH_METRIC] += update.records
                continue
            self._count(update, result, counts)
            if result.warnings_dropped:
                _report_dropped_warnings(update, result, message_ids[update.job_id], counts)
            written.append(_written(update, result, message_ids[update.job_id], event_ids[update.job_id]))
        for line in _log_lines(written):
            logger.info("jobs written", jobs=line)
        for name, value in counts.items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        return failures

    def _parse(
        self, record: dict[str, Any], failures: dict[str, Exception], counts: Counter[str]
    ) -> Notification | None:
        message_id: str = record["messageId"]
        body = record.get("body")
        try:
            if not isinstance(body, str):
                raise ParseError("the SQS record has no body")
            notification = parse_body(body, Delivery(sent_ms=_sent_ms(record), message_id=message_id))
        except SnsControlMessage as control:
            # Failed, not deleted: the DLQ keeps it (with its SubscribeURL) for an operator.
            logger.warning(str(control), messageId=message_id, snsType=control.kind, topicArn=control.topic_arn)
            counts["SnsControlMessages"] += 1
            failures[message_id] = control
            return None
        except Exception as error:  # a bug in a parser must not sink the batch either: fail this record only
            logger.error(
                "malformed notification; the queue's redrive policy will move it to the DLQ",
                messageId=message_id,
                reason=str(error) if isinstance(error, ParseError) else f"{type(error).__name__}: {error}",
                body=safe_text(body[:BODY_EXCERPT]) if isinstance(body, str) else repr(body)[:BODY_EXCERPT],
                exc_info=not isinstance(error, ParseError),
            )
            counts["Malformed"] += 1
            failures[message_id] = error
            return None
        if notification.dropped:
            logger.warning(
                "optional details dropped; the notification is applied without them",
                messageId=message_id,
                jobId=notification.job_id,
                dropped=list(notification.dropped),
            )
        pipeline = notification.pipeline_id
        if self.accepted_pipelines and pipeline and pipeline not in self.accepted_pipelines:
            logger.info(
                "notification skipped: pipeline not accepted",
                messageId=message_id,
                jobId=notification.job_id,
                pipelineId=pipeline,
            )
            counts["Skipped"] += 1
            return None
        return notification

    @staticmethod
    def _fail(
        update: JobUpdate, message_ids: Iterable[str], error: BaseException, failures: dict[str, Exception]
    ) -> None:
        ids = list(message_ids)
        logger.warning(
            "write failed; SQS will redeliver",
            jobId=update.job_id,
            messageIds=ids,
            reason=f"{type(error).__name__}: {error}",
        )
        for message_id in ids:
            failures[message_id] = WriteFailedError(f"job {update.job_id}: {error}")

    @staticmethod
    def _count(update: JobUpdate, result: WriteResult, counts: Counter[str]) -> None:
        # Records folded into the winner were superseded by it within the batch.
        superseded = update.records
        if result.outcome is WriteOutcome.APPLIED:
            superseded -= 1
            # Finished jobs are counted by the publisher, which sees each job's finish once: a
            # write redelivered after a partial failure comes back DUPLICATE and cannot tell.
            counts["Applied"] += 1
        if superseded:
            counts["StaleOrDuplicate"] += superseded


def _report_dropped_warnings(
    update: JobUpdate, result: WriteResult, message_ids: list[str], counts: Counter[str]
) -> None:
    """A warnings merge other writers kept outrunning was given up: the row lacks them for good
    (their records are not retried: the state is written, and retrying races the same writers)."""
    logger.warning(
        "warnings merge given up: other writes to the job kept changing its warnings",
        jobId=update.job_id,
        messageIds=message_ids,
        warningsDropped=result.warnings_dropped,
    )
    counts["WarningsDropped"] += result.warnings_dropped


def _one_place_per_job(
    parsed: list[tuple[str, Notification]], failures: dict[str, Exception]
) -> list[tuple[str, Notification]]:
    """The notifications to write: a job's notifications from a place (account, Region) other than
    its first one's in the batch are failed, not coalesced (the winner would supersede them unseen);
    SQS delivers them again, where they meet the row's place in the state write's condition."""
    others = other_places(notification for _, notification in parsed)
    if not others:
        return parsed
    for position in others:
        message_id, notification = parsed[position]
        logger.warning(
            "another account's or Region's notification for a job of this batch; SQS will redeliver it alone",
            messageId=message_id,
            jobId=notification.job_id,
            account=notification.account,
            region=notification.region,
        )
        failures[message_id] = AccountClashError(
            f"job {notification.job_id}: another account's or Region's notification for the job came in the same "
            "batch; retried alone"
        )
    skipped = set(others)
    return [entry for position, entry in enumerate(parsed) if position not in skipped]


def _report_clash(
    update: JobUpdate, result: WriteResult, message_ids: list[str], failures: dict[str, Exception]
) -> None:
    """Another place's job holds the row (README.md: why the key stays jobId). Its records fail, as
    a malformed record's do: SQS redelivers them until the queue's redrive policy moves them to the
    DLQ, where ``dlq show --table`` names them a clash. Deleting them would lose a job's events
    silently; the DLQ keeps them (and the alarm on it fires) while no retry could ever apply them,
    since a row's place is never changed."""
    winner = update.winner
    logger.error(
        "two accounts' events for one row: the row is another account's or Region's job with the same ID; "
        "nothing written, the records go to the DLQ",
        jobId=update.job_id,
        messageIds=message_ids,
        account=winner.account,
        region=winner.region,
        rowAccount=result.row_account,
        rowRegion=result.row_region,
    )
    error = AccountClashError(clash_text(winner, result.row_account, result.row_region))
    for message_id in message_ids:
        failures[message_id] = error


def _written(update: JobUpdate, result: WriteResult, message_ids: list[str], event_ids: list[str]) -> dict[str, Any]:
    """A written job's entry in the log: what was written, from which SQS messages and notifications."""
    entry: dict[str, Any] = {
        "jobId": update.job_id,
        "outcome": result.outcome.value,
        "status": update.winner.status.value,
        "state": update.winner.state,
        "messageIds": message_ids,
        "eventIds": event_ids,
    }
    if result.warnings_merged:
        entry["warningsMerged"] = result.warnings_merged
    if result.progress_merged:
        entry["progressMerged"] = result.progress_merged
    return entry


def _log_lines(written: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """The entries in lines of at most JOBS_PER_LOG_LINE jobs and about LOG_LINE_BYTES."""
    return sized_batches(_parts(written), JOBS_PER_LOG_LINE, LOG_LINE_BYTES)


def _parts(written: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], int]]:
    """Each entry with its size; a job whose IDs alone would pass LOG_LINE_BYTES (a backlog of one
    job) goes on in entries marked ``continued``, which carry only its jobId and the rest of its IDs."""
    for entry in written:
        head = LOG_ENTRY_BYTES + _json_bytes(entry["jobId"])
        message_ids, event_ids = entry["messageIds"], entry["eventIds"]
        size, start = head, 0
        for index, (message_id, event_id) in enumerate(zip(message_ids, event_ids, strict=True)):
            ids = _json_bytes(message_id) + _json_bytes(event_id)
            if index > start and size + ids > LOG_LINE_BYTES:
                yield _part(entry, start, index), size
                size, start = head, index
            size += ids
        yield _part(entry, start, len(message_ids)), size


def _part(entry: dict[str, Any], start: int, end: int) -> dict[str, Any]:
    if start == 0 and end == len(entry["messageIds"]):
        return entry
    ids = {"messageIds": entry["messageIds"][start:end], "eventIds": entry["eventIds"][start:end]}
    return {**entry, **ids} if start == 0 else {"jobId": entry["jobId"], "continued": True, **ids}


def _json_bytes(text: str) -> int:
    """An ID's bytes in a log line, at most: printable ASCII as it is (a quote or a backslash
    escaped: two), anything else escaped (six each)."""
    if text.isascii() and text.isprintable():
        return len(text) + text.count('"') + text.count("\\") + 3
    return 6 * len(text) + 3


@cache
def default_writer() -> StatusWriter:
    """Built on the first invocation and reused while the environment stays warm."""
    return StatusWriter.from_environment()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, writer: StatusWriter | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - DEADLINE_MARGIN_S
    return (writer or default_writer()).handle(event, deadline)


def _sent_ms(record: dict[str, Any]) -> int | None:
    """SQS SentTimestamp: it orders raw-delivery notifications, which carry no time of their own.
    None if absent or not a number: only a notification that needs it is refused then."""
    try:
        return int((record.get("attributes") or {}).get("SentTimestamp") or "")
    except (ValueError, TypeError, AttributeError):
        return None
