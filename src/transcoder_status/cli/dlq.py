"""The dead-letter queue commands: why each message is there (show), and the way back (redrive).

Exit codes (also in each command's help and docs/operations.md): 0 all fine; 1 something was not
shown, stayed or failed; 2 a wrong argument; 3 the queue cannot be read or written, or is no
dead-letter queue; 128 + the signal's number when interrupted (130 for Ctrl-C, 143 for SIGTERM).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..dead_letters import (
    CLASH,
    FAILED_BATCH,
    FINISHED_EVENTS_FAILED,
    FUNCTION_DLQ,
    SNS_CONTROL,
    UNDELIVERED,
    UNDELIVERED_QUEUE,
    WRITE_FAILED,
    DeadLetter,
    DeadLetterQueue,
    DeadLetterQueueError,
    Look,
    RedriveInterrupted,
    RedriveResult,
)
from ..display import Column, fitted
from ..table import DEFAULT_RETENTION_DAYS
from . import output
from .output import EXIT_FAILED, EndpointOption, RegionOption, fail
from .signals import exit_code, interruptible

app = typer.Typer(
    help="The dead-letter queue: why each message is there, and the redrive back to the queue.",
    no_args_is_help=True,
)

EXIT_CODES = (
    "Exit codes: 0 all fine; 1 {what}; 2 a wrong argument; 3 the queue cannot be read or written, or is no "
    "dead-letter queue; 130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP."
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
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Read the queue even if it is no dead-letter queue (a live queue's messages would count the receive).",
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
TableOption = Annotated[
    str | None,
    typer.Option(
        "--table",
        "-t",
        envvar="TABLE_NAME",
        help="The status table (the TableName output): its rows tell a clash (another account's or Region's "
        "job holds the row; never redriven without --all) from a write outage.",
    ),
]
MaxOption = Annotated[int | None, typer.Option("--max", min=1, help="At most this many messages (default: all).")]
RetentionOption = Annotated[
    float,
    typer.Option(
        envvar="RETENTION_DAYS",
        min=1,
        help="The stack's RetentionDays: older messages are not redriven (see docs/operations.md).",
    ),
]


def _dlq(
    dlq_url: str | None,
    undelivered_url: str | None,
    undelivered: bool,
    region: str | None,
    endpoint_url: str | None,
    *,
    force: bool,
    events_url: str | None = None,
    events: bool = False,
    table: str | None = None,
) -> DeadLetterQueue:
    if undelivered and events:
        raise typer.BadParameter("give --undelivered or --events, not both", param_hint="--events")
    kind, url = (
        (FINISHED_EVENTS_FAILED, events_url)
        if events
        else (UNDELIVERED_QUEUE, undelivered_url)
        if undelivered
        else (FUNCTION_DLQ, dlq_url)
    )
    try:
        queue = DeadLetterQueue.connect(url, region_name=region, endpoint_url=endpoint_url, kind=kind)
        queue.check(force)
    except DeadLetterQueueError as error:
        raise fail(str(error)) from None
    if table and kind is FUNCTION_DLQ:
        queue.table = output.status_table(table, region, endpoint_url)
    return queue


_KIND_STYLE = {
    WRITE_FAILED: "green",
    SNS_CONTROL: "yellow",
    UNDELIVERED: "green",
    FAILED_BATCH: "yellow",
    CLASH: "yellow",
}


@app.command("show", epilog=EXIT_CODES.format(what="not every message was shown"))
def show(
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object, for scripts.")] = False,
    max_messages: MaxOption = None,
    retention_days: RetentionOption = DEFAULT_RETENTION_DAYS,
    undelivered: UndeliveredOption = False,
    force: ForceOption = False,
    dlq_url: DlqOption = None,
    undelivered_url: UndeliveredUrlOption = None,
    events: EventsOption = False,
    events_url: EventsUrlOption = None,
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Show each message in the DLQ and why it is there (the parser, run on it again); takes none.

    Each message is hidden for seconds while it is read, and visible again as soon as the look ends
    (also when it is interrupted)."""
    queue = _dlq(
        dlq_url,
        undelivered_url,
        undelivered,
        region,
        endpoint_url,
        force=force,
        events_url=events_url,
        events=events,
        table=table,
    )
    try:
        with interruptible():
            look = queue.look(max_messages, retention_days=retention_days)
    except DeadLetterQueueError as error:
        raise fail(str(error)) from None
    except KeyboardInterrupt as stop:
        output.errors.print("[yellow]Interrupted: every message read was made visible again.[/yellow]")
        raise typer.Exit(exit_code(stop)) from None
    if as_json:
        print(
            json.dumps(
                {
                    "messages": [letter.to_json() for letter in look.letters],
                    "more": look.more,
                    "inFlight": look.in_flight,
                    "complete": look.complete,
                },
                indent=2,
            )
        )
    else:
        _show_table(queue.kind.title, look)
    if not look.complete:
        raise typer.Exit(EXIT_FAILED)


