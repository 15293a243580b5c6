"""Each function's Lambda artifact as src/Makefile builds it (its handler's import closure) beside the
whole package, which every function shipped before: files, bytes unzipped and zipped, and the cold
start of importing the handler from each, in fresh interpreters reading bytecode compiled beforehand.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from transcoder_status.local.template import load_template

SRC = Path(__file__).resolve().parents[1] / "src"
VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"


@dataclass(frozen=True)
class Artifact:
    files: int  # .py files
    bytes: int  # unzipped, bytecode included
    zipped: int
    import_ms: float  # median of fresh interpreters importing the handler's module


@dataclass(frozen=True)
class FunctionArtifacts:
    function: str
    handler: str
    closure: Artifact
    whole: Artifact


def handlers() -> dict[str, str]:
    """Every function in template.yaml and its handler's module."""
    resources = load_template()["Resources"]
    return {
        name: resource["Properties"]["Handler"].rpartition(".")[0]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _build(function: str, destination: Path, whole: bool) -> None:
    destination.mkdir(parents=True)
    if whole:  # what src/Makefile shipped before: the package, compiled
        shutil.copytree(SRC / "transcoder_status", destination / "transcoder_status")
        for cache in destination.rglob("__pycache__"):
            shutil.rmtree(cache)
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(destination)],
            check=True,
        )
        return
    variables = [f"ARTIFACTS_DIR={destination}", f"RUNTIME_PYTHON={sys.executable}", f"RUNTIME_VERSION={VERSION}"]
    subprocess.run(["make", "-s", "-C", str(SRC), f"build-{function}", *variables], check=True, capture_output=True)


def _sizes(directory: Path) -> tuple[int, int, int]:
    files = [path for path in sorted(directory.rglob("*")) if path.is_file()]
    archive = directory.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in files:
            zipped.write(path, path.relative_to(directory))
    return (
        sum(path.suffix == ".py" for path in files),
        sum(path.stat().st_size for path in files),
        archive.stat().st_size,
    )


def _import_ms(module: str, artifact: Path) -> float:
    # The artifact is the working directory, first on sys.path: its package is the one imported.
    # No PYTHONPYCACHEPREFIX: the artifact's own bytecode is read, and nothing is written.
    environment = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": "bench",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    environment.pop("PYTHONPYCACHEPREFIX", None)
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    run = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=environment, cwd=artifact
    )
    return float(run.stdout)


def measure(runs: int) -> list[FunctionArtifacts]:
    figures = []
    with tempfile.TemporaryDirectory(prefix="artifacts-") as scratch:
        for function, module in handlers().items():
            closure, whole = Path(scratch) / function / "closure", Path(scratch) / function / "whole"
            _build(function, closure, whole=False)
            _build(function, whole, whole=True)
            for artifact in (closure, whole):  # warm the disk cache for both alike
                _import_ms(module, artifact)
            samples: dict[Path, list[float]] = {closure: [], whole: []}
            for _ in range(runs):  # interleaved, so that the machine's drift hits both alike
                for artifact, values in samples.items():
                    values.append(_import_ms(module, artifact))
            built = {
                artifact: Artifact(*_sizes(artifact), statistics.median(samples[artifact])) for artifact in samples
            }
            figures.append(FunctionArtifacts(function, module, built[closure], built[whole]))
    return figures


def markdown(figures: list[FunctionArtifacts]) -> list[str]:
    lines = [
        "## Lambda artifacts: each function's import closure beside the whole package",
        "",
        "| function | artifact | modules | KB unzipped | KB zipped | import of the handler, median ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for figure in figures:
        for name, artifact in (("its imports (src/Makefile)", figure.closure), ("the whole package", figure.whole)):
            lines.append(
                f"| {figure.function} | {name} | {artifact.files} | {artifact.bytes / 1024:.0f} "
                f"| {artifact.zipped / 1024:.0f} | {artifact.import_ms:.0f} |"
            )
    lines += [
        "",
        "Bytes include the bytecode compiled for this Python. The import is timed in a fresh interpreter "
        "whose working directory is the artifact, boto3 and Powertools read from their installed bytecode; "
        "Python imports only what the handler names, so the two differ in what ships more than in time.",
    ]
    return lines
