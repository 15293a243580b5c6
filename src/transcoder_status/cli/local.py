"""The local stack's commands: replay an event file through the real handler, the demo, and `local`
(the embedded stack kept running for your own code)."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.markup import escape

from ..client import StatusTableError, explained_errors
from ..table import DEFAULT_RETENTION_DAYS
from . import output
from .output import EXIT_FAILED, EXIT_USAGE, EndpointOption, RegionOption, TableOption, fail, status_table


def replay(
    event_file: Annotated[Path, typer.Argument(help="A Lambda SQS event, e.g. events/*.json.")],
    table: TableOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    retention_days: Annotated[
        int, typer.Option(envvar="RETENTION_DAYS", min=15, help="Days a row is kept (the stack's RetentionDays).")
    ] = DEFAULT_RETENTION_DAYS,
) -> None:
    """Run the real handler on an event file against the table (`sam local invoke -e`, without Docker).

    Exit 1 if the handler reports any record failed, 2 if the file is no Lambda SQS event."""
    from ..local.event_file import EventFileError, read_sqs_event

    try:  # the file first: a bad one needs no table to say so
        event = read_sqs_event(event_file)
    except EventFileError as error:
        raise fail(str(error), EXIT_USAGE) from None
    connected = status_table(table, region, endpoint_url)
    try:  # a table that cannot be reached fails here, with its reason, not as every record failing
        with explained_errors(connected):
            connected.get("transcoder-status-replay-check")
    except StatusTableError as error:
        raise fail(str(error)) from None
    from .. import handler  # the Lambda's own module, given this table
    from ..local.context import LocalContext

    writer = handler.StatusWriter.connect(connected.name, retention_days, region_name=region, endpoint_url=endpoint_url)
    # The function's log and metrics go to stderr, so stdout holds only its response.
    log_handler = handler.logger.registered_handler
    if isinstance(log_handler, logging.StreamHandler):
        log_handler.stream = sys.stderr  # not setStream(): it flushes the old stream, which may be closed
    with contextlib.redirect_stdout(sys.stderr):
        response = handler.lambda_handler(event, LocalContext("transcoder-status-replay", timeout_s=30), writer)
    print(json.dumps(response, indent=2))
    if response.get("batchItemFailures"):
        raise typer.Exit(EXIT_FAILED)


KeepOption = Annotated[
    bool, typer.Option("--keep", help="Keep the logs' temporary directory (it is removed on exit) and say where.")
]


@contextlib.contextmanager
def log_directory(prefix: str, keep: bool) -> Iterator[Path]:
    """A temporary directory for the run's logs, removed on exit unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if keep:
            output.console.print(f"Logs kept in {escape(str(path))}", soft_wrap=True)
        else:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (`kill`, a service manager, a CI timeout) stops the stack as Ctrl-C does. Python's default
    for it ends the process at once: no finally runs, so the function's runtime is left running,
    orphaned, and the logs' directory stays."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def demo(
    jobs: Annotated[int, typer.Option("--jobs", min=1, max=200, help="Jobs to simulate.")] = 12,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the simulation, to repeat a run.")] = None,
    accounts: Annotated[
        int,
        typer.Option(
            "--accounts",
            help="1, or 2 (with --jobs 6 or more): MediaConvert jobs run in a second account and a second Region too, "
            "forwarded to the central stack's ingest bus (docs/multi-account.md).",
        ),
    ] = 1,
    keep: KeepOption = False,
) -> None:
    """Run the whole pipeline on an embedded AWS emulator, end to end (what `make demo` runs).

    Exit 1 if a check failed, 2 for a wrong option."""
    if accounts not in (1, 2):
        raise fail(f"--accounts takes 1 or 2, not {accounts}", EXIT_USAGE)
    from ..local.demo import run_demo
    from ..local.fleet import fewest_jobs, places

    where = places(accounts)
    if jobs < fewest_jobs(where):
        raise fail(
            f"--accounts {accounts} needs --jobs {fewest_jobs(where)} or more "
            f"(a MediaConvert job in each of its {len(where)} places), not {jobs}",
            EXIT_USAGE,
        )

    with _sigterm_as_ctrl_c(), log_directory("transcoder-status-demo-", keep) as log_dir:
        code = run_demo(log_dir, jobs=jobs, seed=seed, console=output.console, accounts=accounts)
    raise typer.Exit(code)


def local(keep: KeepOption = False) -> None:
    """Keep the embedded stack (emulator, queue, table, poller) running for your own code; Ctrl-C stops it."""
    from ..local.demo import run_local

    with _sigterm_as_ctrl_c(), log_directory("transcoder-status-local-", keep) as log_dir:
        code = run_local(log_dir, console=output.console)
    raise typer.Exit(code)
