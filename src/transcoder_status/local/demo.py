"""``make demo`` and ``transcoder-status local``: the whole pipeline on an embedded AWS emulator.

demo: emulator -> stack provisioned from template.yaml -> the function's runtime (event-source
poller + real handler, in its own process) and the finished-event publisher (the table's stream ->
its event source mapping's stand-in -> the real handler -> event bus) ->
a consumer's rule and queue on the bus -> simulated transcoder jobs -> every job watched with the
client library -> a summary. Exit 0 only if every job ended as simulated, with exactly one
"Transcoding Job Finished" event carrying its row's status, as many published as the publisher's
metrics count (and as many jobs counted finished), and the malformed message sits in the DLQ.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..client import Backoff, JobWaitTimeout, connect, watch_jobs
from ..display import Column, JobProgress, fitted, styled
from ..notification import Source
from ..status import JobStatus
from ..table import ACCOUNT, PROGRESS_ATTRIBUTES, REGION, JobRow
from . import bus_delivery
from .consumer import drain_queue, emf_totals, subscribe_queue
from .emulator import Emulator, running_emulator
from .fleet import (
    UNLISTED,
    Fleet,
    Where,
    assumed,
    central_parameters,
    places,
    provision_fleet,
    refused,
    send_from_unlisted,
)
from .mediaconvert import MediaConvertStandIn
from .provision import Stack, provision
from .runtime import Runtime, idle_until, start_runtime
from .scheduler import LocalScheduler
from .simulator import MALFORMED_MESSAGE, SimulatedJob, TranscoderSimulator
from .stream_mapping import StreamMapping, StreamStats

JOBS_TIMEOUT_S = 60
WATCHED = (*PROGRESS_ATTRIBUTES, ACCOUNT, REGION)  # where each MediaConvert job ran, as its row records it
DLQ_TIMEOUT_S = 45
BACKOFF = Backoff()  # the library's defaults: the latency shown is what a user of it gets
SETTLE_TIMEOUT_S = 30  # the last notifications through the function, then the publisher through the stream


# The stuck check, as the demo runs it: every 2 s, for rows 3 s without news (on AWS: every 15
# minutes, for StuckAfterMinutes); `transcoder-status local` runs it every minute.
DEMO_CHECK_EVERY_S = 2.0
DEMO_STUCK_AFTER_MINUTES = 0.05
LOCAL_CHECK_EVERY_S = 60.0


@dataclass
class LocalStack:
    emulator: Emulator
    stack: Stack
    runtime: Runtime
    publisher: StreamMapping
    publisher_errors: list[BaseException]
    mediaconvert: MediaConvertStandIn
    mediaconvert_url: str
    stuck_check: LocalScheduler
    fleet: Fleet


@contextmanager
def local_stack(
    console: Console,
    log_dir: Path,
    *,
    show_publisher_errors: bool = False,
    check_every_s: float = LOCAL_CHECK_EVERY_S,
    stuck_after_minutes: float | None = None,
    accounts: int = 1,
) -> Iterator[LocalStack]:
    """Emulator, stack, function runtime, the finished-event publisher, MediaConvert's stand-in and the
    stuck check on a timer; all stopped on exit, Ctrl-C included. With 2 ``accounts``, the forwarders
    of a second account and of a second Region (``fleet``) feed the stack's ingest bus."""
    where = places(accounts)
    mediaconvert = MediaConvertStandIn()
    # Each part is stopped from the moment it starts: an interrupt while the rest start (Ctrl-C, or
    # SIGTERM) leaves no runtime process running, orphaned.
    with running_emulator() as emulator, mediaconvert.running() as mediaconvert_url, ExitStack() as stops:
        console.print(f"[bold]AWS emulator[/bold] (moto server) on {emulator.endpoint_url}", soft_wrap=True)
        stack = provision(parameters=central_parameters(where))
        console.print(f"[bold]Stack[/bold] {stack.name} provisioned from template.yaml: {len(stack.refs)} resources")
        fleet = provision_fleet(stack, where)
        if fleet.forwarders:
            delivery_log = log_dir / "bus-delivery.log"
            stops.enter_context(_logged_to(bus_delivery.logger, delivery_log))
            unlisted = f" and {UNLISTED} (not in SourceAccountIds)" if fleet.unlisted else ""
            console.print(
                f"[bold]Forwarders[/bold] from forwarder/template.yaml in {', '.join(map(str, fleet.forwarders))}"
                f"{unlisted}, to ingest bus {stack.refs['IngestEventBus']}; deliveries refused: "
                f"{escape(str(delivery_log))}",
                soft_wrap=True,
            )
        (trigger,) = stack.triggers
        runtime = start_runtime(trigger, emulator, log_dir / "function.log")
        stops.callback(runtime.stop)
        console.print(
            f"[bold]Function[/bold] {trigger.function.handler} polling its queue "
            f"(batch {trigger.batch_size}, window {trigger.batching_window_s:g} s); "
            f"log: {escape(str(runtime.log_path))}",
            soft_wrap=True,  # a path or an ARN is never broken: the terminal wraps it, copy and paste joins it
        )
        publisher_errors: list[BaseException] = []

        def publisher_error(error: BaseException) -> None:
            publisher_errors.append(error)
            if show_publisher_errors:
                console.print(f"[red]publisher: {type(error).__name__}: {escape(str(error))}[/red]")

        (stream_trigger,) = stack.stream_triggers
        publisher = StreamMapping(stream_trigger, log_path=log_dir / "publisher.log", on_error=publisher_error).start()
        stops.callback(publisher.stop)
        console.print(
            f"[bold]Publisher[/bold] {stream_trigger.function.handler} on the table's stream (batch "
            f"{stream_trigger.batch_size}), putting on event bus {stack.outputs['FinishedEventBusName']}; "
            f"log: {escape(str(log_dir / 'publisher.log'))}",
            soft_wrap=True,
        )
        (schedule,) = stack.schedules
        overrides = {"AWS_ENDPOINT_URL_MEDIACONVERT": mediaconvert_url, **emulator.environment()}
        if stuck_after_minutes is not None:
            overrides["STUCK_AFTER_MINUTES"] = str(stuck_after_minutes)
        stuck_check = LocalScheduler(schedule, check_every_s, log_dir / "stuck-check.log", overrides).start()
        stops.callback(stuck_check.stop)
        threshold = float(stuck_check.function.environment["STUCK_AFTER_MINUTES"]) * 60
        console.print(
            f"[bold]Stuck check[/bold] run here every {check_every_s:g} s (on AWS: {schedule.expression}) for rows "
            f"{threshold:g} s without news, asking MediaConvert's stand-in ({mediaconvert_url}) about MediaConvert "
            f"ones; log: {escape(str(stuck_check.log_path))}",
            soft_wrap=True,
        )
        yield LocalStack(
            emulator, stack, runtime, publisher, publisher_errors, mediaconvert, mediaconvert_url, stuck_check, fleet
        )


