"""`make bench`'s other sections, scaled down: one run each, 100 notifications for the throughput.

Runs ``python -m bench`` as `make bench` does, writing elsewhere than bench/results.md, and checks
that every section measured what it says (every row present, every figure a number, the soak's
checks held); no timing is asserted. The old worker's section has a test of its own.
"""

from __future__ import annotations

import re

import pytest

from .bench_run import run_bench

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("bench-sections")]

NUMBER = r"[\d,.]+"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> str:
    return run_bench(
        tmp_path_factory.mktemp("bench") / "results.md",
        BENCH_SECTIONS="cold,artifact,handler,client,coalescing,throughput",
        BENCH_RUNS="1",
        BENCH_THROUGHPUT="100",
    )


def rows(results: str, heading: str) -> list[list[str]]:
    """The cells of the table under the section whose heading starts with ``heading``."""
    section = results.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|") and not line.startswith("|---")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[1:]]


def test_the_cold_start_section_has_the_handler_beside_its_floor(results: str) -> None:
    table = rows(results, "Cold start")
    assert [cells[0].split(":")[0] for cells in table] == [
        "`import boto3`",
        "floor",
        "the handler",
        "the same, the project's modules without bytecode (a package shipped as source)",
    ]
    assert all(re.search(NUMBER, cells[1]) for cells in table)


def test_the_artifact_section_has_each_functions_imports_beside_the_whole_package(results: str) -> None:
    table = rows(results, "Lambda artifacts")
    assert {cells[0] for cells in table} >= {"StatusWriterFunction", "StuckCheckFunction"}
    for function in {cells[0] for cells in table}:
        (closure,) = [cells for cells in table if cells[:2] == [function, "its imports (src/Makefile)"]]
        (whole,) = [cells for cells in table if cells[:2] == [function, "the whole package"]]
        assert all(re.fullmatch(NUMBER, cell) for cell in closure[2:] + whole[2:])
        assert int(closure[2]) < int(whole[2]) and float(closure[3]) < float(whole[3]), function


def test_the_handler_section_has_every_batch_size_and_the_cpu_per_record(results: str) -> None:
    table = rows(results, "The handler on one batch")
    assert [cells[0] for cells in table] == ["1", "10", "100"]
    assert all(re.fullmatch(NUMBER, cell) for cells in table for cell in (cells[1], cells[3]))
    assert re.search(rf"CPU per record .*\*\*{NUMBER} µs\*\* over 10,000 records", results)


def test_the_client_section_holds_wait_alls_bound(results: str) -> None:
    assert len(rows(results, "The client's defaults")) == 6
    calls = re.search(r"`wait_all` over 1,000 jobs: (\d+) BatchGetItem calls per polling round at most", results)
    assert calls and int(calls[1]) <= 10


def test_the_coalescing_section_has_every_write_path(results: str) -> None:
    assert len(rows(results, "Coalescing")) == 3


def test_the_throughput_section_is_of_a_soak_that_passed_beside_two_floors(results: str) -> None:
    assert "every check held" in results
    table = rows(results, "Throughput")
    assert [cells[0] for cells in table] == [
        "the pipeline (`make soak`)",
        "floor: UpdateItem from 1 thread",
        "floor: UpdateItem from 5 threads",
    ]
    assert all(float(cells[1].replace(",", "")) > 0 for cells in table)
    assert "100%" in [cells[3] for cells in table]
    shape = re.search(
        rf"({NUMBER}) notifications sent and ({NUMBER}) records per invocation; "
        rf"per notification ({NUMBER}) DynamoDB write units "
        rf"\(({NUMBER}) writes, ({NUMBER}) of them changed a row\) and ({NUMBER}) bytes of the function's log",
        results,
    )
    assert shape, "the soak's shape is missing"
    sent, records, units, writes, applied, log_bytes = (float(value.replace(",", "")) for value in shape.groups())
    assert 0 < sent <= records <= 100  # the trigger's BatchSize; redeliveries come back as records
    assert units > 0 and 0 < applied <= writes and log_bytes > 0  # below 1 a notification: a batch coalesces a job's
