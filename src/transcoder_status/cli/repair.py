"""Repair commands: reconcile (stuck MediaConvert jobs) and backfill (jobs the table lacks).

Exit codes (also in each command's help and docs/operations.md): 0 every job asked about is fine;
1 a job failed, or the sweep stopped after MediaConvert calls failed in a row; 2 a wrong argument,
or out of time (--timeout) with jobs left; 3 the table cannot be read or written (found before any
job is asked about when it is missing); 128 + the signal's number when interrupted (130 Ctrl-C,
143 SIGTERM, 129 SIGHUP), after printing what was done.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Annotated, NamedTuple

import botocore.session
import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.markup import escape
from rich.table import Table

from ..aws_errors import explain
from ..client import StatusTableError, explained_errors
from ..display import Column, fitted
from ..listing import check_place, stuck_jobs, with_times
from ..mediaconvert_clients import DEFAULT_READER_ROLE_NAME, ROLE_NAME, STS_CONFIG
from ..notification import Source
from ..reconcile import Reconciler, Report, TableUnavailable, Verdict, mediaconvert_clients
from ..table import DEFAULT_RETENTION_DAYS, StatusTable
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
    status_table,
)
from .signals import exit_code, interruptible

EXIT_CODES = (
    "Exit codes: 0 all fine; 1 a job failed, or MediaConvert calls failed in a row; 2 a wrong argument, or out "
    "of time with jobs left; 3 the table cannot be read or written; 130/143/129 interrupted by SIGINT/SIGTERM/"
    "SIGHUP, after printing what was done."
)
# MediaConvert's job statuses: the SDK's own model says them (job_statuses), but loading it costs every
# command a quarter of a second at import, so the help names them and a test holds it to the model.
JOB_STATUSES_HELP = "SUBMITTED, PROGRESSING, COMPLETE, CANCELED, ERROR"


@functools.cache
def job_statuses() -> tuple[str, ...]:
    """MediaConvert's job statuses, from the SDK's model of the service."""
    model = botocore.session.get_session().get_service_model("mediaconvert")
    return tuple(getattr(model.shape_for("JobStatus"), "enum", ()))


DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Say what would change; write nothing.")]
RepairRetentionOption = Annotated[
    int,
    typer.Option(envvar="RETENTION_DAYS", min=15, help="The stack's RetentionDays: how long a repaired row is kept."),
]
MediaConvertEndpointOption = Annotated[
    str | None,
    typer.Option(
        "--mediaconvert-endpoint-url",
        envvar="AWS_ENDPOINT_URL_MEDIACONVERT",
        help="MediaConvert's endpoint (default: boto3's; --endpoint-url is the table's).",
    ),
]
TimeoutOption = Annotated[
    float, typer.Option(min=1, help="Stop asking after this many seconds; no call outlasts it (exit 2 if jobs remain).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON object, for scripts.")]
ReaderRoleOption = Annotated[
    str,
    typer.Option(
        "--reader-role",
        envvar="TRANSCODER_STATUS_READER_ROLE",
        help="The reader role assumed in another account to ask MediaConvert there (the stack's ReaderRoleName).",
    ),
]


_REPORT_COLUMNS = (Column("Job ID"), Column("MediaConvert says"), Column("Row"), Column("Why", whole=False))


def _repair(
    reconciler: Reconciler,
    title: str,
    work: Callable[[Report], object],
    *,
    changes_only: bool = False,
    as_json: bool = False,
) -> None:
    """``work`` fills a report, printed at the end; interrupted (Ctrl-C, SIGTERM, SIGHUP), what it did
    so far is printed and the exit code is 128 + the signal's number."""
    report = Report()
    interrupted: KeyboardInterrupt | None = None
    try:
        with interruptible():
            work(report)
    except (StatusTableError, TableUnavailable, BotoCoreError, ClientError) as error:
        raise fail(explain(error)) from None
    except KeyboardInterrupt as stop:
        interrupted = stop
    title = f"{title}{' (dry run)' if reconciler.dry_run else ''}"
    _repair_report(report, title, changes_only=changes_only, as_json=as_json, interrupted=interrupted)