@contextmanager
def _logged_to(logger: logging.Logger, path: Path) -> Iterator[None]:
    """``logger``'s records in the file at ``path`` rather than on the terminal, until exit."""
    handler = logging.FileHandler(path)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close()


def run_demo(
    log_dir: Path, jobs: int = 12, seed: int | None = None, console: Console | None = None, accounts: int = 1
) -> int:
    """The demo, its logs in ``log_dir``; 0 if every check passed. With 2 ``accounts`` its MediaConvert
    jobs run in a second account and a second Region too (``fleet``)."""
    console = console or Console()
    started = time.monotonic()
    try:
        with local_stack(
            console,
            log_dir,
            check_every_s=DEMO_CHECK_EVERY_S,
            stuck_after_minutes=DEMO_STUCK_AFTER_MINUTES,
            accounts=accounts,
        ) as local:
            bus = local.stack.outputs["FinishedEventBusName"]
            consumer = subscribe_queue(bus, f"{local.stack.name}-finished-events")
            console.print(
                f"[bold]Consumer[/bold] a rule on event bus {bus} -> queue {consumer.rsplit('/', 1)[1]}", soft_wrap=True
            )
            fleet = local.fleet
            simulator = TranscoderSimulator(
                local.stack, jobs=jobs, seed=seed, mediaconvert=local.mediaconvert, places=fleet.places
            )
            lost = [
                job.job_id + (f" ({job.where})" if fleet.forwarders else "")
                for job in simulator.jobs
                if job.lost_terminal
            ]
            console.print(
                f"[bold]Simulating[/bold] {jobs} jobs (seed {simulator.seed}), plus one malformed message"
                + (f"; MediaConvert jobs in {', '.join(map(str, fleet.places))} in turn" if fleet.forwarders else "")
                + (f"; the terminal event of {', '.join(lost)} is lost on purpose" if lost else "")
                + "\n"
            )
            try:  # once started, its thread is stopped whatever happens, Ctrl-C included
                simulator.start()
                unlisted_job = send_from_unlisted(fleet)
                seen_at, rows = _watch(simulator.jobs, local.stack, console)
                repaired = _repaired(simulator.jobs, local.stack)
                dead_letters = _await_dead_letters(local.stack, expected=1)
                settled = _settle(simulator, local)
                events = drain_queue(consumer)
            finally:
                simulator.stop()
            # The roles the stuck check had to assume for the lost jobs of other accounts.
            reader_roles = {
                role: assumed(role)
                for job in simulator.jobs
                if job.lost_terminal and (role := fleet.reader_role(job.where)) is not None
            }
            if local.runtime.process.poll() is not None:
                console.print(
                    f"[red]The function runtime exited ({local.runtime.process.returncode}): "
                    f"see {escape(str(local.runtime.log_path))}[/red]"
                )
            return _summary(
                console,
                jobs=simulator.jobs,
                simulator_errors=simulator.errors,
                rows=rows,
                seen_at=seen_at,
                repaired=repaired,
                check_errors=local.stuck_check.errors,
                dead_letters=dead_letters,
                events=events,
                settled=settled,
                publisher_stats=local.publisher.stats,
                publisher_metrics=emf_totals(log_dir / "publisher.log"),
                publisher_errors=local.publisher_errors,
                log_path=local.runtime.log_path,
                started=started,
                unlisted_refused=None if unlisted_job is None else refused(fleet, unlisted_job),
                reader_roles=reader_roles,
            )
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted: stack stopped.[/yellow]")
        return 130


