"""A local stand-in for the template's EventBridge Pipes: DynamoDB stream -> filter -> input template -> bus.

moto stores a Pipe but does not run it, so the local stack runs it, as it runs the function's SQS
trigger, from the Pipe's own properties in template.yaml (``provision`` builds a ``LocalPipe`` of each):

- **Source**: it reads the table's stream on the emulator (DescribeStream, GetShardIterator,
  GetRecords) from ``StartingPosition``, a shard after its parent, each shard's records in order.
  A record becomes the event the Pipe sees, as Lambda and Pipes shape a DynamoDB stream record
  (``pipe_event``).
- **Batching**: up to ``BatchSize`` records a batch, gathered for up to
  ``MaximumBatchingWindowInSeconds``; one batch of a shard at a time (``ParallelizationFactor`` 1).
- **Filtering**: ``FilterCriteria``, with EventBridge's pattern matching on the event: a record passes
  when it matches any of the patterns. Only the subset the template uses is implemented, and any other
  pattern is refused when the stack is provisioned (``compile_pattern``): nested objects (every key
  must match), arrays of alternatives, exact values (strings, numbers, booleans, null: type and value
  equal; an array in the event matches when one of its elements does) and ``{"exists": true|false}``
  on a leaf (a field whose parent is absent does not exist). As the Pipes documentation says, the
  metadata fields (``eventName``, ``eventID``, ``awsRegion`` ...) cannot be filtered on.
- **Input template**: Pipes' ``<$.path>`` syntax (``InputTemplate``): dot names, ``[n]`` or ``.n``
  indices, and the reserved variables ``<aws.pipes.pipe-arn>``, ``pipe-name``, ``source-arn``,
  ``target-arn``, ``event.ingestion-time`` and ``event.json``. Inside a JSON string (quoted) a value is
  inserted JSON-escaped: a string's characters, another value's JSON text; outside one (unquoted) the
  value's JSON (a string set's values become a JSON array). The result of a JSON template must be JSON.
- **Target**: the event bus, by PutEvents (``Source``, ``DetailType`` and ``Resources`` from
  ``EventBridgeEventBusParameters``, the rendered template as ``Detail``). A batch is checkpointed only
  once every event of it is on the bus: entries PutEvents refuses are put again, a failed call puts
  the batch's remaining events again (so an event may be put twice: at least once), up to
  ``MaximumRetryAttempts`` (-1: until it succeeds), with backoff.

Where it differs from AWS: a JSON path that does not resolve fails the batch (AWS documents no result
for it; table.py writes every attribute the templates read on a finished row, and this makes drift
loud); one thread per Pipe serves the stream's shards in turn (moto's stream has a single shard);
records never age out (``MaximumRecordAgeInSeconds`` is not applied: moto keeps every record);
there is no dead-letter queue (a ``DeadLetterConfig`` is refused), and the checkpoint is kept in
memory, so a runner stopped and started again resumes where it stopped, while a new one starts from
``StartingPosition``. It idles 0.25 s between empty polls, as Pipes polls a shard four times a second.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import boto3

POLL_INTERVAL_S = 0.25  # Pipes polls a DynamoDB stream shard four times a second
SHARDS_REFRESH_S = 10.0  # how often the stream's shards are listed again (DynamoDB opens new ones)
MAX_FILTERS = 5
MAX_BUS_BATCH = 10  # PutEvents takes ten entries; so does a Pipe with an event bus target
RETRY_DELAYS_S = (0.1, 0.2, 0.5, 1.0, 2.0)

# Fields a Pipe adds to a record, which its filters cannot use (Pipes documentation, "filtering").
UNFILTERABLE_FIELDS = frozenset(
    {
        "awsRegion",
        "eventSource",
        "eventSourceARN",
        "eventVersion",
        "eventID",
        "eventName",
        "invokeIdentityArn",
        "eventSourceKey",
    }
)


class PatternError(ValueError):
    """A filter pattern the local Pipe does not understand (or EventBridge would refuse)."""


class TemplateError(ValueError):
    """An input template the local Pipe cannot read, or cannot render for an event."""


@dataclass(frozen=True)
class LocalPipe:
    """An ``AWS::Pipes::Pipe`` from a DynamoDB stream to an event bus, as the template configures it."""

    name: str
    arn: str
    stream_arn: str
    target_arn: str  # the event bus
    event_source: str
    detail_type: str
    starting_position: str = "TRIM_HORIZON"
    batch_size: int = 10
    batching_window_s: float = 0.0
    maximum_retry_attempts: int = -1  # -1: until it succeeds
    filters: tuple[str, ...] = ()  # the patterns, as written
    input_template: str | None = None
    resources: tuple[str, ...] = ()


# -- the event the Pipe sees ---------------------------------------------------------------------


def pipe_event(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record (as boto3 returns it) shaped as Pipes and Lambda shape a stream record:
    ``ApproximateCreationDateTime`` in epoch seconds, and ``eventSourceARN`` the stream."""
    event = json.loads(json.dumps(dict(record), default=_epoch_seconds))
    event["eventSourceARN"] = stream_arn
    return dict(event)


