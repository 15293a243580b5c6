"""Elastic Transcoder notifications (pipeline -> SNS -> SQS).

The message carries no time of its own, so it is ordered by its delivery (SNS Timestamp, or SQS
SentTimestamp under raw delivery). Output statuses come in title case and in two spellings
(``Complete``, ``Completed``): they are compared case-insensitively.
"""

from __future__ import annotations

from ..notification import Notification, OutputSummary, Source
from ..status import JobStatus
from ._fields import (
    JsonObject,
    objects_in,
    optional_code,
    optional_int,
    optional_number,
    optional_str,
    require_str,
    string_map,
)
from .base import Delivery, ParseError

STATES = {
    "PROGRESSING": JobStatus.RUNNING,
    "WARNING": JobStatus.RUNNING,
    "COMPLETED": JobStatus.SUCCESS,
    "ERROR": JobStatus.ERROR,
}

_OUTPUT_STATUSES = {
    "submitted": "Submitted",
    "progressing": "Progressing",
    "complete": "Complete",
    "completed": "Complete",
    "warning": "Warning",
    "error": "Error",
    "canceled": "Canceled",
}


def matches(doc: JsonObject) -> bool:
    return "jobId" in doc and "state" in doc and "detail-type" not in doc


def parse(doc: JsonObject, delivery: Delivery) -> Notification:
    job_id = require_str(doc, "jobId")
    state = require_str(doc, "state")
    status = STATES.get(state)
    if status is None:
        raise ParseError(f"unknown Elastic Transcoder state {state[:40]!r}; expected one of {', '.join(STATES)}")
    outputs = tuple(_output(item) for item in objects_in(doc, "outputs"))
    details = optional_str(doc, "messageDetails")
    return Notification(
        source=Source.ELASTIC_TRANSCODER,
        job_id=job_id,
        state=state,
        status=status,
        event_time_ms=delivery.sent_ms,
        event_id=delivery.message_id,
        pipeline_id=optional_str(doc, "pipelineId"),
        outputs=outputs,
        error_code=optional_code(doc, "errorCode") if status is JobStatus.ERROR else None,
        error_message=details if status is JobStatus.ERROR else None,
        warnings=_warnings(doc, state, details),
        user_metadata=string_map(doc, "userMetadata"),
    )


def _output(item: JsonObject) -> OutputSummary:
    status = optional_str(item, "status")
    duration_s = optional_number(item, "duration")
    return OutputSummary(
        key=optional_str(item, "key") or optional_str(item, "id") or "",
        status=_OUTPUT_STATUSES.get(status.lower(), status) if status else None,
        duration_ms=None if duration_s is None else round(duration_s * 1000),
        width=optional_int(item, "width"),
        height=optional_int(item, "height"),
    )


def _warnings(doc: JsonObject, state: str, details: str | None) -> tuple[str, ...]:
    """The warning texts: the message's details on WARNING, and each warned output's detail."""
    found: list[str] = []
    if state == "WARNING" and details:
        found.append(details)
    for item in objects_in(doc, "outputs"):
        status = (optional_str(item, "status") or "").lower()
        detail = optional_str(item, "statusDetail")
        if status == "warning":
            found.append(f"output {optional_str(item, 'id') or '?'}: {detail or 'warning'}")
    return tuple(found)