def _watch(
    jobs: list[SimulatedJob], stack: Stack, console: Console
) -> tuple[dict[str, float], dict[str, JobRow | None]]:
    """Follow every job with the client library until all finish; note when each was seen done."""
    table = connect(stack.outputs["TableName"])
    seen_at: dict[str, float] = {}
    rows: dict[str, JobRow | None] = {}
    labels = {job.job_id: f"{job.job_id} [dim]{job.source}[/dim]" for job in jobs}
    with JobProgress(labels, console, labels) as progress:
        try:
            for rows in watch_jobs(list(labels), table, timeout=JOBS_TIMEOUT_S, attributes=WATCHED):
                now = time.time()
                for job_id, row in rows.items():
                    if row is not None and row.finished:
                        seen_at.setdefault(job_id, now)
                progress.show(rows)
        except JobWaitTimeout as error:
            console.print(f"[red]{escape(str(error))}[/red]")  # the summary shows which jobs never finished
    return seen_at, rows


def _repaired(jobs: list[SimulatedJob], stack: Stack) -> set[str]:
    """The jobs whose terminal event was lost and whose row the stuck check repaired from MediaConvert."""
    table = connect(stack.outputs["TableName"])
    lost = [job.job_id for job in jobs if job.lost_terminal]
    return {job for job in lost if (row := table.get(job, attributes=None)) is not None and row.repaired_at}


