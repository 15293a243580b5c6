"""MediaConvert's own answer about a job (GetJob, ListJobs) -> ``Notification``, for repairs.

Pure. When a job's events were lost, MediaConvert still knows its truth: the reconciler asks it and
feeds the answer through the same transition rules and the same conditional write as an event, so
a repair can never overwrite a newer event, and a late event after a repair changes nothing.

GetJob's answer names no output files (its OutputDetails carry durations and video details only),
so they are derived from the job's settings where that is unambiguous: a file group's Destination,
the input's base name when the destination is a folder, the output's NameModifier and extension.
Outputs of other groups (HLS, DASH, CMAF: manifests and segments) are left out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..notification import Notification, OutputSummary, Source
from ..status import JobStatus
from ._fields import ACCOUNT_ID, REGION_NAME, Fields, JsonObject
from .base import checked_time_ms
from .mediaconvert import warning_counts

STATES = {
    "SUBMITTED": JobStatus.RUNNING,
    "PROGRESSING": JobStatus.RUNNING,
    "COMPLETE": JobStatus.SUCCESS,
    "ERROR": JobStatus.ERROR,
    "CANCELED": JobStatus.CANCELED,
}

# Extensions MediaConvert gives a file output of each container when the output sets none.
_EXTENSIONS = {
    "MP4": "mp4",
    "MOV": "mov",
    "M2TS": "m2ts",
    "MXF": "mxf",
    "WEBM": "webm",
    "F4V": "f4v",
    "OGG": "ogg",
    "GIF": "gif",
    "Y4M": "y4m",
}


def notification_from_job(job: JsonObject, observed_ms: int) -> Notification:
    """The notification that would have told what ``job`` (a GetJob or ListJobs Job, as boto3
    parses it: times are datetimes) says now. ``observed_ms`` stands in for a missing time."""
    fields = Fields(_plain(job))
    job_id = fields.job_id("Id")
    state, status = fields.state("Status", STATES, "MediaConvert job status")
    timing = fields.nested("Timing")
    failed = status is JobStatus.ERROR
    account, region = _arn_place(fields.text("Arn"))
    return Notification(
        source=Source.MEDIACONVERT,
        job_id=job_id,
        state=state,
        status=status,
        event_time_ms=_event_time_ms(timing, status, observed_ms),
        # Deterministic: asking twice gives the same notification, which the table sees as a duplicate.
        event_id=f"mediaconvert-api:{state}",
        queue=fields.text("Queue"),
        # Only a finished job's files exist: the settings name them for every status.
        outputs=_outputs(fields) if status is JobStatus.SUCCESS else (),
        error_code=fields.code("ErrorCode") if failed else None,
        error_message=fields.text("ErrorMessage") if failed else None,
        warnings=warning_counts(fields.objects("Warnings"), code="Code", count="Count"),
        progress=100 if status is JobStatus.SUCCESS else _percent(fields),
        phase=fields.text("CurrentPhase"),
        user_metadata=fields.string_map("UserMetadata"),
        account=account,
        region=region,
        repaired=True,
        dropped=tuple(fields.dropped),
    )


def _arn_place(arn: str | None) -> tuple[str | None, str | None]:
    """The account and Region in a job's ARN (arn:PARTITION:mediaconvert:REGION:ACCOUNT:jobs/ID),
    as the events' own fields say them; (None, None) for anything else.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html"""
    parts = (arn or "").split(":", 5)
    if len(parts) < 6 or parts[2] != "mediaconvert":
        return None, None
    region, account = parts[3], parts[4]
    return (account if ACCOUNT_ID.fullmatch(account) else None, region if REGION_NAME.fullmatch(region) else None)


def _plain(value: Any) -> Any:
    """boto3's datetimes as epoch milliseconds, so that the Fields readers see JSON-like data."""
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _event_time_ms(timing: Fields | None, status: JobStatus, observed_ms: int) -> int:
    """When the job reached the state it is in: FinishTime once it ended, else StartTime or SubmitTime."""
    keys = ("FinishTime",) if status.terminal else ("StartTime", "SubmitTime")
    for key in keys:
        time_ms = None if timing is None else timing.time_ms(key)
        if time_ms is not None:
            return time_ms
    return checked_time_ms(observed_ms, "the time of the answer")


def _percent(fields: Fields) -> int | None:
    percent = fields.integer("JobPercentComplete")
    return percent if percent is not None and 0 <= percent <= 100 else None


def _outputs(job: Fields) -> tuple[OutputSummary, ...]:
    settings = job.nested("Settings")
    if settings is None:
        return ()
    inputs = settings.objects("Inputs")
    input_name = _base_name(inputs[0].text("FileInput") or "") if inputs else ""
    details = job.objects("OutputGroupDetails")
    outputs: list[OutputSummary] = []
    for index, group in enumerate(settings.objects("OutputGroups")):
        group_settings = group.nested("OutputGroupSettings")
        file_group = None if group_settings is None else group_settings.nested("FileGroupSettings")
        destination = None if file_group is None else file_group.text("Destination")
        if destination is None:
            continue  # not a file group, or no destination: the files cannot be named for sure
        measured = details[index].objects("OutputDetails") if index < len(details) else []
        for position, output in enumerate(group.objects("Outputs")):
            path = _output_path(destination, input_name, output)
            if path is None:
                continue
            facts = measured[position] if position < len(measured) else None
            video = None if facts is None else facts.nested("VideoDetails")
            outputs.append(
                OutputSummary(
                    key=path,
                    status="Complete",
                    duration_ms=None if facts is None else facts.integer("DurationInMs"),
                    width=None if video is None else video.integer("WidthInPx"),
                    height=None if video is None else video.integer("HeightInPx"),
                )
            )
    return tuple(outputs)


def _output_path(destination: str, input_name: str, output: Fields) -> str | None:
    """MediaConvert's name: the destination (a folder takes the input's base name), then the
    output's NameModifier, then its extension."""
    container_settings = output.nested("ContainerSettings")
    container = None if container_settings is None else container_settings.text("Container")
    extension = output.text("Extension") or (_EXTENSIONS.get(container) if container else None)
    if not extension:
        return None  # no container, or RAW and the like (the extension depends on the codec)
    if destination.endswith("/"):
        if not input_name:
            return None
        base = destination + input_name
    else:
        base = destination
    return f"{base}{output.text('NameModifier') or ''}.{extension}"


def _base_name(uri: str) -> str:
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name
