"""The status table: item layout, the conditional write, and the reads, all in one place.

One item per job, keyed by ``jobId``. The handler writes through ``StatusTable.apply``; the client
reads through ``StatusTable.get`` and ``StatusTable.get_many``, and listings query the status index
through ``StatusTable.query_status``. Attribute names, the index's keys and the condition expression
live here alone, so the writer and its readers cannot drift apart.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from .notification import JobDetails, Notification, OutputSummary
from .status import JobStatus
from .transitions import JobUpdate, StoredState, clashes, order_key, progress_to_merge

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

T = TypeVar("T")

# Attribute names: the item layout.
JOB_ID = "jobId"
STATUS = "status"
FINISHED = "finished"
STATE = "state"
SOURCE = "source"
PIPELINE_ID = "pipelineId"
QUEUE = "queue"
ACCOUNT = "account"  # MediaConvert's: the account that ran the job; set once known, never removed
REGION = "region"  # MediaConvert's: the Region that ran the job; likewise
OUTPUTS = "outputs"
ERROR_CODE = "errorCode"
ERROR_MESSAGE = "errorMessage"
WARNINGS = "warnings"
PROGRESS = "progress"
PHASE = "phase"
PROGRESS_KEY = "progressKey"  # the order key of the progress report the row holds
USER_METADATA = "userMetadata"
CREATED_AT = "createdAt"
UPDATED_AT = "updatedAt"
NOTIFIED_AT = "notifiedAt"
REPAIRED_AT = "repairedAt"  # set while the row's state comes from MediaConvert's answer, not an event
DISCOVERED_AT = "discoveredAt"  # the stuck check found the job in MediaConvert's list before any event; kept
ORDER_KEY = "orderKey"
EXPIRES_AT = "expiresAt"  # the table's TTL attribute
STATUS_SHARD = "statusShard"  # the status index's partition key: "RUNNING#5"

# The status index (template.yaml's JobStatusTable.GlobalSecondaryIndexes): "jobs with status S
# updated between T1 and T2" is a Query, newest first, on partition key statusShard = "S#k" and sort
# key updatedAt (ISO 8601 UTC with milliseconds, so text order is time order).
#
# Why shards: with the status alone as the key, every running job would share one key, "RUNNING".
# Each progress report moves its job's index entry (updatedAt is the sort key: a delete and a put,
# two index writes), so 1,000 jobs reporting every 2 s are ~1,000 writes/s on one key, the most one
# partition takes; a throttled index throttles the table's own writes, and since updatedAt only grows,
# DynamoDB cannot relieve the key by splitting it on its sort key either. The shard k, a hash of the
# job ID modulo STATUS_SHARDS, spreads every status over 8 keys (~125 writes/s each in that example)
# and never changes for a job, so a job's writes stay on one key per status.
#
# What it costs: a listing queries every shard of every status it asks for and merges the answers
# newest first: one Query per shard and status for its first page (8 for one status, 32 for all
# four), then one more Query per further page of a shard (listing.LISTING_PAGE rows each); the first
# pages go out 8 at a time, in parallel. Changing STATUS_SHARDS needs every row rewritten: rows keep
# their shard.
STATUS_INDEX = "status-updatedAt"
STATUS_SHARDS = 8
# What the index holds of a row (INCLUDE projection): a listing's columns, not outputs, warnings or
# user metadata, so the index entry a progress report rewrites stays small (under 1 KB but for a
# long error message). ``status --json JOB`` reads the whole row.
LISTING_ATTRIBUTES = (
    JOB_ID,
    STATUS,
    FINISHED,
    STATE,
    SOURCE,
    PIPELINE_ID,
    QUEUE,
    ERROR_CODE,
    ERROR_MESSAGE,
    PROGRESS,
    PHASE,
    CREATED_AT,
    UPDATED_AT,
    NOTIFIED_AT,
)
FINISHED_AT = "finishedAt"  # the time the transcoder stamped on its terminal notification
PLAYLISTS = "playlists"  # manifests: MediaConvert's S3 URIs, Elastic Transcoder's keys (a list, in order)
OUTPUT_KEY_PREFIX = "outputKeyPrefix"  # Elastic Transcoder's: an output's S3 key is this prefix + its key
OUTPUTS_TRUNCATED = "outputsTruncated"  # true when outputs or playlists were left out to bound the item

# Size caps: with these, the largest possible item stays far below DynamoDB's 400 KB.
MAX_TEXT = 1024
MAX_WARNING_TEXT = 256
MAX_EVENT_ID = 256  # characters of a notification's own ID kept (SNS and EventBridge IDs are 36)
MAX_WARNINGS_PER_NOTIFICATION = 10
MAX_WARNINGS = 100
MERGE_ATTEMPTS = 3  # tries of a warnings merge that other writers keep outrunning
MAX_METADATA_ENTRIES = 20
MAX_METADATA_TEXT = 256
# Bytes of outputs and playlists an item holds, each counted as JSON (UTF-8, escaped): a path is
# never cut (a cut S3 URI names a file that does not exist); the outputs past the budget are left
# out and the row says so (outputsTruncated). With the other caps the item stays under 200 KB.
MAX_OUTPUTS_BYTES = 150_000

DEFAULT_RETENTION_DAYS = 30

# What reads fetch: a status poll (finished(), job_status()) only the first; a progress display more.
STATUS_ATTRIBUTES = (JOB_ID, STATUS, FINISHED)
PROGRESS_ATTRIBUTES = (*STATUS_ATTRIBUTES, STATE, PROGRESS, PHASE)
ALL_ATTRIBUTES = None


class WriteOutcome(Enum):
    """What the state write did to the row."""

    APPLIED = "applied"  # the row is now the winner's
    DUPLICATE = "duplicate"  # the row already held this very notification
    STALE = "stale"  # the row held a later notification, or a terminal one
    # The row is another account's or Region's job with the same ID: nothing written (see README.md)
    CLASH = "clash"


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: the state write's outcome, and what was merged besides."""

    outcome: WriteOutcome
    warnings_merged: int = 0
    progress_merged: bool = False
    # Warnings the row lacked and had room for, given up after MERGE_ATTEMPTS refused merges.
    warnings_dropped: int = 0
    # CLASH's: where the row's job ran (the winner's own place is in the update).
    row_account: str | None = None
    row_region: str | None = None


