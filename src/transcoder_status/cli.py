"""The ``transcoder-status`` command: read job status, watch jobs, list jobs, explain and redrive the
dead-letter queue, replay events, run the local stack. A thin face: the library does the work."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .client import JobWaitTimeout, StatusTableError, connect, explained_errors, watch_jobs
from .dead_letters import SNS_CONTROL, UNDELIVERED, WRITE_FAILED, DeadLetterQueue, DeadLetterQueueError
from .display import JobProgress, styled
from .listing import list_jobs, parse_duration, status_choice, stuck_jobs
from .notification import Source
from .reconcile import Reconciler, Report, Verdict, mediaconvert_client
from .status import JobStatus
from .table import (
    ALL_ATTRIBUTES,
    DEFAULT_RETENTION_DAYS,
    LISTING_ATTRIBUTES,
    PROGRESS_ATTRIBUTES,
    JobRow,
    StatusTable,
    TableNotConfiguredError,
    row_to_json,
)

app = typer.Typer(
    help="Track video transcoding jobs (Elastic Transcoder, MediaConvert) in the transcoder-status table.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True, soft_wrap=True)  # one line per error, for logs and scripts

EXIT_FAILED = 1  # watch: a job failed; replay: a record failed
EXIT_TIMEOUT = 2
EXIT_UNREADABLE = 3  # no table, no access, no region

TableOption = Annotated[
    str | None,
    typer.Option("--table", "-t", envvar="TABLE_NAME", help="Status table (the stack's TableName output)."),
]
RegionOption = Annotated[
    str | None, typer.Option("--region", help="AWS region (default: boto3's: AWS_DEFAULT_REGION or the profile's).")
]
EndpointOption = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="AWS endpoint, e.g. the local stack's (default: AWS_ENDPOINT_URL)."),
]


def _table(table: str | None, region: str | None, endpoint_url: str | None) -> StatusTable:
    try:
        return connect(table, region_name=region, endpoint_url=endpoint_url)
    except (TableNotConfiguredError, StatusTableError) as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None


def _row_json(job_id: str, row: JobRow | None) -> dict[str, Any]:
    """A row under its own attribute names; a job with no row yet is RUNNING, as JobMonitor says."""
    if row is None:
        return {**row_to_json(JobRow(job_id=job_id, status=JobStatus.RUNNING, finished=False)), "known": False}
    return {**row_to_json(row), "known": True}


@app.command()
def status(
    job_ids: Annotated[list[str], typer.Argument(help="Job IDs to show.", metavar="JOB_ID...")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, for scripts.")] = False,
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Show the rows of some jobs."""
    status_table = _table(table, region, endpoint_url)
    try:
        with explained_errors(status_table):
            rows = {job_id: status_table.get(job_id, attributes=ALL_ATTRIBUTES) for job_id in job_ids}
    except StatusTableError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    if as_json:
        print(json.dumps([_row_json(job_id, row) for job_id, row in rows.items()], indent=2))
        return
    console.print(_rows_view(rows.items()))


def _rows_view(rows: Iterable[tuple[str, JobRow | None]]) -> Table:
    view = Table()
    for column in ("Job ID", "Status", "State", "Progress"):
        view.add_column(column, no_wrap=True)
    for column in ("Source", "Updated", "Details"):
        view.add_column(column)
    for job_id, row in rows:
        if row is None:
            view.add_row(job_id, styled(JobStatus.RUNNING), "[dim]no notification yet[/dim]", "", "", "", "")
            continue
        detail = row.error_message or (f"{len(row.warnings)} warning(s)" if row.warnings else "")
        if row.error_code:
            detail = f"{row.error_code}: {detail}"
        view.add_row(  # what the transcoder wrote is text, not markup ("Video codec [indeo4] ...")
            escape(job_id),
            styled(row.status),
            escape(row.state or ""),
            "" if row.progress is None else f"{row.progress}%",
            escape(row.source or ""),
            row.updated_at or "",
            escape(detail),
        )
    return view


def _duration(text: str | None, option: str) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint=option) from None


