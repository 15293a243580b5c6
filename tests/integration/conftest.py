"""The emulator (moto in server mode, over HTTP) and a fresh status table per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from transcoder_status import handler
from transcoder_status.local.context import LocalContext
from transcoder_status.local.emulator import Emulator, running_emulator
from transcoder_status.table import StatusTable


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with running_emulator() as running:
        yield running


def create_status_table(name: str) -> None:
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def table(emulator: Emulator) -> StatusTable:
    name = f"status-{uuid.uuid4().hex[:12]}"
    create_status_table(name)
    return StatusTable(name, boto3.client("dynamodb"))


@pytest.fixture
def handler_table(table: StatusTable, monkeypatch: pytest.MonkeyPatch) -> StatusTable:
    """The handler writes to this test's table (its module-level one points nowhere useful)."""
    monkeypatch.setattr(handler, "status_table", table)
    return table


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = handler.lambda_handler(event, LocalContext("transcoder-status-test", timeout_s=30))
    return response


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {item["itemIdentifier"] for item in response["batchItemFailures"]}
