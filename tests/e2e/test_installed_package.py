"""The built wheel, installed into a fresh virtualenv, runs its own demo (review finding 8).

The fresh virtualenv gets only the wheel; its dependencies are borrowed read-only from the test's
own environment through a .pth line (which does not bring the project along: an editable install
is activated by .pth files that a path line does not process), so the test needs no network
beyond what building the wheel needs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

ROOT = Path(__file__).resolve().parents[2]


def run(*command: str | Path, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, check=True, **options)  # type: ignore[call-overload,no-any-return]


def test_the_installed_wheel_runs_the_demo(tmp_path: Path) -> None:
    # From the project's files alone: a build/ left by an earlier build would add modules since moved.
    source = tmp_path / "source"
    files = run("git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=ROOT).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", source, "-w", tmp_path / "dist", timeout=300)
    (wheel,) = (tmp_path / "dist").glob("transcoder_status-*.whl")
    # What users run, not the soak harness, the benchmarks or the build's tooling.
    shipped = zipfile.ZipFile(wheel).namelist()
    assert "transcoder_status/local/demo.py" in shipped
    # Both templates, as the local stack provisions them (the forwarder in a second account).
    assert {"transcoder_status/local/template.yaml", "transcoder_status/local/forwarder.yaml"} <= set(shipped)
    for harness in ("soak", "load", "faults", "chaos", "soak_report"):
        assert f"transcoder_status/local/{harness}.py" not in shipped
    assert not [name for name in shipped if name.startswith(("bench/", "tests/", "function_modules"))]
    fresh = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", fresh, timeout=120)
    python = fresh / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", wheel, timeout=300)
    fresh_site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    (Path(fresh_site) / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"  # no repository around: nothing to find by accident
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("TABLE_NAME", "PYTHONPATH")}
    location = run(python, "-c", "import transcoder_status; print(transcoder_status.__file__)", cwd=elsewhere, env=env)
    assert location.stdout.startswith(str(fresh)), location.stdout

    # The default demo, end to end, as users run it: this is the suite's one run of it (the two-account
    # demo is test_demo's), so it is checked here in full.
    logs = tmp_path / "tmp"
    logs.mkdir()
    result = subprocess.run(
        [str(fresh / "bin" / "transcoder-status"), "demo", "--jobs", "4", "--seed", "11"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=elsewhere,
        env={**env, "COLUMNS": "200", "TMPDIR": str(logs)},
        check=False,
    )
    assert list(logs.iterdir()) == []  # its logs' directory went with it
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout and "4/4 jobs reached their simulated state" in result.stdout
    assert "each with one Transcoding Job Finished event of that status" in result.stdout
    assert "Transcoding Job Finished events received (4)" in result.stdout
    assert "the SNS Message is not JSON" in result.stdout  # the DLQ entry, with its reason from the log
    assert "elastic-transcoder" in result.stdout and "mediaconvert" in result.stdout
