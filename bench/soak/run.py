"""``make soak``: the whole pipeline under load, and under faults, on the stack ``make demo`` runs.

The load (``load``) goes in end to end: Elastic Transcoder notifications through the SNS topic
(PublishBatch), MediaConvert events through EventBridge (PutEvents), copies straight into the queue;
the queue feeds the poller, the poller the function, the function the table. A client polls the
table with the library (``watch_jobs``) from the start, noting when it sees each job finished. The
run ends by itself once the queue is empty (every message deleted or moved to the DLQ) and the
client saw every job finished, or at its time bound. Then it checks:

- every row against what the job's notifications require (``Load.expected``), and no stray rows;
- the DLQ holds exactly the malformed messages, found by their tokens;
- nothing was lost, by identity: every notification sent is matched to the SQS message that carried
  it, handled by the function or in the DLQ (see ``SoakResult.account``), and no message carried
  anything else;
- the client saw every job finished;
- the publisher (run on the table's stream as ``make demo`` runs it) counted each job finished once
  (JobsSucceeded, JobsFailed, JobsCanceled in its EMF log), as many as the load finished, faults or not.

Faults (``--faults``): ``dynamodb`` (throttling and 500s on a share of the function's writes),
``sqs`` (errors on a share of the poller's receives, deletes and releases), both through the fault
proxy the runtime talks to; ``kill`` (worker processes SIGKILLed mid-batch) and ``restart`` (the
runtime stopped and started again), see ``chaos``.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from transcoder_status.client import BATCH_GET_LIMIT, Backoff, JobWaitTimeout, StatusTableError, connect, watch_jobs
from transcoder_status.local.consumer import emf_totals
from transcoder_status.local.emulator import Emulator, exported, running_emulator
from transcoder_status.local.provision import Stack, provision
from transcoder_status.local.runtime import start_runtime
from transcoder_status.local.stream_mapping import StreamMapping
from transcoder_status.publisher import JOB_OUTCOME_METRICS
from transcoder_status.table import JOB_ID, StatusTable

from .chaos import ChaosLog, Milestones, Supervisor, kill_workers, restart_runtime
from .faults import FaultProxy, share_of_calls
from .load import (
    MIN_NOTIFICATIONS_PER_JOB,
    Kind,
    Load,
    Outgoing,
    Route,
    Stored,
    carried_id,
    plan_load,
    queue_body,
)

FAULTS = ("dynamodb", "sqs", "kill", "restart")
# The client polls fast, to measure how soon a job is seen finished (the library's default starts
# at 0.5 s and backs off to 2 s).
CLIENT_BACKOFF = Backoff(initial=0.2, maximum=1.0)
# With faults, a message may fail a few deliveries for the faults' sake alone: the soak's stack lets
# it (the template's default is 5), so that only the malformed ones reach the DLQ.
FAULTY_MAX_RECEIVE_COUNT = 10
DYNAMODB_CALLS = (("dynamodb", "UpdateItem"),)
SQS_CALLS = (("sqs", "ReceiveMessage"), ("sqs", "DeleteMessageBatch"), ("sqs", "ChangeMessageVisibilityBatch"))
SETTLED_POLL_S = 0.25
EMPTY_FOR_S = 3.0  # well past the poller's retry delay (1 s) before a failed record is visible
# The poller (the runtime process) retries its SQS calls as the function retries its writes
# (the template's AWS_RETRY_MODE and AWS_MAX_ATTEMPTS): an injected error is seen after three.
POLLER_RETRIES = {"AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "3"}
# The sender keeps pace with the pipeline: it waits while this many messages wait in the queue, so
# that the figures are the pipeline's at its own pace, not a backlog's growth.
BACKLOG_LIMIT = 100
# Once the queue is empty, the client needs one more round (at most its longest pause) to see all.
CLIENT_GRACE_S = 10.0
PROGRESS_EVERY_S = 15.0


@dataclass(frozen=True)
class SoakOptions:
    notifications: int = 10_000
    jobs: int = 1_000
    faults: frozenset[str] = frozenset()
    fault_rate: float = 0.1  # share of the chosen calls that fail (dynamodb, sqs)
    kills: int = 5
    restarts: int = 2
    seed: int = 1
    backlog: int = BACKLOG_LIMIT  # 0: send as fast as possible
    max_receive_count: int | None = None  # None: the template's, or FAULTY_MAX_RECEIVE_COUNT with faults
    timeout_s: float | None = None  # None: 2 minutes plus 0.1 s per notification

    def __post_init__(self) -> None:
        if self.jobs < 2 or self.notifications < MIN_NOTIFICATIONS_PER_JOB * self.jobs:
            raise ValueError(
                f"{self.notifications} notifications for {self.jobs} jobs: give at least 2 jobs "
                f"and {MIN_NOTIFICATIONS_PER_JOB} notifications per job"
            )
        if unknown := self.faults - set(FAULTS):
            raise ValueError(f"unknown fault(s) {', '.join(sorted(unknown))}; choose from {', '.join(FAULTS)}")

    @property
    def receive_count(self) -> int:
        if self.max_receive_count is not None:
            return self.max_receive_count
        return FAULTY_MAX_RECEIVE_COUNT if self.faults else 5

    @property
    def time_bound_s(self) -> float:
        return self.timeout_s if self.timeout_s is not None else 120 + 0.1 * self.notifications


@dataclass
class FunctionLog:
    """What the function's log tells the soak."""

    # The messages the function applied (or found stale): SQS message ID -> the notification's own ID.
    handled: dict[str, str] = field(default_factory=dict)
    written: list[dict[str, Any]] = field(default_factory=list)  # the "jobs written" entries, in order
    poller: dict[str, int] = field(default_factory=dict)  # summed over every runtime that ran
    started: int = 0  # invocations (Lambda's START lines)
    ended: int = 0  # END lines: a START without one was cut short (a worker killed mid-batch)

    @classmethod
    def read(cls, path: Path) -> FunctionLog:
        log = cls()
        for line in path.read_text(errors="replace").splitlines():
            log.started += line.startswith("START RequestId: ")
            log.ended += line.startswith("END RequestId: ")
            entry = _json(line)
            if entry.get("message") == "jobs written":
                log.written += entry["jobs"]
                for job in entry["jobs"]:
                    log.handled.update(zip(map(str, job["messageIds"]), map(str, job["eventIds"]), strict=True))
            if "poller" in entry:  # each runtime prints its poller's counts as it stops
                for name, value in {**entry["poller"], "cold_starts": entry.get("cold_starts", 0)}.items():
                    log.poller[name] = log.poller.get(name, 0) + int(value)
        return log


