"""A local stand-in for Lambda's SQS event source mapping.

It does what the mapping does: long-polls the queue, gathers a batch (batch size and batching
window from the template), builds the event exactly as Lambda shapes it, invokes the function,
deletes only the records not reported in ``batchItemFailures``, and leaves the rest to come back
after their visibility timeout, so that the queue's own redrive policy moves them to the DLQ.

Like the mapping, it runs up to ``MaximumConcurrency`` invocations at once: as many lanes (threads),
each receiving a batch and invoking it in a free execution environment (a process of its own, see
``environment``), so that two batches holding records of one job really race. An invocation that
fails in any way (the handler raised, its environment died or timed out, an invalid response)
fails its whole batch. ``stop()`` lets every batch already received finish and be settled, so the
poller can be stopped and started again without losing or stranding a message. SQS errors strand
nothing either: a batch in hand is invoked even if a later receive fails, and a delete or release
that fails is tried again, since a record left received waits out the queue's visibility timeout.
So are the entries a batch delete or release reports failed without raising (``Failed``), unless
SQS says the fault is the sender's; a record whose delete still fails is logged and comes back
after its visibility timeout, as on Lambda.

One deliberate difference: a failed record's visibility timeout can be shortened
(``retry_after_s``), so that a redrive that takes minutes on AWS takes seconds here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import boto3

from .environment import EnvironmentPool
from .messages import sqs_record
from .provision import LocalTrigger

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

# Without MaximumConcurrency, the mapping starts with five concurrent batches (locally it stays there).
DEFAULT_CONCURRENCY = 5
# Tries of a delete or release (each with botocore's own retries), and the pause before the next.
SETTLE_ATTEMPTS = 3
SETTLE_PAUSE_S = 0.2


class InvalidBatchResponseError(RuntimeError):
    """The handler's response names records that were not in the batch: Lambda fails the batch."""


class UnsettledError(RuntimeError):
    """A delete or release left records unsettled: they come back after their visibility timeout."""


@dataclass
class PollerStats:
    batches: int = 0
    records: int = 0
    deleted: int = 0
    failed: int = 0
    invocation_errors: int = 0  # the handler raised, its environment died or timed out, or an invalid response
    poll_errors: int = 0  # SQS calls that failed
    unsettled: int = 0  # records a delete or release still failed for after its tries

    @classmethod
    def total(cls, parts: Iterable[PollerStats]) -> PollerStats:
        parts = list(parts)
        return cls(**{f.name: sum(getattr(part, f.name) for part in parts) for f in fields(cls)})


