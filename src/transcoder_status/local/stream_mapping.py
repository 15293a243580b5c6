"""A local stand-in for Lambda's DynamoDB stream event source mapping (the publisher's trigger).

moto keeps a table's stream but runs no function, so the local stack runs the mapping from its own
properties in template.yaml (``provision`` builds a ``LocalStreamTrigger``), as AWS documents it
(https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html):

- **Reading**: the stream on the emulator (DescribeStream, GetShardIterator, GetRecords) from
  ``StartingPosition``, a shard after its parent, each shard's records in order, one batch of a
  shard at a time (ParallelizationFactor 1); up to ``BatchSize`` records, gathered for up to
  ``MaximumBatchingWindowInSeconds``.
- **Filtering**: ``FilterCriteria`` matched by moto's own EventBridge pattern matcher
  (``moto.events.models.EventPattern``) against the record as Lambda shapes it; a record passes when
  it matches any pattern. Records that pass none are dropped and never invoke the function.
- **Invoking**: the function in an execution environment (a process of its own, see
  ``environment``), whose log (Powertools JSON lines, EMF metrics) goes to one file.
- **Failures**: with ReportBatchItemFailures, the batch is checkpointed up to the lowest sequence
  number reported failed and retried from it; an invocation that fails (the handler raised, its
  environment died or timed out) fails the whole batch, which is split in two first when
  ``BisectBatchOnFunctionError`` is set (a split is not a retry). After ``MaximumRetryAttempts``
  retries, Lambda's invocation record describing the batch goes to the on-failure queue and the
  shard goes on past it (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html).

Where it differs from AWS: one thread serves the stream's shards in turn (moto's stream has one
shard); records never age out (moto keeps every record, so ``MaximumRecordAgeInSeconds`` is not
applied); the checkpoint is kept in memory; failed batches are retried after 0.1 s, not with
Lambda's backoff. It idles 0.25 s between empty polls, as Lambda polls a shard four times a second.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from moto.events.models import EventPattern

from .environment import EnvironmentPool
from .provision import LocalStreamTrigger

POLL_INTERVAL_S = 0.25
SHARDS_REFRESH_S = 10.0  # how often the stream's shards are listed again (DynamoDB opens new ones)
RETRY_PAUSE_S = 0.1

Invoke = Callable[[dict[str, Any]], Any]


@dataclass
class StreamStats:
    records: int = 0  # read from the stream
    matched: int = 0  # passed the filters
    invocations: int = 0
    retries: int = 0  # invocations of a batch (or of its rest) already tried
    invocation_errors: int = 0  # the handler raised, or its environment died or timed out
    sent_to_on_failure: int = 0  # records described in the on-failure queue

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def stream_event_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record (as boto3 returns it) shaped as Lambda shapes it for the function:
    ``ApproximateCreationDateTime`` in epoch seconds, and ``eventSourceARN`` the stream."""
    shaped = json.loads(json.dumps(dict(record), default=_epoch_seconds))
    shaped["eventSourceARN"] = stream_arn
    return dict(shaped)


def _epoch_seconds(value: Any) -> Any:
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def passes(patterns: list[EventPattern], record: Mapping[str, Any]) -> bool:
    """Lambda's filtering: no filter passes every record, else a record must match one."""
    return not patterns or any(pattern.matches_event(dict(record)) for pattern in patterns)  # type: ignore[arg-type]


