"""What must hold of whatever the parser returns, of every request the writer sends, of every row
and of every log line, whatever the input. DynamoDB's limits are checked here, not left to moto,
which accepts some of what DynamoDB refuses (lone surrogates, numbers of more than 38 digits...)."""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from decimal import Decimal, InvalidOperation
from typing import Any

from transcoder_status.notification import Notification, Source
from transcoder_status.sources import elastic_transcoder, mediaconvert
from transcoder_status.sources._fields import MAX_JOB_ID
from transcoder_status.sources.base import MAX_TIME_MS, MIN_TIME_MS
from transcoder_status.status import JobStatus

# DynamoDB's documented limits.
MAX_KEY_BYTES = 2048  # partition key
MAX_ITEM_BYTES = 400 * 1024
MAX_NUMBER_DIGITS = 38
MAX_NESTING = 32
MAX_EXPRESSION_BYTES = 4096

STATES = {Source.ELASTIC_TRANSCODER: elastic_transcoder.STATES, Source.MEDIACONVERT: mediaconvert.STATES}


def utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise AssertionError(f"{what} is not encodable as UTF-8: {text[:80]!r} ({error})") from None


# -- the parser's result --------------------------------------------------------------------------


def check_notification(notification: Notification) -> None:
    """A Notification the rest of the function can trust, and DynamoDB can store."""
    assert isinstance(notification, Notification)
    job_id = notification.job_id
    assert isinstance(job_id, str) and job_id, f"empty job ID: {job_id!r}"
    assert job_id.isprintable(), f"unprintable job ID: {job_id[:80]!r}"
    assert len(job_id) <= MAX_JOB_ID, f"job ID of {len(job_id)} characters"
    assert len(utf8(job_id, "the job ID")) <= MAX_KEY_BYTES
    assert notification.source in STATES, notification.source
    assert STATES[notification.source].get(notification.state) is notification.status, (
        f"state {notification.state!r} is not a known {notification.source} state for {notification.status}"
    )
    assert isinstance(notification.status, JobStatus)
    time = notification.event_time_ms
    assert type(time) is int and MIN_TIME_MS <= time < MAX_TIME_MS, f"event time {time!r} outside 2000-2100"
    assert notification.event_id, "empty event ID"
    if notification.progress is not None:
        assert 0 <= notification.progress <= 100, notification.progress
    _check_values(notification, "notification")


def _check_values(value: Any, where: str) -> None:
    """Every text encodable as UTF-8, every number finite and within DynamoDB's 38 digits."""
    if isinstance(value, str):
        utf8(value, where)
    elif isinstance(value, bool) or value is None or isinstance(value, JobStatus):
        return
    elif isinstance(value, int | float):
        assert math.isfinite(value), f"{where} is {value!r}"
        assert abs(value) < 10**MAX_NUMBER_DIGITS, f"{where} is {value!r}"
    elif dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            _check_values(getattr(value, field.name), f"{where}.{field.name}")
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            _check_values(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_values(key, f"{where} key")
            _check_values(item, f"{where}[{key!r}]")
    else:
        raise AssertionError(f"{where} holds a {type(value).__name__}")


def check_parse_error(error: Exception) -> None:
    """A refusal's reason goes to the log: it must be writable there."""
    reason = str(error)
    assert reason, "a ParseError without a reason"
    utf8(reason, "the ParseError's reason")


# -- what the writer sends to DynamoDB ------------------------------------------------------------


class RequestRecorder:
    """Records every UpdateItem a DynamoDB client sends (a botocore event hook, any thread)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb.UpdateItem", self._record)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.requests.append(params)

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            taken, self.requests = self.requests, []
        return taken


def check_update_request(params: dict[str, Any]) -> None:
    """An UpdateItem that DynamoDB itself would accept (as far as its documented limits go)."""
    (key_value,) = params["Key"].values()
    assert set(key_value) == {"S"}, key_value
    key = utf8(key_value["S"], "the key")
    assert 0 < len(key) <= MAX_KEY_BYTES, f"key of {len(key)} bytes"
    for name in ("UpdateExpression", "ConditionExpression"):
        if name in params:
            assert len(utf8(params[name], name)) <= MAX_EXPRESSION_BYTES, f"{name} over 4 KB"
    for placeholder, name in params.get("ExpressionAttributeNames", {}).items():
        assert name and utf8(name, f"attribute name {placeholder}"), f"empty attribute name {placeholder}"
    for placeholder, value in params.get("ExpressionAttributeValues", {}).items():
        check_attribute_value(value, placeholder)


def check_attribute_value(value: dict[str, Any], where: str, depth: int = 1) -> None:
    assert depth <= MAX_NESTING, f"{where}: nested deeper than {MAX_NESTING} levels"
    assert len(value) == 1, f"{where}: {value!r} is not one typed value"
    ((kind, content),) = value.items()
    if kind == "S":
        utf8(content, where)
    elif kind == "N":
        check_number(content, where)
    elif kind == "SS":
        assert content, f"{where}: an empty string set"
        assert all(item for item in content), f"{where}: an empty string in a string set"
        assert len(set(content)) == len(content), f"{where}: duplicates in a string set"
        for item in content:
            utf8(item, where)
    elif kind == "L":
        for i, item in enumerate(content):
            check_attribute_value(item, f"{where}[{i}]", depth + 1)
    elif kind == "M":
        for name, item in content.items():
            assert name, f"{where}: an empty map key"
            assert len(utf8(name, f"{where} key")) <= 65535, f"{where}: a map key over 64 KB"
            check_attribute_value(item, f"{where}.{name[:40]}", depth + 1)
    else:
        assert kind in ("BOOL", "NULL"), f"{where}: unexpected type {kind}"


def check_number(text: str, where: str) -> None:
    """DynamoDB numbers: 38 significant digits, magnitude 1E-130 to below 1E+126, finite."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise AssertionError(f"{where}: {text!r} is not a number") from None
    assert number.is_finite(), f"{where}: {text!r}"
    if number:
        digits = "".join(map(str, number.as_tuple().digits)).strip("0")  # not normalize(): it rounds to 28
        assert len(digits) <= MAX_NUMBER_DIGITS, f"{where}: {text!r} has {len(digits)} significant digits"
        assert Decimal("1E-130") <= abs(number) < Decimal("1E+126"), f"{where}: {text!r} out of range"


# -- the function's log ---------------------------------------------------------------------------


class LogLines(logging.Handler):
    """The function's log lines as Powertools writes them (its JSON formatter, ``ensure_ascii=False``):
    what CloudWatch would get, or lose if a line cannot be written as UTF-8."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.records: list[logging.LogRecord] = []
        self.unwritable: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        try:
            line.encode("utf-8")
        except UnicodeEncodeError as error:
            self.unwritable.append(f"{record.getMessage()}: {error}")
        self.records.append(record)

    def take(self) -> tuple[list[logging.LogRecord], list[str]]:
        taken = self.records, self.unwritable
        self.records, self.unwritable = [], []
        return taken