def _await_dead_letters(stack: Stack, expected: int) -> list[dict[str, Any]]:
    """Wait until the DLQ holds ``expected`` messages (redrive takes a few receives); peek at them."""
    sqs = boto3.client("sqs")
    url = stack.outputs["DeadLetterQueueUrl"]
    deadline = time.monotonic() + DLQ_TIMEOUT_S
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        if int(attributes["Attributes"]["ApproximateNumberOfMessages"]) >= expected:
            break
        time.sleep(0.25)
    # Visibility 0: look without taking them, so they stay for `transcoder-status local` users too.
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageSystemAttributeNames=["All"]
    ).get("Messages", [])
    return [dict(message) for message in messages]


def _settle(simulator: TranscoderSimulator, local: LocalStack) -> bool:
    """Let every late notification through before counting events: the simulator has sent all, the
    function has taken every message off its queue, and the publisher has read the stream to its end."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    if not simulator.wait(max(0.0, deadline - time.monotonic())):
        return False
    sqs = boto3.client("sqs")
    url = local.stack.outputs["NotificationQueueUrl"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    while any(int(v) for v in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"].values()):  # type: ignore[arg-type]
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return local.publisher.wait_caught_up(max(0.0, deadline - time.monotonic()))


def _reasons(log_path: Path) -> dict[str, str]:
    """Why each record failed, by SQS message ID, from the function's log (as Logs Insights would)."""
    reasons: dict[str, str] = {}
    for line in log_path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("level") in ("ERROR", "WARNING") and "reason" in entry:
            for message_id in entry.get("messageIds", [entry.get("messageId")]):
                reasons[str(message_id)] = entry["reason"]
    return reasons


