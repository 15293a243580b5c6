"""`make bench`'s Lambda CPU section, scaled down: two memory sizes, one cold environment, one warm round.

Runs ``python -m bench`` as `make bench` does, writing elsewhere than bench/results.md, where a
cgroup CPU quota can be written (skipped with the reason otherwise), and checks that the section
measured what it says: both functions at each size under its share, every figure a number, one
size chosen per function, the plot, the import at the chosen size. No timing is asserted.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.lambda_cpu import CHOICE, HEADING, quota_groups

from .bench_run import ROOT, run_bench

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("bench-lambda-cpu")]

FIGURE = r"[\d,.]+( \([\d,.]+-[\d,.]+\))?"  # a median, and its range when the samples differ
GROUPS = quota_groups()


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if isinstance(GROUPS, str):
        pytest.skip(GROUPS)
    path = tmp_path_factory.mktemp("bench") / "results.md"
    chosen_before = CHOICE.read_text()
    run_bench(
        path, BENCH_SECTIONS="lambda", BENCH_LAMBDA_MEMORY="512,1769", BENCH_LAMBDA_COLD="1", BENCH_LAMBDA_RUNS="1"
    )
    assert CHOICE.read_text() == chosen_before, "a scaled-down run must not choose the template's memory"
    return path


def tables(results: Path) -> list[list[list[str]]]:
    """The section's tables, each a list of rows of cells (header rows left out)."""
    section = results.read_text().split(f"## {HEADING}", 1)[1]
    found: list[list[list[str]]] = []
    previous = ""
    for line in section.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            if not previous.startswith("|"):
                found.append([])  # a new table
            found[-1].append([cell.strip() for cell in line.strip("|").split("|")])
        previous = line
    return [table[1:] for table in found]


def test_both_functions_are_measured_at_each_size_under_its_share(results: Path) -> None:
    rows = tables(results)[0]
    assert [(cells[0], cells[1].split(" **")[0]) for cells in rows] == [
        ("the status writer", "512 MB (0.289)"),
        ("the status writer", "1,769 MB (1.000)"),
        ("the stuck check", "512 MB (0.289)"),
        ("the stuck check", "1,769 MB (1.000)"),
    ]
    assert all(re.fullmatch(FIGURE, cell) for cells in rows for cell in cells[2:])
    for function in ("the status writer", "the stuck check"):
        assert sum("**chosen**" in cells[1] for cells in rows if cells[0] == function) == 1


def test_the_plot_and_the_import_at_the_chosen_size_are_there(results: Path) -> None:
    text = results.read_text()
    assert "![duration and GB-seconds against memory](lambda-cpu.png)" in text
    assert (results.parent / "lambda-cpu.png").read_bytes().startswith(b"\x89PNG")
    writer, check = tables(results)[1:]
    assert writer[0][0] == "`transcoder_status.handler`" and check[0][0] == "`transcoder_status.stuck_check`"
    assert "`boto3`" in {cells[0] for cells in writer}
    assert all(float(cells[2]) >= float(cells[1]) >= 0 for cells in writer + check)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):  # a process that ended while we looked
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _members(group: Path) -> str:
    """The processes in a quota group; none once it is removed (the bench removes its groups as it goes)."""
    with contextlib.suppress(OSError):
        return (group / "cgroup.procs").read_text().strip()
    return ""


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent to reap it."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def test_a_terminated_bench_leaves_no_cgroup_and_no_process_behind(tmp_path: Path) -> None:
    """SIGTERM (a CI job cancelled, `kill`) ended the bench at once: its cgroup stayed in the cpu
    hierarchy and the DynamoDB stand-in served on, its parent gone, until someone killed it."""
    if isinstance(GROUPS, str):
        pytest.skip(GROUPS)
    settings = {"BENCH_SECTIONS": "lambda", "BENCH_LAMBDA_MEMORY": "1769", "BENCH_RESULTS": str(tmp_path / "r.md")}
    bench = subprocess.Popen([sys.executable, "-m", "bench"], cwd=ROOT, env={**os.environ, **settings})
    try:
        pattern = f"bench-lambda-{bench.pid}-*"
        deadline = time.monotonic() + 120
        while not any(_members(group) for group in GROUPS.root.glob(pattern)):
            assert bench.poll() is None and time.monotonic() < deadline, "no child ever ran in a quota group"
            time.sleep(0.02)
        children = _children(bench.pid)  # the stand-in and the function's environment
        assert len(children) == 2
        bench.terminate()
        assert bench.wait(60) != 0
        assert not list(GROUPS.root.glob(pattern))
        left = [pid for pid in children if _alive(pid)]
        assert not left, [Path(f"/proc/{pid}/cmdline").read_text() for pid in left]
    finally:
        bench.kill()
        bench.wait()


def test_the_stand_in_ends_with_a_bench_killed_outright() -> None:
    """SIGKILL runs no ``finally``: the DynamoDB stand-in served on, its parent gone (a timed-out test's run)."""
    script = (
        "import time\nfrom bench.stub_dynamodb import running_stub\n"
        "with running_stub(5):\n    print(flush=True)\n    time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    parent.stdout.readline()  # the stand-in answers
    (stand_in,) = _children(parent.pid)
    parent.kill()
    parent.wait()
    parent.stdout.close()
    deadline = time.monotonic() + 10
    while _alive(stand_in) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(stand_in)


def test_a_group_is_removed_with_a_child_left_in_it() -> None:
    """A SIGTERM while Popen started a child left it running in the group (Popen raised before it
    could kill it): the group's removal failed with EBUSY and the group stayed."""
    if isinstance(GROUPS, str):
        pytest.skip(GROUPS)
    # In a process of its own: a preexec_fn is not safe in pytest's, which runs threads.
    script = (
        "import os, subprocess\nfrom bench.lambda_cpu import quota_groups\ngroups = quota_groups()\n"
        "with groups.limited(0.5) as join:\n"
        "    left = subprocess.Popen(['sleep', '60'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, "
        "preexec_fn=join)\n"
        "    (group,) = groups.root.glob(f'bench-lambda-{os.getpid()}-*')\n"
        "print(group, left.pid, left.wait(10))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr[-2000:]
    group, pid, status = run.stdout.split()
    assert not Path(group).exists()
    assert int(status) == -signal.SIGKILL and not _alive(int(pid))
