"""Which notification of a job wins, and what the others still add. Pure: no I/O.

Delivery is at-least-once and unordered, so the row must converge whatever the order. Each
notification has an order key, computed from the notification alone; the row keeps the
notification with the greatest key, and a write lands only if its key is greater (the table's
condition). A terminal state outranks every running one and, once stored, is never replaced.

Two things are merged rather than replaced, because later notifications need not repeat them:
warnings (a set union) and progress (the latest report, in order-key order, with its phase).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .notification import Notification

# Tie-break between notifications of one job stamped with the same millisecond (MediaConvert sends
# such pairs): the state later in a job's life wins. SUBMITTED (MediaConvert's own answer) and any
# state not listed rank 0. The ranks are in stored order keys: issue 20 swapped QUEUE_HOP (was 3) and
# INPUT_INFORMATION (was 1), the rest kept theirs. A row written before differs only in a tie of one
# millisecond between those and a running state: its winner stands until the job's next, later
# notification replaces it (a redelivery of an INPUT_INFORMATION it holds is written again, same
# content); finished rows, whose ranks did not change, are untouched. No migration is needed.
_STATE_RANK = {
    state: rank
    for rank, states in enumerate(
        (
            ("SUBMITTED",),
            ("QUEUE_HOP",),
            ("PROGRESSING",),
            ("INPUT_INFORMATION",),
            ("STATUS_UPDATE",),
            ("WARNING", "NEW_WARNING"),
            ("COMPLETED", "COMPLETE"),
            ("ERROR",),
            ("CANCELED",),
        )
    )
    for state in states
}

TIME_DIGITS = 15  # epoch milliseconds until the year 33658; the parser keeps times in 2000-2100


def order_key(notification: Notification) -> str:
    """A text key whose byte order is the precedence order (DynamoDB compares strings by bytes).

    Terminal first, then event time, state rank, the notification's own progress and, last, its
    event ID, so that equal timestamps still order the same way on every delivery.
    """
    time = notification.event_time_ms
    if not 0 <= time < 10**TIME_DIGITS:
        raise ValueError(f"event time {time} does not fit the order key")
    rank = _STATE_RANK.get(notification.state, 0)
    progress = min(max(notification.progress or 0, 0), 999)
    return f"{notification.finished:d}.{time:0{TIME_DIGITS}d}.{rank:02d}.{progress:03d}.{notification.event_id}"


@dataclass(frozen=True, slots=True)
class JobUpdate:
    """What one batch says about one job: the winning notification, every warning, the latest
    progress report. Writing it gives the row that writing each notification in turn would give."""

    winner: Notification
    warnings: tuple[str, ...]
    progress: Notification | None  # the notification with the greatest key that reports progress
    records: int = 1  # how many notifications it stands for

    @property
    def job_id(self) -> str:
        return self.winner.job_id

    @classmethod
    def of(cls, notification: Notification) -> JobUpdate:
        progress = notification if notification.progress is not None else None
        return cls(notification, notification.warnings, progress)


def coalesce(notifications: Iterable[Notification]) -> dict[str, JobUpdate]:
    """One update per job. The notifications themselves are kept as they are, so that a
    redelivery has the same order key whatever it was batched with."""
    by_job: dict[str, list[Notification]] = {}
    for notification in notifications:
        by_job.setdefault(notification.job_id, []).append(notification)
    return {job_id: _merge(group) for job_id, group in by_job.items()}


def clashes(notification: Notification, account: str | None, region: str | None) -> bool:
    """Whether a job said to have run in ``account`` and ``region`` (None: not said) is another
    place's job than the notification's: one of them differs where both are said."""
    pairs = ((notification.account, account), (notification.region, region))
    return any(mine and theirs and mine != theirs for mine, theirs in pairs)


def clash_text(notification: Notification, account: str | None, region: str | None) -> str:
    """What the writer's log, a repair's report and ``dlq show`` say of a clash (``clashes``): the
    phrase an operator searches the log for, and both places ('?' where one is not said)."""
    return (
        f"two accounts' events for one row: job {notification.job_id} of account {notification.account or '?'} in "
        f"{notification.region or '?'}, but its row is the job of account {account or '?'} in {region or '?'}"
    )


def other_places(notifications: Iterable[Notification]) -> list[int]:
    """The positions of the notifications that say another place (account, Region) than an earlier
    one of the same job ID: coalesced with it, one would be superseded by the other unseen."""
    places: dict[str, tuple[str | None, str | None]] = {}
    others: list[int] = []
    for position, notification in enumerate(notifications):
        if notification.account is None and notification.region is None:
            continue
        account, region = places.get(notification.job_id, (None, None))
        if clashes(notification, account, region):
            others.append(position)
        else:
            places[notification.job_id] = (account or notification.account, region or notification.region)
    return others


def _merge(group: list[Notification]) -> JobUpdate:
    if len(group) == 1:
        return JobUpdate.of(group[0])
    with_progress = [n for n in group if n.progress is not None]
    winner = max(group, key=order_key)
    # Where the job ran, as the batch says it (other_places left no contradiction): a winner that
    # does not say it still carries it into the state write's condition, which would otherwise let
    # another place's batch-mate be superseded unseen instead of clashing with the row.
    account = winner.account or next((n.account for n in group if n.account), None)
    region = winner.region or next((n.region for n in group if n.region), None)
    if (account, region) != (winner.account, winner.region):
        winner = replace(winner, account=account, region=region)
    return JobUpdate(
        winner=winner,
        warnings=tuple(dict.fromkeys(w for n in group for w in n.warnings)),
        progress=max(with_progress, key=order_key) if with_progress else None,
        records=len(group),
    )


@dataclass(frozen=True, slots=True)
class StoredState:
    """What the row held before a write: enough to tell what the update still has to add."""

    order_key: str | None
    progress_key: str | None
    warnings: frozenset[str]


def progress_to_merge(stored: StoredState, update: JobUpdate, winner_written: bool) -> Notification | None:
    """The progress report the row still lacks: only one later than the row's."""
    report = update.progress
    if report is None or (winner_written and update.winner.progress is not None):
        return None  # none, or the state write carried it: a winner's report is the latest
    if stored.progress_key is not None and stored.progress_key >= order_key(report):
        return None
    return report