def _summary(
    console: Console,
    *,
    jobs: list[SimulatedJob],
    simulator_errors: list[BaseException],
    rows: dict[str, JobRow | None],
    seen_at: dict[str, float],
    repaired: set[str],
    check_errors: Sequence[Exception],
    dead_letters: list[dict[str, Any]],
    events: list[dict[str, Any]],
    settled: bool,
    publisher_stats: StreamStats,
    publisher_metrics: dict[str, int],
    publisher_errors: list[BaseException],
    log_path: Path,
    started: float,
    unlisted_refused: bool | None = None,
    reader_roles: Mapping[str, int] | None = None,
) -> int:
    """The tables, the figures and the verdict. ``unlisted_refused``: whether the account left out of
    SourceAccountIds was refused (None: none ran); ``reader_roles``: how often each reader role the
    lost jobs' accounts needed was assumed."""
    finished_events: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        finished_events.setdefault(str(event.get("detail", {}).get("jobId")), []).append(event)
    view, wrong, wrong_events, latencies = _jobs_table(
        console.width, jobs, rows=rows, seen_at=seen_at, repaired=repaired, finished_events=finished_events
    )
    console.print(view)
    strays = [event for stray in finished_events.values() for event in stray]
    console.print(_events_table(console.width, events))
    published = int(publisher_metrics.get("EventsPublished", 0))
    counted = {name: int(publisher_metrics.get(name, 0)) for name in ("JobsSucceeded", "JobsFailed", "JobsCanceled")}
    console.print(
        f"Publisher: {publisher_stats.records} stream records read, {publisher_stats.matched} passed its filter, "
        f"{publisher_stats.invocations} invocations ({publisher_stats.retries} retries), {published} events "
        "published; jobs counted finished: " + ", ".join(f"{name} {value}" for name, value in counted.items())
    )

    dlq, malformed_in_dlq = _dlq_table(console.width, dead_letters, log_path)
    console.print(dlq)
    ran_in = _ran_in(jobs, wrong)
    if len(ran_in) > 1:
        console.print("MediaConvert jobs that ended right, where they ran: " + ", ".join(ran_in))
    if unlisted_refused is not None:
        console.print(
            f"Account {UNLISTED.account}, not in SourceAccountIds: its event "
            + (
                "refused by the ingest bus's policy, in its forwarder's dead-letter queue"
                if unlisted_refused
                else "[red]not in its forwarder's dead-letter queue[/red]"
            )
        )

    if latencies:
        ordered = sorted(latencies)
        console.print(
            f"Latency from terminal notification to client: median {ordered[len(ordered) // 2] * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms (poller batching window 1 s; the client polls with the library's "
            f"default backoff, {BACKOFF.initial:g}-{BACKOFF.maximum:g} s)"
        )
    for error in simulator_errors:
        console.print(f"[red]simulator error: {escape(str(error))}[/red]")
    for error in publisher_errors[-3:]:
        console.print(
            f"[red]publisher error ({len(publisher_errors)} in all): {type(error).__name__}: {escape(str(error))}[/red]"
        )
    elapsed = time.monotonic() - started
    problems = [f"{len(wrong)} job(s) ended wrong: {', '.join(wrong)}"] if wrong else []
    if wrong_events:
        problems.append(
            f"{len(wrong_events)} job(s) without exactly one finished event of their row's status: "
            + ", ".join(wrong_events)
        )
    if strays:
        problems.append(f"{len(strays)} finished event(s) of no simulated job")
    if published != len(events):
        problems.append(f"the publisher's metrics count {published} events published, the consumer got {len(events)}")
    if sum(counted.values()) != len(jobs):
        problems.append(f"the publisher counted {sum(counted.values())} jobs finished, not {len(jobs)}")
    if not settled:
        problems.append("the stack did not settle (late notifications, the function's queue, the publisher)")
    if not malformed_in_dlq or len(dead_letters) != 1:
        problems.append(f"DLQ holds {len(dead_letters)} message(s), expected only the malformed one")
    unrepaired = [job.job_id for job in jobs if job.lost_terminal and job.job_id not in repaired]
    if unrepaired:
        problems.append(
            f"{len(unrepaired)} job(s) whose terminal event was lost were not repaired: {', '.join(unrepaired)}"
        )
    if unlisted_refused is False:
        problems.append(f"the event of account {UNLISTED.account} (not listed) is not in its dead-letter queue")
    unassumed = [role for role, times in (reader_roles or {}).items() if not times]
    if unassumed:
        problems.append(f"the stuck check never assumed {', '.join(unassumed)}")
    if simulator_errors:
        problems.append("simulator errors")
    for error in check_errors[-3:]:
        console.print(f"[red]stuck check error ({len(check_errors)} in all): {escape(str(error))}[/red]")
    if problems:
        console.print(f"[bold red]FAIL[/bold red] after {elapsed:.1f} s: " + escape("; ".join(problems)))
        return 1
    console.print(
        f"[bold green]PASS[/bold green] in {elapsed:.1f} s: {len(jobs)}/{len(jobs)} jobs "
        "reached their simulated state, each with one Transcoding Job Finished event of that status "
        f"({published} published, {sum(counted.values())} jobs counted finished by the publisher)"
        + ("; the job whose terminal event was lost was repaired from MediaConvert" if repaired else "")
        + (f" through {', '.join(reader_roles)}" if reader_roles else "")
        + (f"; {len(ran_in)} accounts and Regions, each row recording its own" if len(ran_in) > 1 else "")
        + (f"; account {UNLISTED.account} refused" if unlisted_refused else "")
        + "; the malformed message is in the DLQ."
    )
    return 0


