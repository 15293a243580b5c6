"""`python -m bench` as `make bench` runs it, with some sections and sizes, writing elsewhere than bench/results.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(results: Path, **settings: str) -> str:
    """The results file a run with these BENCH_* settings wrote; the run's stderr if it failed."""
    environment = {**os.environ, **settings, "BENCH_RESULTS": str(results)}
    run = subprocess.run(
        [sys.executable, "-m", "bench"],
        check=False,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return results.read_text()
