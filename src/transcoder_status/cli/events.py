"""The finished events' commands: republish (put a job's event again, from its row)."""

from __future__ import annotations

import json
from itertools import islice
from typing import TYPE_CHECKING, Annotated

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.markup import escape

from ..aws_errors import explain
from ..client import StatusTableError
from ..event_bus import EventBus
from ..republish import failed_batch_reason, finished_since, republish
from . import output
from .output import EXIT_FAILED, EndpointOption, RegionOption, TableOption, duration, fail, status_table
from .signals import exit_code, interruptible

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

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
    Consumers are idempotent by jobId, so a job's event may be put again safely. Exit 1 if any was not."""
    if bool(job) == (since is not None):
        raise typer.BadParameter("give --job ID (one or more) or --since DURATION, not both", param_hint="--job")
    if not bus:
        raise fail("No event bus: pass --bus or set EVENT_BUS_NAME to the stack's FinishedEventBusName output.")
    rows = status_table(table, region, endpoint_url)
    try:
        events = boto3.client("events", region_name=region, endpoint_url=endpoint_url)
        window = duration(since, "--since")
        job_ids = list(job or ()) if window is None else list(finished_since(rows, window))
        report = republish(rows, EventBus(bus, events), job_ids)
    except (StatusTableError, BotoCoreError, ClientError) as error:
        raise fail(str(error)) from None
    for job_id, reason in report.not_published.items():
        output.errors.print(f"[red]{escape(job_id)}: {escape(reason)}[/red]")
    output.console.print(f"{len(report.published)} event(s) put on {escape(bus)}; {len(report.not_published)} not.")
    if report.not_published:
        raise typer.Exit(EXIT_FAILED)


def show_failed_batches(
    queue_url: str | None,
    region: str | None,
    endpoint_url: str | None,
    max_messages: int | None,
    *,
    as_json: bool = False,
) -> None:
    """``dlq show --events``: the publisher's on-failure queue, each message with why; all stay
    (received hidden for a moment, then made visible again, also when the look is stopped)."""
    if not queue_url:
        raise fail("No on-failure queue: pass --events-url or set EVENTS_FAILED_URL (FinishedEventsFailedQueueUrl).")
    sqs = boto3.client("sqs", region_name=region, endpoint_url=endpoint_url)
    held: dict[str, dict[str, str]] = {}
    try:
        with interruptible():
            try:
                while max_messages is None or len(held) < max_messages:
                    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30)
                    messages = received.get("Messages", [])
                    if not messages:
                        break
                    held.update((m["MessageId"], {"body": m["Body"], "handle": m["ReceiptHandle"]}) for m in messages)
                reasons = {
                    message_id: failed_batch_reason(message["body"])
                    for message_id, message in islice(held.items(), max_messages)
                }
            finally:
                _make_visible(sqs, queue_url, [message["handle"] for message in held.values()])
    except KeyboardInterrupt as stop:
        output.errors.print("[yellow]Interrupted: every message read was made visible again.[/yellow]")
        raise typer.Exit(exit_code(stop)) from None
    except (BotoCoreError, ClientError) as error:
        raise fail(explain(error)) from None
    if as_json:
        print(json.dumps({"messages": [{"messageId": i, "reason": r} for i, r in reasons.items()]}, indent=2))
    else:
        for message_id, reason in reasons.items():
            output.console.print(f"{escape(message_id)}: {escape(reason)}")
    output.errors.print(f"{len(reasons)} stream batch(es) the publisher gave up on.")


def _make_visible(sqs: SQSClient, queue_url: str, handles: list[str]) -> None:
    for start in range(0, len(handles), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for i, handle in enumerate(handles[start : start + 10])
            ],
        )
