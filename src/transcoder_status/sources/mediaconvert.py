"""AWS Elemental MediaConvert job state changes (EventBridge -> SQS).

Ordered by ``detail.timestamp`` (epoch ms). Events arrive out of order and with equal timestamps;
the transition rules settle both. Only what the state machine needs is required: real events may
lack ``account`` (moto's EventBridge omits it) or any other optional field.
"""

from __future__ import annotations

from ..notification import Notification, OutputSummary, Source
from ..status import JobStatus
from ._fields import ACCOUNT_ID, REGION_NAME, Fields, JsonObject
from .base import Delivery

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
    event = Fields(doc)
    detail = event.required_object("detail")
    job_id = detail.job_id("jobId")
    state, status = detail.state("status", STATES, "MediaConvert status")
    progress = detail.nested("jobProgress")
    failed = status is JobStatus.ERROR
    return Notification(
        source=Source.MEDIACONVERT,
        job_id=job_id,
        state=state,
        status=status,
        event_time_ms=_event_time_ms(event, detail, delivery),
        event_id=event.text("id") or delivery.message_id,
        queue=detail.text("queue"),
        outputs=_outputs(detail),
        playlists=_playlists(detail),
        error_code=detail.code("errorCode") if failed else None,
        error_message=detail.text("errorMessage") if failed else None,
        warnings=_warnings(detail, state),
        progress=100 if status is JobStatus.SUCCESS else _percent(progress),
        phase=None if progress is None else progress.text("currentPhase"),
        user_metadata=detail.string_map("userMetadata"),
        # Where the job ran: a rule that forwards the event to another account's or Region's bus
        # keeps its account and Region the source's (bus_delivery.py's stand-in does the same):
        # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html
        account=event.matching("account", ACCOUNT_ID, "a 12-digit account ID"),
        region=event.matching("region", REGION_NAME, "a Region name"),
        dropped=tuple(event.dropped),
    )


def _event_time_ms(event: Fields, detail: Fields, delivery: Delivery) -> int:
    """detail.timestamp (ms); else the event's ``time`` (whole seconds); else when it was sent."""
    for time_ms in (detail.time_ms("timestamp"), event.iso_time_ms("time")):
        if time_ms is not None:
            return time_ms
    return delivery.time_ms()


def _percent(progress: Fields | None) -> int | None:
    if progress is None:
        return None
    percent = progress.integer("jobPercentComplete")
    if percent is None or 0 <= percent <= 100:
        return percent
    progress.dropped.append(f"'{progress.name('jobPercentComplete')}' dropped: {percent} is not a percent")
    return None


def _outputs(detail: Fields) -> tuple[OutputSummary, ...]:
    outputs: list[OutputSummary] = []
    for group in detail.objects("outputGroupDetails"):
        for output in group.objects("outputDetails"):
            video = output.nested("videoDetails")
            outputs.extend(
                OutputSummary(
                    key=path,
                    status="Complete",
                    duration_ms=output.integer("durationInMs"),
                    width=None if video is None else video.integer("widthInPx"),
                    height=None if video is None else video.integer("heightInPx"),
                )
                for path in output.strings("outputFilePaths")
            )
    return tuple(outputs)


def _playlists(detail: Fields) -> tuple[str, ...]:
    """Each output group's manifests (an HLS master .m3u8, a CMAF group's .mpd and .m3u8), each once."""
    paths = (path for group in detail.objects("outputGroupDetails") for path in group.strings("playlistFilePaths"))
    return tuple(dict.fromkeys(paths))


def _warnings(detail: Fields, state: str) -> tuple[str, ...]:
    if state == "NEW_WARNING":
        return (f"{detail.code('warningCode') or '?'}: {detail.text('warningMessage') or 'warning'}",)
    return warning_counts(detail.objects("warnings"))


def warning_counts(items: list[Fields], code: str = "code", count: str = "count") -> tuple[str, ...]:
    """A job's warning tally (``[{code, count}]``), one text per code: events and GetJob alike."""
    return tuple(f"{item.code(code) or '?'}: seen {item.integer(count) or 1} time(s)" for item in items)