def _unshown(look: Look) -> str:
    parts = []
    if look.more:
        parts.append(f"{look.more} more not read (--max, or shown again by another look meanwhile)")
    if look.in_flight:
        parts.append(f"{look.in_flight} in flight, not shown (being received by a consumer or another look)")
    return "; ".join(parts)


def _show_table(name: str, look: Look) -> None:
    if not look.letters and look.complete:
        output.console.print(f"{name}: empty.")
        return
    title = f"{name}: {len(look.letters)} message(s), " + ("all still there" if look.complete else "not all")
    output.console.print(_letters_view(look.letters, output.console.width, title))
    if not look.complete:
        output.errors.print(f"[yellow]Not shown: {escape(_unshown(look))}.[/yellow]")


_COLUMNS = (
    Column("Message ID"),
    Column("First sent"),
    Column("Receives", justify="right"),
    Column("Why", whole=False),
    Column("Body", whole=False),
)


def _letters_view(letters: list[DeadLetter], width: int, title: str) -> Table:
    """Message IDs whole; the body, then the first send time, give way on a narrow terminal."""
    cells = []
    for letter in letters:
        style = "red" if letter.too_old else _KIND_STYLE.get(letter.kind, "red")
        cells.append(
            [
                escape(letter.message_id),
                letter.first_sent or "?",
                str(letter.receive_count),
                f"[{style}]{escape(letter.reason)}[/{style}]",
                escape(letter.excerpt()),
            ]
        )
    return fitted(_COLUMNS, cells, width, droppable=("Body", "First sent"), title=title)


@app.command("redrive", epilog=EXIT_CODES.format(what="something stayed in the queue or failed to move"))
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
    everything: Annotated[
        bool,
        typer.Option(
            "--all", help="Move malformed and SNS control messages too (by default only what can make a row)."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object, for scripts.")] = False,
    retention_days: RetentionOption = DEFAULT_RETENTION_DAYS,
    undelivered: UndeliveredOption = False,
    force: ForceOption = False,
    dlq_url: DlqOption = None,
    undelivered_url: UndeliveredUrlOption = None,
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Move the DLQ's messages that can make a row back to the queue they came from; the function
    then tries them again. What stays (malformed, SNS control, too old, a clash the table's row
    shows) is listed."""
    queue = _dlq(dlq_url, undelivered_url, undelivered, region, endpoint_url, force=force, table=table)
    stopped: KeyboardInterrupt | None = None
    try:
        with interruptible():
            result = queue.redrive(max_messages, retention_days=retention_days, destination=to, everything=everything)
    except DeadLetterQueueError as error:
        raise fail(str(error)) from None
    except RedriveInterrupted as interrupted:
        result = interrupted.result
        stopped = interrupted.__cause__ if isinstance(interrupted.__cause__, KeyboardInterrupt) else None
    except KeyboardInterrupt as stop:  # while it looked, before anything moved
        output.errors.print("[yellow]Interrupted before anything moved: every message read is visible again.[/yellow]")
        raise typer.Exit(exit_code(stop)) from None
    _redrive_report(result, as_json)
    if stopped is not None:
        raise typer.Exit(exit_code(stopped))
    if not result.complete:
        raise typer.Exit(EXIT_FAILED)


def _redrive_report(result: RedriveResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return
    if result.note:
        output.errors.print(f"[yellow]{escape(result.note)}[/yellow]")
    for letter in result.left:
        output.errors.print(
            f"[yellow]stayed in the queue: {escape(letter.message_id)}: {escape(letter.reason)}[/yellow]"
        )
    for message_id in result.failed:
        output.errors.print(f"[red]not moved (the destination refused it): {escape(message_id)}[/red]")
    for message_id in result.possibly_duplicated:
        output.errors.print(
            f"[red]possibly duplicated: {escape(message_id)} was sent; SQS did not confirm its removal[/red]"
        )
    if result.interrupted:
        output.errors.print("[red]Interrupted: what was read and not moved is visible again in the DLQ.[/red]")
    output.console.print(f"Moved {result.moved} message(s) to {escape(result.destination)} ({result.method}).")
