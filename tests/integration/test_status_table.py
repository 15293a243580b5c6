"""The conditional write against DynamoDB (moto server, HTTP): monotonic, idempotent, bounded."""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.checks import MAX_ITEM_BYTES, item_size
from transcoder_status.local.messages import elastic_transcoder_message
from transcoder_status.notification import Notification, OutputSummary, Source
from transcoder_status.sources import Delivery, parse_body
from transcoder_status.sources.base import MIN_TIME_MS
from transcoder_status.sources.elastic_transcoder import STATES as ET_STATES
from transcoder_status.sources.mediaconvert import STATES as MC_STATES
from transcoder_status.status import JobStatus
from transcoder_status.table import MAX_WARNINGS, JobRow, StatusTable, WriteOutcome, fit_to_item
from transcoder_status.transitions import JobUpdate, coalesce


def make(
    state: str,
    at: int,
    event_id: str,
    job_id: str = "job",
    source: str = Source.ELASTIC_TRANSCODER,
    **kwargs: Any,
) -> Notification:
    states = ET_STATES if source == Source.ELASTIC_TRANSCODER else MC_STATES
    return Notification(
        source=source,
        job_id=job_id,
        state=state,
        status=states[state],
        event_time_ms=at,
        event_id=event_id,
        **kwargs,
    )


WARNING_POOL = ["w-audio", "w-frames", "w-bitrate", "w-captions", "w-color", "w-gop"]


@st.composite
def job_histories(draw: st.DrawFn) -> list[Notification]:
    """A job's notifications as a transcoder emits them: time moves on (equal timestamps
    allowed), progress is reported as it goes, several warnings per notification, at most one
    terminal state."""
    mediaconvert = draw(st.booleans())
    source = Source.MEDIACONVERT if mediaconvert else Source.ELASTIC_TRANSCODER
    running = (
        ["INPUT_INFORMATION", "PROGRESSING", "STATUS_UPDATE", "NEW_WARNING", "QUEUE_HOP"]
        if mediaconvert
        else ["PROGRESSING", "WARNING"]
    )
    terminal = ["COMPLETE", "ERROR", "CANCELED"] if mediaconvert else ["COMPLETED", "ERROR"]
    states = draw(st.lists(st.sampled_from(running), min_size=1, max_size=7))
    end = draw(st.none() | st.sampled_from(terminal))
    time, progress, history = 1_755_000_000_000, 0, []
    for index, state in enumerate([*states, *([end] if end else [])]):
        time += draw(st.integers(0, 2_000))
        extra: dict[str, Any] = {}
        if state == "STATUS_UPDATE":
            progress += draw(st.integers(0, 30))
            extra.update(progress=min(progress, 99), phase=draw(st.sampled_from(["TRANSCODING", "UPLOADING", None])))
        if state in ("WARNING", "NEW_WARNING") or (state in terminal and draw(st.booleans())):
            extra["warnings"] = tuple(draw(st.lists(st.sampled_from(WARNING_POOL), min_size=1, max_size=4)))
        if state in ("COMPLETE", "COMPLETED"):
            extra.update(
                outputs=(OutputSummary("out/1.mp4", "Complete", 6000, 640, 360),),
                progress=100 if mediaconvert else None,
            )
        if state == "ERROR":
            extra.update(error_code="3001", error_message="input does not exist")
        history.append(make(state, time, f"event-{index}", source=source, pipeline_id="p-1", **extra))
    return history


def comparable(row: JobRow | None) -> JobRow | None:
    """The row without what differs by wall clock or job ID."""
    return None if row is None else replace(row, job_id="", created_at=None, updated_at=None)


def write_in_batches(table: StatusTable, deliveries: list[Notification], cuts: list[int]) -> None:
    """What the handler does with successive SQS batches: fit, coalesce, one update per job."""
    bounds = [0, *sorted(set(cuts)), len(deliveries)]
    for start, stop in itertools.pairwise(bounds):
        for update in coalesce(fit_to_item(n) for n in deliveries[start:stop]).values():
            table.write(update)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=job_histories(), data=st.data())
def test_any_order_duplication_and_batching_ends_in_the_same_row(
    table: StatusTable, history: list[Notification], data: st.DataObject
) -> None:
    """The row is a function of the set of notifications: not of their order, their repeats, or
    how they were split into successive batches over the row that earlier batches left."""
    one_by_one, shuffled, batched = (f"job-{uuid.uuid4().hex}" for _ in range(3))
    for notification in history:
        table.apply(replace(notification, job_id=one_by_one))
    copies = data.draw(st.lists(st.integers(1, 3), min_size=len(history), max_size=len(history)))
    deliveries = [n for n, count in zip(history, copies, strict=True) for _ in range(count)]
    for notification in data.draw(st.permutations(deliveries)):
        table.apply(replace(notification, job_id=shuffled))
    order = [replace(n, job_id=batched) for n in data.draw(st.permutations(deliveries))]
    write_in_batches(table, order, data.draw(st.lists(st.integers(0, len(order)), max_size=4)))

    expected = comparable(table.get(one_by_one, attributes=None))
    assert expected is not None
    assert comparable(table.get(shuffled, attributes=None)) == expected
    assert comparable(table.get(batched, attributes=None)) == expected
    assert expected.finished == history[-1].finished
    assert set(expected.warnings) == {w for n in history for w in n.warnings}


