"""The soak's load: jobs, the notifications they send, how delivery mangles them, and the rows they
must leave. Pure: no I/O; the same seed gives the same load.

Half the jobs are Elastic Transcoder's (published to the SNS topic), half MediaConvert's (put on
the EventBridge bus). Of the notifications sent, a share are duplicates and a share malformed; the
rest are each job's own, in a life that ends in one terminal state. The delivery order is a
shuffle of everything, so most jobs see their notifications out of order, many after their
terminal one. Duplicates come after their original, either published again (the source retrying:
new SNS or EventBridge ID) or copied into the queue with the original's IDs and time (SQS or SNS
delivering twice); some of the copies come last, long after the job finished (late).

A job's expected row is what any correct writer must leave, computed from the notifications alone:
status, state, details and output files of the terminal one, the status index's key its status
gives, every warning, and the progress of the latest STATUS_UPDATE (COMPLETE reports 100); its
finishedAt and notifiedAt, the terminal notification's time. A MediaConvert event carries its own;
an Elastic Transcoder message carries none, so its time is the SNS envelope's, stamped while the
publish call ran. One published more than once (a duplicate published again) has a time per
publish, and which of them the row ends with is a race (the first terminal write stands): any of
them is accepted then. Only expiresAt comes from the writer's clock: RetentionDays after the
terminal write, which falls between the terminal notification's first send and the check.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum
from functools import cached_property
from typing import Any

from transcoder_status.local.messages import elastic_transcoder_message, iso_ms, mediaconvert_event, sns_envelope
from transcoder_status.notification import JobDetails, Notification, Source
from transcoder_status.sources import Delivery, parse_body
from transcoder_status.status import JobStatus
from transcoder_status.table import EXPIRES_AT, PLAYLISTS, STATUS_SHARD, row_from_item, status_shard

MIN_NOTIFICATIONS_PER_JOB = 4  # a job's own (2 or 3), and room for duplicates and malformed ones
STEP_MS = 1000  # between a MediaConvert job's events: their order is unambiguous


class Route(Enum):
    """Where a notification enters the pipeline."""

    TOPIC = "topic"  # SNS PublishBatch: Elastic Transcoder
    BUS = "bus"  # EventBridge PutEvents: MediaConvert
    QUEUE = "queue"  # SQS SendMessageBatch: a copy of a delivered message


class Kind(Enum):
    ORIGINAL = "original"
    REPUBLISHED = "duplicate, published again"
    COPIED = "duplicate, copied into the queue"
    LATE_COPY = "duplicate, copied into the queue last (late)"
    MALFORMED = "malformed"


@dataclass(eq=False)  # one notification is one send: compared by identity
class Outgoing:
    """One notification to send. ``document`` is the Elastic Transcoder message or the MediaConvert
    event; a copy (``original`` set) is built when it is sent, from the IDs its original got."""

    route: Route
    kind: Kind
    document: dict[str, Any] | str
    job_id: str | None = None  # None: malformed
    terminal: bool = False
    original: Outgoing | None = None
    token: str | None = None  # a malformed one's mark, found again in the DLQ
    malformed_reason: str | None = None
    # Filled in by the sender: the ID the service gave it, when the call sending it started and when
    # it returned (epoch ms; SNS stamps its envelope in between).
    message_id: str | None = None
    sent_ms: int | None = None
    answered_ms: int | None = None


@dataclass
class PlannedJob:
    job_id: str
    source: str
    outcome: JobStatus
    notifications: list[Outgoing] = field(default_factory=list)  # its own, in event order
    clock_ms: int = 0  # MediaConvert: the time of its latest event so far


@dataclass(frozen=True)
class RowFacts:
    """What a job's row must hold exactly, whichever correct writer wrote it."""

    status: JobStatus
    finished: bool
    state: str
    source: str
    status_shard: str  # the status index's key: what listings and the stuck check find the row by
    details: tuple[Any, ...]  # pipeline or queue, outputs, error, metadata: the terminal notification's
    playlists: tuple[str, ...]  # the manifests the finished event lists
    warnings: tuple[str, ...]
    progress: int | None
    phase: str | None