@dataclass
class SoakResult:
    options: SoakOptions
    load: Load
    log_path: Path  # the function's log
    sent: int = 0
    problems: list[str] = field(default_factory=list)  # what kept the run from finishing
    publish_errors: list[str] = field(default_factory=list)
    publish_s: float = 0.0
    drained_s: float | None = None  # from the first send until the queue was empty; None: never
    terminal_sent: dict[str, float] = field(default_factory=dict)  # epoch s, the first terminal send
    seen_finished: dict[str, float] = field(default_factory=dict)  # epoch s, by the client
    wrong: dict[str, list[str]] = field(default_factory=dict)  # job: what its row holds that it must not
    stray_rows: int = 0
    items: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # each job's row as DynamoDB holds it
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    log: FunctionLog = field(default_factory=FunctionLog)
    proxy: FaultProxy | None = None
    chaos: ChaosLog = field(default_factory=ChaosLog)
    job_metrics: dict[str, int] = field(default_factory=dict)  # the publisher's JobsSucceeded ... totals

    @property
    def expected_job_metrics(self) -> dict[str, int]:
        """Each outcome metric's total if every job is counted once: what the load finished."""
        counted = dict.fromkeys(JOB_OUTCOME_METRICS.values(), 0)
        for job in self.load.jobs:
            counted[JOB_OUTCOME_METRICS[job.outcome.value]] += 1
        return counted

    @property
    def counted_job_metrics(self) -> dict[str, int]:
        return {name: self.job_metrics.get(name, 0) for name in self.expected_job_metrics}

    @property
    def malformed_tokens(self) -> set[str]:
        return {send.token for send in self.load.malformed if send.token}

    def dead_letter_tokens(self) -> tuple[set[str], int]:
        """Tokens of the malformed messages in the DLQ, and how many DLQ messages carry none."""
        found: set[str] = set()
        others = 0
        for message in self.dead_letters:
            tokens = {token for token in self.malformed_tokens if token in message["Body"]}
            found |= tokens
            others += not tokens
        return found, others

    def account(self) -> tuple[list[Outgoing], list[str]]:
        """Match every notification sent to the SQS message that carried it, by ID: a copy put in the
        queue by its own SQS message ID; one published on the topic or the bus by the SNS or
        EventBridge ID its delivered body carries (the function's log names both IDs of each message
        it handled; a dead letter's body holds the second). The emulator delivers each publish once.

        Returns the notifications no message carried (lost), and the SQS messages that carried none
        the soak sent, or one that another message carried already (extra)."""
        carried = dict(self.log.handled)
        for message in self.dead_letters:
            carried.setdefault(message["MessageId"], carried_id(message["Body"]) or "")
        sent = [send for send in self.load.sends if send.message_id is not None]
        copies = {send.message_id: send for send in sent if send.route is Route.QUEUE}
        published = {send.message_id: send for send in sent if send.route is not Route.QUEUE}
        matched: set[Outgoing] = set()
        extra: list[str] = []
        for message_id, event_id in carried.items():
            send = copies[message_id] if message_id in copies else published.get(event_id)
            if send is None or send in matched:
                extra.append(message_id)
            else:
                matched.add(send)
        return [send for send in sent if send not in matched], extra

    @property
    def lost(self) -> int:
        return len(self.account()[0])

    @property
    def unseen(self) -> list[str]:
        """Jobs the client never saw finished (their latency is in no percentile)."""
        return [job.job_id for job in self.load.jobs if job.job_id not in self.seen_finished]

    @property
    def unsent(self) -> int:
        return len(self.load.sends) - self.sent

    @property
    def latencies_s(self) -> list[float]:
        return sorted(
            self.seen_finished[job] - sent for job, sent in self.terminal_sent.items() if job in self.seen_finished
        )

    @property
    def passed(self) -> bool:
        found, others = self.dead_letter_tokens()
        lost, extra = self.account()
        return (
            not self.wrong
            and not self.stray_rows
            and not lost
            and not extra
            and not self.unseen
            and found == self.malformed_tokens
            and others == 0
            and not self.publish_errors
            and not self.unsent
            and not self.problems
            and self.drained_s is not None
            and self.counted_job_metrics == self.expected_job_metrics
        )