def test_terminal_state_is_never_overwritten(table: StatusTable) -> None:
    assert table.apply(make("COMPLETED", 5, "a")).outcome is WriteOutcome.APPLIED
    # A later ERROR (a stale duplicate from another system, say) must not turn success into failure.
    assert table.apply(make("ERROR", 9, "b", error_code="1")).outcome is WriteOutcome.STALE
    row = table.get("job", attributes=None)
    assert row is not None and (row.status, row.error_code) == (JobStatus.SUCCESS, None)


def test_duplicate_is_reported_as_such(table: StatusTable) -> None:
    note = make("PROGRESSING", 5, "a")
    assert table.apply(note).outcome is WriteOutcome.APPLIED
    assert table.apply(note).outcome is WriteOutcome.DUPLICATE


def test_created_at_is_kept_and_ttl_set(table: StatusTable) -> None:
    table.apply(make("PROGRESSING", 5, "a"), now=1_000_000)
    table.apply(make("COMPLETED", 6, "b"), now=1_000_500)
    item = table.client.get_item(TableName=table.name, Key={"jobId": {"S": "job"}})["Item"]
    assert item["createdAt"]["S"] == "1970-01-12T13:46:40.000Z"
    assert item["updatedAt"]["S"] == "1970-01-12T13:55:00.000Z"
    assert int(item["expiresAt"]["N"]) == 1_000_500 + table.retention_days * 86400


def test_warnings_stop_at_the_cap_but_the_state_still_advances(table: StatusTable) -> None:
    for index in range(MAX_WARNINGS // 10):
        table.apply(make("WARNING", index, f"w{index}", warnings=tuple(f"w{index}-{i}" for i in range(10))))
    assert table.apply(make("WARNING", 500, "last", warnings=("one too many",))).outcome is WriteOutcome.APPLIED
    row = table.get("job", attributes=None)
    assert row is not None
    assert len(row.warnings) == MAX_WARNINGS
    assert "one too many" not in row.warnings
    assert row.notified_at == "1970-01-01T00:00:00.500Z"


def test_largest_notification_stays_far_below_the_item_limit(table: StatusTable) -> None:
    huge = "x" * 100_000
    note = make(
        "COMPLETED",
        1,
        "e" * 10_000,
        error_code=huge,
        error_message=huge,
        pipeline_id=huge,
        outputs=tuple(OutputSummary(huge + str(i), huge, 1, 2, 3) for i in range(1_000)),
        warnings=tuple(f"{i}{huge}" for i in range(1_000)),
        user_metadata={f"{i}{huge}": huge for i in range(1_000)},
    )
    for index in range(MAX_WARNINGS // 10):  # a row already full of warnings, too
        table.apply(make("WARNING", 0, f"w{index}", warnings=tuple(f"{index}-{i}-{huge}" for i in range(10))))
    assert table.apply(note).outcome is WriteOutcome.APPLIED
    item = table.client.get_item(TableName=table.name, Key={"jobId": {"S": "job"}})["Item"]
    size = len(json.dumps(item))  # above DynamoDB's own count: names, plus JSON's quotes and type tags
    assert size < 250_000


def test_a_row_full_of_long_warnings_still_takes_the_largest_notification_a_body_can_carry(
    table: StatusTable,
) -> None:
    """The warning cap was checked only before a merge: a merge into a row of 99 warnings added a
    whole batch's (up to 100), and 199 warnings of 256 four-byte characters left too little of
    DynamoDB's 400 KB for the outputs of a later notification. Its state write was refused, on every
    redelivery, and the job never reached its end."""
    wide = "\U0001d11e"  # 4 bytes in UTF-8
    table.write(JobUpdate(make("WARNING", 1, "a"), tuple(f"a{i}{wide * 255}" for i in range(MAX_WARNINGS - 1)), None))
    table.write(JobUpdate(make("WARNING", 2, "b"), tuple(f"b{i}{wide * 255}" for i in range(MAX_WARNINGS)), None))
    row = table.get("job", attributes=None)
    assert row is not None and len(row.warnings) == MAX_WARNINGS

    # The largest notification within SNS's 256 KB: outputs of 1,000 four-byte characters each.
    message = elastic_transcoder_message("job", "COMPLETED")
    message["outputs"] = [{"key": f"{i}{wide * 1_000}", "status": "Complete"} for i in range(64)]
    body = json.dumps(message, ensure_ascii=False)
    assert 250_000 < len(body.encode()) <= 256 * 1024
    notification = parse_body(body, Delivery(sent_ms=MIN_TIME_MS, message_id="m"))
    assert table.apply(notification).outcome is WriteOutcome.APPLIED
    item = table.client.get_item(TableName=table.name, Key={"jobId": {"S": "job"}})["Item"]
    assert item_size(item) <= MAX_ITEM_BYTES