class EventSourcePoller:
    """Polls one queue for one function until ``stop()``; ``start()`` runs it (again) in threads."""

    def __init__(
        self,
        trigger: LocalTrigger,
        *,
        retry_after_s: int | None = 1,
        wait_time_s: int = 1,
        on_error: Callable[[BaseException], None] | None = None,
    ):
        self.trigger = trigger
        self.concurrency = trigger.maximum_concurrency or DEFAULT_CONCURRENCY
        self.retry_after_s = retry_after_s
        self.wait_time_s = wait_time_s
        self.on_error = on_error
        self.environments = EnvironmentPool(trigger.function)
        self._lane_stats: list[PollerStats] = []  # each lane counts alone: no lock, no lost update
        self._lanes: list[threading.Thread] = []
        self._stopping = threading.Event()

    @property
    def stats(self) -> PollerStats:
        """Counts summed over every lane this poller has run."""
        return PollerStats.total(self._lane_stats)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> EventSourcePoller:
        if self._lanes:
            raise RuntimeError("the poller is already running")
        self._stopping.clear()
        for number in range(self.concurrency):
            stats = PollerStats()
            self._lane_stats.append(stats)
            sqs = boto3.client("sqs")  # one per lane, created here: client creation is not thread-safe
            name = f"poller-{self.trigger.function.name}-{number}"
            self._lanes.append(threading.Thread(target=self._poll, args=(sqs, stats), name=name, daemon=True))
        for lane in self._lanes:
            lane.start()
        return self

    def stop(self) -> None:
        """Stop polling. Batches already received are still invoked and settled (an invocation is
        bounded by the function's timeout), then the environments end."""
        self._stopping.set()
        for lane in self._lanes:
            lane.join()
        self._lanes = []
        self.environments.close()

    def _poll(self, sqs: SQSClient, stats: PollerStats) -> None:
        while not self._stopping.is_set():
            try:
                messages = self._receive_batch(sqs, stats)
                if messages:
                    self._invoke(sqs, stats, messages)
            except Exception as error:  # keep polling, as the mapping does; report what happened
                self._report(stats, error)
                self._stopping.wait(1)

    def _report(self, stats: PollerStats, error: BaseException) -> None:
        stats.poll_errors += 1
        if self.on_error is not None:
            self.on_error(error)

    def _receive_batch(self, sqs: SQSClient, stats: PollerStats) -> list[dict[str, Any]]:
        """Long-poll for a first record, then gather until the batch is full or the window closes.
        Once a record is received, the batch is returned even when stopping: it must be invoked."""
        batch: list[dict[str, Any]] = []
        deadline: float | None = None
        while len(batch) < self.trigger.batch_size and not self._stopping.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            wait = self.wait_time_s if deadline is None else min(self.wait_time_s, int(deadline - now))
            try:
                response = sqs.receive_message(
                    QueueUrl=self.trigger.queue_url,
                    MaxNumberOfMessages=min(10, self.trigger.batch_size - len(batch)),
                    WaitTimeSeconds=wait,
                    MessageSystemAttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
            except Exception as error:
                if not batch:
                    raise
                self._report(stats, error)  # the records in hand are invoked now, not stranded
                break
            received: list[Any] = list(response.get("Messages", []))
            batch.extend(received)
            if not batch:
                return batch  # an empty long poll: let the caller check whether to stop
            if deadline is None:
                deadline = time.monotonic() + self.trigger.batching_window_s
            if not received and wait == 0:
                self._stopping.wait(0.05)  # a short poll found nothing: do not spin
        return batch

    def _invoke(self, sqs: SQSClient, stats: PollerStats, messages: list[dict[str, Any]]) -> None:
        """Invoke the function on one batch in a free environment; delete what succeeded."""
        event = {"Records": [self._record(message) for message in messages]}
        stats.batches += 1
        stats.records += len(messages)
        try:
            failed = self._failed_ids(self.environments.invoke(event), {m["MessageId"] for m in messages})
        except Exception:
            failed = {m["MessageId"] for m in messages}  # a failed invocation fails the whole batch
            stats.invocation_errors += 1
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        stats.failed += len(failed)
        for chunk in _tens(succeeded):
            stats.deleted += self._settle(stats, sqs.delete_message_batch, chunk)
        if self.retry_after_s is not None:
            for chunk in _tens([m for m in messages if m["MessageId"] in failed]):
                self._settle(stats, sqs.change_message_visibility_batch, chunk, VisibilityTimeout=self.retry_after_s)

    def _settle(self, stats: PollerStats, call: Callable[..., Any], chunk: list[dict[str, Any]], **fields: Any) -> int:
        """Delete or release a chunk's records (``fields`` go into each entry); returns how many SQS
        settled. Each chunk is settled on its own, so one failure never keeps the others from being
        settled. A call that fails is tried again, and so are the entries its answer reports failed
        unless SQS blames the sender (an invalid receipt handle fails every time). What is left
        unsettled is reported: those records come back after the queue's visibility timeout."""
        messages = {str(number): message for number, message in enumerate(chunk)}
        pending = set(messages)
        refused: set[str] = set()  # failed for the sender's fault: not tried again
        why: dict[str, str] = {}
        settled = 0
        for attempt in range(SETTLE_ATTEMPTS):
            entries = [{"Id": i, "ReceiptHandle": messages[i]["ReceiptHandle"], **fields} for i in sorted(pending)]
            try:
                answer = call(QueueUrl=self.trigger.queue_url, Entries=entries)
            except Exception as error:
                self._report(stats, error)
                why.update(dict.fromkeys(pending, f"{type(error).__name__}: {error}"))
            else:
                settled += len(answer.get("Successful", []))
                failures = {entry["Id"]: entry for entry in answer.get("Failed", []) if entry["Id"] in pending}
                why.update({i: f"{entry.get('Code')}: {entry.get('Message')}" for i, entry in failures.items()})
                refused |= {i for i, entry in failures.items() if entry.get("SenderFault")}
                pending = set(failures) - refused
            if not pending:
                break
            if attempt + 1 < SETTLE_ATTEMPTS:
                time.sleep(SETTLE_PAUSE_S * 2**attempt)
        unsettled = sorted(pending | refused)
        if unsettled:
            stats.unsettled += len(unsettled)
            if self.on_error is not None:
                records = "; ".join(f"{messages[i]['MessageId']} ({why[i]})" for i in unsettled)
                self.on_error(
                    UnsettledError(
                        f"{call.__name__} left {len(unsettled)} record(s) unsettled, back after the queue's "
                        f"visibility timeout: {records}"
                    )
                )
        return settled

    def _failed_ids(self, response: Any, batch_ids: set[str]) -> set[str]:
        if not self.trigger.report_batch_item_failures:
            return set()
        if not isinstance(response, dict) or not response.get("batchItemFailures"):
            return set()
        failed = {item.get("itemIdentifier") for item in response["batchItemFailures"]}
        if not failed <= batch_ids:
            raise InvalidBatchResponseError(f"batchItemFailures names unknown records: {failed - batch_ids}")
        return {str(message_id) for message_id in failed}

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        return sqs_record(
            message["Body"],
            sent_ms=int(attributes.get("SentTimestamp", 0)),
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            receive_count=int(attributes.get("ApproximateReceiveCount", 1)),
            first_receive_ms=int(attributes.get("ApproximateFirstReceiveTimestamp", 0)) or None,
            sender_id=attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
            queue_arn=self.trigger.queue_arn,
            message_attributes={
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value.get("DataType"),
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
        )


def _tens(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """SQS batch calls take at most ten entries."""
    return [messages[start : start + 10] for start in range(0, len(messages), 10)]