def run_soak(
    options: SoakOptions, log_dir: Path | None = None, progress: Callable[[SoakResult], None] | None = None
) -> SoakResult:
    """Run the soak on a fresh embedded stack; every check's outcome is in the result. ``progress``
    is called every PROGRESS_EVERY_S seconds while it runs."""
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="transcoder-status-soak-"))
    load = plan_load(options.notifications, options.jobs, seed=options.seed, start_ms=int(time.time() * 1000))
    result = SoakResult(options, load, log_dir / "function.log")
    with running_emulator() as emulator, ExitStack() as stack:
        stack.enter_context(exported(POLLER_RETRIES))
        built = provision("transcoder-status-soak", {"MaxReceiveCount": options.receive_count})
        endpoint = _runtime_endpoint(options, emulator, result, stack)
        (trigger,) = built.triggers
        supervisor = Supervisor(
            lambda: start_runtime(trigger, endpoint, result.log_path),
            stop_timeout_s=trigger.function.timeout_s + 15,  # a batch in flight ends within the timeout
        )
        milestones = Milestones()
        faults: list[threading.Thread] = []
        deadline = time.monotonic() + options.time_bound_s
        (stream_trigger,) = built.stream_triggers
        publisher_log = log_dir / "publisher.log"
        publisher = StreamMapping(stream_trigger, log_path=publisher_log).start()
        stack.callback(publisher.stop)
        try:
            if "kill" in options.faults:
                faults.append(kill_workers(supervisor, milestones, options.kills, result.chaos))
            if "restart" in options.faults:
                faults.append(restart_runtime(supervisor, milestones, options.restarts, result.chaos))
            with _watching(load, built, result, milestones, deadline) as watcher, _ticking(progress, result):
                started = time.monotonic()
                _publish(load, built, result, options.backlog, deadline)
                result.publish_s = time.monotonic() - started
                drained = _drained(built, supervisor, result, deadline)
                if drained is not None:
                    result.drained_s = drained - started
                    # The table is final: the client's next round sees what it has not seen yet.
                    watcher.join(min(CLIENT_GRACE_S, max(0.0, deadline - time.monotonic())))
                    if not publisher.wait_caught_up(max(0.0, deadline - time.monotonic())):
                        result.problems.append("the publisher did not read the table's stream to its end")
        finally:
            milestones.end()
            for thread in faults:
                thread.join()
            supervisor.stop()
        _check(load, built, result)
        publisher.stop()  # its environments end: every metric is in its log
        result.job_metrics = emf_totals(publisher_log)
    result.log = FunctionLog.read(result.log_path)
    return result


