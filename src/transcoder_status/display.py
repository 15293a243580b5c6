"""Live progress of jobs in a terminal (rich), shared by ``transcoder-status watch`` and the demo."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from .status import JobStatus
from .table import JobRow

STATUS_STYLE = {
    JobStatus.SUCCESS: "green",
    JobStatus.ERROR: "red",
    JobStatus.CANCELED: "yellow",
    JobStatus.RUNNING: "cyan",
    JobStatus.UNKNOWN: "magenta",
}


def styled(status: JobStatus) -> str:
    return f"[{STATUS_STYLE[status]}]{status.value}[/]"


class JobProgress:
    """One progress bar per job; ``show(rows)`` after every poll."""

    def __init__(self, job_ids: Iterable[str], console: Console, labels: dict[str, str] | None = None):
        self._progress = Progress(
            TextColumn("{task.fields[label]}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
        )
        labels = labels or {}
        self._tasks: dict[str, TaskID] = {
            job: self._progress.add_task(job, total=100, label=labels.get(job, job), status="[dim]waiting[/dim]")
            for job in dict.fromkeys(job_ids)
        }

    def show(self, rows: dict[str, JobRow | None]) -> None:
        for job, row in rows.items():
            self._progress.update(self._tasks[job], **_bar(row))

    def __enter__(self) -> JobProgress:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._progress.stop()


def _bar(row: JobRow | None) -> dict[str, Any]:
    if row is None:
        return {"completed": 0, "status": "[dim]waiting for a notification[/dim]"}
    label = styled(row.status) if row.finished else f"{styled(row.status)} ({row.state or '?'})"
    if row.phase and not row.finished:
        label += f" {row.phase.lower()}"
    completed = 100 if row.status is JobStatus.SUCCESS else row.progress or 0
    return {"completed": completed, "status": label}
