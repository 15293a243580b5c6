"""Repair commands: reconcile (stuck MediaConvert jobs) and backfill (jobs the table lacks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.markup import escape
from rich.table import Table

from ..aws_errors import explain
from ..client import StatusTableError
from ..display import Column, fitted
from ..listing import stuck_jobs
from ..notification import Source
from ..reconcile import Reconciler, Report, Verdict, mediaconvert_client
from ..table import DEFAULT_RETENTION_DAYS, StatusTable
from . import output
from .output import EndpointOption, RegionOption, TableOption, duration, fail, status_table

DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Say what would change; write nothing.")]
RepairRetentionOption = Annotated[
    int,
    typer.Option(envvar="RETENTION_DAYS", min=15, help="The stack's RetentionDays: how long a repaired row is kept."),
]


_REPORT_COLUMNS = (Column("Job ID"), Column("MediaConvert says"), Column("Row"), Column("Why", whole=False))


def _repair_report(report: Report, title: str, *, changes_only: bool = False) -> None:
    output.console.print(_report_view(report, title, output.console.width, changes_only=changes_only))
    summary = ", ".join(f"{report.count(v)} {v.value}" for v in Verdict if report.count(v))
    output.errors.print(f"{len(report.checked)} job(s) asked about: {summary or 'none'}.")


def _report_view(report: Report, title: str, width: int, *, changes_only: bool = False) -> Table:
    """Job IDs and what MediaConvert says whole; the reason folds."""
    style = {Verdict.REPAIRED: "green", Verdict.WOULD_REPAIR: "yellow", Verdict.NOT_FOUND: "yellow"}
    cells = []
    for checked in report.checked:
        if changes_only and checked.verdict is Verdict.UNCHANGED:
            continue
        tint = style.get(checked.verdict, "red" if checked.verdict is Verdict.FAILED else "dim")
        cells.append(
            [
                escape(checked.job_id),
                escape(checked.status or "?"),
                f"[{tint}]{checked.verdict.value}[/{tint}]",
                escape(checked.reason or ""),
            ]
        )
    return fitted(_REPORT_COLUMNS, cells, width, title=escape(title))


def _reconciler(
    table: str | None, region: str | None, endpoint_url: str | None, dry_run: bool, retention_days: int
) -> Reconciler:
    connected = status_table(table, region, endpoint_url)
    table_with_ttl = StatusTable(connected.name, connected.client, retention_days)
    # MediaConvert is reached as boto3 reaches it (AWS_ENDPOINT_URL_MEDIACONVERT points elsewhere).
    return Reconciler(table_with_ttl, mediaconvert_client(region_name=region), dry_run=dry_run)


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
    older_than = duration(stuck, "--stuck") or timedelta(0)
    reconciler = _reconciler(table, region, endpoint_url, dry_run, retention_days)
    try:
        stuck_rows = stuck_jobs(older_than, table_name=reconciler.table.name, client=reconciler.table.client)
        rows = list(islice((row for row in stuck_rows if row.source == Source.MEDIACONVERT), limit))
        report = reconciler.reconcile(rows)
    except (StatusTableError, BotoCoreError, ClientError) as error:
        raise fail(explain(error)) from None
    _repair_report(report, f"Running MediaConvert jobs not updated for {stuck}{' (dry run)' if dry_run else ''}")


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
    ago = duration(since, "--since") or timedelta(0)
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
        raise fail(explain(error)) from None
    title = f"MediaConvert jobs created in the last {since}: what changed{' (dry run)' if dry_run else ''}"
    _repair_report(report, title, changes_only=True)
