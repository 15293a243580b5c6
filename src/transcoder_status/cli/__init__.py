"""The ``transcoder-status`` command: read job status, watch jobs, list jobs, explain and redrive the
dead-letter queue, repair rows from MediaConvert, republish finished events, replay events, run the local stack.

A thin face: the library does the work. One module per group of commands; this one builds the app."""

from __future__ import annotations

import sys
from importlib.metadata import version
from typing import Annotated

import typer
from rich.markup import escape

from . import dlq, events, jobs, local, repair
from .output import EXIT_FAILED, EXIT_TIMEOUT, EXIT_UNREADABLE, errors

__all__ = ["EXIT_FAILED", "EXIT_TIMEOUT", "EXIT_UNREADABLE", "app", "main"]

app = typer.Typer(
    help="Track video transcoding jobs (Elastic Transcoder, MediaConvert) in the transcoder-status table.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(shown: bool) -> None:
    if shown:
        print(f"transcoder-status {version('transcoder-status')}")
        raise typer.Exit()


@app.callback()
def _options(
    _: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the installed version and exit."),
    ] = False,
) -> None:
    """Track video transcoding jobs (Elastic Transcoder, MediaConvert) in the transcoder-status table."""


app.command()(jobs.status)
app.command("list")(jobs.list_jobs_command)
app.command()(jobs.watch)
app.command()(repair.reconcile)
app.command()(repair.backfill)
app.add_typer(dlq.app, name="dlq")
app.add_typer(events.app, name="events")
app.command()(local.replay)
app.command()(local.demo)
app.command("local")(local.local)


def main() -> None:
    try:
        app()
    except ModuleNotFoundError as error:
        if error.name in ("moto", "samtranslator", "yaml"):
            errors.print(
                escape(f"The local stack needs more packages: pip install 'transcoder-status[local]' ({error})."),
                style="red",
            )
            sys.exit(EXIT_UNREADABLE)
        raise
