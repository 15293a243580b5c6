"""The Lambda entry point: a batch of SQS records -> notifications -> one conditional write per job.

Per batch: parse every record (a bad one is reported failed, so the queue's redrive policy moves it
to the DLQ), keep one merged notification per job (``transitions.coalesce``), write the jobs
concurrently, then let Powertools' BatchProcessor report each record that failed, by message ID.
A record fails only for its own reason: bad input, or a write error (throttling, 5xx) that SQS
will redeliver. Nothing is raised out of the handler for a bad record.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from .notification import Notification
from .sources import Delivery, ParseError, parse_body
from .status import JobStatus
from .table import DEFAULT_RETENTION_DAYS, StatusTable, TableNotConfiguredError, WriteOutcome
from .transitions import coalesce

BODY_EXCERPT = 512  # characters of a bad body kept in its log line

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "transcoder-status")
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TranscoderStatus"), service=SERVICE)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

# Module scope: reused by every invocation of a warm function.
status_table = StatusTable(
    os.environ.get("TABLE_NAME", ""),
    boto3.client("dynamodb"),
    int(os.environ.get("RETENTION_DAYS", DEFAULT_RETENTION_DAYS)),
)
accepted_pipelines = frozenset(filter(None, os.environ.get("ACCEPTED_PIPELINE_IDS", "").replace(",", " ").split()))
write_pool = ThreadPoolExecutor(max_workers=int(os.environ.get("WRITE_CONCURRENCY", "8")))


_JOB_OUTCOME_METRICS = {
    JobStatus.SUCCESS: "JobsSucceeded",
    JobStatus.ERROR: "JobsFailed",
    JobStatus.CANCELED: "JobsCanceled",
}


class WriteFailedError(RuntimeError):
    """The job's row could not be written; SQS redelivers the record after its visibility timeout."""


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not status_table.name:
        raise TableNotConfiguredError("TABLE_NAME is not set: the function has no table to write to.")
    failures = apply_records(event.get("Records", []))

    def report(record: SQSRecord) -> None:
        failure = failures.get(record.message_id)
        if failure is not None:
            raise failure

    response = process_partial_response(event=event, record_handler=report, processor=processor, context=context)
    return dict(response)


def apply_records(records: list[dict[str, Any]]) -> dict[str, Exception]:
    """Parse, coalesce and write a batch; return the failed records' errors by message ID."""
    failures: dict[str, Exception] = {}
    counts: Counter[str] = Counter()
    message_ids: defaultdict[str, list[str]] = defaultdict(list)
    notifications: list[Notification] = []
    for raw in records:
        record = SQSRecord(raw)
        notification = _parse(record, failures, counts)
        if notification is not None:
            message_ids[notification.job_id].append(record.message_id)
            notifications.append(notification)

    merged = coalesce(notifications)
    writes: dict[str, Future[WriteOutcome]] = {
        job_id: write_pool.submit(status_table.apply, notification) for job_id, notification in merged.items()
    }
    for job_id, write in writes.items():
        ids = message_ids[job_id]
        notification = merged[job_id]
        try:
            outcome = write.result()
        except Exception as error:
            logger.warning(
                "write failed; SQS will redeliver",
                jobId=job_id,
                messageIds=ids,
                reason=f"{type(error).__name__}: {error}",
            )
            counts["WriteFailed"] += len(ids)
            for message_id in ids:
                failures[message_id] = WriteFailedError(f"job {job_id}: {error}")
            continue
        # Notifications merged into the winner were superseded by it within the batch.
        superseded = len(ids)
        if outcome is WriteOutcome.APPLIED:
            superseded -= 1
            counts["Applied"] += 1
            if notification.finished:
                counts[_JOB_OUTCOME_METRICS[notification.status]] += 1
        if superseded:
            counts["StaleOrDuplicate"] += superseded
        logger.info(
            f"notification {outcome.value}",
            jobId=job_id,
            messageIds=ids,
            state=notification.state,
            jobStatus=notification.status.value,
        )
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    return failures


def _parse(record: SQSRecord, failures: dict[str, Exception], counts: Counter[str]) -> Notification | None:
    try:
        notification = parse_body(record.body, Delivery(sent_ms=_sent_ms(record), message_id=record.message_id))
    except Exception as error:  # a bug in a parser must not sink the batch either: fail this record only
        logger.error(
            "malformed notification; the queue's redrive policy will move it to the DLQ",
            messageId=record.message_id,
            reason=str(error) if isinstance(error, ParseError) else f"{type(error).__name__}: {error}",
            body=(record.get("body") or "")[:BODY_EXCERPT],
            exc_info=not isinstance(error, ParseError),
        )
        counts["Malformed"] += 1
        failures[record.message_id] = error
        return None
    if accepted_pipelines and notification.pipeline_id and notification.pipeline_id not in accepted_pipelines:
        logger.info(
            "notification skipped: pipeline not accepted",
            messageId=record.message_id,
            jobId=notification.job_id,
            pipelineId=notification.pipeline_id,
        )
        counts["Skipped"] += 1
        return None
    return notification


def _sent_ms(record: SQSRecord) -> int:
    """SQS SentTimestamp: it orders raw-delivery notifications, which carry no time of their own."""
    try:
        return int(record.attributes.sent_timestamp or 0)
    except ValueError:
        return 0
