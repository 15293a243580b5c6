"""The conditional write against DynamoDB (moto server, HTTP): monotonic, idempotent, bounded."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from dataclasses import replace
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.write_units import item_bytes
from tests.fuzz.checks import MAX_ITEM_BYTES
from transcoder_status.local.messages import elastic_transcoder_message
from transcoder_status.notification import Notification, OutputSummary, Source
from transcoder_status.sources import Delivery, parse_body
from transcoder_status.sources.base import MIN_TIME_MS
from transcoder_status.sources.elastic_transcoder import STATES as ET_STATES
from transcoder_status.sources.mediaconvert import STATES as MC_STATES
from transcoder_status.status import JobStatus
from transcoder_status.table import (
    ERROR_CODE,
    FINISHED_AT,
    MAX_OUTPUTS_BYTES,
    MAX_WARNINGS,
    OUTPUT_KEY_PREFIX,
    OUTPUTS_TRUNCATED,
    PLAYLISTS,
    QUEUE,
    JobRow,
    StatusTable,
    WriteDeadlineError,
    WriteOutcome,
    fit_to_item,
)
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


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=job_histories(), data=st.data(), cap=st.integers(1, 5))
def test_at_the_warnings_cap_batching_keeps_what_one_at_a_time_keeps(
    table: StatusTable, history: list[Notification], data: st.DataObject, cap: int
) -> None:
    """Over the cap, which warnings stay depends on arrival order (first come, first kept), but
    never on how the same deliveries were split into batches; and the cap holds exactly."""
    copies = data.draw(st.lists(st.integers(1, 2), min_size=len(history), max_size=len(history)))
    order = data.draw(st.permutations([n for n, count in zip(history, copies, strict=True) for _ in range(count)]))
    one_by_one, batched = (f"job-{uuid.uuid4().hex}" for _ in range(2))
    with patch("transcoder_status.table.MAX_WARNINGS", cap):
        for notification in order:
            table.apply(replace(notification, job_id=one_by_one))
        write_in_batches(
            table,
            [replace(n, job_id=batched) for n in order],
            data.draw(st.lists(st.integers(0, len(order)), max_size=4)),
        )
    expected = comparable(table.get(one_by_one, attributes=None))
    assert expected is not None and len(expected.warnings) <= cap
    assert comparable(table.get(batched, attributes=None)) == expected


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


def test_the_cap_holds_exactly_when_a_batch_would_cross_it(table: StatusTable) -> None:
    """Review of issue 8: a row with 99 warnings took all 10 of the next batch."""
    for index in range(9):
        table.apply(make("WARNING", index, f"w{index}", warnings=tuple(f"w{index}-{i}" for i in range(10))))
    table.apply(make("WARNING", 10, "w9", warnings=tuple(f"w9-{i}" for i in range(9))))
    result = table.apply(make("WARNING", 20, "ten", warnings=tuple(f"new-{i}" for i in range(10))))
    row = table.get("job", attributes=None)
    assert row is not None and len(row.warnings) == MAX_WARNINGS
    assert result.warnings_merged == 1
    assert table.apply(make("WARNING", 30, "more", warnings=("another",))).warnings_merged == 0


def test_a_deadline_stops_merges_but_not_the_state_write(table: StatusTable) -> None:
    with pytest.raises(WriteDeadlineError):
        table.write(JobUpdate.of(make("WARNING", 5, "w", warnings=("late",))), deadline=time.monotonic())
    row = table.get("job", attributes=None)
    assert row is not None and row.state == "WARNING" and row.warnings == ()


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


def test_fitting_leaves_a_notification_that_fits_as_it_is_and_cuts_one_that_does_not() -> None:
    fits = make("WARNING", 1, "e", warnings=("a", "b"), user_metadata={"k": "v"}, error_code="x" * 64)
    assert fit_to_item(fits) is fits
    for oversized in (
        replace(fits, error_code="x" * 65),
        replace(fits, warnings=("a", "a")),
        replace(fits, warnings=("",)),
        replace(fits, user_metadata={"": "v"}),
        replace(fits, outputs=tuple(OutputSummary(f"{i}" + "k" * 2000) for i in range(100))),
    ):
        fitted = fit_to_item(oversized)
        assert fitted is not oversized and fit_to_item(fitted) is fitted


def raw_item(table: StatusTable, job_id: str = "job") -> dict[str, Any]:
    return dict(table.client.get_item(TableName=table.name, Key={"jobId": {"S": job_id}})["Item"])


def test_a_finished_row_holds_what_its_event_needs_and_no_placeholders(table: StatusTable) -> None:
    """Rows no longer carry "" for absent texts nor an outputFiles set: the publisher builds the
    event with json, and leaves out what is absent."""
    table.apply(make("PROGRESSING", 5, "a", pipeline_id="p-1"))
    assert not {FINISHED_AT, ERROR_CODE, QUEUE, PLAYLISTS} & set(raw_item(table))
    long_key = "/" + "k" * 1_500  # longer than any text cap: kept whole
    details = {
        "outputs": (OutputSummary(long_key, "Complete", 6000, 400, 228),),
        "playlists": ("/master.m3u8",),
        "output_key_prefix": "HLS/97f0fc90",
    }
    table.apply(make("COMPLETED", 9, "b", pipeline_id="p-1", **details))
    item = raw_item(table)
    assert "outputFiles" not in item and not [name for name, value in item.items() if value == {"S": ""}]
    assert item[FINISHED_AT] == item["notifiedAt"] == {"S": "1970-01-01T00:00:00.009Z"}
    assert (item[PLAYLISTS], item[OUTPUT_KEY_PREFIX]) == ({"L": [{"S": "/master.m3u8"}]}, {"S": "HLS/97f0fc90"})
    assert OUTPUTS_TRUNCATED not in item
    row = table.get("job", attributes=None)
    assert row is not None and row.queue is None and row.error_code is None
    assert (row.outputs[0].key, row.playlists, row.output_key_prefix) == (long_key, ("/master.m3u8",), "HLS/97f0fc90")


@pytest.mark.parametrize("filler", ["x", "映", '"'])  # one byte; three in UTF-8; two once JSON-escaped
def test_outputs_are_bounded_by_bytes_and_never_cut(table: StatusTable, filler: str) -> None:
    """Review of issue 17: a key was cut at 1,024 characters (naming a file that does not exist) and
    the outputs at 100; now whole paths, as many as fit the item's budget, and the row says so."""
    many = tuple(OutputSummary(f"s3://b/{i:05d}/" + filler * 1_100) for i in range(5_000))
    note = make("COMPLETED", 9, "b", outputs=many, playlists=("s3://b/main.m3u8",))
    fitted = fit_to_item(note)
    assert fitted.outputs_truncated and fitted.playlists == ("s3://b/main.m3u8",)
    assert 10 < len(fitted.outputs) < 5_000 and fitted.outputs == many[: len(fitted.outputs)]  # whole, in order
    carried = sum(len(json.dumps(o.key, ensure_ascii=False).encode()) for o in fitted.outputs)
    assert MAX_OUTPUTS_BYTES // 2 < carried <= MAX_OUTPUTS_BYTES  # each output also counts its numbers
    assert table.apply(note).outcome is WriteOutcome.APPLIED  # the item fits DynamoDB's 400 KB
    row = table.get("job", attributes=None)
    assert row is not None and row.outputs_truncated and row.outputs == fitted.outputs


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
    assert item_bytes(item) <= MAX_ITEM_BYTES


