"""What `sam build` packages for each function (template.yaml's makefile build, src/Makefile)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from transcoder_status.local.template import load_template

pytestmark = pytest.mark.e2e

SRC = Path(__file__).resolve().parents[2] / "src"
VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"


def functions() -> dict[str, Any]:
    resources = load_template()["Resources"]
    return {name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


def build(function: str, artifacts: Path, python: str = sys.executable, version: str = VERSION) -> str:
    """Run the target `sam build` runs for ``function``, with ``python`` as the runtime's Python."""
    artifacts.mkdir()
    variables = [f"ARTIFACTS_DIR={artifacts}", f"RUNTIME_PYTHON={python}", f"RUNTIME_VERSION={version}"]
    run = subprocess.run(
        ["make", "-s", "-C", str(SRC), f"build-{function}", *variables],
        check=True,
        capture_output=True,
        text=True,
    )
    return run.stdout


def test_every_function_is_built_by_the_makefile_for_its_runtime() -> None:
    makefile = (SRC / "Makefile").read_text()
    runtime = re.search(r"^RUNTIME_VERSION \?= (\S+)$", makefile, re.MULTILINE)
    for name, function in functions().items():
        assert function["Metadata"]["BuildMethod"] == "makefile", name
        assert re.search(rf"^build-[\w -]*\b{name}\b", makefile, re.MULTILINE), name
        assert runtime and function["Properties"]["Runtime"] == f"python{runtime[1]}", name


@pytest.mark.parametrize("name", sorted(functions()))
def test_the_package_ships_compiled_for_the_runtimes_python(name: str, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    build(name, artifacts)
    package = artifacts / "transcoder_status"
    handler = functions()[name]["Properties"]["Handler"].rsplit(".", 1)[0]
    module = handler.split(".")[-1]
    assert (package / f"{module}.py").exists()
    tag = sys.implementation.cache_tag
    assert (package / "__pycache__" / f"{module}.{tag}.pyc").exists()
    # Read from that bytecode, not compiled again: /var/task is read-only on Lambda.
    check = f"import sys; sys.dont_write_bytecode = True; import {handler} as m; print(m.__spec__.cached)"
    run = subprocess.run([sys.executable, "-c", check], cwd=artifacts, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == str(package / "__pycache__" / f"{module}.{tag}.pyc")


def test_without_the_runtimes_python_the_package_ships_as_source(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    said = build("StatusWriterFunction", artifacts, version="2.7")
    assert "ships as source" in said
    assert (artifacts / "transcoder_status" / "handler.py").exists()
    assert not list(artifacts.rglob("*.pyc"))
