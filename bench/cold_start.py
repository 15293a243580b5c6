"""Cold start: what a new execution environment pays before its first write, in fresh interpreters.

The floor is what any Python function that writes to DynamoDB pays: ``import boto3`` and creating
the DynamoDB client. The handler pays its imports, then (on its first invocation) its writer, whose
client is that same client. Target (issue 10): at most 1.2x the floor.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from dataclasses import dataclass

FLOOR = "import boto3; boto3.client('dynamodb')"
HANDLER = "import transcoder_status.handler as h; h.StatusWriter.from_environment()"
BOTO3_ALONE = "import boto3"


@dataclass(frozen=True)
class ColdStart:
    boto3_ms: float
    floor_ms: float
    handler_ms: float


def _median_ms(statement: str, runs: int) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "TABLE_NAME": "bench"}
    samples = [
        float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env).stdout)
        for _ in range(runs)
    ]
    return statistics.median(samples)


def measure(runs: int) -> ColdStart:
    # Interleaved, so that the machine's drift hits all three alike.
    samples: dict[str, list[float]] = {BOTO3_ALONE: [], FLOOR: [], HANDLER: []}
    for _ in range(runs):
        for statement, values in samples.items():
            values.append(_median_ms(statement, 1))
    return ColdStart(*(statistics.median(samples[s]) for s in (BOTO3_ALONE, FLOOR, HANDLER)))


def markdown(figures: ColdStart) -> list[str]:
    return [
        "## Cold start: fresh interpreters, medians",
        "",
        "| what | median ms | vs the floor |",
        "|---|---:|---:|",
        f"| `import boto3` | {figures.boto3_ms:.0f} | {figures.boto3_ms / figures.floor_ms:.2f} |",
        f"| floor: `import boto3` + the DynamoDB client | {figures.floor_ms:.0f} | 1.00 |",
        f"| the handler: its import + its writer (that client) | {figures.handler_ms:.0f} "
        f"| **{figures.handler_ms / figures.floor_ms:.2f}** |",
        "",
        "Target (issue 10): the handler at most 1.2x the floor.",
    ]
