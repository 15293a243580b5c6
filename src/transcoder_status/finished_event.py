"""The "Transcoding Job Finished" event: its detail, built from a finished row. Pure: no I/O.

Built with ``json`` from the row's values, so any text (quotes, backslashes, newlines, control
characters, 4-byte characters) arrives exactly as the transcoder sent it. The detail is version
"1" of schemas/transcoding-job-finished.schema.json; docs/finished-events.md says what each key holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .event_bus import entry_bytes
from .notification import Source
from .table import JobRow, bounded_outputs

EVENT_SOURCE = "transcoder-status"
DETAIL_TYPE = "Transcoding Job Finished"
DETAIL_VERSION = "1"

# PutEvents takes entries of up to 256 KB (Source, DetailType, Detail and Resources counted):
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
MAX_ENTRY_BYTES = 256 * 1024
# The outputs and playlists an event carries, in bytes of JSON: with every other key at its cap
# (user metadata 20 x 2 x 256 characters, texts 4 x 1,024) the entry stays far below 256 KB.
MAX_EVENT_OUTPUTS_BYTES = 160_000


class NotFinishedError(ValueError):
    """The row is not finished: it has no finished event."""


def finished_detail(row: JobRow) -> dict[str, Any]:
    """The event's detail for a finished row (``NotFinishedError`` for a running one)."""
    if not row.finished or row.finished_at is None:
        raise NotFinishedError(f"job {row.job_id} is not finished: it has no finished event")
    prefix = row.output_key_prefix or ""  # Elastic Transcoder's: keys are relative to it
    named = tuple(o for o in row.outputs if o.key)  # an output that names no file has no uri
    outputs, playlists = bounded_outputs(
        tuple(replace(o, key=prefix + o.key) for o in named) if prefix else named,
        tuple(prefix + p for p in row.playlists),
        MAX_EVENT_OUTPUTS_BYTES,
    )
    detail: dict[str, Any] = {
        "version": DETAIL_VERSION,
        "jobId": row.job_id,
        "status": row.status.value,
        "source": row.source or "",
        "state": row.state or "",
        "createdAt": row.created_at,
        "finishedAt": row.finished_at,
    }
    if row.error_code:
        detail["errorCode"] = row.error_code
    if row.error_message:
        detail["errorMessage"] = row.error_message
    if row.source == Source.ELASTIC_TRANSCODER:
        detail["pipelineId"] = row.pipeline_id or ""
    else:
        detail["queue"] = row.queue or ""
    # Where a MediaConvert job ran (a central stack gathers many accounts and Regions): absent when unknown.
    if row.account:
        detail["account"] = row.account
    if row.region:
        detail["region"] = row.region
    detail["userMetadata"] = dict(row.user_metadata)
    detail["outputs"] = [_output(o.key, o.duration_ms, o.width, o.height) for o in outputs]
    detail["playlists"] = list(playlists)
    detail["warnings"] = len(row.warnings)
    detail["outputsTruncated"] = row.outputs_truncated or (len(outputs), len(playlists)) != (
        len(named),
        len(row.playlists),
    )
    return detail


def _output(uri: str, duration_ms: int | None, width: int | None, height: int | None) -> dict[str, Any]:
    output: dict[str, Any] = {"uri": uri}
    for name, value in (("durationMs", duration_ms), ("widthPx", width), ("heightPx", height)):
        if value is not None and value >= 0:  # the transcoders' numbers are not checked for sign
            output[name] = value
    return output


def put_events_entry(detail: Mapping[str, Any], bus: str) -> dict[str, Any]:
    """One PutEvents entry for a detail; ``ValueError`` if it would pass PutEvents' 256 KB."""
    entry = {
        "Source": EVENT_SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(detail, ensure_ascii=False, separators=(",", ":")),
        "EventBusName": bus,
    }
    size = entry_bytes(entry)
    if size > MAX_ENTRY_BYTES:
        raise ValueError(f"job {detail.get('jobId')}: the event is {size} bytes, over PutEvents' {MAX_ENTRY_BYTES}")
    return entry
