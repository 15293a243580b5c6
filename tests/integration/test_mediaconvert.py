"""MediaConvert through the real handler: out-of-order, equal timestamps, progress, outputs."""

from __future__ import annotations

import json
from itertools import permutations
from typing import Any

from tests.integration.conftest import T0, invoke
from transcoder_status.handler import StatusWriter
from transcoder_status.local.messages import mediaconvert_event, sqs_record
from transcoder_status.status import JobStatus

JOB = "1671477617078-2886ye"


def deliver(writer: StatusWriter, *events: dict[str, Any]) -> None:
    for event in events:
        assert invoke(writer, {"Records": [sqs_record(json.dumps(event), sent_ms=T0)]}) == {"batchItemFailures": []}


def test_input_information_after_complete_never_reopens_the_job(writer: StatusWriter) -> None:
    deliver(
        writer,
        mediaconvert_event(JOB, "STATUS_UPDATE", T0 + 2_000, percent=60),
        mediaconvert_event(JOB, "COMPLETE", T0 + 3_000),
        mediaconvert_event(JOB, "INPUT_INFORMATION", T0 + 1_000),
        mediaconvert_event(JOB, "STATUS_UPDATE", T0 + 1_500, percent=20),
    )
    row = writer.table.get(JOB, attributes=None)
    assert row is not None
    assert (row.status, row.finished, row.state, row.progress) == (JobStatus.SUCCESS, True, "COMPLETE", 100)
    assert row.outputs[0].key == f"s3://example-output-bucket/{JOB}/file.mp4"
    assert row.outputs[0].duration_ms == 30041
    assert row.queue == "arn:aws:mediaconvert:us-east-1:123456789012:queues/Default"


def test_progress_never_goes_backwards(writer: StatusWriter) -> None:
    deliver(
        writer,
        mediaconvert_event(JOB, "STATUS_UPDATE", T0 + 3_000, percent=70, phase="UPLOADING"),
        mediaconvert_event(JOB, "STATUS_UPDATE", T0 + 2_000, percent=40),
        mediaconvert_event(JOB, "NEW_WARNING", T0 + 2_500),
    )
    row = writer.table.get(JOB, attributes=None)
    assert row is not None
    assert (row.status, row.state, row.progress, row.phase) == (JobStatus.RUNNING, "STATUS_UPDATE", 70, "UPLOADING")
    assert len(row.warnings) == 1  # the late warning is still recorded


def test_equal_timestamps_give_the_same_row_in_every_order(writer: StatusWriter) -> None:
    same_ms = [
        mediaconvert_event("", status, T0 + 5_000, percent=percent, event_id=f"event-{index}")
        for index, (status, percent) in enumerate(
            [("PROGRESSING", None), ("STATUS_UPDATE", 10), ("NEW_WARNING", None), ("QUEUE_HOP", None)]
        )
    ]
    rows = []
    for number, order in enumerate(permutations(same_ms)):
        job = f"1700000000000-{number:06d}"
        deliver(writer, *({**event, "detail": {**event["detail"], "jobId": job}} for event in order))
        row = writer.table.get(job, attributes=None)
        assert row is not None
        rows.append((row.state, row.progress, row.warnings, row.notified_at))
    assert len(set(rows)) == 1
    assert rows[0][0] == "NEW_WARNING"  # at equal times, the state later in a job's life wins


def test_canceled_is_terminal_and_user_metadata_is_kept(writer: StatusWriter) -> None:
    deliver(writer, mediaconvert_event(JOB, "CANCELED", T0 + 4_000, user_metadata={"asset": "trailer-42"}))
    deliver(writer, mediaconvert_event(JOB, "STATUS_UPDATE", T0 + 5_000, percent=90))
    row = writer.table.get(JOB, attributes=None)
    assert row is not None
    assert (row.status, row.finished, row.user_metadata) == (JobStatus.CANCELED, True, {"asset": "trailer-42"})


def test_error_keeps_code_and_message(writer: StatusWriter) -> None:
    deliver(writer, mediaconvert_event(JOB, "ERROR", T0 + 4_000))
    row = writer.table.get(JOB, attributes=None)
    assert row is not None
    assert (row.status, row.error_code) == (JobStatus.ERROR, "1030")
    assert row.error_message == "Video codec [indeo4] is not a supported input video codec"
