"""`python -m bench.soak` (what `make soak` runs), scaled down: 500 notifications for 50 jobs, end
to end on the embedded stack, plain and under every fault at once. Figures are printed, not asserted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "TABLE_NAME"}


def soak(report: Path, *options: str) -> str:
    result = subprocess.run(  # noqa: PLW1510 - the return code is asserted
        [
            sys.executable,
            "-m",
            "bench.soak",
            "--notifications",
            "500",
            "--jobs",
            "50",
            "--report",
            str(report),
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**CLEAN_ENV, "COLUMNS": "400"},
    )
    print(result.stdout)  # the figures, for whoever reads the test's output
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def assert_every_check_passed(output: str) -> None:
    assert "50 right, 0 wrong, 0 stray" in output
    assert re.search(r"DLQ +5 message\(s\): 5 of the 5 malformed \(.*\), 0 other", output)
    assert re.search(r"Lost +0 ", output)
    # Issue 20: outcome metrics count jobs, not writes, whichever delivery finished the job.
    assert re.search(
        r"Jobs counted +JobsSucceeded \d+, JobsFailed \d+, JobsCanceled \d+ by the publisher .*each job once", output
    )
    assert "PASS" in output


def test_the_scaled_down_soak_leaves_every_row_right_and_loses_nothing(tmp_path: Path) -> None:
    output = soak(tmp_path / "soak.md")
    assert_every_check_passed(output)
    assert "MaxReceiveCount 5" in output
    assert re.search(r"Throughput +\d+ notifications/s", output) and "p50" in output and "p99" in output
    (row,) = [line for line in (tmp_path / "soak.md").read_text().splitlines() if line.startswith("| `none` | 500 |")]
    assert "| 50 | 50 | 0 | 5 (5 of 5) | 0 |" in row


def test_the_scaled_down_soak_under_every_fault_still_passes_every_check(tmp_path: Path) -> None:
    """Errors on DynamoDB writes and the poller's SQS calls, workers killed mid-batch, the runtime
    restarted, all in one run: with the template's own MaxReceiveCount, still no good message in the DLQ."""
    output = soak(
        tmp_path / "soak.md",
        *("--faults", "all", "--kills", "2", "--restarts", "1", "--max-receive-count", "5"),
    )
    assert_every_check_passed(output)
    assert re.search(r"DynamoDB faults +[1-9]\d* of \d+ calls answered with an error", output)
    assert re.search(r"SQS faults +[1-9]\d* of \d+ calls answered with an error", output)
    assert re.search(r"Workers killed +2 by SIGKILL", output)
    assert re.search(r"Runtime restarts +1 ", output)


def test_a_row_sabotaged_before_the_checks_fails_the_soak() -> None:
    """The comparison covered status, state, source, details, warnings and progress only: a row
    whose status index key, times, output files or expiry were wrong still passed."""
    run = subprocess.run(  # noqa: PLW1510 - the return code is asserted
        [sys.executable, "-m", "tests.e2e.sabotaged_soak"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=CLEAN_ENV,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    outcome = json.loads(run.stdout.splitlines()[-1])
    assert not outcome["passed"]
    assert set(outcome["wrong"]) == set(outcome["sabotaged"])
    for job_id, attribute in outcome["sabotaged"].items():
        assert attribute in outcome["wrong"][job_id]