class StoredOrder(NamedTuple):
    """What the state write's condition reads of a row (``StatusTable.stored_order``)."""

    order_key: str | None
    finished: bool
    account: str | None
    region: str | None


class WriteDeadlineError(TimeoutError):
    """The invocation's deadline came before the whole update was written; SQS redelivers it."""


def _check(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise WriteDeadlineError("not written before the invocation's deadline")


class TableNotConfiguredError(RuntimeError):
    """No table name was given and TABLE_NAME is not set."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRow(JobDetails):
    """One job's row, as the client sees it: the details of the notification applied, and times."""

    job_id: str
    status: JobStatus
    finished: bool
    state: str | None = None
    source: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    notified_at: str | None = None
    repaired_at: str | None = None
    finished_at: str | None = None  # the terminal notification's own time; None while running
    discovered_at: str | None = None  # when the stuck check wrote its first row (no event had come)


def status_shard(status: JobStatus, job_id: str) -> str:
    """The status index's partition key of a job with this status: "RUNNING#5"."""
    return f"{status.value}#{zlib.crc32(job_id.encode()) % STATUS_SHARDS}"


def iso_time(epoch_seconds: float) -> str:
    """A time as the table stores it (updatedAt, createdAt): text order is time order."""
    return _iso(epoch_seconds)


def table_name_from_env(table_name: str | None = None) -> str:
    name = table_name or os.environ.get("TABLE_NAME")
    if not name:
        raise TableNotConfiguredError(
            "No status table given: pass table_name=... (or --table) or set TABLE_NAME to the "
            "TableName output of the deployed stack."
        )
    return name


class StatusTable:
    """The status table, through one DynamoDB client (thread-safe, so one per process)."""

    def __init__(self, name: str, client: DynamoDBClient, retention_days: int = DEFAULT_RETENTION_DAYS):
        self.name = name
        self.client = client
        self.retention_days = retention_days

    # -- the writes --------------------------------------------------------------------------

    def apply(self, notification: Notification, now: float | None = None) -> WriteResult:
        """Write one notification (see ``write``)."""
        return self.write(JobUpdate.of(fit_to_item(notification)), now)

    def write(self, update: JobUpdate, now: float | None = None, deadline: float | None = None) -> WriteResult:
        """Write what one batch says of one job; never read-then-write.

        First the state write: one conditional UpdateItem that makes the row the winner's if the
        winner outranks what the row holds (a refusal is not an error: the row holds this
        notification or a later one). A winner that says where its job ran (account, Region) is
        also refused by a row that says another place: CLASH, and nothing merged. Then, only if the
        update carries warnings or a progress report the row lacks (known from the row's old
        image), a conditional merge of each.
        ``deadline`` (a ``time.monotonic()`` value): no merge starts after it (WriteDeadlineError).
        """
        now = time.time() if now is None else now
        # The old image is needed only to tell what is left to merge.
        wants_old = bool(update.warnings) or (update.progress is not None and update.winner.progress is None)
        key = order_key(update.winner)
        try:
            response = self._update(
                *_state_update(update.winner, key, now, self.retention_days),
                return_old=wants_old,
            )
            stored = _stored_state(response.get("Attributes", {}))
            outcome = WriteOutcome.APPLIED
        except self.client.exceptions.ConditionalCheckFailedException as refused:
            # The refused row, as ReturnValuesOnConditionCheckFailure=ALL_OLD returns it:
            # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html
            item: Mapping[str, Any] = refused.response.get("Item", {})  # type: ignore[assignment]
            place = _string(item, ACCOUNT), _string(item, REGION)
            if clashes(update.winner, *place):
                return WriteResult(WriteOutcome.CLASH, row_account=place[0], row_region=place[1])
            stored = _stored_state(item)
            outcome = WriteOutcome.DUPLICATE if stored.order_key == key else WriteOutcome.STALE
        progress = progress_to_merge(stored, update, winner_written=outcome is WriteOutcome.APPLIED)
        progress_merged = progress is not None and self._merge_progress(progress, now, deadline)
        merged, dropped = self._merge_warnings(update.job_id, update.warnings, stored, now, deadline)
        return WriteResult(outcome, merged, progress_merged, dropped)

    def _merge_progress(self, report: Notification, now: float, deadline: float | None) -> bool:
        names, values, sets, removes = _progress_assignments(report)
        names.update({"#k": JOB_ID, "#u": UPDATED_AT})
        values[":u"] = {"S": _iso(now)}
        expression = "SET " + ", ".join([*sets, "#u = :u"]) + (" REMOVE " + ", ".join(removes) if removes else "")
        later = f"#{PROGRESS_KEY} < :{PROGRESS_KEY}"
        condition = f"attribute_exists(#k) AND (attribute_not_exists(#{PROGRESS_KEY}) OR {later})"
        _check(deadline)
        try:
            self._update(report.job_id, expression, condition, names, values)
        except self.client.exceptions.ConditionalCheckFailedException:
            return False  # the row holds a later report
        return True

    def _merge_warnings(
        self, job_id: str, candidates: tuple[str, ...], stored: StoredState, now: float, deadline: float | None
    ) -> tuple[int, int]:
        """Add the warnings the row lacks, as many as fit under the cap; returns how many were
        added, and how many that fitted were given up after MERGE_ATTEMPTS refusals.

        The condition holds the cap exactly: the set may have at most MAX_WARNINGS - n members
        before n are added. A refusal (another writer added some) brings the row's set back, and
        the rest is tried again against it.
        """

        def missing(held: frozenset[str]) -> tuple[str, ...]:
            return tuple(w for w in candidates if w not in held)[: max(0, MAX_WARNINGS - len(held))]

        held = stored.warnings
        for _ in range(MERGE_ATTEMPTS):
            adding = missing(held)
            if not adding:
                return 0, 0
            _check(deadline)
            try:
                self._update(
                    job_id,
                    "ADD #w :w SET #u = :u",
                    "attribute_exists(#k) AND (attribute_not_exists(#w) OR size(#w) <= :limit)",
                    {"#w": WARNINGS, "#k": JOB_ID, "#u": UPDATED_AT},
                    {
                        ":w": {"SS": list(adding)},
                        ":limit": {"N": str(MAX_WARNINGS - len(adding))},
                        ":u": {"S": _iso(now)},
                    },
                )
                return len(adding), 0
            except self.client.exceptions.ConditionalCheckFailedException as refused:
                held = _stored_state(refused.response.get("Item", {})).warnings  # type: ignore[arg-type]
        return 0, len(missing(held))  # other writers kept outrunning this one: the handler reports it

    def _update(
        self,
        job_id: str,
        expression: str,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
        *,
        return_old: bool = False,
    ) -> Mapping[str, Any]:
        return self.client.update_item(
            TableName=self.name,
            Key={JOB_ID: {"S": job_id}},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_OLD" if return_old else "NONE",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    # -- the reads ---------------------------------------------------------------------------

    def stored_order(self, job_id: str) -> StoredOrder | None:
        """What the state write's condition reads of the row (its order key, finished flag and
        place), or None."""
        item = self.client.get_item(
            TableName=self.name,
            Key={JOB_ID: {"S": job_id}},
            ConsistentRead=True,
            **_projection((ORDER_KEY, FINISHED, ACCOUNT, REGION)),
        ).get("Item")
        if item is None:
            return None
        finished = bool(item.get(FINISHED, {}).get("BOOL", False))
        return StoredOrder(_string(item, ORDER_KEY), finished, _string(item, ACCOUNT), _string(item, REGION))

    def get(
        self, job_id: str, *, consistent: bool = True, attributes: Sequence[str] | None = STATUS_ATTRIBUTES
    ) -> JobRow | None:
        """One job's row (None before its first notification): ``attributes`` only, or all with None."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "Key": {JOB_ID: {"S": job_id}},
            "ConsistentRead": consistent,
        }
        if attributes is not None:
            request.update(_projection(attributes))
        item = self.client.get_item(**request).get("Item")
        return None if item is None else row_from_item(item)

    def get_many(
        self, job_ids: Sequence[str], *, consistent: bool = True, attributes: Sequence[str] | None = STATUS_ATTRIBUTES
    ) -> tuple[list[JobRow], list[str]]:
        """One BatchGetItem for up to 100 jobs: the rows found, and the job IDs left unprocessed.

        The caller owns the retry of unprocessed keys (with backoff), so it can also bound it.
        """
        items, unprocessed = self.get_many_items(job_ids, consistent=consistent, attributes=attributes)
        return [row_from_item(item) for item in items], unprocessed

    def get_many_items(
        self, job_ids: Sequence[str], *, consistent: bool = True, attributes: Sequence[str] | None = ALL_ATTRIBUTES
    ) -> tuple[list[Mapping[str, Any]], list[str]]:
        """``get_many``, the items as the table holds them: with the attributes a JobRow leaves out
        (the status index's key, the expiry)."""
        request: dict[str, Any] = {
            "Keys": [{JOB_ID: {"S": job_id}} for job_id in job_ids],
            "ConsistentRead": consistent,
        }
        if attributes is not None:
            request.update(_projection(attributes))
        response: dict[str, Any] = dict(self.client.batch_get_item(RequestItems={self.name: request}))  # type: ignore[dict-item]
        unprocessed = response.get("UnprocessedKeys", {}).get(self.name, {}).get("Keys", [])
        return response.get("Responses", {}).get(self.name, []), [str(key[JOB_ID]["S"]) for key in unprocessed]

    def query_status(
        self,
        status: JobStatus,
        shard: int,
        *,
        since: str | None = None,
        until: str | None = None,
        limit: int = 100,
        start: Mapping[str, Any] | None = None,
        attributes: Sequence[str] | None = LISTING_ATTRIBUTES,
    ) -> tuple[list[JobRow], Mapping[str, Any] | None]:
        """One Query of one shard of the status index, newest first: rows updated in
        [``since``, ``until``] (times as ``iso_time`` writes them), and the key to continue from.

        The index is eventually consistent: a row written a moment ago may not be listed yet.
        """
        names = {"#p": STATUS_SHARD}
        if since is not None or until is not None:
            names["#u"] = UPDATED_AT
        values: dict[str, Any] = {":p": {"S": f"{status.value}#{shard}"}}
        condition = "#p = :p"
        if since is not None and until is not None:
            condition += " AND #u BETWEEN :since AND :until"
            values.update({":since": {"S": since}, ":until": {"S": until}})
        elif since is not None:
            condition += " AND #u >= :since"
            values[":since"] = {"S": since}
        elif until is not None:
            condition += " AND #u <= :until"
            values[":until"] = {"S": until}
        request: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if attributes is not None:
            projection = _projection(attributes)
            names.update(projection["ExpressionAttributeNames"])
            request["ProjectionExpression"] = projection["ProjectionExpression"]
        request["ExpressionAttributeNames"] = names
        if start is not None:
            request["ExclusiveStartKey"] = start
        response = self.client.query(**request)
        return [row_from_item(item) for item in response.get("Items", [])], response.get("LastEvaluatedKey")


def _projection(attributes: Iterable[str]) -> dict[str, Any]:
    names = {f"#a{i}": name for i, name in enumerate(attributes)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


# -- item <-> records ----------------------------------------------------------------------------


def fit_to_item(notification: Notification) -> Notification:
    """Cap every unbounded part, so that no notification can push the item past 400 KB."""
    if _fits(notification):
        return notification  # the usual case: nothing to cut, no copy to make
    outputs, playlists = bounded_outputs(
        tuple(replace(output, status=_cut(output.status, 64)) for output in notification.outputs),
        notification.playlists,
    )
    return replace(
        notification,
        outputs=outputs,
        playlists=playlists,
        outputs_truncated=notification.outputs_truncated
        or (len(outputs), len(playlists)) != (len(notification.outputs), len(notification.playlists)),
        output_key_prefix=_cut(notification.output_key_prefix, MAX_TEXT),
        error_code=_cut(notification.error_code, 64),
        error_message=_cut(notification.error_message, MAX_TEXT),
        pipeline_id=_cut(notification.pipeline_id, MAX_TEXT),
        queue=_cut(notification.queue, MAX_TEXT),
        phase=_cut(notification.phase, 64),
        state=notification.state[:64],
        event_id=notification.event_id[:MAX_EVENT_ID],
        # A string set holds neither duplicates nor empty strings, and a map no empty key.
        warnings=tuple(
            dict.fromkeys(w[:MAX_WARNING_TEXT] for w in notification.warnings[:MAX_WARNINGS_PER_NOTIFICATION] if w)
        ),
        user_metadata={
            key[:MAX_METADATA_TEXT]: value[:MAX_METADATA_TEXT]
            for key, value in list(notification.user_metadata.items())[:MAX_METADATA_ENTRIES]
            if key
        },
    )


def _fits(n: Notification) -> bool:
    capped = (
        (n.error_code, 64),
        (n.error_message, MAX_TEXT),
        (n.pipeline_id, MAX_TEXT),
        (n.queue, MAX_TEXT),
        (n.phase, 64),
    )
    return (
        all(text is None or len(text) <= limit for text, limit in capped)
        and len(n.state) <= 64
        and len(n.event_id) <= MAX_EVENT_ID
        and (n.output_key_prefix is None or len(n.output_key_prefix) <= MAX_TEXT)
        and all(o.status is None or len(o.status) <= 64 for o in n.outputs)
        and _outputs_bytes(n.outputs, n.playlists) <= MAX_OUTPUTS_BYTES
        and len(n.warnings) <= MAX_WARNINGS_PER_NOTIFICATION
        and len(set(n.warnings)) == len(n.warnings)
        and all(0 < len(w) <= MAX_WARNING_TEXT for w in n.warnings)
        and len(n.user_metadata) <= MAX_METADATA_ENTRIES
        and all(0 < len(k) <= MAX_METADATA_TEXT and len(v) <= MAX_METADATA_TEXT for k, v in n.user_metadata.items())
    )


def bounded_outputs(
    outputs: Sequence[OutputSummary], playlists: Sequence[str], budget: int = MAX_OUTPUTS_BYTES
) -> tuple[tuple[OutputSummary, ...], tuple[str, ...]]:
    """The playlists, then the outputs, in order, as many as fit ``budget`` bytes of JSON: whole
    paths, never cut ones. Playlists come first: a consumer reads a manifest before its parts."""
    kept_playlists, budget = _within(playlists, _json_size, budget)
    if len(kept_playlists) < len(playlists):
        return (), kept_playlists
    kept_outputs, _ = _within(outputs, _output_size, budget)
    return kept_outputs, kept_playlists


def _within(items: Sequence[T], size_of: Callable[[T], int], budget: int) -> tuple[tuple[T, ...], int]:
    """The first items that fit ``budget``, and what is left of it."""
    kept: list[T] = []
    for item in items:
        size = size_of(item)
        if size > budget:
            break
        kept.append(item)
        budget -= size
    return tuple(kept), budget


def _outputs_bytes(outputs: Sequence[OutputSummary], playlists: Sequence[str]) -> int:
    return sum(_output_size(o) for o in outputs) + sum(_json_size(p) for p in playlists)


# An output's fields besides its key, at most: {"uri":"","durationMs":..,"widthPx":..,"heightPx":..}
# with 15-digit numbers, and its status.
_OUTPUT_OVERHEAD = 160


def _output_size(output: OutputSummary) -> int:
    return _json_size(output.key) + _OUTPUT_OVERHEAD


def _json_size(text: str) -> int:
    """The text's bytes as JSON carries it: UTF-8, quotes and escapes included (>= its DynamoDB size)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 2
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8"))


def _cut(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _state_update(
    n: Notification, key: str, now: float, retention_days: int
) -> tuple[str, str, str, dict[str, str], dict[str, Any]]:
    """The state write: the row becomes this notification's, if it outranks what the row holds.

    Its progress report goes with it (a winner's report is the latest); warnings never do, since
    their cap must not decide whether the state advances.
    """
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets: list[str] = []
    removes: list[str] = []

    # Built for every job of every batch: plain string concatenation, each time computed once.
    def put(attribute: str, value: dict[str, Any] | None, if_not_exists: bool = False) -> None:
        name = "#" + attribute
        names[name] = attribute
        if value is None:
            removes.append(name)
            return
        placeholder = ":" + attribute
        values[placeholder] = value
        if if_not_exists:
            sets.append(f"{name} = if_not_exists({name}, {placeholder})")
        else:
            sets.append(f"{name} = {placeholder}")

    finished = n.finished
    written_at, event_at = {"S": _iso(now)}, {"S": _iso(n.event_time_ms / 1000)}
    put(STATUS, {"S": n.status.value})
    put(STATUS_SHARD, {"S": status_shard(n.status, n.job_id)})
    put(FINISHED, {"BOOL": finished})
    put(STATE, {"S": n.state})
    put(SOURCE, {"S": n.source})
    put(ORDER_KEY, {"S": key})
    put(NOTIFIED_AT, event_at)
    put(REPAIRED_AT, written_at if n.repaired else None)
    if n.discovered:
        put(DISCOVERED_AT, written_at, if_not_exists=True)
    put(UPDATED_AT, written_at)
    put(CREATED_AT, written_at, if_not_exists=True)
    put(EXPIRES_AT, {"N": str(int(now) + retention_days * 86400)})
    texts = {
        PIPELINE_ID: n.pipeline_id,
        QUEUE: n.queue,
        ERROR_CODE: n.error_code,
        ERROR_MESSAGE: n.error_message,
        OUTPUT_KEY_PREFIX: n.output_key_prefix,
        # Where a job ran never changes: a notification that does not say it keeps what the row holds.
        **{attribute: place for attribute, place in ((ACCOUNT, n.account), (REGION, n.region)) if place},
    }
    for attribute, text in texts.items():
        put(attribute, _text(text))
    put(OUTPUTS, {"L": [_output_value(o) for o in n.outputs]} if n.outputs else None)
    put(PLAYLISTS, {"L": [{"S": p} for p in n.playlists]} if n.playlists else None)
    put(OUTPUTS_TRUNCATED, {"BOOL": True} if n.outputs_truncated else None)
    put(FINISHED_AT, event_at if finished else None)
    put(USER_METADATA, {"M": {k: {"S": v} for k, v in n.user_metadata.items()}} if n.user_metadata else None)
    if n.progress is not None:
        progress_names, progress_values, progress_sets, progress_removes = _progress_assignments(n)
        names.update(progress_names)
        values.update(progress_values)
        sets.extend(progress_sets)
        removes.extend(progress_removes)

    names["#k"] = JOB_ID
    values[":false"] = {"BOOL": False}
    expression = "SET " + ", ".join(sets)
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    return n.job_id, expression, _state_condition(n), names, values


def _state_condition(n: Notification) -> str:
    """The state write's condition: the winner outranks the row and, where it says where its job
    ran, the row says no other place (its ``#account``/``:account`` are the SET's own)."""
    condition = f"(attribute_not_exists(#k) OR (#{FINISHED} = :false AND #{ORDER_KEY} < :{ORDER_KEY}))"
    for attribute, place in ((ACCOUNT, n.account), (REGION, n.region)):
        if place:
            condition += f" AND (attribute_not_exists(#{attribute}) OR #{attribute} = :{attribute})"
    return condition


def _progress_assignments(report: Notification) -> tuple[dict[str, str], dict[str, Any], list[str], list[str]]:
    """A progress report: percent, phase (removed when the report has none), and its order key."""
    names = {f"#{a}": a for a in (PROGRESS, PROGRESS_KEY, PHASE)}
    values: dict[str, Any] = {
        f":{PROGRESS}": {"N": str(report.progress)},
        f":{PROGRESS_KEY}": {"S": order_key(report)},
    }
    sets = [f"#{PROGRESS} = :{PROGRESS}", f"#{PROGRESS_KEY} = :{PROGRESS_KEY}"]
    removes: list[str] = []
    if report.phase:
        values[f":{PHASE}"] = {"S": report.phase}
        sets.append(f"#{PHASE} = :{PHASE}")
    else:
        removes.append(f"#{PHASE}")
    return names, values, sets, removes


def _text(value: str | None) -> dict[str, Any] | None:
    return None if not value else {"S": value}


def _output_value(output: OutputSummary) -> dict[str, Any]:
    fields: dict[str, Any] = {"key": {"S": output.key}}
    if output.status:
        fields["status"] = {"S": output.status}
    for name, number in (
        ("durationMs", output.duration_ms),
        ("width", output.width),
        ("height", output.height),
    ):
        if number is not None:
            fields[name] = {"N": str(number)}
    return {"M": fields}


def _stored_state(item: Mapping[str, Any]) -> StoredState:
    return StoredState(
        order_key=_string(item, ORDER_KEY),
        progress_key=_string(item, PROGRESS_KEY),
        warnings=frozenset(item.get(WARNINGS, {}).get("SS", ())),
    )


def _number(value: Mapping[str, Any] | None) -> int | None:
    return None if value is None else int(float(value["N"]))


def _string(item: Mapping[str, Any], attribute: str) -> str | None:
    """A text attribute; "" (how rows written before version 1 of the finished event stored an absent
    optional text on a finished row) reads as absent."""
    value = item.get(attribute)
    return None if value is None else str(value.get("S")) or None


def row_from_item(item: Mapping[str, Any]) -> JobRow:
    """A low-level DynamoDB item to a JobRow."""
    outputs = tuple(
        OutputSummary(
            key=str(fields["key"]["S"]),
            status=_string(fields, "status"),
            duration_ms=_number(fields.get("durationMs")),
            width=_number(fields.get("width")),
            height=_number(fields.get("height")),
        )
        for fields in (entry["M"] for entry in item.get(OUTPUTS, {}).get("L", []))
    )
    status = _string(item, STATUS)
    return JobRow(
        job_id=str(item[JOB_ID]["S"]),
        status=JobStatus(status) if status else JobStatus.RUNNING,
        finished=bool(item.get(FINISHED, {}).get("BOOL", False)),
        state=_string(item, STATE),
        source=_string(item, SOURCE),
        pipeline_id=_string(item, PIPELINE_ID),
        queue=_string(item, QUEUE),
        outputs=outputs,
        error_code=_string(item, ERROR_CODE),
        error_message=_string(item, ERROR_MESSAGE),
        warnings=tuple(sorted(item.get(WARNINGS, {}).get("SS", ()))),
        progress=_number(item.get(PROGRESS)),
        phase=_string(item, PHASE),
        user_metadata={k: str(v.get("S")) for k, v in item.get(USER_METADATA, {}).get("M", {}).items()},
        created_at=_string(item, CREATED_AT),
        updated_at=_string(item, UPDATED_AT),
        notified_at=_string(item, NOTIFIED_AT),
        repaired_at=_string(item, REPAIRED_AT),
        finished_at=_string(item, FINISHED_AT),
        discovered_at=_string(item, DISCOVERED_AT),
        playlists=tuple(str(entry["S"]) for entry in item.get(PLAYLISTS, {}).get("L", [])),
        output_key_prefix=_string(item, OUTPUT_KEY_PREFIX),
        outputs_truncated=bool(item.get(OUTPUTS_TRUNCATED, {}).get("BOOL", False)),
        account=_string(item, ACCOUNT),
        region=_string(item, REGION),
    )


def row_to_json(row: JobRow, attributes: Sequence[str] | None = None) -> dict[str, Any]:
    """A row as plain JSON, under the item's own attribute names (what the CLI prints); only
    ``attributes`` if given (a listing's rows hold LISTING_ATTRIBUTES, not outputs or warnings)."""
    whole = {
        JOB_ID: row.job_id,
        STATUS: row.status.value,
        FINISHED: row.finished,
        STATE: row.state,
        SOURCE: row.source,
        PIPELINE_ID: row.pipeline_id,
        QUEUE: row.queue,
        ACCOUNT: row.account,
        REGION: row.region,
        OUTPUTS: [
            {
                "key": output.key,
                "status": output.status,
                "durationMs": output.duration_ms,
                "width": output.width,
                "height": output.height,
            }
            for output in row.outputs
        ],
        PLAYLISTS: list(row.playlists),
        OUTPUT_KEY_PREFIX: row.output_key_prefix,
        OUTPUTS_TRUNCATED: row.outputs_truncated,
        ERROR_CODE: row.error_code,
        ERROR_MESSAGE: row.error_message,
        WARNINGS: list(row.warnings),
        PROGRESS: row.progress,
        PHASE: row.phase,
        USER_METADATA: row.user_metadata,
        CREATED_AT: row.created_at,
        UPDATED_AT: row.updated_at,
        NOTIFIED_AT: row.notified_at,
        REPAIRED_AT: row.repaired_at,
        FINISHED_AT: row.finished_at,
        DISCOVERED_AT: row.discovered_at,
    }
    return whole if attributes is None else {name: value for name, value in whole.items() if name in attributes}
