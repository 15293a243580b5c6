"""Job status commands: status, list, watch."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..client import JobWaitTimeout, StatusTableError, explained_errors, watch_jobs
from ..display import Column, JobProgress, fitted, styled
from ..listing import Moment, check_place, list_jobs, status_choice
from ..status import JobStatus
from ..table import (
    ACCOUNT,
    ALL_ATTRIBUTES,
    DISCOVERED_AT,
    FINISHED_AT,
    LISTING_ATTRIBUTES,
    PROGRESS_ATTRIBUTES,
    REGION,
    REPAIRED_AT,
    JobRow,
    TableNotConfiguredError,
    row_to_json,
)
from . import output
from .output import (
    EXIT_FAILED,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    EndpointOption,
    RegionOption,
    TableOption,
    duration,
    fail,
    moment,
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
    output.console.print(_rows_view(rows.items(), output.console.width, every_place=True))


FINISHED = Column("Finished", whole=False)
ACCOUNT_COLUMN, REGION_COLUMN = Column("Account"), Column("Region")
_ROW_COLUMNS = (
    Column("Job ID"),
    Column("Status"),
    Column("State"),
    Column("Progress", justify="right"),
    Column("Source"),
    ACCOUNT_COLUMN,
    REGION_COLUMN,
    Column("Updated", whole=False),
    FINISHED,
    Column("Details", whole=False),
)


def _rows_view(rows: Iterable[tuple[str, JobRow | None]], width: int, *, every_place: bool = False) -> Table:
    """Job IDs and statuses (with a repaired or discovered mark) always whole; Progress, Source,
    State, Region, Account, then Finished (Updated when every job listed finished) give way on a
    narrow terminal. Account and Region are shown where the rows say more than one (jobs gathered
    from several accounts or Regions); ``every_place``: wherever a row says one (``status``)."""
    cells: list[list[str]] = []
    for job_id, row in rows:
        if row is None:
            blank = [""] * (len(_ROW_COLUMNS) - 3)
            cells.append([escape(job_id), styled(JobStatus.RUNNING), *blank, "[dim]no notification yet[/dim]"])
            continue
        mark = " [yellow](repaired)[/yellow]" if row.repaired_at else ""
        mark += " [yellow](discovered)[/yellow]" if row.discovered_at else ""
        detail = row.error_message or (f"{len(row.warnings)} warning(s)" if row.warnings else "")
        if row.error_code:
            detail = f"{row.error_code}: {detail}"
        cells.append(  # what the transcoder wrote is text, not markup ("Video codec [indeo4] ...")
            [
                escape(job_id),
                styled(row.status) + mark,
                escape(row.state or ""),
                "" if row.progress is None else f"{row.progress}%",
                escape(row.source or ""),
                row.account or "",
                row.region or "",
                (row.updated_at or "").replace("T", " "),  # a place to fold
                (row.finished_at or "").replace("T", " "),
                escape(detail),
            ]
        )
    finished = _ROW_COLUMNS.index(FINISHED)
    hidden = set() if any(row[finished] for row in cells) else {FINISHED}  # no job finished: no empty column
    for column in (ACCOUNT_COLUMN, REGION_COLUMN):
        said = {row[_ROW_COLUMNS.index(column)] for row in cells} - {""}
        if len(said) < (1 if every_place else 2):  # nothing to tell apart
            hidden.add(column)
    shown = [i for i, column in enumerate(_ROW_COLUMNS) if column not in hidden]
    columns = tuple(_ROW_COLUMNS[i] for i in shown)
    cells = [[row[i] for i in shown] for row in cells]
    droppable = ["Progress", "Source", "State", "Region", "Account"]
    if FINISHED not in hidden:
        # Only finished jobs: Finished says when each ended, and Updated differs from it only on a
        # repaired row, which is marked; so Updated gives way first. With running jobs, Finished does.
        droppable.append("Updated" if all(row[shown.index(finished)] for row in cells) else "Finished")
    return fitted(columns, cells, width, droppable=droppable)


MOMENT = "a duration before now (90s, 15m, 2h, 7d) or an ISO 8601 time (2026-12-06T17:00:00Z)"


def list_jobs_command(
    *,
    statuses: Annotated[
        list[str] | None,
        typer.Option("--status", "-s", help="RUNNING, SUCCESS, ERROR or CANCELED; repeat for several (default: all)."),
    ] = None,
    since: Annotated[str | None, typer.Option(help=f"Row last written at or after this: {MOMENT}.")] = None,
    until: Annotated[str | None, typer.Option(help=f"Row last written at or before this: {MOMENT}.")] = None,
    finished_since: Annotated[
        str | None, typer.Option(help=f"Job finished at or after this (which jobs failed today): {MOMENT}.")
    ] = None,
    finished_until: Annotated[str | None, typer.Option(help=f"Job finished at or before this: {MOMENT}.")] = None,
    stuck: Annotated[
        str | None, typer.Option(help="Running jobs not updated for this long (a lost notification, a hung transcode).")
    ] = None,
    account: Annotated[
        str | None, typer.Option(help="MediaConvert jobs that ran in this account (12 digits): a central stack's.")
    ] = None,
    job_region: Annotated[
        str | None,
        typer.Option(help="MediaConvert jobs that ran in this Region (eu-west-1); --region is the table's."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array, for scripts.")] = False,
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """List jobs by status and last write, newest first (a Query of the status index, no Scan).

    A row is written by every notification and every repair, so --since/--until select by the last
    write: a job that failed days ago and was repaired today is "since 1d". --finished-since and
    --finished-until select by when the job finished. A repaired row is marked (repaired), a row the
    stuck check found in MediaConvert's list before any event (discovered). --account and
    --job-region read each listed row's (the index does not hold them): a narrow --since keeps that
    cheap."""
    since_at, until_at = moment(since, "--since"), moment(until, "--until")
    finished_since_at, finished_until_at = (
        moment(finished_since, "--finished-since"),
        moment(finished_until, "--finished-until"),
    )
    stuck_for = duration(stuck, "--stuck")
    for option, place in (("--account", {"account": account}), ("--job-region", {"region": job_region})):
        try:
            check_place(**place)
        except ValueError as error:
            raise fail(f"{option}: {error}", EXIT_USAGE) from None
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
        until_at = stuck_for if until_at is None else _earliest(until_at, stuck_for)
    try:
        # One row more than shown, to tell whether there are more.
        rows = list(
            list_jobs(
                chosen,
                since_at,
                until_at,
                limit + 1,
                table,
                region_name=region,
                endpoint_url=endpoint_url,
                finished_since=finished_since_at,
                finished_until=finished_until_at,
                times=True,
                account=account,
                job_region=job_region,
            )
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    except (TableNotConfiguredError, StatusTableError) as error:
        raise fail(str(error)) from None
    more = len(rows) > limit
    rows = rows[:limit]
    if as_json:
        print(json.dumps([row_to_json(row, LISTED_ATTRIBUTES) for row in rows], indent=2))
    else:
        output.console.print(_rows_view(((row.job_id, row) for row in rows), output.console.width))
    if more:
        output.errors.print(
            f"[yellow]The newest {limit} shown; there are more: --limit N, or narrow --since/--until.[/yellow]"
        )
    elif not as_json:
        output.errors.print(f"{len(rows)} job(s).")


LISTED_ATTRIBUTES = (*LISTING_ATTRIBUTES, FINISHED_AT, REPAIRED_AT, DISCOVERED_AT, ACCOUNT, REGION)


def _earliest(until: Moment, stuck_for: timedelta) -> Moment:
    """The earlier of an --until and a --stuck (a duration before now is the earlier the longer it is)."""
    if isinstance(until, timedelta):
        return max(until, stuck_for)
    return min(until, datetime.now(UTC) - stuck_for)


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
