"""Elastic Transcoder notifications (pipeline -> SNS -> SQS).

The message carries no time of its own, so it is ordered by its delivery (SNS Timestamp, or SQS
SentTimestamp under raw delivery). Output statuses come in title case and in two spellings
(``Complete``, ``Completed``): they are compared case-insensitively.
"""

from __future__ import annotations

from ..notification import Notification, OutputSummary, Source
from ..status import JobStatus
from ._fields import Fields, JsonObject
from .base import Delivery

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
    message = Fields(doc)
    job_id = message.job_id("jobId")
    state, status = message.state("state", STATES, "Elastic Transcoder state")
    outputs = message.objects("outputs")
    details = message.text("messageDetails")
    failed = status is JobStatus.ERROR
    return Notification(
        source=Source.ELASTIC_TRANSCODER,
        job_id=job_id,
        state=state,
        status=status,
        event_time_ms=delivery.time_ms(),
        event_id=delivery.message_id,
        pipeline_id=message.text("pipelineId"),
        outputs=tuple(_output(output) for output in outputs),
        output_key_prefix=message.text("outputKeyPrefix"),
        playlists=_playlists(message),
        error_code=message.code("errorCode") if failed else None,
        error_message=details if failed else None,
        warnings=_warnings(state, details, outputs),
        user_metadata=message.string_map("userMetadata"),
        dropped=tuple(message.dropped),
    )


def _output(output: Fields) -> OutputSummary:
    status = output.text("status")
    duration_s = output.number("duration")
    return OutputSummary(
        key=output.text("key") or output.text("id") or "",
        status=_OUTPUT_STATUSES.get(status.lower(), status) if status else None,
        duration_ms=None if duration_s is None else round(duration_s * 1000),
        width=output.integer("width"),
        height=output.integer("height"),
    )


# Elastic Transcoder names a master playlist without its extension and appends one by format:
# https://docs.aws.amazon.com/elastictranscoder/latest/developerguide/create-job.html#create-job-playlists
_PLAYLIST_EXTENSIONS = {"hlsv3": ".m3u8", "hlsv4": ".m3u8", "mpeg-dash": ".mpd", "smooth": ".ism"}


def _playlists(message: Fields) -> tuple[str, ...]:
    """The master playlists' keys (relative to outputKeyPrefix, as the outputs' keys are)."""
    found: list[str] = []
    for playlist in message.objects("playlists"):
        name = playlist.text("name")
        if name:
            found.append(name + _PLAYLIST_EXTENSIONS.get((playlist.text("format") or "").lower(), ""))
    return tuple(dict.fromkeys(found))


def _warnings(state: str, details: str | None, outputs: list[Fields]) -> tuple[str, ...]:
    """The warning texts: the message's details on WARNING, and each warned output's detail."""
    found: list[str] = []
    if state == "WARNING" and details:
        found.append(details)
    for output in outputs:
        if (output.text("status") or "").lower() == "warning":
            found.append(f"output {output.text('id') or '?'}: {output.text('statusDetail') or 'warning'}")
    return tuple(found)
