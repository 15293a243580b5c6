"""The dead-letter queue commands: why each message is there (show), and the way back (redrive)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..dead_letters import SNS_CONTROL, UNDELIVERED, WRITE_FAILED, DeadLetterQueue, DeadLetterQueueError
from ..table import DEFAULT_RETENTION_DAYS
from . import output
from .events import show_failed_batches
from .output import EndpointOption, RegionOption, fail

app = typer.Typer(
    help="The dead-letter queue: why each message is there, and the redrive back to the queue.",
    no_args_is_help=True,
)

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
EventsOption = Annotated[
    bool,
    typer.Option(
        "--events", help="The finished-event publisher's on-failure queue instead: stream batches it gave up on."
    ),
]
EventsUrlOption = Annotated[
    str | None,
    typer.Option(
        "--events-url", envvar="EVENTS_FAILED_URL", help="That queue (the FinishedEventsFailedQueueUrl output)."
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
        raise fail(str(error)) from None


_KIND_STYLE = {WRITE_FAILED: "green", SNS_CONTROL: "yellow", UNDELIVERED: "green"}


@app.command("show")
def show(
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array, for scripts.")] = False,
    max_messages: MaxOption = None,
    retention_days: RetentionOption = DEFAULT_RETENTION_DAYS,
    undelivered: UndeliveredOption = False,
    dlq_url: DlqOption = None,
    undelivered_url: UndeliveredUrlOption = None,
    events: EventsOption = False,
    events_url: EventsUrlOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Show each message in the DLQ and why it is there (the parser, run on it again); takes none."""
    if events:
        show_failed_batches(events_url, region, endpoint_url, max_messages)
        return
    queue = _dlq(dlq_url, undelivered_url, undelivered, region, endpoint_url)
    try:
        letters = queue.peek(max_messages, retention_days=retention_days)
    except DeadLetterQueueError as error:
        raise fail(str(error)) from None
    if as_json:
        print(json.dumps([letter.to_json() for letter in letters], indent=2))
        return
    name = "Undelivered queue" if undelivered else "Dead-letter queue"
    if not letters:
        output.console.print(f"{name}: empty.")
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
    output.console.print(view)


@app.command("redrive")
def redrive(
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
        raise fail(str(error)) from None
    if result.note:
        output.errors.print(f"[yellow]{escape(result.note)}[/yellow]")
    for letter in result.left:
        output.errors.print(f"[yellow]left in the DLQ: {escape(letter.message_id)}: {escape(letter.reason)}[/yellow]")
    output.console.print(f"Moved {result.moved} message(s) to {escape(result.destination)} ({result.method}).")
