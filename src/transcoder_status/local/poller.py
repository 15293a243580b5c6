"""A local stand-in for Lambda's SQS event source mapping.

It does what the mapping does: long-polls the queue, gathers a batch (batch size and batching
window from the template), builds the event exactly as Lambda shapes it, invokes the handler,
deletes only the records not reported in ``batchItemFailures``, and leaves the rest to come back
after their visibility timeout, so that the queue's own redrive policy moves them to the DLQ.

One deliberate difference: a failed record's visibility timeout can be shortened
(``retry_after_s``), so that a redrive that takes minutes on AWS takes seconds here.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from .context import LocalContext
from .messages import sqs_record
from .provision import LocalFunction, LocalTrigger

Handler = Callable[[dict[str, Any], Any], Any]


class InvalidBatchResponseError(RuntimeError):
    """The handler's response names records that were not in the batch: Lambda fails the batch."""


@dataclass
class PollerStats:
    batches: int = 0
    records: int = 0
    deleted: int = 0
    failed: int = 0
    invocation_errors: int = 0  # the handler raised or answered with an invalid response
    poll_errors: int = 0  # SQS calls that failed


def load_handler(function: LocalFunction) -> Handler:
    """Import the function's handler with the function's environment, as its runtime would."""
    os.environ.update(function.environment)
    module_name, _, attribute = function.handler.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module_name), attribute)
    return handler


class EventSourcePoller:
    """Polls one queue for one function until ``stop()``; run it with ``start()`` (a thread)."""

    def __init__(
        self,
        trigger: LocalTrigger,
        handler: Handler,
        *,
        retry_after_s: int | None = 1,
        wait_time_s: int = 1,
        on_error: Callable[[BaseException], None] | None = None,
    ):
        self.trigger = trigger
        self.handler = handler
        self.retry_after_s = retry_after_s
        self.wait_time_s = wait_time_s
        self.on_error = on_error
        self.stats = PollerStats()
        self._sqs = boto3.client("sqs")
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poller-{trigger.function.name}", daemon=True)

    def start(self) -> EventSourcePoller:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                messages = self.receive_batch()
                if messages:
                    self.invoke(messages)
            except Exception as error:  # keep polling, as the mapping does; report what happened
                self.stats.poll_errors += 1
                if self.on_error is not None:
                    self.on_error(error)
                self._stopping.wait(1)

    def receive_batch(self) -> list[dict[str, Any]]:
        """Long-poll for a first record, then gather until the batch is full or the window closes."""
        batch: list[dict[str, Any]] = []
        deadline: float | None = None
        while len(batch) < self.trigger.batch_size and not self._stopping.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            wait = self.wait_time_s if deadline is None else min(self.wait_time_s, int(deadline - now))
            response = self._sqs.receive_message(
                QueueUrl=self.trigger.queue_url,
                MaxNumberOfMessages=min(10, self.trigger.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received: list[Any] = list(response.get("Messages", []))
            batch.extend(received)
            if not batch:
                return batch  # an empty long poll: let the caller check whether to stop
            if deadline is None:
                deadline = time.monotonic() + self.trigger.batching_window_s
            if not received and wait == 0:
                self._stopping.wait(0.05)  # a short poll found nothing: do not spin
        return batch

    def invoke(self, messages: list[dict[str, Any]]) -> set[str]:
        """Invoke the handler on one batch; delete what succeeded. Returns the failed message IDs."""
        event = {"Records": [self._record(message) for message in messages]}
        self.stats.batches += 1
        self.stats.records += len(messages)
        context = LocalContext(self.trigger.function.name, self.trigger.function.timeout_s)
        try:
            failed = self._failed_ids(self.handler(event, context), {m["MessageId"] for m in messages})
        except Exception:
            failed = {m["MessageId"] for m in messages}  # a raised error fails the whole batch
            self.stats.invocation_errors += 1
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        for chunk in _tens(succeeded):
            self._sqs.delete_message_batch(
                QueueUrl=self.trigger.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        self.stats.deleted += len(succeeded)
        self.stats.failed += len(failed)
        if self.retry_after_s is not None:
            for chunk in _tens([m for m in messages if m["MessageId"] in failed]):
                self._sqs.change_message_visibility_batch(
                    QueueUrl=self.trigger.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self.retry_after_s}
                        for i, m in enumerate(chunk)
                    ],
                )
        return failed

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
