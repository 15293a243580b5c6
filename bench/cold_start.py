"""Cold start: what a new execution environment pays before its first write, in fresh interpreters.

The floor is what any Python function that writes to DynamoDB pays: ``import boto3`` and creating
the DynamoDB client. The handler pays its imports, then (on its first invocation) its writer, whose
client is that same client. Target (issue 10): at most 1.2x the floor.

Every module is read from bytecode compiled beforehand, as boto3 (in the Lambda runtime) and
Powertools (its layer) are. The project's own modules are also measured without bytecode: Lambda's
read-only /var/task keeps none it compiles, so a package shipped as source (`sam build` without
Python 3.13 at hand: see src/Makefile) compiles them on every cold start.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLOOR = "import boto3; boto3.client('dynamodb')"
HANDLER = "import transcoder_status.handler as h; h.StatusWriter.from_environment()"
BOTO3_ALONE = "import boto3"


@dataclass(frozen=True)
class ColdStart:
    boto3_ms: float
    floor_ms: float
    handler_ms: float
    handler_from_source_ms: float  # the project's modules compiled at import


def _run_ms(statement: str, environment: dict[str, str]) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    run = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=environment)
    return float(run.stdout)


def measure(runs: int) -> ColdStart:
    with tempfile.TemporaryDirectory(prefix="cold-start-") as caches:
        compiled, from_source = (_bytecode_cache(Path(caches) / name) for name in ("all", "deps"))
        # What the project's own modules compiled to, dropped from the second cache.
        package = Path(importlib.util.find_spec("transcoder_status").submodule_search_locations[0])  # type: ignore[union-attr,index]
        shutil.rmtree(Path(from_source["PYTHONPYCACHEPREFIX"]) / Path(os.path.abspath(package)).relative_to("/"))
        cases = {BOTO3_ALONE: compiled, FLOOR: compiled, HANDLER: compiled}
        samples: dict[str, list[float]] = {"boto3": [], "floor": [], "handler": [], "source": []}
        for _ in range(runs):  # interleaved, so that the machine's drift hits all alike
            for name, (statement, environment) in zip(samples, [*cases.items(), (HANDLER, from_source)], strict=True):
                samples[name].append(_run_ms(statement, environment))
    return ColdStart(*(statistics.median(values) for values in samples.values()))


def _bytecode_cache(path: Path) -> dict[str, str]:
    """An environment whose imports read bytecode from ``path``, which every statement's imports are
    compiled into first; nothing is written to it while measuring."""
    environment = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "TABLE_NAME": "bench"}
    environment["PYTHONPYCACHEPREFIX"] = str(path)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    for statement in (FLOOR, HANDLER):
        _run_ms(statement, environment)
    return {**environment, "PYTHONDONTWRITEBYTECODE": "1"}


def markdown(figures: ColdStart) -> list[str]:
    floor = figures.floor_ms
    return [
        "## Cold start: fresh interpreters, medians",
        "",
        "| what | median ms | vs the floor |",
        "|---|---:|---:|",
        f"| `import boto3` | {figures.boto3_ms:.0f} | {figures.boto3_ms / floor:.2f} |",
        f"| floor: `import boto3` + the DynamoDB client | {floor:.0f} | 1.00 |",
        f"| the handler: its import + its writer (that client) | {figures.handler_ms:.0f} "
        f"| **{figures.handler_ms / floor:.2f}** |",
        f"| the same, the project's modules without bytecode (a package shipped as source) "
        f"| {figures.handler_from_source_ms:.0f} | {figures.handler_from_source_ms / floor:.2f} |",
        "",
        "Target (issue 10): the handler at most 1.2x the floor. Every module is read from bytecode "
        "compiled beforehand (boto3 comes so in the Lambda runtime, Powertools in its layer); the last "
        "row compiles the project's own modules as it imports them.",
    ]