def _runtime_endpoint(options: SoakOptions, emulator: Emulator, result: SoakResult, stack: ExitStack) -> Emulator:
    """The emulator, or the fault proxy in front of it when calls are to fail."""
    rates = {call: options.fault_rate for call in DYNAMODB_CALLS if "dynamodb" in options.faults}
    rates |= {call: options.fault_rate for call in SQS_CALLS if "sqs" in options.faults}
    if not rates:
        return emulator
    result.proxy = FaultProxy(
        emulator.endpoint_url, share_of_calls(rates, seed=options.seed, lost_answers={"dynamodb"})
    )
    return Emulator(stack.enter_context(result.proxy.running()), emulator.region)


@contextmanager
def _ticking(progress: Callable[[SoakResult], None] | None, result: SoakResult) -> Iterator[None]:
    """Call ``progress`` every PROGRESS_EVERY_S seconds from a thread, until the block ends."""
    done = threading.Event()

    def tick() -> None:
        while progress is not None and not done.wait(PROGRESS_EVERY_S):
            progress(result)

    thread = threading.Thread(target=tick, name="soak-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


# -- the client -----------------------------------------------------------------------------------


class _Stopped(Exception):
    """The run ended: the watcher stops polling."""


@contextmanager
def _watching(
    load: Load, stack: Stack, result: SoakResult, milestones: Milestones, deadline: float
) -> Iterator[threading.Thread]:
    """A client following every job with ``watch_jobs`` from the start, in a thread."""
    stopping = threading.Event()
    jobs = [job.job_id for job in load.jobs]

    def pause(seconds: float) -> None:
        if stopping.wait(seconds):
            raise _Stopped

    def watch() -> None:
        table = connect(stack.outputs["TableName"])
        polls = watch_jobs(jobs, table, timeout=deadline - time.monotonic(), backoff=CLIENT_BACKOFF, sleep=pause)
        try:
            for rows in polls:
                now = time.time()
                for job_id, row in rows.items():
                    if row is not None and row.finished:
                        result.seen_finished.setdefault(job_id, now)
                milestones.report(len(result.seen_finished) / len(jobs))
        except (JobWaitTimeout, _Stopped):
            pass
        except StatusTableError as error:
            result.problems.append(f"the client could not read the table: {error}")

    thread = threading.Thread(target=watch, name="soak-client", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stopping.set()
        thread.join()


def _drained(stack: Stack, supervisor: Supervisor, result: SoakResult, deadline: float) -> float | None:
    """When the queue was seen empty (every message deleted or moved to the DLQ); None if the
    deadline came first or the runtime died."""
    sqs = boto3.client("sqs")
    url = stack.outputs["NotificationQueueUrl"]
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    empty_since: float | None = None
    while time.monotonic() < deadline:
        response = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)  # type: ignore[arg-type]
        if all(response["Attributes"].get(name) == "0" for name in names):  # type: ignore[call-overload]
            # The counts are approximate: one empty reading is not proof. Empty for a while is,
            # as SQS advises (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/confirm-queue-is-empty.html);
            # a released record comes back within the poller's retry delay.
            empty_since = time.monotonic() if empty_since is None else empty_since
            if time.monotonic() - empty_since >= EMPTY_FOR_S:
                return empty_since
        else:
            empty_since = None
        exit_code = supervisor.exited()
        if exit_code is not None:
            result.problems.append(f"the function's runtime exited with code {exit_code}")
            return None
        time.sleep(SETTLED_POLL_S)
    result.problems.append(f"the queue was not empty after {result.options.time_bound_s:g} s")
    return None


# -- sending ----------------------------------------------------------------------------------


def _publish(load: Load, stack: Stack, result: SoakResult, backlog: int, deadline: float) -> None:
    """Send every notification in the load's order, ten to a call per route, while the queue holds
    fewer than ``backlog`` waiting messages (0: no limit)."""
    publisher = _Publisher(stack, result, backlog, deadline)
    for send in load.sends:
        if time.monotonic() >= deadline:
            return
        if send.original is not None and send.original.message_id is None:
            publisher.flush(send.original.route)  # a copy needs its original's IDs
        publisher.add(send)
    for route in Route:
        publisher.flush(route)


class _Publisher:
    def __init__(self, stack: Stack, result: SoakResult, backlog: int, deadline: float):
        self.stack = stack
        self.result = result
        self.backlog = backlog
        self.deadline = deadline
        self.pending: dict[Route, list[Outgoing]] = {route: [] for route in Route}
        self.sns = boto3.client("sns")
        self.events = boto3.client("events")
        self.sqs = boto3.client("sqs")

    def add(self, send: Outgoing) -> None:
        self.pending[send.route].append(send)
        if len(self.pending[send.route]) == 10:
            self.flush(send.route)

    def flush(self, route: Route) -> None:
        batch, self.pending[route] = self.pending[route], []
        if not batch:
            return
        self._keep_pace()
        sent_at = time.time()
        ids = {Route.TOPIC: self._topic, Route.BUS: self._bus, Route.QUEUE: self._queue}[route](batch)
        answered_ms = int(time.time() * 1000)
        for send, message_id in zip(batch, ids, strict=True):
            if message_id is None:
                continue
            send.message_id, send.sent_ms, send.answered_ms = message_id, int(sent_at * 1000), answered_ms
            self.result.sent += 1
            if send.terminal and send.kind is Kind.ORIGINAL and send.job_id is not None:
                self.result.terminal_sent[send.job_id] = sent_at

    def _keep_pace(self) -> None:
        url = self.stack.outputs["NotificationQueueUrl"]
        while self.backlog and time.monotonic() < self.deadline:
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            if int(attributes["Attributes"]["ApproximateNumberOfMessages"]) < self.backlog:
                return
            time.sleep(SETTLED_POLL_S / 5)

    def _topic(self, batch: list[Outgoing]) -> list[str | None]:
        entries = []
        for number, send in enumerate(batch):
            message = send.document
            text = message if isinstance(message, str) else json.dumps(message, indent=2, separators=(",", " : "))
            entries.append({"Id": str(number), "Message": text})
        response = self.sns.publish_batch(
            TopicArn=self.stack.outputs["NotificationTopicArn"],
            PublishBatchRequestEntries=entries,  # type: ignore[arg-type]
        )
        return self._ids(len(batch), response.get("Successful", []), response.get("Failed", []))

    def _bus(self, batch: list[Outgoing]) -> list[str | None]:
        entries = []
        for send in batch:
            event = send.document
            if not isinstance(event, dict):
                raise TypeError("EventBridge events are JSON objects")
            entries.append(
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": event["resources"],
                }
            )
        response = self.events.put_events(Entries=entries)  # type: ignore[arg-type]
        ids: list[str | None] = []
        for entry in response["Entries"]:
            if "EventId" in entry:
                ids.append(entry["EventId"])
            else:
                ids.append(None)
                self.result.publish_errors.append(f"PutEvents: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
        return ids

    def _queue(self, batch: list[Outgoing]) -> list[str | None]:
        response = self.sqs.send_message_batch(
            QueueUrl=self.stack.outputs["NotificationQueueUrl"],
            Entries=[{"Id": str(number), "MessageBody": queue_body(send)} for number, send in enumerate(batch)],
        )
        return self._ids(len(batch), response.get("Successful", []), response.get("Failed", []))

    def _ids(self, count: int, successful: Any, failed: Any) -> list[str | None]:
        ids: list[str | None] = [None] * count
        for entry in successful:
            ids[int(entry["Id"])] = entry["MessageId"]
        for entry in failed:
            self.result.publish_errors.append(f"{entry.get('Code')}: {entry.get('Message')}")
        return ids


# -- the checks -------------------------------------------------------------------------------


def _check(load: Load, stack: Stack, result: SoakResult) -> None:
    table = StatusTable(stack.outputs["TableName"], boto3.client("dynamodb"))
    (trigger,) = stack.triggers
    retention_days = int(float(trigger.function.environment["RETENTION_DAYS"]))  # as the function reads it
    jobs = {job.job_id: job for job in load.jobs}
    ids = list(jobs)
    for start in range(0, len(ids), BATCH_GET_LIMIT):
        keys = ids[start : start + BATCH_GET_LIMIT]
        while keys:
            found, keys = table.get_many_items(keys)
            result.items.update((str(item[JOB_ID]["S"]), item) for item in found)
    rows = {job_id: Stored.of_item(item) for job_id, item in result.items.items()}
    checked_ms = int(time.time() * 1000)
    for job_id, job in jobs.items():
        expected = load.expected(job, retention_days=retention_days, checked_ms=checked_ms)
        if differences := expected.differences(rows.get(job_id)):
            result.wrong[job_id] = differences
    result.stray_rows = _row_count(table.client, table.name) - len(rows)
    result.dead_letters = _dead_letters(stack.outputs["DeadLetterQueueUrl"])


def _row_count(client: Any, table: str) -> int:
    """Every row, over every page of a Scan: a page ends at 1 MB (about 1,600 of the soak's rows)."""
    return sum(int(page["Count"]) for page in client.get_paginator("scan").paginate(TableName=table, Select="COUNT"))


def _dead_letters(url: str) -> list[dict[str, Any]]:
    """Every message in the DLQ (received and left hidden: the stack is dropped after the soak)."""
    sqs = boto3.client("sqs")
    messages: dict[str, dict[str, Any]] = {}
    while True:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get("Messages", [])
        if not received:
            return list(messages.values())
        messages.update((message["MessageId"], dict(message)) for message in received)


def _json(line: str) -> dict[str, Any]:
    if not line.startswith("{"):
        return {}
    try:
        entry = json.loads(line)
    except ValueError:  # a line cut short by a SIGKILL
        return {}
    return entry if isinstance(entry, dict) else {}
