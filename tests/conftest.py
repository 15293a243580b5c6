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
# `make fuzz` (HYPOTHESIS_PROFILE=fuzz): the same tests, 100 times the examples; derandomized under CI too.
settings.register_profile(
    "fuzz",
    settings.get_profile("ci") if os.environ.get("CI") else None,
    max_examples=10_000,
    deadline=None,
    print_blob=True,
)
_profile = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else None)
if _profile:
    settings.load_profile(_profile)

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

# What SNS sends a new subscriber (a cross-account topic's subscription reaches the queue as this).
SNS_SUBSCRIPTION_CONFIRMATION = {
    "Type": "SubscriptionConfirmation",
    "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
    "Token": "2336412f37f",
    "TopicArn": "arn:aws:sns:us-east-1:111122223333:transcoder-events",
    "Message": "You have chosen to subscribe to the topic arn:aws:sns:us-east-1:111122223333:transcoder-events.",
    "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37f",
    "Timestamp": "2025-08-12T12:00:00.000Z",
}


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


@pytest.fixture
def event() -> Any:
    return load_event
