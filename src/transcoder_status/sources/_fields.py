"""Typed reads of untrusted JSON.

Strict only where the state machine needs it: a required read (job ID, state, time) raises
ParseError naming the field. An optional detail of the wrong type is dropped and noted in
``dropped`` (the handler logs it), because a bad detail must never cost a job its terminal state.
Empty strings count as absent. Text is made safe to store: lone surrogates cannot be sent to
DynamoDB, so they are replaced.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from ..status import JobStatus
from .base import ParseError, checked_time_ms

JsonObject = dict[str, Any]

# DynamoDB allows 2,048 bytes in a partition key; real job IDs are about 20 characters.
MAX_JOB_ID = 512

# DynamoDB numbers hold 38 digits; durations, sizes and counts of real jobs stay far below this.
MAX_DETAIL_NUMBER = 10**15
# An AWS account ID; a Region name (us-east-1, us-gov-west-1, eusc-de-east-1: the first part is not
# always two letters, as botocore's data/partitions.json shows). ASCII digits only ([0-9], not \d,
# which takes any script's): the finished event's schema says the same.
ACCOUNT_ID = re.compile(r"[0-9]{12}")
REGION_NAME = re.compile(r"[a-z]{2,}(-[a-z]+)+-[0-9]{1,2}")


class Fields:
    """One JSON object, read field by field. Nested objects share the parent's ``dropped`` list."""

    def __init__(self, doc: JsonObject, path: str = "", dropped: list[str] | None = None):
        self.doc = doc
        self.path = path
        self.dropped: list[str] = [] if dropped is None else dropped

    def name(self, key: str) -> str:
        """The field's path, for messages; a key from the message may be long or hold lone surrogates."""
        return f"{self.path}{safe_text(key[:40])}"

    # -- required: the state machine cannot do without these ----------------------------------

    def required_str(self, key: str, max_length: int | None = None) -> str:
        value = self.doc.get(key)
        if not isinstance(value, str) or not value:
            raise ParseError(f"'{self.name(key)}' must be a non-empty string, got {_kind(value)}")
        if max_length is not None and len(value) > max_length:
            raise ParseError(f"'{self.name(key)}' is {len(value)} characters long; at most {max_length} are allowed")
        if not value.isprintable():
            raise ParseError(f"'{self.name(key)}' holds unprintable characters: {value[:40]!r}")
        return value

    def job_id(self, key: str) -> str:
        return self.required_str(key, max_length=MAX_JOB_ID)

    def state(self, key: str, states: dict[str, JobStatus], what: str) -> tuple[str, JobStatus]:
        """The state, as the transcoder spells it (compared case-insensitively), and its JobStatus."""
        state = self.required_str(key).upper()
        status = states.get(state)
        if status is None:
            raise ParseError(f"unknown {what} {state[:40]!r}; expected one of {', '.join(states)}")
        return state, status

    def required_object(self, key: str) -> Fields:
        value = self.doc.get(key)
        if not isinstance(value, dict):
            raise ParseError(f"'{self.name(key)}' must be a JSON object, got {_kind(value)}")
        return Fields(value, f"{self.name(key)}.", self.dropped)

    def time_ms(self, key: str) -> int | None:
        """Epoch milliseconds (a number, or digits in a string); absent is None, impossible refused."""
        value = self.doc.get(key)
        if value is None or value == "":
            return None
        number = _number(value)
        if number is None:
            raise ParseError(f"'{self.name(key)}' must be a time in epoch milliseconds, got {_kind(value)}")
        return checked_time_ms(number, self.name(key))

    def iso_time_ms(self, key: str) -> int | None:
        """An ISO 8601 time; absent (or empty) is None, anything else must be a believable time."""
        value = self.doc.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ParseError(f"'{self.name(key)}' must be an ISO 8601 time, got {_kind(value)}")
        return iso_to_epoch_ms(value, self.name(key))

    # -- optional details: a bad one is dropped, never fatal -----------------------------------

    def text(self, key: str) -> str | None:
        value = self.doc.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return safe_text(value)
        self._drop(key, value, "a string")
        return None

    def matching(self, key: str, pattern: re.Pattern[str], expected: str) -> str | None:
        """A text that must match ``pattern`` whole (an account ID, a Region); anything else is dropped."""
        value = self.doc.get(key)
        if isinstance(value, str) and pattern.fullmatch(value):
            return value
        if value is not None and value != "":
            self._drop(key, value, expected)
        return None

    def number(self, key: str) -> float | None:
        value = self.doc.get(key)
        if value is None or value == "":
            return None
        number = _number(value)
        if number is None or abs(number) >= MAX_DETAIL_NUMBER:
            self._drop(key, value, "a number")
            return None
        return number

    def integer(self, key: str) -> int | None:
        number = self.number(key)
        return None if number is None else int(number)

    def code(self, key: str) -> str | None:
        """An error or warning code: documented as a string, sent as an integer (3001)."""
        value = self.doc.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < MAX_DETAIL_NUMBER:
            return str(value)
        return self.text(key)

    def nested(self, key: str) -> Fields | None:
        value = self.doc.get(key)
        if value is None:
            return None
        if isinstance(value, dict):
            return Fields(value, f"{self.name(key)}.", self.dropped)
        self._drop(key, value, "a JSON object")
        return None

    def objects(self, key: str) -> list[Fields]:
        """The objects of an array; anything else in it is dropped."""
        items = self._list(key)
        kept = [
            Fields(item, f"{self.name(key)}[{i}].", self.dropped)
            for i, item in enumerate(items)
            if isinstance(item, dict)
        ]
        if len(kept) < len(items):
            self.dropped.append(f"'{self.name(key)}': {len(items) - len(kept)} item(s) that are not objects")
        return kept

    def strings(self, key: str) -> list[str]:
        items = self._list(key)
        kept = [safe_text(item) for item in items if isinstance(item, str) and item]
        if len(kept) < len(items):
            self.dropped.append(f"'{self.name(key)}': {len(items) - len(kept)} item(s) that are not strings")
        return kept

    def string_map(self, key: str) -> dict[str, str]:
        """A metadata map: scalar values kept as text, nested ones dropped."""
        fields = self.nested(key)
        if fields is None:
            return {}
        result: dict[str, str] = {}
        for name, item in fields.doc.items():
            if isinstance(item, dict | list):
                fields._drop(name, item, "a scalar")
            elif item is not None:
                result[safe_text(name)] = safe_text(item if isinstance(item, str) else json_scalar(item))
        return result

    def _list(self, key: str) -> list[Any]:
        value = self.doc.get(key)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self._drop(key, value, "a JSON array")
        return []

    def _drop(self, key: str, value: object, expected: str) -> None:
        note = f"'{self.name(key)}' dropped: expected {expected}, got {_kind(value)}"
        if note not in self.dropped:  # a field read twice is noted once
            self.dropped.append(safe_text(note))


def iso_to_epoch_ms(value: str, what: str) -> int:
    """ISO 8601 (``2017-08-13T13:46:26.652Z``) to epoch milliseconds, within the allowed years."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ParseError(f"'{what}' is not an ISO 8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise ParseError(f"'{what}' has no time zone: {value[:40]!r}")
    return checked_time_ms((parsed - _EPOCH).total_seconds() * 1000, what)


def safe_text(value: str) -> str:
    """The text, with lone surrogates (valid JSON escapes, invalid UTF-8) replaced."""
    return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")


def json_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: object) -> float | None:
    """A finite number, or a string of one; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) < 10**30 else None  # float() of a huge int overflows
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if value == "":
        return "an empty string"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return {dict: "an object", list: "an array", bool: "a boolean"}.get(type(value), type(value).__name__)
