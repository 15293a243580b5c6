"""The status table: item layout, the conditional write, and the reads, all in one place.

One item per job, keyed by ``jobId``. The handler writes through ``StatusTable.apply``; the client
reads through ``StatusTable.get`` and ``StatusTable.get_many``. Attribute names and the condition
expression live here alone, so the writer and its readers cannot drift apart.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from .notification import JobDetails, Notification, OutputSummary
from .status import JobStatus
from .transitions import JobUpdate, StoredState, order_key, progress_to_merge, warnings_to_merge

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Attribute names: the item layout.
JOB_ID = "jobId"
STATUS = "status"
FINISHED = "finished"
STATE = "state"
SOURCE = "source"
PIPELINE_ID = "pipelineId"
QUEUE = "queue"
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
ORDER_KEY = "orderKey"
EXPIRES_AT = "expiresAt"  # the table's TTL attribute

# Size caps: with these, the largest possible item stays far below DynamoDB's 400 KB.
MAX_TEXT = 1024
MAX_OUTPUTS = 100
MAX_WARNING_TEXT = 256
MAX_WARNINGS_PER_NOTIFICATION = 10
MAX_WARNINGS = 100
MAX_METADATA_ENTRIES = 20
MAX_METADATA_TEXT = 256

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


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: the state write's outcome, and what was merged besides."""

    outcome: WriteOutcome
    warnings_merged: int = 0
    progress_merged: bool = False


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

    def write(self, update: JobUpdate, now: float | None = None) -> WriteResult:
        """Write what one batch says of one job; never read-then-write.

        First the state write: one conditional UpdateItem that makes the row the winner's if the
        winner outranks what the row holds (a refusal is not an error: the row holds this
        notification or a later one). Then, only if the update carries warnings or a progress
        report the row lacks (known from the row's old image), a conditional merge of each.
        """
        now = time.time() if now is None else now
        warnings = update.warnings[:MAX_WARNINGS]
        # The old image is needed only to tell what is left to merge.
        wants_old = bool(warnings) or (update.progress is not None and update.winner.progress is None)
        key = order_key(update.winner)
        try:
            response = self._update(
                *_state_update(update.winner, key, now, self.retention_days),
                return_old=wants_old,
            )
            old: Mapping[str, Any] = response.get("Attributes", {})
            outcome = WriteOutcome.APPLIED
        except self.client.exceptions.ConditionalCheckFailedException as refused:
            old = refused.response.get("Item", {})  # type: ignore[assignment]
            outcome = WriteOutcome.DUPLICATE if _string(old, ORDER_KEY) == key else WriteOutcome.STALE
        stored = _stored_state(old)
        progress = progress_to_merge(stored, update, winner_written=outcome is WriteOutcome.APPLIED)
        if progress is not None:
            self._merge_progress(progress, now)
        room = max(0, MAX_WARNINGS - len(stored.warnings))  # the cap holds after the merge, not only before
        new_warnings = warnings_to_merge(stored, replace(update, warnings=warnings))[:room]
        if new_warnings:
            self._merge_warnings(update.job_id, new_warnings, now)
        return WriteResult(outcome, len(new_warnings), progress is not None)

    def _merge_progress(self, report: Notification, now: float) -> None:
        names, values, sets, removes = _progress_assignments(report)
        names.update({"#k": JOB_ID, "#u": UPDATED_AT})
        values[":u"] = {"S": _iso(now)}
        expression = "SET " + ", ".join([*sets, "#u = :u"]) + (" REMOVE " + ", ".join(removes) if removes else "")
        self._update_if_allowed(
            report.job_id,
            expression,
            f"attribute_exists(#k) AND (attribute_not_exists(#{PROGRESS_KEY}) OR #{PROGRESS_KEY} < :{PROGRESS_KEY})",
            names,
            values,
        )

    def _merge_warnings(self, job_id: str, warnings: tuple[str, ...], now: float) -> None:
        # Refused if the row lacks room for all of them (a concurrent merge took it): never past the cap.
        self._update_if_allowed(
            job_id,
            "ADD #w :w SET #u = :u",
            "attribute_exists(#k) AND (attribute_not_exists(#w) OR size(#w) <= :room)",
            {"#w": WARNINGS, "#k": JOB_ID, "#u": UPDATED_AT},
            {":w": {"SS": list(warnings)}, ":room": {"N": str(MAX_WARNINGS - len(warnings))}, ":u": {"S": _iso(now)}},
        )

    def _update_if_allowed(
        self, job_id: str, expression: str, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> None:
        # A refused merge means the row already holds as much (a later report, or a full set).
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self._update(job_id, expression, condition, names, values)

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
        request: dict[str, Any] = {
            "Keys": [{JOB_ID: {"S": job_id}} for job_id in job_ids],
            "ConsistentRead": consistent,
        }
        if attributes is not None:
            request.update(_projection(attributes))
        response: dict[str, Any] = dict(self.client.batch_get_item(RequestItems={self.name: request}))  # type: ignore[dict-item]
        rows = [row_from_item(item) for item in response.get("Responses", {}).get(self.name, [])]
        unprocessed = response.get("UnprocessedKeys", {}).get(self.name, {}).get("Keys", [])
        return rows, [str(key[JOB_ID]["S"]) for key in unprocessed]


def _projection(attributes: Iterable[str]) -> dict[str, Any]:
    names = {f"#a{i}": name for i, name in enumerate(attributes)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


# -- item <-> records ----------------------------------------------------------------------------


def fit_to_item(notification: Notification) -> Notification:
    """Cap every unbounded part, so that no notification can push the item past 400 KB."""
    return replace(
        notification,
        outputs=tuple(
            replace(output, key=output.key[:MAX_TEXT], status=_cut(output.status, 64))
            for output in notification.outputs[:MAX_OUTPUTS]
        ),
        error_code=_cut(notification.error_code, 64),
        error_message=_cut(notification.error_message, MAX_TEXT),
        pipeline_id=_cut(notification.pipeline_id, MAX_TEXT),
        queue=_cut(notification.queue, MAX_TEXT),
        phase=_cut(notification.phase, 64),
        state=notification.state[:64],
        event_id=notification.event_id[:256],
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

    def put(attribute: str, value: dict[str, Any] | None, expression: str = "{name} = {value}") -> None:
        name = f"#{attribute}"
        names[name] = attribute
        if value is None:
            removes.append(name)
            return
        values[f":{attribute}"] = value
        sets.append(expression.format(name=name, value=f":{attribute}"))

    put(STATUS, {"S": n.status.value})
    put(FINISHED, {"BOOL": n.finished})
    put(STATE, {"S": n.state})
    put(SOURCE, {"S": n.source})
    put(ORDER_KEY, {"S": key})
    put(NOTIFIED_AT, {"S": _iso(n.event_time_ms / 1000)})
    put(UPDATED_AT, {"S": _iso(now)})
    put(CREATED_AT, {"S": _iso(now)}, "{name} = if_not_exists({name}, {value})")
    put(EXPIRES_AT, {"N": str(int(now) + retention_days * 86400)})
    put(PIPELINE_ID, _text(n.pipeline_id))
    put(QUEUE, _text(n.queue))
    put(OUTPUTS, {"L": [_output_value(o) for o in n.outputs]} if n.outputs else None)
    put(ERROR_CODE, _text(n.error_code))
    put(ERROR_MESSAGE, _text(n.error_message))
    put(USER_METADATA, {"M": {k: {"S": v} for k, v in n.user_metadata.items()}} if n.user_metadata else None)
    if n.progress is not None:
        progress_names, progress_values, progress_sets, progress_removes = _progress_assignments(n)
        names.update(progress_names)
        values.update(progress_values)
        sets.extend(progress_sets)
        removes.extend(progress_removes)

    names["#k"] = JOB_ID
    values[":false"] = {"BOOL": False}
    condition = f"attribute_not_exists(#k) OR (#{FINISHED} = :false AND #{ORDER_KEY} < :{ORDER_KEY})"
    expression = "SET " + ", ".join(sets)
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    return n.job_id, expression, condition, names, values


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
    value = item.get(attribute)
    return None if value is None else str(value.get("S"))


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
    )


def row_to_json(row: JobRow) -> dict[str, Any]:
    """A row as plain JSON, under the item's own attribute names (what the CLI prints)."""
    return {
        JOB_ID: row.job_id,
        STATUS: row.status.value,
        FINISHED: row.finished,
        STATE: row.state,
        SOURCE: row.source,
        PIPELINE_ID: row.pipeline_id,
        QUEUE: row.queue,
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
        ERROR_CODE: row.error_code,
        ERROR_MESSAGE: row.error_message,
        WARNINGS: list(row.warnings),
        PROGRESS: row.progress,
        PHASE: row.phase,
        USER_METADATA: row.user_metadata,
        CREATED_AT: row.created_at,
        UPDATED_AT: row.updated_at,
        NOTIFIED_AT: row.notified_at,
    }
