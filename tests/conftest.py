"""Shared test setup: dummy AWS settings (nothing here can reach AWS) and the sample events."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# CI explores the same examples on every run; locally each run explores new ones.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Before anything imports boto3 or the handler: a region, and credentials that only the emulator accepts.
os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_MAX_ATTEMPTS="2",  # botocore's own retries: throttling tests fail fast
    AWS_RETRY_MODE="standard",
    POWERTOOLS_METRICS_NAMESPACE="TranscoderStatusTests",
)
os.environ.pop("AWS_PROFILE", None)

EVENTS = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


@pytest.fixture
def event() -> Any:
    return load_event
