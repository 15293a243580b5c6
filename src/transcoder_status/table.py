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
from .transitions import (
    Rejection,
    StoredState,
    classify_rejection,
    order_key,
    progress_key,
    progress_to_merge,
    warnings_to_merge,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Attribute names: the item layout.
JOB_ID = "jobId"
JOB_STATUS = "jobStatus"
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
PROGRESS_KEY = "progressKey"  # orders progress reports (see transitions.progress_key)
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
STATUS_ATTRIBUTES = (JOB_ID, JOB_STATUS, FINISHED)
PROGRESS_ATTRIBUTES = (*STATUS_ATTRIBUTES, STATE, PROGRESS, PHASE)
ALL_ATTRIBUTES = None


class WriteOutcome(Enum):
    """What one conditional write did to the row."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"


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

    # -- the write ---------------------------------------------------------------------------

    def apply(self, notification: Notification, now: float | None = None) -> WriteOutcome:
        """Write one notification with a single conditional UpdateItem; never read-then-write.

        A refused condition is not an error: the row already holds this notification or a later
        one. Only then, and only if the notification carries warnings or progress the row lacks,
        a second conditional write merges them (see ``transitions``).
        """
        notification = fit_to_item(notification)
        now = time.time() if now is None else now
        try:
            self._update(*_state_update(notification, now, self.retention_days))
            return WriteOutcome.APPLIED
        except self.client.exceptions.ConditionalCheckFailedException as refused:
            stored = _stored_state(refused.response.get("Item", {}))  # type: ignore[arg-type]
        rejection = classify_rejection(stored, notification)
        if rejection is Rejection.WARNINGS_FULL:
            return self.apply(replace(notification, warnings=()), now)
        if rejection is Rejection.STALE:
            self._merge_into_stale_row(stored, notification)
        return WriteOutcome(rejection.value)

    def _merge_into_stale_row(self, stored: StoredState, notification: Notification) -> None:
        key = progress_to_merge(stored, notification)
        if key is not None:
            values: dict[str, Any] = {":p": {"N": str(notification.progress)}, ":pk": {"S": key}}
            expression = "SET #p = :p, #pk = :pk REMOVE #ph"
            if notification.phase:
                values[":ph"] = {"S": notification.phase}
                expression = "SET #p = :p, #pk = :pk, #ph = :ph"
            self._update_if_allowed(
                expression,
                "attribute_exists(#k) AND (attribute_not_exists(#pk) OR #pk < :pk)",
                {"#p": PROGRESS, "#pk": PROGRESS_KEY, "#ph": PHASE, "#k": JOB_ID},
                values,
                notification.job_id,
            )
        warnings = warnings_to_merge(stored, notification)
        if warnings:
            self._update_if_allowed(
                "ADD #w :w",
                "attribute_exists(#k) AND (attribute_not_exists(#w) OR size(#w) < :cap)",
                {"#w": WARNINGS, "#k": JOB_ID},
                {":w": {"SS": list(warnings)}, ":cap": {"N": str(MAX_WARNINGS)}},
                notification.job_id,
            )

    def _update_if_allowed(
        self, expression: str, condition: str, names: dict[str, str], values: dict[str, Any], job_id: str
    ) -> None:
        # A refused condition means the row already holds as much: nothing to merge.
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self._update(job_id, expression, condition, names, values)

    def _update(
        self, job_id: str, expression: str, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> None:
        self.client.update_item(
            TableName=self.name,
            Key={JOB_ID: {"S": job_id}},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
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
        warnings=tuple(
            dict.fromkeys(w[:MAX_WARNING_TEXT] for w in notification.warnings[:MAX_WARNINGS_PER_NOTIFICATION])
        ),
        user_metadata={
            key[:MAX_METADATA_TEXT]: value[:MAX_METADATA_TEXT]
            for key, value in list(notification.user_metadata.items())[:MAX_METADATA_ENTRIES]
        },
    )


def _cut(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _state_update(
    n: Notification, now: float, retention_days: int
) -> tuple[str, str, str, dict[str, str], dict[str, Any]]:
    """The main write: the row becomes this notification's, if it outranks what the row holds."""
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

    put(JOB_STATUS, {"S": n.status.value})
    put(FINISHED, {"BOOL": n.finished})
    put(STATE, {"S": n.state})
    put(SOURCE, {"S": n.source})
    put(ORDER_KEY, {"S": order_key(n)})
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
    # Progress is merged, not replaced: a notification without it keeps the row's. The phase is
    # part of the progress report, so it goes (or is removed) with it.
    if n.progress is not None:
        put(PROGRESS, {"N": str(n.progress)})
        put(PROGRESS_KEY, {"S": str(progress_key(n))})
        put(PHASE, _text(n.phase))

    names["#k"] = JOB_ID
    names["#f"] = FINISHED
    names["#o"] = ORDER_KEY
    values[":false"] = {"BOOL": False}
    condition = f"(attribute_not_exists(#k) OR (#f = :false AND #o < :{ORDER_KEY}))"
    expression = "SET " + ", ".join(sets)
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    if n.warnings:
        names["#w"] = WARNINGS
        values[":w"] = {"SS": list(n.warnings)}
        values[":cap"] = {"N": str(MAX_WARNINGS)}
        expression += " ADD #w :w"
        condition += " AND (attribute_not_exists(#w) OR size(#w) < :cap)"
    return n.job_id, expression, condition, names, values


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
        order_key=item.get(ORDER_KEY, {}).get("S", ""),
        finished=item.get(FINISHED, {}).get("BOOL", False),
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
    status = _string(item, JOB_STATUS)
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
