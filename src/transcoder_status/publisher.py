"""The Lambda entry point that publishes "Transcoding Job Finished": the table's stream -> the bus.

Its event source mapping's FilterCriteria (template.yaml) passes only the transition to finished:
a new row already finished, or an old image not finished and a new one finished. The state write
that finishes a job is the only write that turns ``finished`` true, so each finished job's row
reaches this function in one stream record, and each stream record appears in the stream exactly
once: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html

Per batch: build every record's event (``finished_event``) from its new image, put them ten at a
time (``event_bus``), and report the records not put with ReportBatchItemFailures (Powertools'
BatchProcessor); Lambda retries the batch from the lowest failed one, and after
MaximumRetryAttempts sends the batch's description to the on-failure queue.

It also counts finished jobs (JobsSucceeded, JobsFailed, JobsCanceled): the writer cannot, as a
write redelivered after a partial failure cannot tell whether it was the one that finished the job.
Nor can a batch's position tell: Lambda processes stream records at least once
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html), a partial batch
response "doesn't entirely prevent" retries of records that succeeded
(https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html), and a batch
given up after its retries takes the records after the failed one with it. So each job is counted
by a conditional write on its row (``countedAt``) that only its first delivery lands, whether or
not its event could be put.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from botocore.config import Config
from botocore.exceptions import ClientError

from .event_bus import EventBus
from .finished_event import finished_detail, put_events_entry
from .status import JobStatus
from .table import JOB_ID, row_from_item

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb.client import DynamoDBClient

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "transcoder-status-events")
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TranscoderStatus"), service=SERVICE)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

JOB_OUTCOME_METRICS = {
    JobStatus.SUCCESS.value: "JobsSucceeded",
    JobStatus.ERROR.value: "JobsFailed",
    JobStatus.CANCELED.value: "JobsCanceled",
}


class NotPublishedError(RuntimeError):
    """The record's event is not on the bus; Lambda retries the batch from this record."""


def publish_records(bus: EventBus, records: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Put one event per stream record; returns why each record not published failed, by its
    sequence number. A record whose event cannot be built (no new image, not finished) fails too."""
    failures: dict[str, str] = {}
    entries: list[dict[str, Any]] = []
    numbers: list[str] = []
    for record in records:
        number = str(record["dynamodb"]["SequenceNumber"])
        try:
            entries.append(put_events_entry(finished_detail(row_from_item(record["dynamodb"]["NewImage"])), bus.name))
            numbers.append(number)
        except Exception as error:
            failures[number] = f"{type(error).__name__}: {error}"
    for index, reason in bus.put(entries).items():
        failures[numbers[index]] = reason
    return failures


COUNTED_AT = "countedAt"  # set on a finished row by the publisher, once: its outcome is counted


@dataclass
class OutcomeCounter:
    """Claims a finished job's count on its row, through one DynamoDB client."""

    table_name: str
    client: DynamoDBClient

    def claim(self, job_id: str) -> bool:
        """True for the first claim of a job only (a conditional write), False for every later one
        and for a row no longer there (expired): it is never recreated."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={JOB_ID: {"S": job_id}},
                UpdateExpression="SET #counted = :now",
                ConditionExpression="attribute_exists(#job) AND attribute_not_exists(#counted)",
                ExpressionAttributeNames={"#counted": COUNTED_AT, "#job": JOB_ID},
                ExpressionAttributeValues={":now": {"S": datetime.now(UTC).isoformat(timespec="milliseconds")}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


def count_finished(
    records: Sequence[dict[str, Any]], claim: Callable[[str], bool]
) -> tuple[Counter[str], dict[str, str]]:
    """The finished jobs of the batch counted now (their claim is the first), and why each record
    whose claim failed was not, by its sequence number (it fails, so Lambda brings it again)."""
    counts: Counter[str] = Counter()
    failures: dict[str, str] = {}
    for record in records:
        image = record["dynamodb"].get("NewImage", {})
        name = JOB_OUTCOME_METRICS.get(image.get("status", {}).get("S"))
        job_id = image.get(JOB_ID, {}).get("S")
        if name is None or not job_id:
            continue
        try:
            if claim(str(job_id)):
                counts[name] += 1
        except Exception as error:
            failures[str(record["dynamodb"]["SequenceNumber"])] = f"not counted: {type(error).__name__}: {error}"
    return counts, failures


def _named(variable: str, what: str) -> str:
    name = os.environ.get(variable)
    if not name:
        raise RuntimeError(f"{variable} is not set: the function has no {what}.")
    return name


def _client(service: Literal["events", "dynamodb"]) -> Any:
    config = Config(connect_timeout=2, read_timeout=5)  # retries: AWS_RETRY_MODE / AWS_MAX_ATTEMPTS
    return boto3.client(service, config=config)


@cache
def default_bus() -> EventBus:
    """The bus the environment names (EVENT_BUS_NAME), built once per environment."""
    return EventBus(_named("EVENT_BUS_NAME", "event bus to put on"), _client("events"))


@cache
def default_counter() -> OutcomeCounter:
    """The counter on the table the environment names (TABLE_NAME), built once per environment."""
    return OutcomeCounter(_named("TABLE_NAME", "table to count finished jobs on"), _client("dynamodb"))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(
    event: dict[str, Any],
    context: LambdaContext,
    bus: EventBus | None = None,
    claim: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    records: list[dict[str, Any]] = event.get("Records", [])
    counts, failures = count_finished(records, claim or default_counter().claim)
    for number, reason in publish_records(bus or default_bus(), records).items():
        failures[number] = reason if number not in failures else f"{reason}; {failures[number]}"

    def record_handler(record: DynamoDBRecord) -> None:
        reason = failures.get(str(record.dynamodb.sequence_number if record.dynamodb else ""))
        if reason is not None:
            raise NotPublishedError(reason)

    for record in records:
        number = str(record["dynamodb"]["SequenceNumber"])
        job_id = record["dynamodb"].get("Keys", {}).get("jobId", {}).get("S")
        if number in failures:
            logger.warning("finished event not published", jobId=job_id, sequenceNumber=number, reason=failures[number])
    published = len(records) - len(failures)
    if published:
        logger.info("finished events published", count=published)
        metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=published)
    if failures:
        metrics.add_metric(name="EventsNotPublished", unit=MetricUnit.Count, value=len(failures))
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