# The item's names of the facts named otherwise here.
_ATTRIBUTE_NAMES = {"status_shard": STATUS_SHARD, "playlists": PLAYLISTS}


@dataclass(frozen=True)
class Stored:
    """A row as the table holds it: its facts, and its times."""

    facts: RowFacts
    finished_at: str | None
    notified_at: str | None
    expires_at: int | None  # epoch seconds

    @classmethod
    def of_item(cls, item: Mapping[str, Any]) -> Stored:
        row = row_from_item(item)
        facts = RowFacts(
            row.status,
            row.finished,
            row.state or "",
            row.source or "",
            str(item.get(STATUS_SHARD, {}).get("S", "")),
            _details(row),
            row.playlists,
            tuple(sorted(row.warnings)),
            row.progress,
            row.phase,
        )
        expires = item.get(EXPIRES_AT)
        return cls(facts, row.finished_at, row.notified_at, None if expires is None else int(expires["N"]))


@dataclass(frozen=True)
class Expected:
    """The row a correct writer must leave: its facts exactly; its times within what the job's
    notifications and the run allow (see the module's docstring)."""

    facts: RowFacts
    event_times: tuple[range, ...]  # epoch ms: finishedAt and notifiedAt are one time, in one of these
    expires_at: range  # epoch seconds

    def differences(self, stored: Stored | None) -> list[str]:
        """What the row holds that it must not, one line per attribute; none for a right row."""
        if stored is None:
            return ["no row"]
        found = [
            f"{_ATTRIBUTE_NAMES.get(fact.name, fact.name)}: {held!r}, expected {wanted!r}"
            for fact in fields(RowFacts)
            if (held := getattr(stored.facts, fact.name)) != (wanted := getattr(self.facts, fact.name))
        ]
        times = " or ".join(_span(span, iso_ms) for span in self.event_times) or "none (never sent)"
        untimely = [
            f"{name}: {value!r}, expected the terminal notification's time, {times}"
            for name, value in (("finishedAt", stored.finished_at), ("notifiedAt", stored.notified_at))
            if (time_ms := _epoch_ms(value)) is None or not any(time_ms in span for span in self.event_times)
        ]
        found += untimely
        if not untimely and stored.notified_at != stored.finished_at:  # both the winner's: one time
            found.append(f"notifiedAt: {stored.notified_at!r}, expected finishedAt's {stored.finished_at!r}")
        if stored.expires_at is None or stored.expires_at not in self.expires_at:
            expected = _span(self.expires_at, lambda seconds: f"{seconds:,}")
            found.append(
                f"expiresAt: {stored.expires_at!r}, expected RetentionDays after the terminal write, {expected}"
            )
        return found