_JOB_COLUMNS = (
    Column("Job"),
    Column("Source"),
    Column("Simulated"),
    Column("Final"),
    Column("Latency", justify="right"),
    Column("Events", justify="right"),
    Column("Delivery", whole=False),
)
_WHERE_COLUMN = Column("Ran in")  # with more than one account or Region: the account above its Region
_EVENT_COLUMNS = (
    Column("Job"),
    Column("Status"),
    Column("State"),
    Column("Finished at", whole=False),
    Column("Outputs / error", whole=False),
)
_DLQ_COLUMNS = (
    Column("Message ID"),  # whole, as `dlq show` has it: the ID to search the function's log for
    Column("Why (from the log)", whole=False),
    Column("Body", whole=False),
)


def _jobs_table(
    width: int,
    jobs: list[SimulatedJob],
    *,
    rows: dict[str, JobRow | None],
    seen_at: dict[str, float],
    repaired: set[str],
    finished_events: dict[str, list[dict[str, Any]]],
) -> tuple[Table, list[str], list[str], list[float]]:
    """Every job beside what was simulated, with its events (taken from ``finished_events``); the
    jobs that ended wrong (their status, or for MediaConvert where their row says they ran), those
    without exactly one event of their row's status, the latencies."""
    wrong: list[str] = []
    wrong_events: list[str] = []
    latencies: list[float] = []
    cells: list[list[str]] = []
    spread = len({job.where for job in jobs}) > 1
    for job in jobs:
        row = rows.get(job.job_id)
        final = row.status if row is not None else JobStatus.RUNNING
        recorded = (row.account, row.region) if row is not None else (None, None)
        misplaced = job.source == Source.MEDIACONVERT and recorded != (job.where.account, job.where.region)
        if final is not job.outcome or misplaced:
            wrong.append(job.job_id)
        mine = finished_events.pop(job.job_id, [])
        if len(mine) != 1 or mine[0]["detail"].get("status") != final.value:
            wrong_events.append(job.job_id)
        latency = ""
        if job.terminal_sent_at is not None and job.job_id in seen_at:
            latencies.append(seen_at[job.job_id] - job.terminal_sent_at)
            latency = f"{latencies[-1] * 1000:.0f} ms"
        count = f"[green]{len(mine)}[/green]" if job.job_id not in wrong_events else f"[red]{len(mine)}[/red]"
        quirks = ", ".join(job.quirks)
        if job.lost_terminal:
            quirks += (
                ": [green]repaired[/green] from MediaConvert" if job.job_id in repaired else ": [red]not repaired[/red]"
            )
        cell = [escape(job.job_id), job.source, styled(job.outcome), styled(final), latency, count]
        if spread:
            where = f"{job.where.account}\n{job.where.region}" if job.source == Source.MEDIACONVERT else ""
            cell.append(f"[red]{where}[/red]" if misplaced else where)
        cells.append([*cell, quirks])
    columns = (*_JOB_COLUMNS[:-1], _WHERE_COLUMN, _JOB_COLUMNS[-1]) if spread else _JOB_COLUMNS
    # At 80 columns the latency gives way to where a job ran: the summary gives its median and maximum.
    view = fitted(columns, cells, width, droppable=("Source", "Simulated", "Latency"), title="Jobs")
    return view, wrong, wrong_events, latencies


def _ran_in(jobs: list[SimulatedJob], wrong: list[str]) -> list[str]:
    """Each account and Region that ran MediaConvert jobs, with how many of them ended right."""
    ran: dict[Where, list[bool]] = {}
    for job in jobs:
        if job.source == Source.MEDIACONVERT:
            ran.setdefault(job.where, []).append(job.job_id not in wrong)
    return [f"{where} {sum(right)}/{len(right)}" for where, right in ran.items()]