def _repair_report(
    report: Report,
    title: str,
    *,
    changes_only: bool = False,
    as_json: bool = False,
    interrupted: KeyboardInterrupt | None = None,
) -> None:
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        output.console.print(_report_view(report, title, output.console.width, changes_only=changes_only))
        summary = ", ".join(f"{report.count(v)} {v.value}" for v in Verdict if report.count(v))
        output.errors.print(f"{len(report.checked)} job(s) asked about: {summary or 'none'}.")
    if report.stopped:
        output.errors.print(f"[red]{escape(report.stopped)}[/red]")
    if interrupted is not None:
        output.errors.print(
            "[yellow]Interrupted: the jobs above were asked about; the rest were not. Run it again for them "
            "(a repair writes as an event does: again, it changes nothing).[/yellow]"
        )
        raise typer.Exit(exit_code(interrupted))
    if report.out_of_time:
        raise typer.Exit(EXIT_TIMEOUT)
    if report.stopped or report.count(Verdict.FAILED):
        raise typer.Exit(EXIT_FAILED)


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


class _Options(NamedTuple):
    """The options both repair commands take: the table, MediaConvert's endpoint, how to write."""

    table: str | None
    region: str | None
    endpoint_url: str | None
    mediaconvert_endpoint_url: str | None
    dry_run: bool
    retention_days: int
    reader_role: str


def _reconciler(options: _Options) -> Reconciler:
    """The table (found before any job is asked about), and MediaConvert clients per account and
    Region: the caller's own credentials in their account (found with one sts GetCallerIdentity, and
    only when a job names an account) and the table's Region; ``reader_role`` in other accounts."""
    table, region, endpoint_url, mediaconvert_endpoint_url, dry_run, retention_days, reader_role = options
    if not ROLE_NAME.fullmatch(reader_role):
        raise fail(
            f"--reader-role: {reader_role!r} is not an IAM role name: 1 to 64 of A-Z a-z 0-9 +=,.@_-", EXIT_USAGE
        )
    connected = status_table(table, region, endpoint_url)
    table_with_ttl = StatusTable(connected.name, connected.client, retention_days)
    try:
        with explained_errors(table_with_ttl):
            table_with_ttl.stored_order("transcoder-status-probe")  # a missing table is found before any job
    except StatusTableError as error:
        raise fail(str(error)) from None
    home_region = connected.client.meta.region_name

    def caller_account() -> str:
        import boto3

        sts = boto3.client("sts", region_name=home_region, config=STS_CONFIG)
        return str(sts.get_caller_identity()["Account"])

    clients = mediaconvert_clients(
        home_region,
        caller_account,
        reader_role=reader_role,
        session_name="transcoder-status-cli",
        endpoint_url=mediaconvert_endpoint_url,
    )
    return Reconciler(table_with_ttl, clients, dry_run=dry_run)


def _places(accounts: list[str] | None, regions: list[str] | None) -> list[tuple[str | None, str | None]]:
    """Each account (none: the caller's own) in each Region (none: the table's): wrong ones, exit 2."""
    checks = [("--account", {"account": a}) for a in accounts or ()]
    checks += [("--job-region", {"region": r}) for r in regions or ()]
    for option, place in checks:
        try:
            check_place(**place)
        except ValueError as error:
            raise fail(f"{option}: {error}", EXIT_USAGE) from None
    owners: list[str | None] = [*accounts] if accounts else [None]
    where: list[str | None] = [*regions] if regions else [None]
    return [(account, region) for account in owners for region in where]


