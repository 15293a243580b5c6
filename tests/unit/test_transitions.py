"""Which notification wins, and what a losing one still adds: the pure rules."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from transcoder_status.notification import Notification, Source
from transcoder_status.status import JobStatus
from transcoder_status.transitions import (
    JobUpdate,
    StoredState,
    coalesce,
    order_key,
    other_places,
    progress_to_merge,
)

STATUS = {
    "SUBMITTED": JobStatus.RUNNING,
    "QUEUE_HOP": JobStatus.RUNNING,
    "PROGRESSING": JobStatus.RUNNING,
    "WARNING": JobStatus.RUNNING,
    "NEW_WARNING": JobStatus.RUNNING,
    "COMPLETED": JobStatus.SUCCESS,
    "ERROR": JobStatus.ERROR,
    "CANCELED": JobStatus.CANCELED,
    "STATUS_UPDATE": JobStatus.RUNNING,
    "INPUT_INFORMATION": JobStatus.RUNNING,
    "COMPLETE": JobStatus.SUCCESS,
}
# A job's life, stage by stage (issue 20); the states of one stage are alternatives.
LIFE_ORDER = [
    ("SUBMITTED",),
    ("QUEUE_HOP",),
    ("PROGRESSING",),
    ("INPUT_INFORMATION",),
    ("STATUS_UPDATE",),
    ("WARNING", "NEW_WARNING"),
    ("COMPLETED", "COMPLETE", "ERROR", "CANCELED"),
]


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


@st.composite
def same_millisecond_pairs(draw: st.DrawFn) -> tuple[Notification, Notification]:
    """Two notifications of one job stamped with the same millisecond, the second later in its life."""
    earlier, later = sorted(draw(st.lists(st.integers(0, len(LIFE_ORDER) - 1), min_size=2, max_size=2, unique=True)))
    at = draw(st.integers(946_684_800_000, 4_102_444_800_000))

    def one(stage: int) -> Notification:
        state = draw(st.sampled_from(LIFE_ORDER[stage]))
        progress = draw(st.none() | st.integers(0, 100))
        return note(state, at, draw(st.text(min_size=1, max_size=40)), progress=progress)

    return one(earlier), one(later)


@given(same_millisecond_pairs())
def test_equal_milliseconds_follow_a_jobs_life_order(pair: tuple[Notification, Notification]) -> None:
    """Issue 20: QUEUE_HOP (before the job starts) outranked PROGRESSING, INPUT_INFORMATION fell below it."""
    earlier, later = pair
    assert order_key(later) > order_key(earlier)
    assert coalesce([later, earlier])["job"].winner == later
    assert coalesce([earlier, later])["job"].winner == later


def test_stored_keys_keep_their_meaning() -> None:
    """Order keys are stored in rows: a state's rank changes only on purpose, and the README says
    what rows written before make of it. Issue 20 moved QUEUE_HOP (3 -> 1) and INPUT_INFORMATION (1 -> 3)."""
    ranks = {state: order_key(note(state, 5, "e"))[18:20] for state in STATUS}
    assert ranks == {
        "SUBMITTED": "00",
        "QUEUE_HOP": "01",
        "PROGRESSING": "02",
        "INPUT_INFORMATION": "03",
        "STATUS_UPDATE": "04",
        "WARNING": "05",
        "NEW_WARNING": "05",
        "COMPLETED": "06",
        "COMPLETE": "06",
        "ERROR": "07",
        "CANCELED": "08",
    }
    assert order_key(note("PROGRESSING", 5, "e", progress=7)) == "0.000000000000005.02.007.e"


def test_duplicate_has_the_same_key() -> None:
    assert order_key(note("WARNING", 7, "sns-1")) == order_key(note("WARNING", 7, "sns-1"))


def test_coalesce_keeps_the_winner_per_job_with_all_warnings_and_latest_progress() -> None:
    batch = [
        note("STATUS_UPDATE", 1, "a", progress=30, phase="TRANSCODING"),
        note("WARNING", 2, "b", warnings=("w1",)),
        note("PROGRESSING", 3, "c", warnings=("w2", "w1")),
        note("PROGRESSING", 1, "x", job_id="other"),
    ]
    updates = coalesce(batch)
    assert set(updates) == {"job", "other"}
    update = updates["job"]
    assert update.winner is batch[2]  # the winner itself is untouched: its key is its own
    assert update.warnings == ("w1", "w2")
    assert update.progress is batch[0]
    assert update.records == 3
    assert updates["other"] == JobUpdate.of(batch[3])


def test_batching_never_changes_a_notifications_key() -> None:
    """Review finding 12: borrowed progress changed the winner's key, so its lone redelivery
    looked stale, not duplicate."""
    warning = note("WARNING", 2, "w")
    update = coalesce([note("STATUS_UPDATE", 1, "s", progress=30), warning])["job"]
    assert order_key(update.winner) == order_key(warning)


@given(st.permutations(["PROGRESSING", "WARNING", "COMPLETED", "PROGRESSING"]))
def test_coalesce_winner_does_not_depend_on_batch_order(states: list[str]) -> None:
    batch = [
        note(state, at=i * 1000 if state != "COMPLETED" else 500, event_id=str(i)) for i, state in enumerate(states)
    ]
    assert coalesce(batch)["job"].winner.state == "COMPLETED"
    assert coalesce(list(reversed(batch)))["job"].winner == coalesce(batch)["job"].winner


def stored(n: Notification | None = None, **changes: object) -> StoredState:
    state = StoredState(
        order_key=None if n is None else order_key(n),
        progress_key=None if n is None or n.progress is None else order_key(n),
        warnings=frozenset(() if n is None else n.warnings),
    )
    return replace(state, **changes)  # type: ignore[arg-type]


def test_what_progress_a_refused_update_still_adds() -> None:
    row = stored(note("STATUS_UPDATE", 9, progress=40), warnings=frozenset({"old"}))
    late = JobUpdate.of(note("STATUS_UPDATE", 5, progress=60, warnings=("old", "new")))
    # Progress is the latest report: an older one adds nothing, whatever its percent.
    assert progress_to_merge(row, late, winner_written=False) is None
    newer = JobUpdate.of(note("STATUS_UPDATE", 11, progress=10))
    assert progress_to_merge(row, newer, winner_written=False) is newer.winner
    assert progress_to_merge(stored(), newer, winner_written=False) is newer.winner


def test_a_written_winner_carried_its_own_progress_but_not_a_batch_mates() -> None:
    report = note("STATUS_UPDATE", 5, "s", progress=50)
    update = coalesce([report, note("ERROR", 9, "e")])["job"]
    assert progress_to_merge(stored(), update, winner_written=True) is report
    assert progress_to_merge(stored(report), update, winner_written=True) is None
    own = JobUpdate.of(report)
    assert progress_to_merge(stored(), own, winner_written=True) is None


def test_other_places_are_the_notifications_that_contradict_their_jobs_place_so_far() -> None:
    """A place is learnt a part at a time (an account, then a Region); only a contradiction is another place."""
    batch = [
        note("PROGRESSING", 1, "a"),  # says no place
        note("PROGRESSING", 2, "b", account="111122223333"),
        note("STATUS_UPDATE", 3, "c", region="us-east-1"),
        note("COMPLETED", 4, "d", account="111122223333", region="eu-west-1"),  # another Region
        note("COMPLETED", 5, "e", account="444455556666"),  # another account
        note("COMPLETED", 6, "f", job_id="other", account="444455556666", region="eu-west-1"),
        note("ERROR", 7, "g", account="111122223333", region="us-east-1"),
    ]
    assert other_places(batch) == [3, 4]


def test_a_coalesced_winner_carries_the_place_its_batch_mates_say() -> None:
    """The state write's condition is the winner's: a winner that does not say where its job ran
    takes the batch's place, so another place's row still refuses the whole update (a clash)."""
    said = note("PROGRESSING", 1, "a", account="444455556666")
    region = note("STATUS_UPDATE", 2, "b", region="eu-west-1")
    bare = note("COMPLETED", 3, "c")
    update = coalesce([said, region, bare])["job"]
    assert (update.winner.event_id, update.winner.account, update.winner.region) == ("c", "444455556666", "eu-west-1")
    assert order_key(update.winner) == order_key(bare)  # the same key on any redelivery
    assert coalesce([bare])["job"].winner is bare
