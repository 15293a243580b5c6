"""`make soak`: ``python -m bench.soak --help`` lists the options; exit 0 when every check held, 1 when not."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from transcoder_status.cli.local import KeepOption, log_directory

from .report import print_report, record
from .run import FAULTS, SoakOptions, SoakResult, run_soak

console = Console()
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def soak(
    *,
    notifications: Annotated[
        int, typer.Option(min=8, help="Notifications to send, duplicates and malformed included.")
    ] = 10_000,
    jobs: Annotated[int, typer.Option(min=2, help="Jobs they are about (at least 4 notifications each).")] = 1_000,
    faults: Annotated[
        str, typer.Option(help="Comma-separated: dynamodb, sqs, kill, restart, or all. Empty: none.")
    ] = "",
    fault_rate: Annotated[float, typer.Option(min=0, max=0.5, help="Share of DynamoDB or SQS calls that fail.")] = 0.1,
    kills: Annotated[int, typer.Option(min=1, help="Workers to kill (faults: kill).")] = 5,
    restarts: Annotated[int, typer.Option(min=1, help="Runtime restarts (faults: restart).")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the load and the faults.")] = 1,
    backlog: Annotated[
        int, typer.Option(min=0, help="Send while fewer messages than this wait in the queue (0: no limit).")
    ] = 100,
    max_receive_count: Annotated[
        int | None, typer.Option(min=1, help="The stack's MaxReceiveCount (default: 5, or 10 with faults).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="Time bound in seconds (default: 120 + 0.1 s per notification).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Markdown file to keep this run's figures in (e.g. bench/soak.md).")
    ] = None,
    keep: KeepOption = False,
) -> None:
    """Load the whole pipeline (and inject faults), then check every row, the DLQ and that nothing was lost."""
    chosen = {name.strip() for name in faults.split(",") if name.strip()}
    chosen = set(FAULTS) if chosen == {"all"} else chosen
    try:
        options = SoakOptions(
            notifications=notifications,
            jobs=jobs,
            faults=frozenset(chosen),
            fault_rate=fault_rate,
            kills=kills,
            restarts=restarts,
            seed=seed,
            backlog=backlog,
            max_receive_count=max_receive_count,
            timeout_s=timeout,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    console.print(
        f"[bold]Soak[/bold]: {notifications:,} notifications for {jobs:,} jobs, faults: "
        f"{', '.join(sorted(chosen)) or 'none'}; stack from template.yaml on an embedded emulator"
    )
    started = time.monotonic()

    def progress(result: SoakResult) -> None:
        console.print(
            f"[dim]{time.monotonic() - started:4.0f} s: sent {result.sent:,} of {len(result.load.sends):,}, "
            f"{len(result.seen_finished):,} of {len(result.load.jobs):,} jobs seen finished[/dim]"
        )

    with log_directory("transcoder-status-soak-", keep) as log_dir:
        result = run_soak(options, log_dir, progress=progress)
        print_report(console, result)
        if report is not None:
            record(report, result)
            console.print(f"Figures kept in {escape(str(report))}", soft_wrap=True)
    raise typer.Exit(0 if result.passed else 1)


if __name__ == "__main__":
    app()
