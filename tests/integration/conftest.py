"""The emulator (moto in server mode, over HTTP) and a fresh status table per test."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import boto3
import pytest

from transcoder_status.handler import StatusWriter, lambda_handler
from transcoder_status.local.context import LocalContext
from transcoder_status.local.emulator import Emulator, running_emulator
from transcoder_status.local.mediaconvert import MediaConvertStandIn
from transcoder_status.local.messages import elastic_transcoder_message, sns_envelope, sqs_record
from transcoder_status.local.template import load_template
from transcoder_status.table import StatusTable


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with running_emulator() as running:
        yield running


@cache
def status_table_definition() -> dict[str, Any]:
    """The keys and indexes of template.yaml's JobStatusTable: test tables are the stack's."""
    properties = load_template()["Resources"]["JobStatusTable"]["Properties"]
    return {key: properties[key] for key in ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes")}


def create_status_table(name: str) -> None:
    boto3.client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **status_table_definition())


@pytest.fixture
def table(emulator: Emulator) -> StatusTable:
    name = f"status-{uuid.uuid4().hex[:12]}"
    create_status_table(name)
    return StatusTable(name, boto3.client("dynamodb"))


# Notification times must be believable (2000-2100): tests count from here.
T0 = 1_755_000_000_000  # 2025-08-12T12:00:00Z


@pytest.fixture
def writer(table: StatusTable) -> StatusWriter:
    """The handler's writer, given this test's table."""
    return StatusWriter(table)


def invoke(writer: StatusWriter, event: dict[str, Any], timeout_s: int = 30) -> dict[str, Any]:
    """The real Lambda entry point, as the runtime calls it, with the test's writer."""
    response: dict[str, Any] = lambda_handler(event, LocalContext("transcoder-status-test", timeout_s), writer)
    return response


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {item["itemIdentifier"] for item in response["batchItemFailures"]}


Notify = Callable[..., None]


@pytest.fixture
def notify(writer: StatusWriter) -> Notify:
    """Deliver one Elastic Transcoder notification (``at_ms`` after T0) through the real handler."""

    def send(job_id: str, state: str, at_ms: int = 1_000) -> None:
        body = json.dumps(sns_envelope(elastic_transcoder_message(job_id, state), T0 + at_ms))
        assert invoke(writer, {"Records": [sqs_record(body, sent_ms=T0 + at_ms)]}) == {"batchItemFailures": []}

    return send


@pytest.fixture
def stand_in(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[MediaConvertStandIn]:
    """The MediaConvert stand-in, on loopback; the reconciler's clients reach it."""
    stand_in = MediaConvertStandIn()
    with stand_in.running() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_MEDIACONVERT", endpoint)
        yield stand_in
