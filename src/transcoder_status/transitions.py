"""Which notification of a job wins, and what a losing one may still add. Pure: no I/O.

Delivery is at-least-once and unordered, so the row must converge whatever the order. Each
notification gets an order key; the row keeps the notification with the greatest key and a write
only lands if its key is greater (the table's condition). A terminal state outranks every running
one and, once stored, is never replaced. Two things are merged rather than replaced, because later
notifications need not repeat them: warnings (a set union) and progress (the latest report, with
its phase).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum

from .notification import Notification

# Tie-break between notifications of one job stamped with the same millisecond (MediaConvert sends
# such pairs): the state later in a job's life wins.
_STATE_RANK = {
    state: rank
    for rank, states in enumerate(
        (
            ("INPUT_INFORMATION",),
            ("PROGRESSING",),
            ("QUEUE_HOP",),
            ("STATUS_UPDATE",),
            ("WARNING", "NEW_WARNING"),
            ("COMPLETED", "COMPLETE"),
            ("ERROR",),
            ("CANCELED",),
        ),
        start=1,
    )
    for state in states
}


def order_key(notification: Notification) -> str:
    """A text key whose byte order is the precedence order (DynamoDB compares strings by bytes).

    Terminal first, then event time, state rank, progress and, last, the event ID, so that equal
    timestamps still order the same way on every delivery.
    """
    time = max(0, notification.event_time_ms)
    rank = _STATE_RANK.get(notification.state, 0)
    progress = min(max(notification.progress or 0, 0), 999)
    return f"{notification.finished:d}.{time:015d}.{rank:02d}.{progress:03d}.{notification.event_id}"


def progress_key(notification: Notification) -> str | None:
    """Orders progress reports: by percent, then by order key, so equal percents still order."""
    if notification.progress is None:
        return None
    return f"{min(max(notification.progress, 0), 999):03d}.{order_key(notification)}"


def coalesce(notifications: Iterable[Notification]) -> dict[str, Notification]:
    """One notification per job: the winner, carrying the warnings and progress of the others.

    Writing the result gives the row that writing each notification in turn would give, in one
    write: safe because the writes are monotonic.
    """
    by_job: dict[str, list[Notification]] = {}
    for notification in notifications:
        by_job.setdefault(notification.job_id, []).append(notification)
    return {job_id: _merge(group) for job_id, group in by_job.items()}


def _merge(group: list[Notification]) -> Notification:
    winner = max(group, key=order_key)
    if len(group) == 1:
        return winner
    warnings = tuple(dict.fromkeys(w for n in group for w in n.warnings))
    with_progress = [n for n in group if n.progress is not None]
    if winner.progress is None and with_progress:
        best = max(with_progress, key=lambda n: progress_key(n) or "")
        return replace(winner, warnings=warnings, progress=best.progress, phase=best.phase)
    return replace(winner, warnings=warnings)


@dataclass(frozen=True, slots=True)
class StoredState:
    """What a rejected write learns of the row that refused it."""

    order_key: str
    finished: bool
    progress_key: str | None
    warnings: frozenset[str]


class Rejection(Enum):
    """Why the row refused a notification."""

    DUPLICATE = "duplicate"  # the row already holds this very notification
    STALE = "stale"  # the row holds a later notification, or a terminal one
    WARNINGS_FULL = "warnings-full"  # newer, but the row holds as many warnings as it may


def classify_rejection(stored: StoredState, notification: Notification) -> Rejection:
    key = order_key(notification)
    if stored.order_key == key:
        return Rejection.DUPLICATE
    if notification.warnings and not stored.finished and stored.order_key < key:
        return Rejection.WARNINGS_FULL  # newer and the row is running: only the warnings cap refused it
    return Rejection.STALE


def progress_to_merge(stored: StoredState, notification: Notification) -> str | None:
    """The progress key a stale notification still adds: only a report later than the row's."""
    key = progress_key(notification)
    if key is None or (stored.progress_key is not None and stored.progress_key >= key):
        return None
    return key


def warnings_to_merge(stored: StoredState, notification: Notification) -> tuple[str, ...]:
    """The warnings a stale notification still adds: those the row does not hold yet."""
    return tuple(w for w in notification.warnings if w not in stored.warnings)