def reconcile(
    *,
    stuck: Annotated[str, typer.Option(help="Running jobs not updated for this long: 90s, 15m, 2h, 7d.")] = "2h",
    limit: Annotated[
        int, typer.Option(min=1, help="Ask about at most this many MediaConvert jobs, the newest first.")
    ] = 100,
    timeout: TimeoutOption = 600,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
    retention_days: RepairRetentionOption = DEFAULT_RETENTION_DAYS,
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    mediaconvert_endpoint_url: MediaConvertEndpointOption = None,
    reader_role: ReaderRoleOption = DEFAULT_READER_ROLE_NAME,
) -> None:
    """Repair stuck MediaConvert jobs from MediaConvert itself (GetJob), as the stuck check does: each
    job in the account and Region that ran it (another account's through its reader role)."""
    deadline = time.monotonic() + timeout
    older_than = duration(stuck, "--stuck") or timedelta(0)
    options = _Options(table, region, endpoint_url, mediaconvert_endpoint_url, dry_run, retention_days, reader_role)
    reconciler = _reconciler(options)

    def work(report: Report) -> None:
        stuck_rows = stuck_jobs(older_than, table_name=reconciler.table.name, client=reconciler.table.client)
        rows = list(islice((row for row in stuck_rows if row.source == Source.MEDIACONVERT), limit))
        rows = list(with_times(reconciler.table, rows))  # where each ran: the index does not hold it
        reconciler.reconcile(rows, deadline, report=report)

    _repair(reconciler, f"Running MediaConvert jobs not updated for {stuck}", work, as_json=as_json)


reconcile.__doc__ = f"{reconcile.__doc__}\n\n{EXIT_CODES}"


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
        typer.Option("--status", help=f"Only jobs in this MediaConvert status ({JOB_STATUSES_HELP}); repeatable."),
    ] = None,
    accounts: Annotated[
        list[str] | None,
        typer.Option(
            "--account", help="List this account's jobs, through its reader role; repeatable (default: yours)."
        ),
    ] = None,
    regions: Annotated[
        list[str] | None,
        typer.Option("--job-region", help="List the jobs of this Region; repeatable (default: the table's)."),
    ] = None,
    timeout: TimeoutOption = 600,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
    retention_days: RepairRetentionOption = DEFAULT_RETENTION_DAYS,
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    mediaconvert_endpoint_url: MediaConvertEndpointOption = None,
    reader_role: ReaderRoleOption = DEFAULT_READER_ROLE_NAME,
) -> None:
    """Write the rows the table lacks or that are behind, from MediaConvert's job list (ListJobs), in
    each --account and --job-region given (each account in each Region).

    Pass the stack's own filters (--queue, --user-metadata) so that only the jobs it records are written."""
    deadline = time.monotonic() + timeout
    places = _places(accounts, regions)
    ago = duration(since, "--since") or timedelta(0)
    chosen = [status.strip().upper() for status in statuses or ()]
    unknown = [status for status in chosen if status not in job_statuses()]
    if unknown:
        raise typer.BadParameter(
            f"{', '.join(unknown)}: not a MediaConvert job status (one of {', '.join(job_statuses())})",
            param_hint="--status",
        )
    metadata = None
    if user_metadata is not None:
        key, equals, value = user_metadata.partition("=")
        if not equals or not key:
            raise typer.BadParameter(
                "KEY=VALUE, as the stack's MediaConvertUserMetadataKey and ...Value", param_hint="--user-metadata"
            )
        metadata = (key, value)
    options = _Options(table, region, endpoint_url, mediaconvert_endpoint_url, dry_run, retention_days, reader_role)
    reconciler = _reconciler(options)

    def work(report: Report) -> None:
        chosen_places = [reconciler.clients.place(account, region) for account, region in places]
        start = datetime.now(UTC) - ago
        reconciler.backfill(start, queue, chosen, metadata, deadline, places=chosen_places, report=report)

    title = f"MediaConvert jobs created in the last {since}: what changed"
    _repair(reconciler, title, work, changes_only=True, as_json=as_json)


backfill.__doc__ = f"{backfill.__doc__}\n\n{EXIT_CODES}"
