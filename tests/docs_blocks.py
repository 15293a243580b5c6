"""The documentation as the tests read it: README.md and every page under docs/, and their code blocks."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A block that is not meant to run says so on the line before its fence, with the reason:
#   <!-- docs-example: not run: it needs a real AWS account -->
NOT_RUN = re.compile(r"<!--\s*docs-example:\s*not run:?(?P<reason>.*?)-->")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w-]*)")
# The names Pygments (MkDocs' highlighter) takes for Python: a block under any of them is Python.
LANGUAGES = {"py": "python", "python3": "python", "py3": "python"}


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def text() -> str:
    """Every page, one after the other: what a claim about the code may be found in."""
    return "\n".join(page.read_text() for page in pages())


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    not_run: str | None  # the reason given, or None for a block that runs

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(lang: str = "python", among: list[Path] | None = None) -> list[Block]:
    """The code blocks in ``lang`` of ``among`` (default: every page)."""
    found: list[Block] = []
    for page in pages() if among is None else among:
        lines = page.read_text().splitlines()
        index = 0
        while index < len(lines):
            opening = FENCE.match(lines[index])
            if not opening:
                index += 1
                continue
            end = index + 1
            while end < len(lines) and not lines[end].strip().startswith(opening["fence"]):
                end += 1
            previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
            marker = NOT_RUN.search(previous)
            if LANGUAGES.get(opening["lang"].lower(), opening["lang"].lower()) == lang:
                code = textwrap.dedent("\n".join(lines[index + 1 : end]))
                found.append(Block(page, index + 1, lang, code, marker["reason"].strip() if marker else None))
            index = end + 1
    return found
