"""The dead-letter queue: why each message is there, and the redrive back to the queue it came from.

Why: the project's own parser (``sources.parse_body``) runs on the body again, as the function ran
it. A ParseError is the reason the message never made a row (malformed); an SNS control message
(``SnsControlMessage``) waits for an operator; a body that parses now failed on writing (the table
was throttled, unreachable or missing for MaxReceiveCount deliveries) and is safe to redrive,
unless its job's row says another account or Region (a clash, docs/multi-account.md): with the
table, the row is read to tell, and a clash stays. This is the parser of the installed package:
if the deployed function runs another version, the verdict is this version's.

Looking never consumes: ``look`` receives with a visibility timeout of seconds (LOOK_HIDE_S, so a
look killed with SIGKILL hides nothing for long), and makes every message it saw visible again as
soon as its page is read, in a ``finally`` that also runs on an interrupt (the CLI turns SIGTERM and
SIGHUP into one). It counts what it could not show: messages in flight (a consumer's, another
look's) and, with a bound, those left unread, so it never claims to have shown everything without
knowing it. Each look counts as a receive in ``ApproximateReceiveCount``; on a live queue that would
push unprocessed messages towards its DLQ, so ``refusal`` says when a queue is not a dead-letter
queue at all.

Redrive: SQS's own StartMessageMoveTask when it can do the whole job; a move by receive, send and
delete where it cannot: where the endpoint lacks the action (the local emulator does: moto has no
StartMessageMoveTask), with ``max_messages``, or when some messages must stay behind. By default
only what can apply moves (it parses now, or was undelivered and parses): malformed and SNS control
messages would only come back after MaxReceiveCount and fire the alarm again (``everything`` moves
them too). Never moved: the messages older than the stack's RetentionDays less a day: a row expires
RetentionDays after its last update, and a move makes the message new again (SQS's retention
restarts), so such a notification could recreate a finished job whose row expired as RUNNING. The
redrive leaves them in the DLQ (where they expire) and says so. A message moved by hand keeps its
first time in a ``FirstSentTimestamp`` attribute, so a second trip to the DLQ does not make it look
young. A move task's progress is read by its own TaskHandle only (ListMessageMoveTasks lists other
tasks of the queue too).

A move by hand sends, then deletes: interrupted between the two, it deletes what was sent before it
stops; what it could not delete is reported as possibly duplicated (SQS delivers at least once, and
the table's conditional write makes a duplicate harmless).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from .aws_errors import NO_CREDENTIALS, NO_REGION, no_profile
from .sources import Delivery, ParseError, SnsControlMessage, parse_body
from .table import ACCOUNT, DEFAULT_RETENTION_DAYS, JOB_ID, REGION, StatusTable
from .transitions import clash_text, clashes

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

FIRST_SENT_ATTRIBUTE = "FirstSentTimestamp"  # epoch milliseconds, kept across redrives
LOOK_HIDE_S = 30  # how long one receive hides its messages at most; shown again as soon as read
REDRIVE_MARGIN_DAYS = 1  # a job's row may have been updated last a day before its latest notification
BY_HAND_NOTE = "moved by receive, send, delete"
MOVE_TASK_WAIT_S = 300  # how long a redrive follows SQS's move task before it reports progress so far
EXCERPT = 200

# The kinds of reason, for scripts (``kind`` in --json).
MALFORMED = "malformed"
SNS_CONTROL = "sns-control"
PARSER_FAILED = "parser-failed"
WRITE_FAILED = "write-failed"
UNDELIVERED = "undelivered"  # SNS or EventBridge could not put it on the notification queue
FAILED_BATCH = "failed-batch"  # a stream batch the finished-event publisher gave up on
CLASH = "clash"  # another account's or Region's job holds its row: it can never apply

# What EventBridge puts on an event it could not deliver to its target (its target DLQ's message).
EVENTBRIDGE_ERROR_ATTRIBUTES = ("ERROR_CODE", "ERROR_MESSAGE")

# What an endpoint answers for an action it does not have.
_UNSUPPORTED = frozenset(
    {
        "InvalidAction",
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        "UnknownOperationException",
        "NotImplemented",
    }
)
_MOVE_DONE = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


class DeadLetterQueueError(RuntimeError):
    """The dead-letter queue cannot be read or redriven; the message says what to check."""


class NotADeadLetterQueue(DeadLetterQueueError):
    """The queue is a live one (or nobody's DLQ): looking at it would raise its receive counts."""


class RedriveInterrupted(Exception):
    """A redrive stopped by an interrupt; ``result`` says what moved before it."""

    def __init__(self, result: RedriveResult):
        super().__init__(f"interrupted after moving {result.moved} message(s)")
        self.result = result


@dataclass(frozen=True)
class QueueKind:
    """A kind of queue the dlq commands read: where its URL comes from, and what it is."""

    title: str
    variable: str  # the environment variable with its URL
    option: str  # the CLI option with its URL
    output: str  # the stack's output naming it
    undelivered: bool  # SNS or EventBridge's DLQ: its messages never reached the notification queue
    sqs_dead_letter: bool  # a queue's RedrivePolicy names it (ListDeadLetterSourceQueues lists it)
    # A Lambda on-failure destination of a stream mapping: each message describes a stream batch
    # (shard and sequence numbers), not a notification, so there is nothing to redrive.
    stream_batches: bool = False


FUNCTION_DLQ = QueueKind("Dead-letter queue", "DLQ_URL", "--dlq-url", "DeadLetterQueueUrl", False, True)
UNDELIVERED_QUEUE = QueueKind(
    "Undelivered queue", "UNDELIVERED_URL", "--undelivered-url", "UndeliveredQueueUrl", True, False
)
FINISHED_EVENTS_FAILED = QueueKind(
    "The finished-event publisher's on-failure queue",
    "EVENTS_FAILED_URL",
    "--events-url",
    "FinishedEventsFailedQueueUrl",
    undelivered=False,
    sqs_dead_letter=False,
    stream_batches=True,
)


@dataclass(frozen=True)
class DeadLetter:
    """One message of the DLQ and why it is there."""

    message_id: str
    first_sent_ms: int | None
    receive_count: int
    body: str
    kind: str
    reason: str
    job_id: str | None = None
    too_old: bool = False  # older than a redrive may bring back (see the module's docstring)

    def applies(self, everything: bool = False) -> bool:
        """Whether a redrive moves it: what can make a row (it parses, and is no clash), or anything
        with ``everything``; never what is too old."""
        return not self.too_old and (everything or (self.job_id is not None and self.kind != CLASH))

    @property
    def first_sent(self) -> str | None:
        return None if self.first_sent_ms is None else _iso(self.first_sent_ms)

    def excerpt(self, length: int = EXCERPT) -> str:
        """The body, shortened; for an SNS envelope, the message it carries."""
        text = self.body
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and doc.get("Type") == "Notification" and isinstance(doc.get("Message"), str):
            text = f"SNS: {doc['Message']}"
        text = " ".join(text.split())
        return text if len(text) <= length else text[: length - 1] + "…"

    def to_json(self) -> dict[str, Any]:
        return {
            "messageId": self.message_id,
            "firstSent": self.first_sent,
            "receiveCount": self.receive_count,
            "kind": self.kind,
            "reason": self.reason,
            "jobId": self.job_id,
            "redrive": not self.too_old and self.kind != FAILED_BATCH,
            "body": self.body,
        }


@dataclass
class Look:
    """What one look saw, and how many messages it could not show."""

    letters: list[DeadLetter]
    more: int  # visible messages left unread (--max), or shown again by another look meanwhile
    in_flight: int  # hidden by someone else (the function, another look) while it looked: not shown

    @property
    def complete(self) -> bool:
        """Every message of the queue was shown (as far as SQS's approximate counts tell)."""
        return self.more == 0 and self.in_flight == 0


@dataclass
class RedriveResult:
    """What a redrive did: how many moved, how, to where, and what it left behind."""

    moved: int
    destination: str
    method: str  # "StartMessageMoveTask" or "receive, send, delete"
    note: str | None = None  # why the move was done by hand, or the state of an unfinished task
    left: list[DeadLetter] = field(default_factory=list)  # could not apply, or too old: still in the DLQ
    failed: list[str] = field(default_factory=list)  # message IDs the destination refused: still in the DLQ
    possibly_duplicated: list[str] = field(default_factory=list)  # sent, but their delete was not confirmed
    interrupted: bool = False

    @property
    def complete(self) -> bool:
        """Everything the redrive was asked to move moved, once."""
        return not (self.left or self.failed or self.possibly_duplicated or self.interrupted)

    def to_json(self) -> dict[str, Any]:
        return {
            "moved": self.moved,
            "destination": self.destination,
            "method": self.method,
            "note": self.note,
            "left": [letter.to_json() for letter in self.left],
            "failed": self.failed,
            "possiblyDuplicated": self.possibly_duplicated,
            "interrupted": self.interrupted,
            "complete": self.complete,
        }


def explain(
    message: Mapping[str, Any],
    *,
    retention_days: float = DEFAULT_RETENTION_DAYS,
    now_ms: int | None = None,
    undelivered: bool = False,
    stream_batches: bool = False,
    row_place: Callable[[str], tuple[str | None, str | None] | None] | None = None,
) -> DeadLetter:
    """Why a received DLQ message is there: the project's parser run on it again. ``undelivered``:
    the message comes from the undelivered queue (SNS and EventBridge's own DLQ), not the function's;
    ``stream_batches``: from the finished-event publisher's on-failure queue (never redriven).
    ``row_place``: the account and Region a job's row says ((None, None) for no row; None: not
    read), to tell a clash (docs/multi-account.md), which parses like a write outage, from one."""
    attributes = message.get("Attributes", {})
    sent_ms = _int(attributes.get("SentTimestamp"))
    kept = _int(message.get("MessageAttributes", {}).get(FIRST_SENT_ATTRIBUTE, {}).get("StringValue"))
    first_sent_ms = min((t for t in (sent_ms, kept) if t is not None), default=None)
    body = str(message.get("Body", ""))
    if stream_batches:
        return DeadLetter(
            message_id=str(message["MessageId"]),
            first_sent_ms=first_sent_ms,
            receive_count=_int(attributes.get("ApproximateReceiveCount")) or 0,
            body=body,
            kind=FAILED_BATCH,
            reason=failed_batch_reason(body),
        )
    job_id: str | None = None
    event_ms: int | None = None
    try:
        notification = parse_body(body, Delivery(sent_ms=first_sent_ms, message_id=str(message["MessageId"])))
    except SnsControlMessage as control:
        kind, reason = SNS_CONTROL, str(control)
    except ParseError as error:
        kind, reason = MALFORMED, str(error)
    except Exception as error:  # a bug in a parser: the function failed this record the same way
        kind, reason = PARSER_FAILED, f"the parser failed ({type(error).__name__}: {error}): a bug, please report it"
    else:
        kind = WRITE_FAILED
        job_id, event_ms = notification.job_id, notification.event_time_ms
        reason = (
            f"parses now ({notification.source} job {notification.job_id}, {notification.state}): "
            "it failed on writing; safe to redrive"
        )
        place = row_place(notification.job_id) if row_place and (notification.account or notification.region) else None
        if place is not None and clashes(notification, *place):
            kind = CLASH
            reason = (
                f"{clash_text(notification, *place)}; a row's place never changes, so a redrive would only bring "
                "it back here: left in the DLQ (docs/multi-account.md)"
            )
        elif place is None and (notification.account or notification.region):  # the row unread: say how to tell
            reason += (
                f', unless the function logged "two accounts\' events for one row" for the job: then the row is '
                f"another account's or Region's job, not this one's ({notification.account or '?'} in "
                f"{notification.region or '?'}), and a redrive brings it back here (docs/multi-account.md)"
            )
    if undelivered:
        if kind == WRITE_FAILED:
            reason = f"parses ({notification.source} job {notification.job_id}, {notification.state}): safe to redrive"
        else:
            reason = f"and it would not make a row: {reason}"
        kind, reason = UNDELIVERED, f"never reached the notification queue{_delivery_error(message)}; {reason}"
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    oldest = min((t for t in (first_sent_ms, event_ms) if t is not None), default=None)
    horizon_days = retention_days - REDRIVE_MARGIN_DAYS
    too_old = oldest is not None and now_ms - oldest > horizon_days * 86_400_000
    if too_old:
        reason += (
            f"; too old to redrive: {(now_ms - (oldest or 0)) / 86_400_000:.1f} days old, and a job's row is kept "
            f"{retention_days:g} days (RetentionDays): it could bring an expired job back as RUNNING"
        )
    return DeadLetter(
        message_id=str(message["MessageId"]),
        first_sent_ms=first_sent_ms,
        receive_count=_int(attributes.get("ApproximateReceiveCount")) or 0,
        body=body,
        kind=kind,
        reason=reason,
        job_id=job_id,
        too_old=too_old,
    )


def failed_batch_reason(body: str) -> str:
    """Why a message is in the publisher's on-failure queue: Lambda's invocation record of a stream
    batch, which holds the shard and the sequence numbers, not the records
    (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html)."""
    try:
        record = json.loads(body)
        info = record["DDBStreamBatchInfo"]
        condition = record.get("requestContext", {}).get("condition", "?")
    except (ValueError, KeyError, TypeError, AttributeError):
        return "not Lambda's invocation record of a stream batch: not the publisher's"
    return (
        f"the publisher gave up ({condition}) on {info.get('batchSize', '?')} stream record(s) "
        f"{info.get('startSequenceNumber')}..{info.get('endSequenceNumber')} of shard {info.get('shardId')}: "
        "Lambda's invocation record, not a notification (no redrive); the rows hold the outcomes: "
        f"`transcoder-status events republish --since` a time before {info.get('approximateArrivalOfFirstRecord')}"
    )


MAX_BATCH_BYTES = 262_144  # SQS: a SendMessageBatch's messages together, bodies and attributes


def _row_place(table: StatusTable, job_id: str) -> tuple[str | None, str | None] | None:
    """The account and Region ``job_id``'s row says ((None, None) with no row); None if the row
    cannot be read: the reason then says how to tell a clash from the function's log."""
    try:
        row = table.get(job_id, attributes=(JOB_ID, ACCOUNT, REGION))
    except (ClientError, BotoCoreError):
        return None
    return (None, None) if row is None else (row.account, row.region)


def _within_batch_size(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The messages in send batches that SQS takes whole: their sizes summed stay under its limit."""
    batches: list[list[dict[str, Any]]] = []
    size = 0
    for message in messages:
        # The body, and each attribute's name, type and value, as SQS counts a message's size.
        bytes_ = (
            len(message["Body"].encode())
            + sum(
                len(name) + len(str(value.get("DataType", ""))) + len(str(value.get("StringValue", "")))
                for name, value in message.get("MessageAttributes", {}).items()
            )
            + 100
        )  # the FirstSentTimestamp attribute the move may add
        if not batches or size + bytes_ > MAX_BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(message)
        size += bytes_
    return batches


def _delivery_error(message: Mapping[str, Any]) -> str:
    """EventBridge's error on a message it could not deliver; SNS puts none on its own."""
    attributes = message.get("MessageAttributes", {})
    parts = [
        str(attributes[name].get("StringValue", "")) for name in EVENTBRIDGE_ERROR_ATTRIBUTES if name in attributes
    ]
    return f" (EventBridge: {': '.join(parts)})" if parts else " (SNS or EventBridge could not deliver it)"


class DeadLetterQueue:
    """One of the stack's dead-letter queues, through one SQS client: the function's DLQ (its
    DeadLetterQueueUrl output), or the undelivered queue (UndeliveredQueueUrl: what SNS or
    EventBridge could not deliver to the notification queue; ``kind=UNDELIVERED_QUEUE``), or the
    finished-event publisher's on-failure queue (``kind=FINISHED_EVENTS_FAILED``: looked at, never
    redriven)."""

    def __init__(
        self,
        url: str,
        client: SQSClient,
        *,
        wait_s: int = 1,
        kind: QueueKind = FUNCTION_DLQ,
        table: StatusTable | None = None,
    ):
        self.url = url
        self.client = client
        self.wait_s = wait_s  # the long poll that confirms the queue has nothing more to show
        self.kind = kind
        self.table = table  # the status table: its rows tell a clash from a write outage

    @property
    def undelivered(self) -> bool:
        return self.kind.undelivered

    @classmethod
    def connect(
        cls,
        url: str | None = None,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        session: boto3.Session | None = None,
        kind: QueueKind = FUNCTION_DLQ,
    ) -> DeadLetterQueue:
        """``url`` defaults to the kind's variable (DLQ_URL, UNDELIVERED_URL); region, endpoint and
        credentials as boto3 finds them."""
        url = url or os.environ.get(kind.variable)
        if not url:
            raise DeadLetterQueueError(
                f"No {kind.title.lower()} given: pass {kind.option} or set {kind.variable} to the stack's "
                f"{kind.output} output."
            )
        try:
            client = (session or boto3.Session()).client(
                "sqs",
                region_name=region_name,
                endpoint_url=endpoint_url,
                config=Config(
                    connect_timeout=3, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 3}
                ),
            )
        except NoRegionError:
            raise DeadLetterQueueError(NO_REGION) from None
        except ProfileNotFound as error:
            raise DeadLetterQueueError(no_profile(error.kwargs["profile"])) from None
        return cls(url, client, kind=kind)

    # -- is it one? ------------------------------------------------------------------------------

    def refusal(self) -> str | None:
        """Why this queue is no dead-letter queue (None: it is one). A DLQ has no redrive policy of
        its own (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html),
        and the function's is listed by ListDeadLetterSourceQueues for its source queue."""
        harm = (
            "looking at a live queue raises each message's receive count and can push unprocessed "
            "notifications into its DLQ; pass --force to look anyway"
        )
        with self._explained(self.url):
            attributes = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["RedrivePolicy"])
            if attributes.get("Attributes", {}).get("RedrivePolicy"):
                return f"{self.url} has a dead-letter queue of its own, so it is a live queue: {harm}."
            if self.kind.sqs_dead_letter and not self.client.list_dead_letter_source_queues(QueueUrl=self.url).get(
                "queueUrls"
            ):
                return f"No queue uses {self.url} as its dead-letter queue: {harm}."
        return None

    def check(self, force: bool = False) -> None:
        """Raise NotADeadLetterQueue unless this is a dead-letter queue or ``force``."""
        reason = None if force else self.refusal()
        if reason:
            raise NotADeadLetterQueue(reason)

    def _explain(self, message: Mapping[str, Any], retention_days: float, now_ms: int) -> DeadLetter:
        """Why ``message`` is in this queue, as this queue's kind reads it."""
        return explain(
            message,
            retention_days=retention_days,
            now_ms=now_ms,
            undelivered=self.undelivered,
            stream_batches=self.kind.stream_batches,
            row_place=partial(_row_place, self.table) if self.table is not None and self.kind is FUNCTION_DLQ else None,
        )

    # -- looking ---------------------------------------------------------------------------------

    def look(self, max_messages: int | None = None, *, retention_days: float = DEFAULT_RETENTION_DAYS) -> Look:
        """Every message (or the first ``max_messages``) with its reason, and how many were not shown;
        all stay in the queue, visible again before this returns or raises."""
        seen: dict[str, dict[str, Any]] = {}
        held: dict[str, str] = {}  # message ID -> its latest receipt handle
        with self._explained(self.url):
            try:
                in_flight_before = self._counts()[1]
                for batch in self._receive_batches(max_messages, held):
                    fresh = [m for m in batch if m["MessageId"] not in seen]
                    if not fresh:
                        break
                    seen.update((m["MessageId"], m) for m in fresh)
                    if max_messages is not None and len(seen) >= max_messages:
                        break
                # Before showing them again: what is left visible was not read; what is hidden and
                # not ours is someone else's.
                visible, hidden = self._counts()
            finally:
                self._show_again(list(held.values()))
        now_ms = int(time.time() * 1000)
        letters = [self._explain(m, retention_days, now_ms) for m in list(seen.values())[:max_messages]]
        return Look(letters, more=visible, in_flight=max(in_flight_before, hidden - len(seen), 0))

    def _receive_batches(
        self, max_messages: int | None, held: dict[str, str], hide_s: int = LOOK_HIDE_S
    ) -> Iterator[list[dict[str, Any]]]:
        """Batches of up to ten, each hidden for ``hide_s``, until the queue has no more to show; each
        message's receipt handle is in ``held`` before an interrupt can land.

        Short polls while they bring messages. A short poll samples only some of SQS's servers, so
        when one comes back empty before as many messages as the queue counted were received, one
        long poll makes sure.
        """
        expected = self._counts()[0]
        count = 0
        while max_messages is None or count < max_messages:
            wanted = 10 if max_messages is None else min(10, max_messages - count)
            with _whole():
                batch = self._receive(wanted, hide_s, wait_s=0)
                if not batch and count < expected:
                    batch = self._receive(wanted, hide_s, wait_s=self.wait_s)
                held.update((m["MessageId"], m["ReceiptHandle"]) for m in batch)
            if not batch:
                return
            count += len(batch)
            yield batch

    def _counts(self) -> tuple[int, int]:
        """Visible and in-flight messages (SQS's approximate counts)."""
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def _receive(self, wanted: int, hide_s: int, wait_s: int) -> list[dict[str, Any]]:
        response = self.client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=wanted,
            VisibilityTimeout=hide_s,
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return [dict(m) for m in response.get("Messages", [])]

    def _show_again(self, handles: list[str]) -> None:
        with _whole():
            for start in range(0, len(handles), 10):
                self._show_page(handles[start : start + 10])

    def _show_page(self, handles: list[str]) -> None:
        self.client.change_message_visibility_batch(
            QueueUrl=self.url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0} for i, handle in enumerate(handles)
            ],
        )

    # -- redriving -------------------------------------------------------------------------------

    def source_queue(self) -> str:
        """The queue whose redrive policy names this DLQ (the stack has one: NotificationQueue)."""
        with self._explained(self.url):
            urls = self.client.list_dead_letter_source_queues(QueueUrl=self.url).get("queueUrls", [])
        if len(urls) != 1:
            found = ", ".join(urls) if urls else "none"
            raise DeadLetterQueueError(
                f"Cannot tell which queue to redrive {self.url} to (queues using it as their DLQ: {found}): "
                "pass --to URL."
            )
        return str(urls[0])

    def redrive(
        self,
        max_messages: int | None = None,
        *,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        destination: str | None = None,
        everything: bool = False,
    ) -> RedriveResult:
        """Move the DLQ's messages that can apply (or all, ``everything``; at most ``max_messages``)
        back to the queue they came from (the undelivered queue's: to ``destination``, the
        notification queue they never reached). Raises RedriveInterrupted on an interrupt."""
        if self.kind.stream_batches:
            raise DeadLetterQueueError(
                f"{self.kind.title} holds Lambda's descriptions of stream batches, not notifications: nothing "
                "to redrive. `transcoder-status events republish --since DURATION` puts the jobs' events again."
            )
        if self.undelivered:
            if not destination:
                raise DeadLetterQueueError(
                    "The undelivered queue is no queue's DLQ: pass --to with the stack's NotificationQueueUrl "
                    "output (or set NOTIFICATION_QUEUE_URL)."
                )
            # SQS's move task takes only a DLQ back to its source queue: these move by hand.
            note = f"from the undelivered queue to the notification queue: {BY_HAND_NOTE}"
            return self._move_by_hand(destination, max_messages, retention_days, everything, note)
        destination = destination or self.source_queue()
        if max_messages is not None:  # a move task takes the whole queue
            note = f"a bounded redrive (--max): {BY_HAND_NOTE}"
            return self._move_by_hand(destination, max_messages, retention_days, everything, note)
        letters = self.look(retention_days=retention_days).letters
        if not letters:
            self._arn(destination)  # a wrong --to is named even when there is nothing to move
            return RedriveResult(0, destination, "none", "the dead-letter queue is empty")
        if not all(letter.applies(everything) for letter in letters):  # a move task would take them too
            note = f"some messages stay: the others {BY_HAND_NOTE}"
            return self._move_by_hand(destination, None, retention_days, everything, note)
        try:
            with self._explained(self.url):
                return self._move_task(destination)
        except DeadLetterQueueError as error:
            if not isinstance(error.__cause__, ClientError) or not _unsupported(error.__cause__):
                raise
            note = f"this endpoint has no StartMessageMoveTask ({_code(error.__cause__)}): {BY_HAND_NOTE}"
        return self._move_by_hand(destination, None, retention_days, everything, note)

    def _move_task(self, destination: str) -> RedriveResult:
        source_arn = self._arn(self.url)
        handle = self.client.start_message_move_task(SourceArn=source_arn, DestinationArn=self._arn(destination))[
            "TaskHandle"
        ]
        try:
            return self._follow(handle, source_arn, destination)
        except KeyboardInterrupt as stop:
            note = f"the move task {handle} goes on in SQS: follow it with `aws sqs list-message-move-tasks`"
            raise RedriveInterrupted(
                RedriveResult(0, destination, "StartMessageMoveTask", note, interrupted=True)
            ) from stop

    def _follow(self, handle: str, source_arn: str, destination: str) -> RedriveResult:
        deadline = time.monotonic() + MOVE_TASK_WAIT_S
        while True:
            tasks = self.client.list_message_move_tasks(SourceArn=source_arn, MaxResults=10).get("Results", [])
            # Only this task's own entry: another operator's task on the queue says nothing of this one.
            # Just started, it may not be listed yet: it runs all the same, so wait for it as for a running one.
            task: Mapping[str, Any] = next((t for t in tasks if t.get("TaskHandle") == handle), {})
            moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
            status = str(task.get("Status", "RUNNING"))
            if status in _MOVE_DONE:
                note = (
                    None if status == "COMPLETED" else f"the move task ended {status}: {task.get('FailureReason', '')}"
                )
                result = RedriveResult(moved, destination, "StartMessageMoveTask", note)
                result.interrupted = status != "COMPLETED"
                return result
            if time.monotonic() >= deadline:
                result = RedriveResult(
                    moved,
                    destination,
                    "StartMessageMoveTask",
                    f"still moving after {MOVE_TASK_WAIT_S} s (task {handle})",
                )
                result.interrupted = True
                return result
            time.sleep(1)  # SQS has no way to wait on a task: ask again

    def _move_by_hand(
        self, destination: str, max_messages: int | None, retention_days: float, everything: bool, note: str
    ) -> RedriveResult:
        self._arn(destination)  # a wrong --to fails here, before anything is taken
        result = RedriveResult(0, destination, "receive, send, delete", note)
        left: dict[str, DeadLetter] = {}
        held: dict[str, str] = {}  # message ID -> receipt handle, of what is hidden and not moved
        pending: list[dict[str, Any]] = []  # sent, not yet deleted
        try:
            with self._explained(self.url):
                for batch in self._receive_batches(max_messages, held):
                    now_ms = int(time.time() * 1000)
                    letters = [(m, self._explain(m, retention_days, now_ms)) for m in batch]
                    if all(letter.message_id in left for _, letter in letters):
                        break  # only what stays behind comes back: nothing more to move
                    left.update((letter.message_id, letter) for _, letter in letters if not letter.applies(everything))
                    send = [m for m, letter in letters if letter.applies(everything)]
                    for chunk in _within_batch_size(send):
                        with self._explained(destination), _whole():
                            pending, unsent = self._send(destination, chunk)
                        result.failed.extend(m["MessageId"] for m in unsent)
                        self._finish_move(pending, result, held)
                        pending = []
        except KeyboardInterrupt as stop:
            result.interrupted = True
            raise RedriveInterrupted(result) from stop
        finally:
            # Sent before an interrupt or a failure: delete now, so the move is not a copy.
            try:
                self._finish_move(pending, result, held)
            except (ClientError, BotoCoreError):
                result.possibly_duplicated.extend(m["MessageId"] for m in pending if m["MessageId"] in held)
            finally:
                with self._explained(self.url):
                    self._show_again(list(held.values()))
            result.left = list(left.values())
        return result

    def _finish_move(self, sent: list[dict[str, Any]], result: RedriveResult, held: dict[str, str]) -> None:
        """Delete what was sent from the DLQ; a delete SQS refuses leaves a possible duplicate."""
        for start in range(0, len(sent), 10):
            chunk = sent[start : start + 10]
            response = self.client.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            refused = {int(item["Id"]) for item in response.get("Failed", [])}
            for index, message in enumerate(chunk):
                held.pop(message["MessageId"], None)
                if index in refused:
                    result.possibly_duplicated.append(message["MessageId"])
                else:
                    result.moved += 1
        sent.clear()

    def _send(
        self, destination: str, messages: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        entries: list[Any] = []
        for index, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            attributes = dict(message.get("MessageAttributes", {}))
            if FIRST_SENT_ATTRIBUTE not in attributes and len(attributes) < 10:  # SQS takes ten at most
                sent = message.get("Attributes", {}).get("SentTimestamp")
                if sent:
                    attributes[FIRST_SENT_ATTRIBUTE] = {"DataType": "Number", "StringValue": str(sent)}
            if attributes:
                entry["MessageAttributes"] = {
                    name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
                    for name, value in attributes.items()
                }
            entries.append(entry)
        response = self.client.send_message_batch(QueueUrl=destination, Entries=entries)
        ok = {int(item["Id"]) for item in response.get("Successful", [])}
        return [m for i, m in enumerate(messages) if i in ok], [m for i, m in enumerate(messages) if i not in ok]

    def _arn(self, url: str) -> str:
        with self._explained(url):
            attributes = self.client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        return str(attributes["QueueArn"])

    @contextmanager
    def _explained(self, url: str) -> Iterator[None]:
        """SQS failures as one line that says what to check, naming the queue ``url``."""
        try:
            yield
        except DeadLetterQueueError:
            raise
        except ClientError as error:
            code, message = _code(error), error.response.get("Error", {}).get("Message", "")
            if code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"):
                check = (
                    f"check {self.kind.variable} (or {self.kind.option}) against the stack's {self.kind.output} output"
                    if url == self.url
                    else "check --to (or NOTIFICATION_QUEUE_URL) against the stack's NotificationQueueUrl output"
                )
                raise DeadLetterQueueError(f"Queue {url} does not exist: {check}, and the region.") from error
            if code in ("AccessDenied", "AccessDeniedException"):
                raise DeadLetterQueueError(
                    f"Not allowed ({code}: {message}): docs/operations.md (Permissions) says what these commands need."
                ) from error
            raise DeadLetterQueueError(f"SQS refused: {code}: {message}") from error
        except NoCredentialsError as error:
            raise DeadLetterQueueError(NO_CREDENTIALS) from error
        except EndpointConnectionError as error:
            raise DeadLetterQueueError(
                f"Cannot reach SQS at {self.client.meta.endpoint_url}: check the network, the region, and "
                "AWS_ENDPOINT_URL or --endpoint-url."
            ) from error
        except BotoCoreError as error:
            raise DeadLetterQueueError(f"Cannot use queue {url}: {error}") from error


_STOPPING_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@contextmanager
def _whole() -> Iterator[None]:
    """A call and its bookkeeping as one step: an interrupt waits until both are done (blocked, then
    delivered), so a receive's handles are never lost and a restore never stops half-way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _unsupported(error: ClientError) -> bool:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return _code(error) in _UNSUPPORTED or status == 501


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
