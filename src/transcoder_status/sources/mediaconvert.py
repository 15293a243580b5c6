"""AWS Elemental MediaConvert job state changes (EventBridge -> SQS).

Ordered by ``detail.timestamp`` (epoch ms). Events arrive out of order and with equal timestamps;
the transition rules settle both. Only what the state machine needs is required: real events may
lack ``account`` (moto's EventBridge omits it) or any other optional field.
"""

from __future__ import annotations

from ..notification import Notification, OutputSummary, Source
from ..status import JobStatus
from ._fields import (
    JsonObject,
    iso_to_epoch_ms,
    objects_in,
    optional_code,
    optional_int,
    optional_object,
    optional_str,
    require_object,
    require_str,
    string_map,
)
from .base import Delivery, ParseError

DETAIL_TYPE = "MediaConvert Job State Change"
EVENT_SOURCE = "aws.mediaconvert"

STATES = {
    "INPUT_INFORMATION": JobStatus.RUNNING,
    "PROGRESSING": JobStatus.RUNNING,
    "STATUS_UPDATE": JobStatus.RUNNING,
    "NEW_WARNING": JobStatus.RUNNING,
    "QUEUE_HOP": JobStatus.RUNNING,
    "COMPLETE": JobStatus.SUCCESS,
    "ERROR": JobStatus.ERROR,
    "CANCELED": JobStatus.CANCELED,
}


def matches(doc: JsonObject) -> bool:
    return doc.get("source") == EVENT_SOURCE or doc.get("detail-type") == DETAIL_TYPE


def parse(doc: JsonObject, delivery: Delivery) -> Notification:
    detail = require_object(doc, "detail")
    job_id = require_str(detail, "jobId")
    state = require_str(detail, "status")
    status = STATES.get(state)
    if status is None:
        raise ParseError(f"unknown MediaConvert status {state[:40]!r}; expected one of {', '.join(STATES)}")
    progress = optional_object(detail, "jobProgress") or {}
    return Notification(
        source=Source.MEDIACONVERT,
        job_id=job_id,
        state=state,
        status=status,
        event_time_ms=_event_time_ms(doc, detail, delivery),
        event_id=optional_str(doc, "id") or delivery.message_id,
        queue=optional_str(detail, "queue"),
        outputs=_outputs(detail),
        error_code=optional_code(detail, "errorCode") if status is JobStatus.ERROR else None,
        error_message=optional_str(detail, "errorMessage") if status is JobStatus.ERROR else None,
        warnings=_warnings(detail, state),
        progress=100 if status is JobStatus.SUCCESS else optional_int(progress, "jobPercentComplete"),
        phase=optional_str(progress, "currentPhase"),
        user_metadata=string_map(detail, "userMetadata"),
    )


def _event_time_ms(doc: JsonObject, detail: JsonObject, delivery: Delivery) -> int:
    """detail.timestamp (ms); else the event's ``time`` (whole seconds); else when it was sent."""
    timestamp = optional_int(detail, "timestamp")
    if timestamp is not None:
        return timestamp
    time = optional_str(doc, "time")
    return iso_to_epoch_ms(time, "time") if time else delivery.sent_ms


def _outputs(detail: JsonObject) -> tuple[OutputSummary, ...]:
    outputs: list[OutputSummary] = []
    for group in objects_in(detail, "outputGroupDetails"):
        for output in objects_in(group, "outputDetails"):
            video = optional_object(output, "videoDetails") or {}
            paths = [path for path in output.get("outputFilePaths") or [] if isinstance(path, str)]
            outputs.extend(
                OutputSummary(
                    key=path,
                    status="Complete",
                    duration_ms=optional_int(output, "durationInMs"),
                    width=optional_int(video, "widthInPx"),
                    height=optional_int(video, "heightInPx"),
                )
                for path in paths
            )
    return tuple(outputs)


def _warnings(detail: JsonObject, state: str) -> tuple[str, ...]:
    if state == "NEW_WARNING":
        code = optional_code(detail, "warningCode") or "?"
        return (f"{code}: {optional_str(detail, 'warningMessage') or 'warning'}",)
    return tuple(
        f"{optional_code(item, 'code') or '?'}: seen {optional_int(item, 'count') or 1} time(s)"
        for item in objects_in(detail, "warnings")
    )
