"""Two `make demo` at once on a fresh clone: the virtualenv is bootstrapped once, under a lock, and
both runs pass. The Makefile's own recipe runs; the Python it builds the virtualenv with is a stand-in
that records each step and takes its time, so that two unlocked bootstraps would overlap."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# `python -m venv DIR` makes DIR/bin/python (each pip install logged, slowly) and DIR/bin/transcoder-status;
# `python -c CODE` is the real Python's.
FAKE_PYTHON = f"""#!/bin/sh
set -e
if [ "$1" = "-c" ]; then
    exec {sys.executable} "$@"
fi
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    echo "venv $$" >> "$3.log"
    mkdir -p "$3/bin"
    printf '#!/bin/sh\\necho "start $*" >> "%s.log"; sleep 1; echo "end $*" >> "%s.log"\\n' "$3" "$3" > "$3/bin/python"
    printf '#!/bin/sh\\necho "demo $*"\\n' > "$3/bin/transcoder-status"
    chmod +x "$3/bin/python" "$3/bin/transcoder-status"
    exit 0
fi
exit 3
"""


@pytest.mark.parametrize("flock", ["flock(1)", "no flock(1)"])
def test_two_demos_at_once_on_a_fresh_clone_bootstrap_once(tmp_path: Path, flock: str) -> None:
    """Also where there is no flock(1): macOS has none (it is Linux's util-linux)."""
    python = tmp_path / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    venv = tmp_path / "venv"
    command = ["make", "--no-print-directory", "-C", str(ROOT), "demo", f"VENV={venv}", f"PYTHON={python}"]
    env = {**os.environ, "MAKEFLAGS": ""}
    if flock == "no flock(1)":
        (tmp_path / "bin").mkdir()
        (tmp_path / "bin/flock").write_text("#!/bin/sh\necho 'flock: command not found' >&2\nexit 127\n")
        (tmp_path / "bin/flock").chmod(0o755)
        env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all("demo" in output for output in outputs)
    log = (tmp_path / "venv.log").read_text().splitlines()
    assert sum(line.startswith("venv ") for line in log) == 1, log  # one virtualenv made
    steps = [line for line in log if not line.startswith("venv ")]
    assert len(steps) == 4, log  # pip upgraded once and the project installed once: start, end, start, end
    assert [line.split()[0] for line in steps] == ["start", "end", "start", "end"], log  # never overlapping
