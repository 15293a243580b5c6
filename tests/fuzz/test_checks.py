"""The fuzz tests' checks catch what they are there to catch (moto would not)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

from tests.fuzz.checks import (
    LogLines,
    check_attribute_value,
    check_notification,
    check_update_request,
)
from transcoder_status.handler import logger
from transcoder_status.notification import Notification, OutputSummary, Source
from transcoder_status.status import JobStatus

GOOD = Notification(
    source=Source.MEDIACONVERT,
    job_id="1671477617078-2886ye",
    state="COMPLETE",
    status=JobStatus.SUCCESS,
    event_time_ms=1_755_000_000_000,
    event_id="e",
)


def test_a_good_notification_passes() -> None:
    check_notification(GOOD)


@pytest.mark.parametrize(
    "change",
    [
        {"job_id": "a\u2028b"},
        {"job_id": "x" * 513},
        {"state": "DONE"},
        {"state": "COMPLETED"},  # Elastic Transcoder's word, not MediaConvert's
        {"event_time_ms": 1_755_000_000},
        {"error_message": "bad \ud800"},
        {"outputs": (OutputSummary("k", duration_ms=10**40),)},
        {"user_metadata": {"\udc80": "v"}},
        {"progress": 101},
    ],
)
def test_a_bad_notification_is_caught(change: dict[str, Any]) -> None:
    with pytest.raises(AssertionError):
        check_notification(replace(GOOD, **change))


def update(**changes: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "Key": {"jobId": {"S": "job"}},
        "UpdateExpression": "SET #a = :a",
        "ExpressionAttributeNames": {"#a": "a"},
        "ExpressionAttributeValues": {":a": {"S": "x"}},
    }
    params.update(changes)
    return params


def test_a_good_request_passes() -> None:
    check_update_request(update())
    check_update_request(update(Key={"jobId": {"S": "\U0001d11e" * 512}}))  # 2,048 bytes


@pytest.mark.parametrize(
    "value",
    [
        {"S": "\ud800"},
        {"N": "1" * 39},
        {"N": "1e126"},
        {"N": "NaN"},
        {"SS": []},
        {"SS": ["a", ""]},
        {"SS": ["a", "a"]},
        {"M": {"": {"S": "x"}}},
        {"L": [{"S": "ok"}, {"S": "\udfff"}]},
        {"X": "?"},
    ],
)
def test_what_dynamodb_refuses_is_caught(value: dict[str, Any]) -> None:
    with pytest.raises(AssertionError):
        check_attribute_value(value, ":v")


def test_a_key_over_2048_bytes_is_caught() -> None:
    with pytest.raises(AssertionError):
        check_update_request(update(Key={"jobId": {"S": "\U0001d11e" * 512 + "x"}}))


def test_nesting_past_32_levels_is_caught() -> None:
    value: dict[str, Any] = {"S": "x"}
    for _ in range(32):
        value = {"L": [value]}
    with pytest.raises(AssertionError):
        check_attribute_value(value, ":v")


def test_an_unwritable_log_line_is_caught() -> None:
    lines = LogLines(logger.registered_formatter)
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "malformed", None, None)
    record.reason = "keys: \ud800"
    lines.emit(record)
    taken, unwritable = lines.take()
    assert taken == [record] and unwritable
