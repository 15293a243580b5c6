"""Which notification wins, and what a losing one still adds: the pure rules."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from transcoder_status.notification import Notification, Source
from transcoder_status.status import JobStatus
from transcoder_status.transitions import (
    Rejection,
    StoredState,
    classify_rejection,
    coalesce,
    order_key,
    progress_key,
    progress_to_merge,
    warnings_to_merge,
)

STATUS = {
    "PROGRESSING": JobStatus.RUNNING,
    "WARNING": JobStatus.RUNNING,
    "COMPLETED": JobStatus.SUCCESS,
    "ERROR": JobStatus.ERROR,
    "STATUS_UPDATE": JobStatus.RUNNING,
    "INPUT_INFORMATION": JobStatus.RUNNING,
    "COMPLETE": JobStatus.SUCCESS,
}


def note(state: str, at: int, event_id: str = "e", job_id: str = "job", **kwargs: object) -> Notification:
    return Notification(
        source=Source.ELASTIC_TRANSCODER,
        job_id=job_id,
        state=state,
        status=STATUS[state],
        event_time_ms=at,
        event_id=event_id,
        **kwargs,  # type: ignore[arg-type]
    )


def test_later_notification_outranks_earlier() -> None:
    assert order_key(note("PROGRESSING", 2_000)) > order_key(note("PROGRESSING", 1_000))


def test_terminal_outranks_any_running_notification_even_a_later_one() -> None:
    # MediaConvert sends INPUT_INFORMATION after COMPLETE for short jobs: it must not reopen the job.
    assert order_key(note("COMPLETED", 1_000)) > order_key(note("INPUT_INFORMATION", 9_000))
    assert order_key(note("ERROR", 1_000)) > order_key(note("WARNING", 9_000))


def test_key_order_survives_digit_count_changes() -> None:
    # Byte order equals numeric order only with fixed-width fields.
    assert order_key(note("PROGRESSING", 10_000)) > order_key(note("PROGRESSING", 9_999))


def test_equal_timestamps_order_by_state_then_progress_then_event_id() -> None:
    assert order_key(note("STATUS_UPDATE", 5, "a")) > order_key(note("INPUT_INFORMATION", 5, "z"))
    assert order_key(note("STATUS_UPDATE", 5, "a", progress=50)) > order_key(note("STATUS_UPDATE", 5, "z", progress=40))
    assert order_key(note("PROGRESSING", 5, "b")) > order_key(note("PROGRESSING", 5, "a"))


def test_duplicate_has_the_same_key() -> None:
    assert order_key(note("WARNING", 7, "sns-1")) == order_key(note("WARNING", 7, "sns-1"))


def test_coalesce_keeps_the_winner_per_job_with_all_warnings_and_best_progress() -> None:
    batch = [
        note("STATUS_UPDATE", 1, "a", progress=30, phase="TRANSCODING"),
        note("WARNING", 2, "b", warnings=("w1",)),
        note("PROGRESSING", 3, "c", warnings=("w2", "w1")),
        note("PROGRESSING", 1, "x", job_id="other"),
    ]
    merged = coalesce(batch)
    assert set(merged) == {"job", "other"}
    winner = merged["job"]
    assert winner.event_id == "c"
    assert winner.warnings == ("w1", "w2")
    assert (winner.progress, winner.phase) == (30, "TRANSCODING")
    assert merged["other"] == batch[3]


@given(st.permutations(["PROGRESSING", "WARNING", "COMPLETED", "PROGRESSING"]))
def test_coalesce_winner_does_not_depend_on_batch_order(states: list[str]) -> None:
    batch = [
        note(state, at=i * 1000 if state != "COMPLETED" else 500, event_id=str(i)) for i, state in enumerate(states)
    ]
    assert coalesce(batch)["job"].state == "COMPLETED"
    assert coalesce(list(reversed(batch)))["job"] == coalesce(batch)["job"]


def stored(n: Notification, **changes: object) -> StoredState:
    state = StoredState(
        order_key=order_key(n),
        finished=n.finished,
        progress_key=progress_key(n),
        warnings=frozenset(n.warnings),
    )
    return replace(state, **changes)  # type: ignore[arg-type]


def test_rejection_reasons() -> None:
    running = note("PROGRESSING", 5)
    assert classify_rejection(stored(running), running) is Rejection.DUPLICATE
    assert classify_rejection(stored(note("PROGRESSING", 9)), running) is Rejection.STALE
    assert classify_rejection(stored(note("COMPLETED", 1)), running) is Rejection.STALE
    # Newer than the row and the row is running: only the warnings cap can have refused it.
    assert classify_rejection(stored(note("PROGRESSING", 1)), note("WARNING", 9, warnings=("w",))) is (
        Rejection.WARNINGS_FULL
    )
    # Without warnings nothing but order can have refused it (also when the old row did not come back).
    assert classify_rejection(StoredState("", False, None, frozenset()), note("PROGRESSING", 9)) is Rejection.STALE


def test_stale_notification_still_adds_new_warnings_and_higher_progress() -> None:
    row = stored(note("STATUS_UPDATE", 9, progress=40), warnings=frozenset({"old"}))
    late = note("STATUS_UPDATE", 5, progress=60, warnings=("old", "new"))
    assert warnings_to_merge(row, late) == ("new",)
    assert progress_to_merge(row, late) == progress_key(late)
    assert progress_to_merge(row, replace(late, progress=30)) is None
    # Equal percent: the later report in key order wins, so every delivery order agrees.
    assert progress_to_merge(row, replace(late, progress=40)) is None
    assert progress_to_merge(stored(replace(late, progress=40)), note("STATUS_UPDATE", 9, progress=40)) is not None
    assert progress_to_merge(row, replace(late, progress=None)) is None