def _epoch_seconds(value: Any) -> Any:
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# -- filters: EventBridge pattern matching, the subset the template uses -------------------------


def compile_pattern(text: str) -> dict[str, Any]:
    """A filter's ``Pattern``, parsed and checked; ``PatternError`` names what is not supported."""
    try:
        pattern = json.loads(text)
    except ValueError as error:
        raise PatternError(f"the pattern is not JSON: {error}") from None
    if not isinstance(pattern, dict) or not pattern:
        raise PatternError("a pattern is a non-empty JSON object")
    for name in pattern:
        if name in UNFILTERABLE_FIELDS:
            raise PatternError(f"{name!r} cannot be used in a Pipe's filter (a field the Pipe adds)")
    _check_pattern(pattern, "")
    return pattern


def _check_pattern(pattern: Mapping[str, Any], where: str) -> None:
    for name, rule in pattern.items():
        path = f"{where}.{name}" if where else name
        if name.startswith("$"):
            raise PatternError(f"{path}: operator {name!r} is not supported by the local Pipe")
        if isinstance(rule, dict):
            if not rule:
                raise PatternError(f"{path}: an empty object matches nothing")
            _check_pattern(rule, path)
        elif isinstance(rule, list):
            if not rule:
                raise PatternError(f"{path}: an empty array of values matches nothing")
            for matcher in rule:
                if isinstance(matcher, dict):
                    if set(matcher) != {"exists"} or not isinstance(matcher["exists"], bool):
                        raise PatternError(
                            f"{path}: {json.dumps(matcher)} is not supported by the local Pipe "
                            '(exact values and {"exists": true|false} are)'
                        )
                elif isinstance(matcher, list):
                    raise PatternError(f"{path}: a value of a pattern cannot be an array")
        else:
            raise PatternError(f"{path}: a pattern's value is an object or an array, not {json.dumps(rule)}")


_MISSING = object()


def pattern_matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """EventBridge's matching of a (compiled) pattern against an event: every key must match."""
    fields_ = event if isinstance(event, dict) else {}
    for name, rule in pattern.items():
        value = fields_.get(name, _MISSING)
        if isinstance(rule, dict):
            if not pattern_matches(rule, value):
                return False
        elif not _leaf_matches(rule, value):
            return False
    return True


def _leaf_matches(matchers: Sequence[Any], value: Any) -> bool:
    if value is _MISSING or isinstance(value, dict):
        values: list[Any] = []  # an object is not a leaf: no value here
    elif isinstance(value, list):
        values = [v for v in value if not isinstance(v, dict | list)]
    else:
        values = [value]
    for matcher in matchers:
        if isinstance(matcher, dict):
            if matcher["exists"] == bool(values):
                return True
        elif any(_same(matcher, v) for v in values):
            return True
    return False


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool) or expected is None or actual is None:
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(expected) == float(actual)
    return type(expected) is type(actual) and bool(expected == actual)


def passes(filters: Sequence[Mapping[str, Any]], event: Mapping[str, Any]) -> bool:
    """No filter passes everything; otherwise an event passes when it matches any filter."""
    return not filters or any(pattern_matches(pattern, event) for pattern in filters)


# -- the input template ----------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"<(\$[^<>\s]*|aws\.pipes\.[A-Za-z.-]+)>")
_PATH_STEP = re.compile(r"\.([A-Za-z0-9_/-]+)|\[(\d+)\]")
_RESERVED = frozenset(
    {
        "aws.pipes.pipe-arn",
        "aws.pipes.pipe-name",
        "aws.pipes.source-arn",
        "aws.pipes.target-arn",
        "aws.pipes.event.ingestion-time",
        "aws.pipes.event.json",
    }
)


