"""Job status commands: status, list, watch."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..client import JobWaitTimeout, StatusTableError, explained_errors, watch_jobs
from ..display import Column, JobProgress, fitted, styled
from ..listing import list_jobs, status_choice
from ..status import JobStatus
from ..table import (
    ALL_ATTRIBUTES,
    LISTING_ATTRIBUTES,
    PROGRESS_ATTRIBUTES,
    JobRow,
    TableNotConfiguredError,
    row_to_json,
)
from . import output
from .output import (
    EXIT_FAILED,
    EXIT_TIMEOUT,
    EndpointOption,
    RegionOption,
    TableOption,
    duration,
    fail,
    status_table,
)


def _row_json(job_id: str, row: JobRow | None) -> dict[str, Any]:
    """A row under its own attribute names; a job with no row yet is RUNNING, as JobMonitor says."""
    if row is None:
        return {**row_to_json(JobRow(job_id=job_id, status=JobStatus.RUNNING, finished=False)), "known": False}
    return {**row_to_json(row), "known": True}


def status(
    job_ids: Annotated[list[str], typer.Argument(help="Job IDs to show.", metavar="JOB_ID...")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, for scripts.")] = False,
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Show the rows of some jobs."""
    connected = status_table(table, region, endpoint_url)
    try:
        with explained_errors(connected):
            rows = {job_id: connected.get(job_id, attributes=ALL_ATTRIBUTES) for job_id in job_ids}
    except StatusTableError as error:
        raise fail(str(error)) from None
    if as_json:
        print(json.dumps([_row_json(job_id, row) for job_id, row in rows.items()], indent=2))
        return
    output.console.print(_rows_view(rows.items(), output.console.width))


_ROW_COLUMNS = (
    Column("Job ID"),
    Column("Status"),
    Column("State"),
    Column("Progress", justify="right"),
    Column("Source"),
    Column("Updated", whole=False),
    Column("Details", whole=False),
)


def _rows_view(rows: Iterable[tuple[str, JobRow | None]], width: int) -> Table:
    """Job IDs and statuses always whole; Progress, Source, then State give way on a narrow terminal."""
    cells: list[list[str]] = []
    for job_id, row in rows:
        if row is None:
            cells.append([escape(job_id), styled(JobStatus.RUNNING), "", "", "", "", "[dim]no notification yet[/dim]"])
            continue
        detail = row.error_message or (f"{len(row.warnings)} warning(s)" if row.warnings else "")
        if row.error_code:
            detail = f"{row.error_code}: {detail}"
        cells.append(  # what the transcoder wrote is text, not markup ("Video codec [indeo4] ...")
            [
                escape(job_id),
                styled(row.status),
                escape(row.state or ""),
                "" if row.progress is None else f"{row.progress}%",
                escape(row.source or ""),
                (row.updated_at or "").replace("T", " "),  # a place to fold
                escape(detail),
            ]
        )
    return fitted(_ROW_COLUMNS, cells, width, droppable=("Progress", "Source", "State"))


def list_jobs_command(
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
        duration(since, "--since"),
        duration(until, "--until"),
        duration(stuck, "--stuck"),
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
        raise fail(str(error)) from None
    more = len(rows) > limit
    rows = rows[:limit]
    if as_json:
        print(json.dumps([row_to_json(row, LISTING_ATTRIBUTES) for row in rows], indent=2))
    else:
        output.console.print(_rows_view(((row.job_id, row) for row in rows), output.console.width))
    if more:
        output.errors.print(
            f"[yellow]The newest {limit} shown; there are more: --limit N, or narrow --since/--until.[/yellow]"
        )
    elif not as_json:
        output.errors.print(f"{len(rows)} job(s).")


def watch(
    job_ids: Annotated[list[str], typer.Argument(help="Job IDs to wait for.", metavar="JOB_ID...")],
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds (exit 2).")] = None,
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Follow jobs until all finish: exit 0 if all succeeded, 1 if any failed, 2 on timeout."""
    connected = status_table(table, region, endpoint_url)
    final: dict[str, JobRow | None] = {}
    with JobProgress(job_ids, output.console) as progress:
        try:
            for final in watch_jobs(
                list(dict.fromkeys(job_ids)), connected, timeout=timeout, attributes=PROGRESS_ATTRIBUTES
            ):
                progress.show(final)
        except JobWaitTimeout as error:
            if error.read_error is not None:  # out of time because the table could not be read
                raise fail(str(error.read_error)) from None
            output.errors.print(f"[yellow]{escape(str(error))}[/yellow]")
            raise typer.Exit(EXIT_TIMEOUT) from None
        except StatusTableError as error:
            raise fail(str(error)) from None
    failed = sorted(job for job, row in final.items() if row is not None and row.status is not JobStatus.SUCCESS)
    if failed:
        output.errors.print(f"[red]{len(failed)} job(s) did not succeed: {escape(', '.join(failed))}[/red]")
        raise typer.Exit(EXIT_FAILED)
    output.console.print(f"[green]All {len(final)} job(s) succeeded.[/green]")
