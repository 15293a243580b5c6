"""Docs that cannot drift: every Python block of README.md and docs/ runs against the local stack,
and the samples of output they include are what the code prints now."""

from __future__ import annotations

import importlib.util
import json
import re
import uuid
from pathlib import Path

import pytest

from tests.docs_blocks import ROOT, Block, blocks
from tests.integration.conftest import invoke
from transcoder_status.client import Backoff
from transcoder_status.handler import StatusWriter
from transcoder_status.local.demo import run_demo
from transcoder_status.local.provision import provision
from transcoder_status.table import StatusTable

EXAMPLES = blocks("python")
RUN = [block for block in EXAMPLES if block.not_run is None]


def test_the_docs_have_examples_and_every_one_not_run_says_why() -> None:
    assert any(block.page.name == "README.md" for block in RUN)
    assert any(block.page.parent.name == "docs" for block in RUN)
    for block in EXAMPLES:
        assert block.not_run is None or block.not_run, f"{block.name}: say why it is not run"


@pytest.fixture
def jobs_of_events(table: StatusTable, monkeypatch: pytest.MonkeyPatch) -> StatusTable:
    """The examples' table (TABLE_NAME): every job of events/*.json, written by the real handler."""
    writer = StatusWriter(table)
    for path in sorted((ROOT / "events").glob("*.json")):
        if path.name != "env.json":
            invoke(writer, json.loads(path.read_text()))
    monkeypatch.setenv("TABLE_NAME", table.name)
    return table


@pytest.mark.parametrize("block", RUN, ids=[block.name for block in RUN])
def test_example_runs(block: Block, jobs_of_events: StatusTable) -> None:
    exec(compile(block.code, block.name, "exec"), {"__name__": "__docs_example__"})


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("generate_samples", ROOT / "docs/samples/generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_samples_are_what_the_commands_print_now() -> None:
    generator = _generator()
    for name, printed in generator.deterministic().items():
        assert (generator.SAMPLES / name).read_text() == printed, f"docs/samples/{name}: run `make samples`"


def test_the_demo_sample_holds_the_code_figures(emulator: object) -> None:
    """The demo's sample is a real run (its timings vary): what it says of the stack and the client is
    what the code does now."""
    sample = " ".join((ROOT / "docs/samples/demo.txt").read_text().split())  # as one line: it folds at 80
    resources = int(re.search(r"provisioned from template\.yaml: (\d+) resources", sample)[1])  # type: ignore[index]
    assert resources == len(provision(f"docs-{uuid.uuid4().hex[:8]}").refs)
    low, high = re.search(r"default backoff, ([\d.]+)-([\d.]+) s", sample).groups()  # type: ignore[union-attr]
    assert (float(low), float(high)) == (Backoff().initial, Backoff().maximum)
    jobs = run_demo.__defaults__[0]  # type: ignore[index]
    assert re.search(rf"PASS in [\d.]+ s: {jobs}/{jobs} jobs", sample)


def test_the_samples_are_included_somewhere() -> None:
    """A sample nobody includes is a sample nobody checks the reading of."""
    pages = "\n".join(path.read_text() for path in Path(ROOT / "docs").rglob("*.md"))
    for sample in (ROOT / "docs/samples").glob("*.txt"):
        assert f'--8<-- "docs/samples/{sample.name}"' in pages, sample.name


def test_no_table_of_output_is_pasted() -> None:
    """A table the commands print is in the docs only as a generated sample, included: pasted, it drifts
    (the pasted ones had 130 columns and an Updated column the code no longer prints)."""
    for page in [ROOT / "README.md", *Path(ROOT / "docs").rglob("*.md")]:
        assert "┏━" not in page.read_text(), f"{page.relative_to(ROOT)}: include a docs/samples/ file instead"
