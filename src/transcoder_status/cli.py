"""The ``transcoder-status`` command: read job status, watch jobs, replay events, run the local stack."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .client import JobWaitTimeout, StatusTableError, connect, explained_errors, watch_jobs
from .display import JobProgress, styled
from .status import JobStatus
from .table import (
    ALL_ATTRIBUTES,
    DEFAULT_RETENTION_DAYS,
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
    view = Table()
    for column in ("Job ID", "Status", "State", "Progress"):
        view.add_column(column, no_wrap=True)
    for column in ("Source", "Updated", "Details"):
        view.add_column(column)
    for job_id, row in rows.items():
        if row is None:
            view.add_row(job_id, styled(JobStatus.RUNNING), "[dim]no notification yet[/dim]", "", "", "", "")
            continue
        detail = row.error_message or (f"{len(row.warnings)} warning(s)" if row.warnings else "")
        if row.error_code:
            detail = f"{row.error_code}: {detail}"
        view.add_row(
            job_id,
            styled(row.status),
            row.state or "",
            "" if row.progress is None else f"{row.progress}%",
            row.source or "",
            row.updated_at or "",
            detail,
        )
    console.print(view)


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