def test_the_row_records_where_the_job_ran_and_keeps_it(table: StatusTable) -> None:
    """A later notification that does not say its account (an older forwarder, moto's events) keeps it."""
    mc = Source.MEDIACONVERT
    table.apply(make("PROGRESSING", 5, "a", source=mc, account="444455556666", region="eu-west-1"))
    table.apply(make("COMPLETE", 6, "b", source=mc))
    row = table.get("job", attributes=None)
    assert row is not None and row.status is JobStatus.SUCCESS
    assert (row.account, row.region) == ("444455556666", "eu-west-1")


def test_another_accounts_event_for_a_row_is_a_clash_and_changes_nothing(table: StatusTable) -> None:
    """Two accounts' events for one job ID: the row stays the first account's, progress and warnings included."""
    mc = Source.MEDIACONVERT
    table.apply(make("PROGRESSING", 5, "a", source=mc, account="111122223333", region="us-east-1"))
    before = table.get("job", attributes=None)
    later = make("COMPLETE", 9, "b", source=mc, account="444455556666", region="us-east-1", warnings=("w",))
    result = table.write(JobUpdate(later, later.warnings, None))
    assert result.outcome is WriteOutcome.CLASH
    assert (result.row_account, result.row_region) == ("111122223333", "us-east-1")
    assert table.get("job", attributes=None) == before


def test_another_regions_event_for_a_row_is_a_clash_even_when_stale(table: StatusTable) -> None:
    mc = Source.MEDIACONVERT
    table.apply(make("COMPLETE", 5, "a", source=mc, account="111122223333", region="us-east-1"))
    result = table.apply(make("PROGRESSING", 1, "b", source=mc, account="111122223333", region="eu-west-1"))
    assert result.outcome is WriteOutcome.CLASH
    assert (result.row_account, result.row_region) == ("111122223333", "us-east-1")


def test_a_row_with_no_place_takes_the_first_one_said_and_an_event_without_one_is_no_clash(
    table: StatusTable,
) -> None:
    mc = Source.MEDIACONVERT
    table.apply(make("PROGRESSING", 1, "a", source=mc))
    assert table.apply(make("STATUS_UPDATE", 2, "b", source=mc, account="444455556666")).outcome is WriteOutcome.APPLIED
    assert table.apply(make("COMPLETE", 3, "c", source=mc, region="eu-west-1")).outcome is WriteOutcome.APPLIED
    row = table.get("job", attributes=None)
    assert row is not None and (row.account, row.region) == ("444455556666", "eu-west-1")
    assert table.apply(make("COMPLETE", 3, "c", source=mc, region="eu-west-1")).outcome is WriteOutcome.DUPLICATE
