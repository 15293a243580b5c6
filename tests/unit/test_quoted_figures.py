"""Figures the documentation quotes from the code, held to the code (issue 20: the README said the
client gives up after 3 s connecting and 5 s reading; the code said 2, 2 and 2 attempts).

Reads README.md and every page under docs/, whichever exist. Each quote must be found at least once,
so that a rewording shows here rather than leaving a figure unchecked.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from transcoder_status import cli, client, handler, table
from transcoder_status.sources._fields import MAX_JOB_ID

ROOT = Path(__file__).resolve().parents[2]


def documentation() -> dict[str, str]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
    return {str(page.relative_to(ROOT)): page.read_text() for page in pages if page.is_file()}


NUMBER = r"(\d+(?:\.\d+)?)"
LIST_LIMIT = inspect.signature(cli.jobs.list_jobs_command).parameters["limit"].default
# (what, how the text quotes it, the code's figures in the quote's order)
QUOTES = [
    (
        "the client's timeouts and attempts",
        rf"gives up on a silent\s+endpoint after {NUMBER} s \(connect\) and {NUMBER} s \(read\),\s+{NUMBER} attempts",
        (client.CONNECT_TIMEOUT_S, client.READ_TIMEOUT_S, client.READ_ATTEMPTS),
    ),
    ("a wait's last call past its deadline", rf"given {NUMBER} s more at most", (client.LAST_READ_S,)),
    ("keys per BatchGetItem", rf"{NUMBER} jobs per BatchGetItem", (client.BATCH_GET_LIMIT,)),
    ("keys per BatchGetItem (migration table)", rf"`BatchGetItem` per {NUMBER} jobs", (client.BATCH_GET_LIMIT,)),
    ("the warnings cap", rf"a string set of at most\s+{NUMBER}", (table.MAX_WARNINGS,)),
    (
        "the warnings caps (item size)",
        rf"capped \({NUMBER} warnings per notification,\s+{NUMBER} per row",
        (table.MAX_WARNINGS_PER_NOTIFICATION, table.MAX_WARNINGS),
    ),
    ("a job ID's length", rf"a printable string of\s+at most {NUMBER} characters", (MAX_JOB_ID,)),
    ("a bad body's excerpt", rf"the first {NUMBER} characters of the body", (handler.BODY_EXCERPT,)),
    ("a log line's size", rf"A line\s+ends before about {NUMBER} KB", (handler.LOG_LINE_BYTES / 1000,)),
    ("tries of a warnings merge", rf"gave up after {NUMBER} refusals", (table.MERGE_ATTEMPTS,)),
    (
        "the function's timeouts",
        rf"client gives up after {NUMBER} s connecting and {NUMBER} s reading",
        (handler.CONNECT_TIMEOUT_S, handler.READ_TIMEOUT_S),
    ),
    ("the handler's margin", rf"stops waiting {NUMBER} s before", (handler.DEADLINE_MARGIN_S,)),
    ("rows `list` prints", rf"`list` prints the newest {NUMBER} by default", (LIST_LIMIT,)),
    ("rows `list` prints (operations)", rf"`--limit` \({NUMBER} by default\)", (LIST_LIMIT,)),
]


@pytest.mark.parametrize(("what", "quote", "figures"), QUOTES, ids=[what for what, _, _ in QUOTES])
def test_the_documentation_quotes_the_codes_figures(what: str, quote: str, figures: tuple[float, ...]) -> None:
    found = [(page, match) for page, text in documentation().items() for match in re.finditer(quote, text)]
    assert found, f"no page quotes {what} as /{quote}/ any more: reword the pattern with the text"
    wrong = [f"{page}: {match[0]!r}" for page, match in found if tuple(map(float, match.groups())) != figures]
    assert not wrong, f"{what}: the code says {figures}; {wrong}"
