"""What every command shares: where output goes, the exit codes, the connection options, and the table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ..client import StatusTableError, connect
from ..display import PlainConsole
from ..listing import Moment, parse_duration, parse_moment
from ..table import StatusTable, TableNotConfiguredError

T = TypeVar("T")

console = PlainConsole()  # a terminal's width; a pipe or a file gets every column whole
errors = Console(stderr=True, soft_wrap=True)  # one line per error, for logs and scripts

EXIT_FAILED = 1  # watch: a job failed; replay: a record failed
EXIT_TIMEOUT = 2
EXIT_USAGE = 2  # a wrong argument or input file, as click says a wrong option
EXIT_UNREADABLE = 3  # no table, no access, no region

TableOption = Annotated[
    str | None,
    typer.Option("--table", "-t", envvar="TABLE_NAME", help="Status table (the stack's TableName output)."),
]
RegionOption = Annotated[
    str | None, typer.Option("--region", help="AWS region (default: boto3's: AWS_DEFAULT_REGION or the profile's).")
]
EndpointOption = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="AWS endpoint, e.g. the local stack's (default: AWS_ENDPOINT_URL)."),
]


def fail(message: str, code: int = EXIT_UNREADABLE) -> typer.Exit:
    """Print one red line on stderr; the caller raises what this returns."""
    errors.print(f"[red]{escape(message)}[/red]")
    return typer.Exit(code)


def status_table(table: str | None, region: str | None, endpoint_url: str | None) -> StatusTable:
    try:
        return connect(table, region_name=region, endpoint_url=endpoint_url)
    except (TableNotConfiguredError, StatusTableError) as error:
        raise fail(str(error)) from None


def duration(text: str | None, option: str) -> timedelta | None:
    return _parsed(text, option, parse_duration)


def moment(text: str | None, option: str) -> Moment | None:
    """A duration before now or an ISO 8601 time."""
    return _parsed(text, option, parse_moment)


def _parsed(text: str | None, option: str, parse: Callable[[str], T]) -> T | None:
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint=option) from None