@dataclass(frozen=True)
class _Placeholder:
    start: int
    end: int
    name: str  # a path ($...) or a reserved variable
    steps: tuple[str | int, ...]
    quoted: bool  # inside a JSON string of the template


class InputTemplate:
    """A Pipe's ``InputTemplate``, parsed once; ``render`` fills it for one event."""

    def __init__(self, text: str):
        self.text = text
        self.is_json = text.lstrip()[:1] in ("{", "[")
        self.placeholders = tuple(self._parse(text))

    def _parse(self, text: str) -> Iterator[_Placeholder]:
        in_string = escaped = False
        index = 0
        while index < len(text):
            char = text[index]
            if in_string and escaped:
                escaped = False
            elif in_string and char == "\\":
                escaped = True
            elif char == '"':
                in_string = not in_string
            elif char == "<":
                match = _PLACEHOLDER.match(text, index)
                if match is not None:
                    yield self._placeholder(match, quoted=in_string and self.is_json)
                    index = match.end()
                    continue
            index += 1

    @staticmethod
    def _placeholder(match: re.Match[str], quoted: bool) -> _Placeholder:
        name = match.group(1)
        if name.startswith("aws.pipes."):
            if name not in _RESERVED:
                raise TemplateError(f"<{name}> is not a reserved variable the local Pipe knows")
            if name == "aws.pipes.event.json" and quoted:
                raise TemplateError("<aws.pipes.event.json> is not escaped: use it only as a JSON value")
            return _Placeholder(match.start(), match.end(), name, (), quoted)
        steps: list[str | int] = []
        position = 1
        while position < len(name):
            step = _PATH_STEP.match(name, position)
            if step is None:
                raise TemplateError(
                    f"<{name}>: the local Pipe reads dot names and [n] indices only (no wildcards or filters)"
                )
            steps.append(step.group(1) if step.group(1) is not None else int(step.group(2)))
            position = step.end()
        if not steps:
            raise TemplateError(f"<{name}> names no field")
        return _Placeholder(match.start(), match.end(), name, tuple(steps), quoted)

    def paths(self) -> list[tuple[str | int, ...]]:
        """The JSON paths the template reads, as steps."""
        return [p.steps for p in self.placeholders if p.name.startswith("$")]

    def render(self, event: Mapping[str, Any], variables: Mapping[str, str]) -> str:
        parts: list[str] = []
        last = 0
        for placeholder in self.placeholders:
            parts.append(self.text[last : placeholder.start])
            value = self._value(placeholder, event, variables)
            if placeholder.quoted:
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                parts.append(json.dumps(text, ensure_ascii=False)[1:-1])  # escaped for a JSON string
            elif self.is_json:
                parts.append(json.dumps(value, ensure_ascii=False))
            else:
                parts.append(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
            last = placeholder.end
        parts.append(self.text[last:])
        rendered = "".join(parts)
        if self.is_json:
            try:
                json.loads(rendered)
            except ValueError as error:
                raise TemplateError(f"the rendered template is not JSON: {error}") from None
        return rendered

    @staticmethod
    def _value(placeholder: _Placeholder, event: Mapping[str, Any], variables: Mapping[str, str]) -> Any:
        if placeholder.name == "aws.pipes.event.json":
            return event
        if not placeholder.steps:
            return variables[placeholder.name]
        value: Any = event
        for step in placeholder.steps:
            if isinstance(value, dict) and isinstance(step, str) and step in value:
                value = value[step]
            elif isinstance(value, list) and (isinstance(step, int) or step.isdigit()) and int(step) < len(value):
                value = value[int(step)]
            else:
                raise TemplateError(f"<{placeholder.name}> does not resolve in this event")
        return value


# -- the runner ------------------------------------------------------------------------------------


@dataclass
class PipeStats:
    records: int = 0  # read from the stream
    matched: int = 0  # passed the filters
    batches: int = 0  # batches of matched records delivered
    events_put: int = 0  # PutEvents entries accepted (an event put twice counts twice)
    retries: int = 0  # failed attempts to deliver a batch (refused entries, failed calls, template errors)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


PutEvents = Callable[[list[dict[str, Any]]], Mapping[str, Any]]


class PipeRunner:
    """Runs one ``LocalPipe`` until ``stop()``; ``start()`` runs it (again) in a thread."""

    def __init__(
        self,
        pipe: LocalPipe,
        *,
        put_events: PutEvents | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        poll_interval_s: float = POLL_INTERVAL_S,
    ):
        self.pipe = pipe
        self.filters = [compile_pattern(text) for text in pipe.filters]
        if len(self.filters) > MAX_FILTERS:
            raise PatternError(f"a Pipe takes at most {MAX_FILTERS} filters")
        self.template = InputTemplate(pipe.input_template) if pipe.input_template is not None else None
        self.stats = PipeStats()
        self.on_error = on_error
        self.poll_interval_s = poll_interval_s
        self._put_events = put_events
        self._streams: Any = None
        self._checkpoints: dict[str, str] = {}  # shard -> last sequence number handled
        self._closed_shards: set[str] = set()
        self._iterators: dict[str, str] = {}
        self._shard_list: list[dict[str, Any]] = []
        self._shards_listed = 0.0
        self._closed_since_listed = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress = threading.Condition()
        self._passes = 0  # passes over the shards begun
        self._idle_pass = 0  # the last pass that found nothing new

    def start(self) -> PipeRunner:
        if self._thread is not None:
            raise RuntimeError("the pipe is already running")
        self._stopping.clear()
        self._streams = boto3.client("dynamodbstreams")  # created here: client creation is not thread-safe
        if self._put_events is None:
            events = boto3.client("events")
            self._put_events = lambda entries: events.put_events(Entries=entries)  # type: ignore[arg-type]
        self._thread = threading.Thread(target=self._run, name=f"pipe-{self.pipe.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop reading. A PutEvents call under way finishes; a batch not yet wholly on the bus is not
        checkpointed, so a restart reads it again (at least once)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self._thread = None
        self._iterators = {}  # iterators expire; the checkpoints say where to resume

    def wait_caught_up(self, timeout: float) -> bool:
        """Wait until a pass over the stream begun after this call found nothing new: everything the
        stream held when this was called has been read, filtered and delivered. False on timeout."""
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
            except Exception as error:  # keep polling, as a Pipe does; report what happened
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
        """The stream's shards, listed again every few seconds and whenever one was read to its end."""
        fresh = time.monotonic() - self._shards_listed < SHARDS_REFRESH_S
        if self._shard_list and fresh and not self._closed_since_listed:
            return self._shard_list
        self._closed_since_listed = False
        self._shards_listed = time.monotonic()
        self._shard_list = self._describe()
        return self._shard_list

    def _describe(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": self.pipe.stream_arn}
        while True:
            description = self._streams.describe_stream(**request)["StreamDescription"]
            shards.extend(description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            request["ExclusiveStartShardId"] = last

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
        request: dict[str, Any] = {"StreamArn": self.pipe.stream_arn, "ShardId": shard_id}
        if shard_id in self._checkpoints:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=self._checkpoints[shard_id])
        else:
            request["ShardIteratorType"] = self.pipe.starting_position
        iterator = str(self._streams.get_shard_iterator(**request)["ShardIterator"])
        self._iterators[shard_id] = iterator
        return iterator

    def _read_batch(self, shard_id: str) -> int:
        """Gather one batch (size and window), filter it, deliver it, then checkpoint past it."""
        iterator: str | None = self._iterator(shard_id)
        records: list[dict[str, Any]] = []
        deadline: float | None = None
        while iterator is not None and len(records) < self.pipe.batch_size:
            response = self._streams.get_records(ShardIterator=iterator, Limit=self.pipe.batch_size - len(records))
            records.extend(response.get("Records", []))
            iterator = response.get("NextShardIterator")
            if deadline is None:
                deadline = time.monotonic() + self.pipe.batching_window_s
            if not records or time.monotonic() >= deadline or self._stopping.is_set():
                break
            if not response.get("Records"):
                self._stopping.wait(min(self.poll_interval_s, max(0.0, deadline - time.monotonic())))
        if records:
            self.stats.records += len(records)
            events = [pipe_event(record, self.pipe.stream_arn) for record in records]
            matched = [event for event in events if passes(self.filters, event)]
            self.stats.matched += len(matched)
            if matched and not self._deliver(matched):
                return len(records)  # stopped before the batch was delivered: read it again next time
            self._checkpoints[shard_id] = str(records[-1]["dynamodb"]["SequenceNumber"])
        if iterator is None:
            self._closed_shards.add(shard_id)  # a closed shard, read to its end: its children may start
            self._closed_since_listed = True
            self._iterators.pop(shard_id, None)
        else:
            self._iterators[shard_id] = iterator
        return len(records)

    def _deliver(self, events: list[dict[str, Any]]) -> bool:
        """Put one event per record on the bus; True once all are on it, False if stopped first."""
        attempt = 0
        pending: list[dict[str, Any]] | None = None
        while True:
            try:
                if pending is None:
                    pending = [self._entry(event) for event in events]
                pending = self._put(pending)
                if not pending:
                    self.stats.batches += 1
                    return True
                raise RuntimeError(f"PutEvents refused {len(pending)} entr{'y' if len(pending) == 1 else 'ies'}")
            except Exception as error:
                self.stats.retries += 1
                self._report(error)
                attempt += 1
                if 0 <= self.pipe.maximum_retry_attempts < attempt:
                    return True  # retries exhausted: the batch is dropped (no DLQ locally)
                delay = RETRY_DELAYS_S[min(attempt - 1, len(RETRY_DELAYS_S) - 1)]
                if self._stopping.wait(delay):
                    return False

    def _put(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """PutEvents, ten at a time; the entries refused, to put again."""
        put_events = self._put_events
        if put_events is None:
            raise RuntimeError("the pipe is not started")
        refused: list[dict[str, Any]] = []
        for start in range(0, len(entries), MAX_BUS_BATCH):
            chunk = entries[start : start + MAX_BUS_BATCH]
            results = put_events(chunk).get("Entries", [])
            for entry, result in zip(chunk, results, strict=True):
                if result.get("ErrorCode"):
                    refused.append(entry)
                else:
                    self.stats.events_put += 1
        return refused

    def _entry(self, event: dict[str, Any]) -> dict[str, Any]:
        variables = {
            "aws.pipes.pipe-arn": self.pipe.arn,
            "aws.pipes.pipe-name": self.pipe.name,
            "aws.pipes.source-arn": self.pipe.stream_arn,
            "aws.pipes.target-arn": self.pipe.target_arn,
            "aws.pipes.event.ingestion-time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        detail = json.dumps(event) if self.template is None else self.template.render(event, variables)
        entry: dict[str, Any] = {
            "Source": self.pipe.event_source,
            "DetailType": self.pipe.detail_type,
            "Detail": detail,
            "EventBusName": self.pipe.target_arn,
        }
        if self.pipe.resources:
            entry["Resources"] = list(self.pipe.resources)
        return entry


@dataclass
class PipeRunners:
    """Every Pipe of a stack, run together."""

    runners: list[PipeRunner] = field(default_factory=list)

    @classmethod
    def of(cls, pipes: Sequence[LocalPipe], on_error: Callable[[BaseException], None] | None = None) -> PipeRunners:
        return cls([PipeRunner(pipe, on_error=on_error) for pipe in pipes])

    def start(self) -> PipeRunners:
        for runner in self.runners:
            runner.start()
        return self

    def stop(self) -> None:
        for runner in self.runners:
            runner.stop()

    def wait_caught_up(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(runner.wait_caught_up(max(0.0, deadline - time.monotonic())) for runner in self.runners)

    @property
    def stats(self) -> PipeStats:
        total = PipeStats()
        for runner in self.runners:
            for name, value in runner.stats.as_dict().items():
                setattr(total, name, getattr(total, name) + value)
        return total


# -- a consumer ------------------------------------------------------------------------------------

FINISHED_PATTERN = {"source": ["transcoder-status"], "detail-type": ["Transcoding Job Finished"]}


def subscribe_queue(bus_name: str, name: str, pattern: Mapping[str, Any] = FINISHED_PATTERN) -> str:
    """What a consumer deploys: a queue, and a rule on the bus that sends it the matching events
    (the queue's policy lets only that rule send). Returns the queue URL."""
    sqs = boto3.client("sqs")
    events = boto3.client("events")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_arn = events.put_rule(Name=name, EventBusName=bus_name, EventPattern=json.dumps(pattern))["RuleArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    events.put_targets(Rule=name, EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return str(url)


def drain_queue(url: str) -> list[dict[str, Any]]:
    """Every event waiting in a subscribed queue (each deleted once read), in the order received."""
    sqs = boto3.client("sqs")
    received: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return received
        received.extend(json.loads(message["Body"]) for message in messages)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
