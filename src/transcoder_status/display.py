"""How the CLI and the demo show things (rich): live progress of jobs, and tables that fit the
terminal, shared by ``transcoder-status watch``, ``status``, ``list``, ``dlq show``, the repairs and the demo.

At any width a table shows its whole-value columns (job IDs, statuses) whole: text columns fold, and
columns named droppable go, least useful first, until the rest fits. Output that is not a terminal is
as wide as its content (see ``PlainConsole``), so a pipe or a file gets every column, uncut."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

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


PLAIN_WIDTH = 10_000  # "unlimited": a table is only as wide as its content
WRAP_MIN = 16  # a text column keeps at least this much room (or its longest word, if shorter)
BAR_WIDTH = 40


class PlainConsole(Console):
    """A rich Console that, when its output is not a terminal (a pipe, a file) and no COLUMNS is set,
    prints at the width of its content: nothing folded, cut or dropped, and no colour (rich's rule)."""

    def _plain_size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)  # type: ignore[attr-defined]
        if self._width is None and not self.is_terminal and "COLUMNS" not in self._environ:
            return ConsoleDimensions(PLAIN_WIDTH, size.height)
        return size  # type: ignore[no-any-return]

    size = property(_plain_size, Console.size.fset)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Column:
    """A table column: ``whole`` values (IDs, statuses, numbers) are never cut; the others fold."""

    header: str
    whole: bool = True
    justify: Literal["left", "right"] = "left"


def fitted(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    width: int,
    *,
    droppable: Sequence[str] = (),
    title: str | None = None,
) -> Table:
    """A table of ``rows`` (rich markup, one string per column) for a console ``width`` wide: drops
    the ``droppable`` columns, in that order, until the whole columns fit beside the folding ones;
    then puts back, in the reverse order, those that fit after all (given way for a column that
    went too: State for Finished, in a listing whose Finished cannot fit)."""

    def fits(shown: list[int]) -> bool:
        return _least_width([columns[i] for i in shown], [[row[i] for i in shown] for row in rows]) <= width

    shown = list(range(len(columns)))
    dropped: list[int] = []
    for name in droppable:
        if fits(shown):
            break
        dropped += [i for i in shown if columns[i].header == name]
        shown = [i for i in shown if columns[i].header != name]
    for i in reversed(dropped[:-1]):  # the last one dropped could not fit; those before it may now
        if not fits(sorted([*shown, i])):
            break  # none less wanted than a column that does not fit
        shown = sorted([*shown, i])
    view = Table(title=title)
    for i in shown:
        column = columns[i]
        view.add_column(column.header, no_wrap=column.whole, overflow="fold", justify=column.justify)
    for row in rows:
        view.add_row(*(row[i] for i in shown))
    return view


def _least_width(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> int:
    """The narrowest a table of these can be with whole columns uncut: borders and padding (3 a
    column, plus 1), each whole column's widest cell, each folding column's header or WRAP_MIN."""
    total = 1 + 3 * len(columns)
    for i, column in enumerate(columns):
        cells = [Text.from_markup(row[i]) for row in rows]
        widest = max((max(map(len, cell.plain.splitlines() or [""])) for cell in cells), default=0)
        if column.whole:
            total += max(len(column.header), widest)
        else:
            longest_word = max((len(word) for cell in cells for word in cell.plain.split()), default=0)
            total += max(len(column.header), min(longest_word, WRAP_MIN))
    return total


class JobProgress:
    """One progress bar per job; ``show(rows)`` after every poll."""

    def __init__(
        self,
        job_ids: Iterable[str],
        console: Console,
        labels: dict[str, str] | None = None,
        clock: Callable[[], float] | None = None,
    ):
        self._ended: set[str] = set()
        self._progress = Progress(
            TextColumn("{task.fields[label]}"),
            BarColumn(bar_width=max(10, min(BAR_WIDTH, console.width - 70))),  # the labels first, at 80 columns
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            get_time=clock,
        )
        labels = labels or {}
        self._tasks: dict[str, TaskID] = {
            job: self._progress.add_task(job, total=100, label=labels.get(job, job), status="[dim]waiting[/dim]")
            for job in dict.fromkeys(job_ids)
        }

    def show(self, rows: dict[str, JobRow | None]) -> None:
        for job, row in rows.items():
            self._progress.update(self._tasks[job], **_bar(row))
            if row is not None and row.finished and job not in self._ended:
                self._ended.add(job)  # its clock stops at its own end, at whatever percent, once
                self._progress.stop_task(self._tasks[job])

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
    label = styled(row.status) if row.finished else f"{styled(row.status)} ({escape(row.state or '?')})"
    if row.phase and not row.finished:
        label += f" {escape(row.phase.lower())}"  # the transcoder's words, not markup
    completed = 100 if row.status is JobStatus.SUCCESS else row.progress or 0
    return {"completed": completed, "status": label}