class StreamMapping:
    """Runs one ``LocalStreamTrigger`` until ``stop()``; ``start()`` runs it (again) in a thread.

    ``invoke`` stands in for the function (tests pass the handler in-process); by default it runs
    in execution environments whose log goes to ``log_path``.
    """

    def __init__(
        self,
        trigger: LocalStreamTrigger,
        *,
        log_path: Path | None = None,
        invoke: Invoke | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        poll_interval_s: float = POLL_INTERVAL_S,
    ):
        self.trigger = trigger
        self.patterns = [EventPattern.load(text) for text in trigger.filters]
        self.stats = StreamStats()
        self.on_error = on_error
        self.poll_interval_s = poll_interval_s
        self.environments = EnvironmentPool(trigger.function, log_path) if invoke is None else None
        self._invoke: Invoke = invoke or self._invoke_environment
        self._streams: Any = None
        self._sqs: Any = None
        self._checkpoints: dict[str, str] = {}  # shard -> last sequence number done with
        self._closed_shards: set[str] = set()
        self._iterators: dict[str, str] = {}
        self._attempts: dict[str, int] = {}  # shard -> retries of the batch at its checkpoint
        self._limits: dict[str, int] = {}  # shard -> batch size after a bisection
        self._shard_list: list[dict[str, Any]] = []
        self._shards_listed = 0.0
        self._closed_since_listed = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress = threading.Condition()
        self._passes = 0
        self._idle_pass = 0

    def _invoke_environment(self, event: dict[str, Any]) -> Any:
        if self.environments is None:
            raise RuntimeError("the stream mapping invokes a function given to it, not an environment")
        return self.environments.invoke(event)

    def start(self) -> StreamMapping:
        if self._thread is not None:
            raise RuntimeError("the stream mapping is already running")
        self._stopping.clear()
        self._streams = boto3.client("dynamodbstreams")  # created here: client creation is not thread-safe
        self._sqs = boto3.client("sqs")
        self._thread = threading.Thread(target=self._run, name=f"stream-{self.trigger.function.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop reading; an invocation under way finishes first. A batch not yet done with is not
        checkpointed, so a restart reads it again (at least once)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self._thread = None
        self._iterators = {}
        if self.environments is not None:
            self.environments.close()

    def wait_caught_up(self, timeout: float) -> bool:
        """Wait until a pass over the stream begun after this call found nothing new: everything the
        stream held when this was called has been read and handled. False on timeout."""
        with self._progress:
            begun = self._passes
            return self._progress.wait_for(lambda: self._idle_pass > begun, timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._progress:
                self._passes += 1
                current = self._passes
            try:
                read = self._pass()
            except Exception as error:  # keep polling, as the mapping does; report what happened
                self._report(error)
                self._stopping.wait(1)
                continue
            if not read and not self._stopping.is_set():
                with self._progress:
                    self._idle_pass = current
                    self._progress.notify_all()
                self._stopping.wait(self.poll_interval_s)

    def _report(self, error: BaseException) -> None:
        if self.on_error is not None:
            self.on_error(error)

    def _shards(self) -> list[dict[str, Any]]:
        fresh = time.monotonic() - self._shards_listed < SHARDS_REFRESH_S
        if self._shard_list and fresh and not self._closed_since_listed:
            return self._shard_list
        self._closed_since_listed = False
        self._shards_listed = time.monotonic()
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": self.trigger.stream_arn}
        while True:
            description = self._streams.describe_stream(**request)["StreamDescription"]
            shards.extend(description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            request["ExclusiveStartShardId"] = last
        self._shard_list = shards
        return shards

    def _pass(self) -> int:
        """One batch from every shard that may be read (a child only once its parent is done)."""
        shards = self._shards()
        known = {shard["ShardId"] for shard in shards}
        read = 0
        for shard in shards:
            shard_id = shard["ShardId"]
            parent = shard.get("ParentShardId")
            if shard_id in self._closed_shards or (parent in known and parent not in self._closed_shards):
                continue
            read += self._read_batch(shard_id)
            if self._stopping.is_set():
                break
        return read

    def _iterator(self, shard_id: str) -> str:
        if shard_id in self._iterators:
            return self._iterators[shard_id]
        request: dict[str, Any] = {"StreamArn": self.trigger.stream_arn, "ShardId": shard_id}
        if shard_id in self._checkpoints:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=self._checkpoints[shard_id])
        else:
            request["ShardIteratorType"] = self.trigger.starting_position
        iterator = str(self._streams.get_shard_iterator(**request)["ShardIterator"])
        self._iterators[shard_id] = iterator
        return iterator

    def _read_batch(self, shard_id: str) -> int:
        """Gather one batch (size and window), filter it, invoke on it, then checkpoint."""
        iterator: str | None = self._iterator(shard_id)
        limit = self._limits.get(shard_id, self.trigger.batch_size)
        records: list[dict[str, Any]] = []
        deadline: float | None = None
        while iterator is not None and len(records) < limit:
            response = self._streams.get_records(ShardIterator=iterator, Limit=limit - len(records))
            records.extend(response.get("Records", []))
            iterator = response.get("NextShardIterator")
            if deadline is None:
                deadline = time.monotonic() + self.trigger.batching_window_s
            if not records or time.monotonic() >= deadline or self._stopping.is_set():
                break
            if not response.get("Records"):
                self._stopping.wait(min(self.poll_interval_s, max(0.0, deadline - time.monotonic())))
        if records:
            self.stats.records += len(records)
            shaped = [stream_event_record(record, self.trigger.stream_arn) for record in records]
            matched = [record for record in shaped if passes(self.patterns, record)]
            done = self._handle(shard_id, matched) if matched else None
            if done == "stopped":
                return len(records)
            if done == "retry":
                self._iterators.pop(shard_id, None)  # read again from the checkpoint
                self._stopping.wait(RETRY_PAUSE_S)
                return len(records)
            self._checkpoints[shard_id] = str(records[-1]["dynamodb"]["SequenceNumber"])
            self._attempts.pop(shard_id, None)
            self._limits.pop(shard_id, None)
        if iterator is None:
            self._closed_shards.add(shard_id)  # a closed shard, read to its end: its children may start
            self._closed_since_listed = True
            self._iterators.pop(shard_id, None)
        else:
            self._iterators[shard_id] = iterator
        return len(records)

    def _handle(self, shard_id: str, batch: list[dict[str, Any]]) -> str | None:
        """Invoke on a batch of matched records. None: done with it (checkpoint past the batch read);
        "retry": the checkpoint moved to before the first record to retry; "stopped"."""
        self.stats.invocations += 1
        if self._attempts.get(shard_id) or shard_id in self._limits:
            self.stats.retries += 1
        else:
            self.stats.matched += len(batch)
        try:
            response = self._invoke({"Records": batch})
            failed_at = self._first_failure(response, batch)
        except Exception as error:
            self.stats.invocation_errors += 1
            self._report(error)
            if self.trigger.bisect_on_error and len(batch) > 1:
                self._limits[shard_id] = max(1, len(batch) // 2)  # a split is not a retry
                return "retry"
            failed_at = 0
        if failed_at is None:
            return None
        if failed_at:
            self._checkpoints[shard_id] = str(batch[failed_at - 1]["dynamodb"]["SequenceNumber"])
        attempts = self._attempts.get(shard_id, 0)
        if 0 <= self.trigger.maximum_retry_attempts <= attempts:
            self._send_to_on_failure(shard_id, batch[failed_at:], attempts + 1)
            return None
        self._attempts[shard_id] = attempts + 1
        return "stopped" if self._stopping.is_set() else "retry"

    def _first_failure(self, response: Any, batch: list[dict[str, Any]]) -> int | None:
        """The index of the lowest record the response reports failed, None if none. An answer naming
        a record not in the batch (or malformed) fails the whole batch, as Lambda treats it."""
        if not self.trigger.report_batch_item_failures:
            return None
        if not isinstance(response, dict) or not response.get("batchItemFailures"):
            return None
        numbers = [str(record["dynamodb"]["SequenceNumber"]) for record in batch]
        failed = {str(item.get("itemIdentifier")) for item in response["batchItemFailures"]}
        if not failed <= set(numbers):
            return 0
        return min(numbers.index(number) for number in failed)

    def _send_to_on_failure(self, shard_id: str, records: list[dict[str, Any]], invocations: int) -> None:
        """Lambda's invocation record for a stream batch it gave up on (not the records themselves)."""
        self.stats.sent_to_on_failure += len(records)
        if not self.trigger.on_failure_queue_url:
            return
        first, last = records[0], records[-1]
        body = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.trigger.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first["dynamodb"].get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": _iso(last["dynamodb"].get("ApproximateCreationDateTime")),
                "batchSize": len(records),
                "streamArn": self.trigger.stream_arn,
            },
        }
        self._sqs.send_message(QueueUrl=self.trigger.on_failure_queue_url, MessageBody=json.dumps(body))


def _iso(epoch_seconds: Any) -> str | None:
    if epoch_seconds is None:
        return None
    return datetime.fromtimestamp(float(epoch_seconds), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