@app.command("list")
def list_command(
    *,
    statuses: Annotated[
        list[str] | None,
        typer.Option("--status", "-s", help="RUNNING, SUCCESS, ERROR or CANCELED; repeat for several (default: all)."),
    ] = None,
    since: Annotated[str | None, typer.Option(help="Updated within this long: 90s, 15m, 2h, 7d.")] = None,
    until: Annotated[str | None, typer.Option(help="Updated at least this long ago: 90s, 15m, 2h, 7d.")] = None,
    stuck: Annotated[
        str | None, typer.Option(help="Running jobs not updated for this long (a lost notification, a hung transcode).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array, for scripts.")] = False,
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """List jobs by status and last update, newest first (a Query of the status index, no Scan)."""
    since_ago, until_ago, stuck_for = (
        _duration(since, "--since"),
        _duration(until, "--until"),
        _duration(stuck, "--stuck"),
    )
    try:
        chosen = status_choice(statuses)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--status") from None
    if stuck_for is not None:
        if statuses and chosen != (JobStatus.RUNNING,):
            raise typer.BadParameter(
                "stuck jobs are running jobs: drop --status or make it RUNNING", param_hint="--stuck"
            )
        chosen = (JobStatus.RUNNING,)
        until_ago = stuck_for if until_ago is None else max(until_ago, stuck_for)
    try:
        # One row more than shown, to tell whether there are more.
        rows = list(
            list_jobs(chosen, since_ago, until_ago, limit + 1, table, region_name=region, endpoint_url=endpoint_url)
        )
    except (TableNotConfiguredError, StatusTableError) as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    more = len(rows) > limit
    rows = rows[:limit]
    if as_json:
        print(json.dumps([row_to_json(row, LISTING_ATTRIBUTES) for row in rows], indent=2))
    else:
        console.print(_rows_view((row.job_id, row) for row in rows))
    if more:
        errors.print(
            f"[yellow]The newest {limit} shown; there are more: --limit N, or narrow --since/--until.[/yellow]"
        )
    elif not as_json:
        errors.print(f"{len(rows)} job(s).")


DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Say what would change; write nothing.")]


def _repair_report(report: Report, title: str, *, changes_only: bool = False) -> None:
    view = Table(title=title)
    for column in ("Job ID", "MediaConvert says", "Row"):
        view.add_column(column, no_wrap=True)
    view.add_column("Why")
    style = {Verdict.REPAIRED: "green", Verdict.WOULD_REPAIR: "yellow", Verdict.NOT_FOUND: "yellow"}
    for checked in report.checked:
        if changes_only and checked.verdict is Verdict.UNCHANGED:
            continue
        tint = style.get(checked.verdict, "red" if checked.verdict is Verdict.FAILED else "dim")
        view.add_row(
            escape(checked.job_id),
            checked.status or "?",
            f"[{tint}]{checked.verdict.value}[/{tint}]",
            escape(checked.reason or ""),
        )
    console.print(view)
    summary = ", ".join(f"{report.count(v)} {v.value}" for v in Verdict if report.count(v))
    errors.print(f"{len(report.checked)} job(s) asked about: {summary or 'none'}.")


RepairRetentionOption = Annotated[
    int,
    typer.Option(envvar="RETENTION_DAYS", min=15, help="The stack's RetentionDays: how long a repaired row is kept."),
]


def _reconciler(
    table: str | None, region: str | None, endpoint_url: str | None, dry_run: bool, retention_days: int
) -> Reconciler:
    connected = _table(table, region, endpoint_url)
    table_with_ttl = StatusTable(connected.name, connected.client, retention_days)
    # MediaConvert is reached as boto3 reaches it (AWS_ENDPOINT_URL_MEDIACONVERT points elsewhere).
    return Reconciler(table_with_ttl, mediaconvert_client(region_name=region), dry_run=dry_run)


@app.command()
def reconcile(
    *,
    stuck: Annotated[str, typer.Option(help="Running jobs not updated for this long: 90s, 15m, 2h, 7d.")] = "2h",
    limit: Annotated[
        int, typer.Option(min=1, help="Ask about at most this many MediaConvert jobs, the newest first.")
    ] = 100,
    dry_run: DryRunOption = False,
    retention_days: RepairRetentionOption = DEFAULT_RETENTION_DAYS,
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Repair stuck MediaConvert jobs from MediaConvert itself (GetJob), as the stuck check does."""
    older_than = _duration(stuck, "--stuck") or timedelta(0)
    reconciler = _reconciler(table, region, endpoint_url, dry_run, retention_days)
    try:
        stuck_rows = stuck_jobs(older_than, table_name=reconciler.table.name, client=reconciler.table.client)
        rows = list(islice((row for row in stuck_rows if row.source == Source.MEDIACONVERT), limit))
        report = reconciler.reconcile(rows)
    except (StatusTableError, BotoCoreError, ClientError) as error:
        errors.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    _repair_report(report, f"Running MediaConvert jobs not updated for {stuck}{' (dry run)' if dry_run else ''}")


@app.command()
def backfill(
    *,
    since: Annotated[str, typer.Option(help="Jobs MediaConvert created within this long: 90s, 15m, 2h, 7d.")] = "2d",
    queue: Annotated[
        str | None,
        typer.Option(
            envvar="MEDIACONVERT_QUEUE_ARN", help="Only this MediaConvert queue: the stack's MediaConvertQueueArn."
        ),
    ] = None,
    user_metadata: Annotated[
        str | None,
        typer.Option(
            envvar="MEDIACONVERT_USER_METADATA",
            help="Only jobs with this KEY=VALUE in their userMetadata: the stack's MediaConvertUserMetadata filter.",
        ),
    ] = None,
    statuses: Annotated[
        list[str] | None,
        typer.Option("--status", help="Only jobs in this MediaConvert status (COMPLETE, ERROR, ...); repeatable."),
    ] = None,
    dry_run: DryRunOption = False,
    retention_days: RepairRetentionOption = DEFAULT_RETENTION_DAYS,
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Write the rows the table lacks or that are behind, from MediaConvert's job list (ListJobs).

    Pass the stack's own filters (--queue, --user-metadata) so that only the jobs it records are written."""
    ago = _duration(since, "--since") or timedelta(0)
    metadata = None
    if user_metadata is not None:
        key, equals, value = user_metadata.partition("=")
        if not equals or not key:
            raise typer.BadParameter(
                "KEY=VALUE, as the stack's MediaConvertUserMetadataKey and ...Value", param_hint="--user-metadata"
            )
        metadata = (key, value)
    reconciler = _reconciler(table, region, endpoint_url, dry_run, retention_days)
    try:
        report = reconciler.backfill(datetime.now(UTC) - ago, queue, statuses or (), metadata)
    except (StatusTableError, BotoCoreError, ClientError) as error:
        errors.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    title = f"MediaConvert jobs created in the last {since}: what changed{' (dry run)' if dry_run else ''}"
    _repair_report(report, title, changes_only=True)


dlq_app = typer.Typer(
    help="The dead-letter queue: why each message is there, and the redrive back to the queue.",
    no_args_is_help=True,
)
app.add_typer(dlq_app, name="dlq")

DlqOption = Annotated[
    str | None,
    typer.Option("--dlq-url", envvar="DLQ_URL", help="The dead-letter queue (the stack's DeadLetterQueueUrl output)."),
]
UndeliveredOption = Annotated[
    bool,
    typer.Option(
        "--undelivered",
        help="The undelivered queue instead: what SNS or EventBridge could not deliver to the notification queue.",
    ),
]
UndeliveredUrlOption = Annotated[
    str | None,
    typer.Option(
        "--undelivered-url", envvar="UNDELIVERED_URL", help="The undelivered queue (the UndeliveredQueueUrl output)."
    ),
]
MaxOption = Annotated[int | None, typer.Option("--max", min=1, help="At most this many messages (default: all).")]
RetentionOption = Annotated[
    float,
    typer.Option(
        envvar="RETENTION_DAYS", min=1, help="The stack's RetentionDays: older messages are not redriven (see README)."
    ),
]


def _dlq(
    dlq_url: str | None, undelivered_url: str | None, undelivered: bool, region: str | None, endpoint_url: str | None
) -> DeadLetterQueue:
    try:
        return DeadLetterQueue.connect(
            undelivered_url if undelivered else dlq_url,
            region_name=region,
            endpoint_url=endpoint_url,
            undelivered=undelivered,
        )
    except DeadLetterQueueError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None


_KIND_STYLE = {WRITE_FAILED: "green", SNS_CONTROL: "yellow", UNDELIVERED: "green"}


@dlq_app.command("show")
def dlq_show(
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array, for scripts.")] = False,
    max_messages: MaxOption = None,
    retention_days: RetentionOption = DEFAULT_RETENTION_DAYS,
    undelivered: UndeliveredOption = False,
    dlq_url: DlqOption = None,
    undelivered_url: UndeliveredUrlOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Show each message in the DLQ and why it is there (the parser, run on it again); takes none."""
    queue = _dlq(dlq_url, undelivered_url, undelivered, region, endpoint_url)
    try:
        letters = queue.peek(max_messages, retention_days=retention_days)
    except DeadLetterQueueError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    if as_json:
        print(json.dumps([letter.to_json() for letter in letters], indent=2))
        return
    name = "Undelivered queue" if undelivered else "Dead-letter queue"
    if not letters:
        console.print(f"{name}: empty.")
        return
    view = Table(title=f"{name}: {len(letters)} message(s), all still there")
    view.add_column("Message ID", no_wrap=True)
    view.add_column("First sent", no_wrap=True)
    view.add_column("Receives", justify="right")
    view.add_column("Why", ratio=3)
    view.add_column("Body", ratio=2)
    for letter in letters:
        style = "red" if letter.too_old else _KIND_STYLE.get(letter.kind, "red")
        view.add_row(
            escape(letter.message_id),
            letter.first_sent or "?",
            str(letter.receive_count),
            f"[{style}]{escape(letter.reason)}[/{style}]",
            escape(letter.excerpt()),
        )
    console.print(view)


@dlq_app.command("redrive")
def dlq_redrive(
    *,
    max_messages: MaxOption = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            envvar="NOTIFICATION_QUEUE_URL",
            help="The queue to move them to (default: the queue whose DLQ this is; for --undelivered, "
            "the NotificationQueueUrl output).",
        ),
    ] = None,
    retention_days: RetentionOption = DEFAULT_RETENTION_DAYS,
    undelivered: UndeliveredOption = False,
    dlq_url: DlqOption = None,
    undelivered_url: UndeliveredUrlOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Move the DLQ's messages back to the queue they came from; the function then tries them again."""
    queue = _dlq(dlq_url, undelivered_url, undelivered, region, endpoint_url)
    try:
        result = queue.redrive(max_messages, retention_days=retention_days, destination=to)
    except DeadLetterQueueError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    if result.note:
        errors.print(f"[yellow]{escape(result.note)}[/yellow]")
    for letter in result.left:
        errors.print(f"[yellow]left in the DLQ: {escape(letter.message_id)}: {escape(letter.reason)}[/yellow]")
    console.print(f"Moved {result.moved} message(s) to {result.destination} ({result.method}).")


@app.command()
def watch(
    job_ids: Annotated[list[str], typer.Argument(help="Job IDs to wait for.", metavar="JOB_ID...")],
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds (exit 2).")] = None,
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Follow jobs until all finish: exit 0 if all succeeded, 1 if any failed, 2 on timeout."""
    status_table = _table(table, region, endpoint_url)
    final: dict[str, JobRow | None] = {}
    with JobProgress(job_ids, console) as progress:
        try:
            for final in watch_jobs(
                list(dict.fromkeys(job_ids)), status_table, timeout=timeout, attributes=PROGRESS_ATTRIBUTES
            ):
                progress.show(final)
        except JobWaitTimeout as error:
            if error.read_error is not None:  # out of time because the table could not be read
                errors.print(f"[red]{error.read_error}[/red]")
                raise typer.Exit(EXIT_UNREADABLE) from None
            errors.print(f"[yellow]{error}[/yellow]")
            raise typer.Exit(EXIT_TIMEOUT) from None
        except StatusTableError as error:
            errors.print(f"[red]{error}[/red]")
            raise typer.Exit(EXIT_UNREADABLE) from None
    failed = sorted(job for job, row in final.items() if row is not None and row.status is not JobStatus.SUCCESS)
    if failed:
        errors.print(f"[red]{len(failed)} job(s) did not succeed: {', '.join(failed)}[/red]")
        raise typer.Exit(EXIT_FAILED)
    console.print(f"[green]All {len(final)} job(s) succeeded.[/green]")


@app.command()
def replay(
    event_file: Annotated[Path, typer.Argument(help="A Lambda SQS event, e.g. events/*.json.", exists=True)],
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    retention_days: Annotated[
        int, typer.Option(envvar="RETENTION_DAYS", min=15, help="Days a row is kept (the stack's RetentionDays).")
    ] = DEFAULT_RETENTION_DAYS,
) -> None:
    """Run the real handler on an event file against the table (`sam local invoke -e`, without Docker).

    Exit 1 if the handler reports any record failed."""
    status_table = _table(table, region, endpoint_url)
    try:  # a table that cannot be reached fails here, with its reason, not as every record failing
        with explained_errors(status_table):
            status_table.get("transcoder-status-replay-check")
    except StatusTableError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    from . import handler  # the Lambda's own module, given this table
    from .local.context import LocalContext

    writer = handler.StatusWriter.connect(
        status_table.name, retention_days, region_name=region, endpoint_url=endpoint_url
    )
    event = json.loads(event_file.read_text())
    # The function's log and metrics go to stderr, so stdout holds only its response.
    log_handler = handler.logger.registered_handler
    if isinstance(log_handler, logging.StreamHandler):
        log_handler.stream = sys.stderr  # not setStream(): it flushes the old stream, which may be closed
    with contextlib.redirect_stdout(sys.stderr):
        response = handler.lambda_handler(event, LocalContext("transcoder-status-replay", timeout_s=30), writer)
    print(json.dumps(response, indent=2))
    if response.get("batchItemFailures"):
        raise typer.Exit(EXIT_FAILED)


@app.command()
def demo(
    jobs: Annotated[int, typer.Option("--jobs", min=1, max=200, help="Jobs to simulate.")] = 12,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the simulation, to repeat a run.")] = None,
) -> None:
    """Run the whole pipeline on an embedded AWS emulator, end to end (what `make demo` runs)."""
    from .local.demo import run_demo

    raise typer.Exit(run_demo(jobs=jobs, seed=seed, console=console))


@app.command()
def soak(
    *,
    notifications: Annotated[
        int, typer.Option(min=8, help="Notifications to send, duplicates and malformed included.")
    ] = 10_000,
    jobs: Annotated[int, typer.Option(min=2, help="Jobs they are about (at least 4 notifications each).")] = 1_000,
    faults: Annotated[
        str, typer.Option(help="Comma-separated: dynamodb, sqs, kill, restart, or all. Empty: none.")
    ] = "",
    fault_rate: Annotated[float, typer.Option(min=0, max=0.5, help="Share of DynamoDB or SQS calls that fail.")] = 0.1,
    kills: Annotated[int, typer.Option(min=1, help="Workers to kill (faults: kill).")] = 5,
    restarts: Annotated[int, typer.Option(min=1, help="Runtime restarts (faults: restart).")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the load and the faults.")] = 1,
    backlog: Annotated[
        int, typer.Option(min=0, help="Send while fewer messages than this wait in the queue (0: no limit).")
    ] = 100,
    max_receive_count: Annotated[
        int | None, typer.Option(min=1, help="The stack's MaxReceiveCount (default: 5, or 10 with faults).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="Time bound in seconds (default: 120 + 0.1 s per notification).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Markdown file to keep this run's figures in (e.g. bench/soak.md).")
    ] = None,
) -> None:
    """Load the whole pipeline (and inject faults), then check every row, the DLQ and that nothing was lost."""
    from .local.soak import FAULTS, SoakOptions, SoakResult, run_soak
    from .local.soak_report import print_report, record

    chosen = {name.strip() for name in faults.split(",") if name.strip()}
    chosen = set(FAULTS) if chosen == {"all"} else chosen
    try:
        options = SoakOptions(
            notifications=notifications,
            jobs=jobs,
            faults=frozenset(chosen),
            fault_rate=fault_rate,
            kills=kills,
            restarts=restarts,
            seed=seed,
            backlog=backlog,
            max_receive_count=max_receive_count,
            timeout_s=timeout,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    console.print(
        f"[bold]Soak[/bold]: {notifications:,} notifications for {jobs:,} jobs, faults: "
        f"{', '.join(sorted(chosen)) or 'none'}; stack from template.yaml on an embedded emulator"
    )
    started = time.monotonic()

    def progress(result: SoakResult) -> None:
        console.print(
            f"[dim]{time.monotonic() - started:4.0f} s: sent {result.sent:,} of {len(result.load.sends):,}, "
            f"{len(result.seen_finished):,} of {len(result.load.jobs):,} jobs seen finished[/dim]"
        )

    result = run_soak(options, progress=progress)
    print_report(console, result)
    if report is not None:
        record(report, result)
        console.print(f"Figures kept in {report}")
    raise typer.Exit(0 if result.passed else 1)


@app.command()
def local() -> None:
    """Keep the embedded stack (emulator, queue, table, poller) running for your own code; Ctrl-C stops it."""
    from .local.demo import run_local

    raise typer.Exit(run_local(console=console))


def main() -> None:
    try:
        app()
    except ModuleNotFoundError as error:
        if error.name in ("moto", "samtranslator", "yaml"):
            errors.print(
                f"[red]The local stack needs more packages: pip install 'transcoder-status[local]' ({error}).[/red]"
            )
            sys.exit(EXIT_UNREADABLE)
        raise


if __name__ == "__main__":
    main()