def _dlq_table(width: int, dead_letters: list[dict[str, Any]], log_path: Path) -> tuple[Table, bool]:
    """The DLQ's messages with why each is there; and whether the malformed message is among them."""
    reasons = _reasons(log_path)
    cells: list[list[str]] = []
    malformed_in_dlq = False
    for message in dead_letters:
        body = json.loads(message["Body"])
        text = body.get("Message", message["Body"]) if isinstance(body, dict) else message["Body"]
        malformed_in_dlq |= text == MALFORMED_MESSAGE
        cells.append(
            [escape(message["MessageId"]), escape(reasons.get(message["MessageId"], "?")), escape(str(text)[:60])]
        )
    return fitted(_DLQ_COLUMNS, cells, width, title="Dead-letter queue"), malformed_in_dlq


def _events_table(width: int, events: list[dict[str, Any]]) -> Table:
    """The events the consumer's queue received, as a consumer reads them."""
    cells: list[list[str]] = []
    for event in sorted(events, key=lambda e: str(e.get("detail", {}).get("jobId"))):
        detail = event.get("detail", {})
        status = detail.get("status", "?")
        outputs = [str(output.get("uri")) for output in detail.get("outputs") or [] if isinstance(output, dict)]
        error = ": ".join(part for part in (detail.get("errorCode"), detail.get("errorMessage")) if part)
        # S3 URIs by their file name, to keep the table narrow; the event has the whole URI.
        files = ", ".join("…/" + name.rsplit("/", 1)[-1] if name.startswith("s3://") else name for name in outputs)
        # What the event says is text, not markup: "[indeo4]" in an error message stays as it is.
        cells.append(
            [
                escape(str(detail.get("jobId"))),
                styled(JobStatus(status)) if status in JobStatus.__members__ else escape(str(status)),
                escape(str(detail.get("state", ""))),
                escape(str(detail.get("finishedAt", "")).replace("T", " ")),
                (escape(files) or "[dim]no outputs[/dim]") + (f"\n[red]{escape(error[:60])}[/red]" if error else ""),
            ]
        )
    title = f"Transcoding Job Finished events received ({len(events)})"
    return fitted(_EVENT_COLUMNS, cells, width, droppable=("State",), title=title)


def run_local(log_dir: Path, console: Console | None = None) -> int:
    """Keep the stack running for the CLI and your own code, its logs in ``log_dir``; Ctrl-C stops it."""
    console = console or Console()
    try:
        with local_stack(console, log_dir, show_publisher_errors=True) as local:
            environment = {
                **local.emulator.environment(),
                "TABLE_NAME": local.stack.outputs["TableName"],
                "AWS_ENDPOINT_URL_MEDIACONVERT": local.mediaconvert_url,
                "DLQ_URL": local.stack.outputs["DeadLetterQueueUrl"],
                "UNDELIVERED_URL": local.stack.outputs["UndeliveredQueueUrl"],
                "EVENTS_FAILED_URL": local.stack.outputs["FinishedEventsFailedQueueUrl"],
                "EVENT_BUS_NAME": local.stack.outputs["FinishedEventBusName"],
                "NOTIFICATION_QUEUE_URL": local.stack.outputs["NotificationQueueUrl"],
            }
            console.print("\n[bold]Export these to use the CLI or your own code against it:[/bold]")
            print("export " + " ".join(f"{name}={value}" for name, value in environment.items()), flush=True)
            for name, value in local.stack.outputs.items():
                console.print(f"  {name}: {escape(value)}", soft_wrap=True)  # whole, to copy
            console.print(
                "\nPublish Elastic Transcoder notifications to NotificationTopicArn, or MediaConvert "
                "events with `aws events put-events`; each finished job puts one Transcoding Job Finished "
                "event on FinishedEventBusName; `transcoder-status list`, `status`, `watch` and `dlq show` "
                "work against it. Ctrl-C stops everything."
            )
            idle_until(threading.Event())  # until Ctrl-C or SIGTERM raises KeyboardInterrupt
    except KeyboardInterrupt:
        console.print("[yellow]Stopped.[/yellow]")
    return 0