@dataclass
class Load:
    seed: int
    jobs: list[PlannedJob]
    sends: list[Outgoing]  # in delivery order

    @property
    def malformed(self) -> list[Outgoing]:
        return [send for send in self.sends if send.kind is Kind.MALFORMED]

    def disorder(self) -> tuple[int, int]:
        """How mangled the delivery order is: notifications sent after their job's terminal one,
        and MediaConvert events sent after a later event of their job."""
        finished: set[str] = set()
        latest: dict[str, int] = {}
        after_terminal = out_of_order = 0
        for send in self.sends:
            if send.job_id is None:
                continue
            after_terminal += send.job_id in finished
            if send.terminal:
                finished.add(send.job_id)
            if isinstance(send.document, dict) and "detail" in send.document:  # MediaConvert's, or a copy
                time_ms = int(send.document["detail"]["timestamp"])
                out_of_order += time_ms < latest.get(send.job_id, 0)
                latest[send.job_id] = max(time_ms, latest.get(send.job_id, 0))
        return after_terminal, out_of_order

    def expected(self, job: PlannedJob, *, retention_days: int, checked_ms: int) -> Expected:
        """The job's row once every notification is in; ``checked_ms``: when it is read."""
        parsed = [_parse(send) for send in job.notifications]
        ((terminal_send, terminal),) = [(s, n) for s, n in zip(job.notifications, parsed, strict=True) if n.finished]
        updates = [n for n in parsed if n.state == "STATUS_UPDATE"]
        report = (
            terminal if terminal.progress is not None else max(updates, key=lambda n: n.event_time_ms, default=None)
        )
        facts = RowFacts(
            terminal.status,
            True,
            terminal.state,
            terminal.source,
            status_shard(terminal.status, job.job_id),
            _details(terminal),
            terminal.playlists,
            tuple(sorted({w for n in parsed for w in n.warnings})),
            None if report is None else report.progress,
            None if report is None else report.phase,
        )
        sends = [send for send in self.sends_of(terminal_send) if send.sent_ms is not None]
        if terminal_send.route is Route.TOPIC:  # the envelope's time; a copy keeps its original's
            times = tuple(
                range(send.sent_ms, send.answered_ms + 1)
                for send in sends
                if send.route is Route.TOPIC and send.sent_ms is not None and send.answered_ms is not None
            )
        else:
            times = (range(terminal.event_time_ms, terminal.event_time_ms + 1),)
        retention_s = retention_days * 86400
        first_s = min((send.sent_ms for send in sends if send.sent_ms is not None), default=checked_ms) // 1000
        return Expected(facts, times, range(first_s + retention_s, checked_ms // 1000 + retention_s + 1))

    def sends_of(self, send: Outgoing) -> list[Outgoing]:
        """A notification's every send: itself and its duplicates, which share its document."""
        return self._sends_by_document[id(send.document)]

    @cached_property
    def _sends_by_document(self) -> dict[int, list[Outgoing]]:
        sends: dict[int, list[Outgoing]] = {}
        for send in self.sends:
            sends.setdefault(id(send.document), []).append(send)
        return sends

    def republished_terminals(self) -> int:
        """Elastic Transcoder jobs whose terminal notification went out on the topic more than once:
        their finishedAt may be any of those sends' times (see the module's docstring)."""
        return sum(
            len([s for s in self.sends_of(send) if s.route is Route.TOPIC]) > 1
            for job in self.jobs
            for send in job.notifications
            if send.terminal and send.route is Route.TOPIC
        )


def plan_load(
    notifications: int,
    jobs: int,
    *,
    seed: int,
    start_ms: int,
    duplicate_share: float = 0.2,
    malformed_share: float = 0.01,
    late_share: float = 0.25,
) -> Load:
    """``notifications`` to send in all (duplicates and malformed ones included) for ``jobs`` jobs."""
    if jobs < 2 or notifications < MIN_NOTIFICATIONS_PER_JOB * jobs:
        raise ValueError(
            f"{notifications} notifications for {jobs} jobs: give at least 2 jobs and "
            f"{MIN_NOTIFICATIONS_PER_JOB} notifications per job"
        )
    # A reproducible load, not a secret: the standard generator is right here.
    chance = random.Random(seed)  # nosec B311
    malformed = max(1, round(notifications * malformed_share))
    duplicates = round(notifications * duplicate_share)
    planned = [_job(index, seed, start_ms, chance) for index in range(jobs)]
    extras = notifications - malformed - duplicates - sum(len(j.notifications) + 1 for j in planned)
    _add_lives(planned, extras, seed, chance)

    sends: list[Outgoing] = [n for job in planned for n in job.notifications]
    sends += [_malformed(number, seed, start_ms) for number in range(malformed)]
    chance.shuffle(sends)
    originals = [n for n in sends if n.kind is Kind.ORIGINAL]
    late: list[Outgoing] = []
    for _ in range(duplicates):
        original = chance.choice(originals)
        if chance.random() < 0.5:
            copy = Outgoing(original.route, Kind.REPUBLISHED, original.document, original.job_id)
        elif chance.random() < late_share * 2:
            late.append(Outgoing(Route.QUEUE, Kind.LATE_COPY, original.document, original.job_id, original=original))
            continue
        else:
            copy = Outgoing(Route.QUEUE, Kind.COPIED, original.document, original.job_id, original=original)
        sends.insert(chance.randint(sends.index(original) + 1, len(sends)), copy)
    chance.shuffle(late)
    return Load(seed, planned, sends + late)


def _job(index: int, seed: int, start_ms: int, chance: random.Random) -> PlannedJob:
    """A job and its first notifications (its terminal one comes with the rest of its life)."""
    job_id = f"{start_ms + index}-{chance.randbytes(3).hex()}"  # shaped like real job IDs
    if index % 2 == 0:
        outcome = chance.choice([JobStatus.SUCCESS, JobStatus.SUCCESS, JobStatus.ERROR])
        job = PlannedJob(job_id, Source.ELASTIC_TRANSCODER, outcome)
        job.notifications.append(_et(job_id, "PROGRESSING"))
        return job
    outcome = chance.choice([JobStatus.SUCCESS, JobStatus.SUCCESS, JobStatus.ERROR, JobStatus.CANCELED])
    job = PlannedJob(job_id, Source.MEDIACONVERT, outcome, clock_ms=start_ms - chance.randrange(3_600_000))
    for status in ("INPUT_INFORMATION", "PROGRESSING"):
        job.notifications.append(_mc(job, status, seed))
    return job


def _add_lives(jobs: list[PlannedJob], count: int, seed: int, chance: random.Random) -> None:
    """Give the jobs ``count`` more notifications of their own, then each its terminal one: a few
    warnings, MediaConvert QUEUE_HOPs and, most of all, STATUS_UPDATEs."""
    media = [job for job in jobs if job.source == Source.MEDIACONVERT]
    extras: dict[str, list[str]] = {job.job_id: [] for job in jobs}
    for job in jobs:
        if job.source == Source.ELASTIC_TRANSCODER:  # a few warnings at most
            warnings = min(count, chance.choice([0, 0, 1, 2]))
            extras[job.job_id] += ["WARNING"] * warnings
            count -= warnings
    for _ in range(count):
        state = chance.choices(["STATUS_UPDATE", "NEW_WARNING", "QUEUE_HOP"], [16, 2, 1])[0]
        extras[chance.choice(media).job_id].append(state)
    for job in jobs:
        states = extras[job.job_id]
        if job.source == Source.ELASTIC_TRANSCODER:
            for number in range(1, len(states) + 1):
                warning = f"Output {number} of {job.job_id}: the input audio is mono; the output was upmixed."
                job.notifications.append(_et(job.job_id, "WARNING", warning=warning))
            job.notifications.append(_et(job.job_id, "COMPLETED" if job.outcome is JobStatus.SUCCESS else "ERROR"))
            continue
        chance.shuffle(states)
        updates, done = states.count("STATUS_UPDATE"), 0
        for state in states:
            percent = None
            if state == "STATUS_UPDATE":
                done += 1
                percent = min(99, 100 * done // (updates + 1))
            job.notifications.append(_mc(job, state, seed, percent=percent))
        terminal = {JobStatus.SUCCESS: "COMPLETE", JobStatus.ERROR: "ERROR", JobStatus.CANCELED: "CANCELED"}
        job.notifications.append(_mc(job, terminal[job.outcome], seed))


def _et(job_id: str, state: str, *, warning: str | None = None) -> Outgoing:
    message = elastic_transcoder_message(job_id, state, warning=warning)
    if state == "ERROR":  # the same seed, the same text
        message["messageDetails"] = f"3001 {job_id}: The specified object does not exist in the specified S3 bucket."
    return Outgoing(Route.TOPIC, Kind.ORIGINAL, message, job_id, terminal=state in ("COMPLETED", "ERROR"))


def _mc(job: PlannedJob, status: str, seed: int, *, percent: int | None = None) -> Outgoing:
    """The job's next MediaConvert event, a step after its previous one."""
    job.clock_ms += STEP_MS
    event = mediaconvert_event(
        job.job_id,
        status,
        job.clock_ms,
        percent=percent,
        user_metadata={"soak": str(seed)},
        event_id=f"{job.job_id}-{len(job.notifications)}",  # EventBridge gives its own; this one repeats
    )
    if status == "NEW_WARNING":  # each warning its own
        event["detail"]["warningCode"] = 230000 + len(job.notifications)
    terminal = status in ("COMPLETE", "ERROR", "CANCELED")
    return Outgoing(Route.BUS, Kind.ORIGINAL, event, job.job_id, terminal)


MALFORMED_REASONS = (
    "not JSON (SNS)",
    "no job ID (SNS)",
    "unknown status (EventBridge)",
    "time in seconds (EventBridge)",
)


def _malformed(number: int, seed: int, start_ms: int) -> Outgoing:
    """A malformed notification, marked with a token that finds it in the DLQ."""
    token = f"soak-malformed-{number:06d}"
    reason = MALFORMED_REASONS[number % len(MALFORMED_REASONS)]
    document: dict[str, Any] | str
    if reason.startswith("not JSON"):
        document = "{ " + token + ": this is not a transcoder notification"
        route = Route.TOPIC
    elif reason.startswith("no job ID"):
        document = elastic_transcoder_message("x", "COMPLETED", pipeline_id=token)
        del document["jobId"]
        route = Route.TOPIC
    else:
        route = Route.BUS
        job_id = f"{start_ms}-{number:06d}"
        document = mediaconvert_event(job_id, "COMPLETE", start_ms, user_metadata={"soak": token}, event_id=token)
        if reason.startswith("unknown status"):
            document["detail"]["status"] = "EXPLODED"
        else:
            document["detail"]["timestamp"] = start_ms // 1000
    return Outgoing(route, Kind.MALFORMED, document, token=token, malformed_reason=reason)


def queue_body(send: Outgoing) -> str:
    """The SQS body of a copy: what the queue got when its original was delivered."""
    original = send.original
    if original is None or original.message_id is None or original.sent_ms is None:
        raise ValueError("a copy is built from an original that was sent")
    document = original.document
    if not isinstance(document, dict):
        raise ValueError("only well-formed notifications are copied")
    if original.route is Route.TOPIC:
        return json.dumps(sns_envelope(document, original.sent_ms, original.message_id))
    return json.dumps({**document, "id": original.message_id})


def carried_id(body: str) -> str | None:
    """The ID of the notification a delivered SQS body carries: the SNS envelope's MessageId, or
    the EventBridge event's id (what a copy keeps of its original); None for anything else."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    found = document.get("MessageId") if document.get("Type") == "Notification" else document.get("id")
    return found if isinstance(found, str) else None


def _parse(send: Outgoing) -> Notification:
    """The notification as the function reads it (the envelope's IDs and times do not matter here)."""
    document = send.document
    if send.route is Route.TOPIC and isinstance(document, dict):
        body = json.dumps(sns_envelope(document, 1_700_000_000_000))
    else:
        body = json.dumps(document)
    return parse_body(body, Delivery(sent_ms=1_700_000_000_000, message_id="expected"))


def _epoch_ms(text: str | None) -> int | None:
    """A time as the table stores it (ISO 8601 UTC, milliseconds) in epoch milliseconds."""
    if text is None:
        return None
    try:
        return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _span(span: range, text: Callable[[int], str]) -> str:
    return text(span.start) if len(span) == 1 else f"{text(span.start)} to {text(span.stop - 1)}"


def _details(details: JobDetails) -> tuple[Any, ...]:
    return (
        details.pipeline_id,
        details.queue,
        details.outputs,
        details.error_code,
        details.error_message,
        tuple(sorted(details.user_metadata.items())),
    )
