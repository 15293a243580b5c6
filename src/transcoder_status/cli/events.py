"""The finished events' commands: republish (put a job's event again, from its row)."""

from __future__ import annotations

from typing import Annotated

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.markup import escape

from ..client import StatusTableError
from ..event_bus import EventBus
from ..republish import RepublishReport, finished_since, republish
from . import output
from .output import EXIT_FAILED, EndpointOption, RegionOption, TableOption, duration, fail, status_table
from .signals import exit_code, interruptible

app = typer.Typer(
    help='The "Transcoding Job Finished" events: put them again from the rows.',
    no_args_is_help=True,
)

BusOption = Annotated[
    str | None,
    typer.Option(
        "--bus",
        envvar="EVENT_BUS_NAME",
        help="The event bus (the stack's FinishedEventBusName or FinishedEventBusArn).",
    ),
]


@app.command("republish")
def republish_command(
    *,
    job: Annotated[list[str] | None, typer.Option("--job", help="A job to republish; repeat for more.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Every job finished in the last 90s, 15m, 2h, 7d (rows updated since).")
    ] = None,
    bus: BusOption = None,
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Put finished jobs' events on the bus again, built from their rows as the publisher builds them.
    Consumers are idempotent by jobId, so a job's event may be put again safely. Exit 1 if any was
    not, 3 if the table cannot be read, 128 + the signal's number when interrupted (130, 143)."""
    if bool(job) == (since is not None):
        raise typer.BadParameter("give --job ID (one or more) or --since DURATION, not both", param_hint="--job")
    if not bus:
        raise fail("No event bus: pass --bus or set EVENT_BUS_NAME to the stack's FinishedEventBusName output.")
    rows = status_table(table, region, endpoint_url)
    report = RepublishReport()
    job_ids: list[str] = []
    try:
        with interruptible():
            events = boto3.client("events", region_name=region, endpoint_url=endpoint_url)
            window = duration(since, "--since")
            job_ids = list(job or ()) if window is None else list(finished_since(rows, window))
            republish(rows, EventBus(bus, events), job_ids, report)
    except (StatusTableError, BotoCoreError, ClientError) as error:
        raise fail(str(error)) from None
    except KeyboardInterrupt as stop:
        left = len(job_ids) - len(report.published)
        output.errors.print(
            f"[yellow]Interrupted: {len(report.published)} event(s) put on {escape(bus)}; {left} not: run it "
            "again for them (consumers are idempotent by jobId).[/yellow]"
        )
        raise typer.Exit(exit_code(stop)) from None
    for job_id, reason in report.not_published.items():
        output.errors.print(f"[red]{escape(job_id)}: {escape(reason)}[/red]")
    output.console.print(f"{len(report.published)} event(s) put on {escape(bus)}; {len(report.not_published)} not.")
    if report.not_published:
        raise typer.Exit(EXIT_FAILED)
