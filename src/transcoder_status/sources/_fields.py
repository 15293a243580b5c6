"""Typed reads of untrusted JSON: each returns the value or raises ParseError naming the field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .base import ParseError

JsonObject = dict[str, Any]


def require_object(doc: JsonObject, key: str) -> JsonObject:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise ParseError(f"'{key}' must be a JSON object, got {_kind(value)}")
    return value


def optional_object(doc: JsonObject, key: str) -> JsonObject | None:
    return None if doc.get(key) is None else require_object(doc, key)


def require_str(doc: JsonObject, key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise ParseError(f"'{key}' must be a non-empty string, got {_kind(value)}")
    return value


def optional_str(doc: JsonObject, key: str) -> str | None:
    return None if doc.get(key) is None else require_str(doc, key)


def optional_number(doc: JsonObject, key: str) -> float | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(f"'{key}' must be a number, got {_kind(value)}")
    return value


def optional_int(doc: JsonObject, key: str) -> int | None:
    value = optional_number(doc, key)
    return None if value is None else int(value)


def optional_code(doc: JsonObject, key: str) -> str | None:
    """An error or warning code: documented as a string, sent as an integer (3001)."""
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ParseError(f"'{key}' must be a string or an integer, got {_kind(value)}")
    return str(value)


def optional_list(doc: JsonObject, key: str) -> list[Any]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError(f"'{key}' must be a JSON array, got {_kind(value)}")
    return value


def objects_in(doc: JsonObject, key: str) -> list[JsonObject]:
    items = optional_list(doc, key)
    for item in items:
        if not isinstance(item, dict):
            raise ParseError(f"'{key}' must hold JSON objects, got {_kind(item)}")
    return items


def iso_to_epoch_ms(value: str, key: str) -> int:
    """ISO 8601 (``2017-08-13T13:46:26.652Z``) to epoch milliseconds."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ParseError(f"'{key}' is not an ISO 8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise ParseError(f"'{key}' has no time zone: {value[:40]!r}")
    return round(parsed.timestamp() * 1000)


def string_map(doc: JsonObject, key: str) -> dict[str, str]:
    """A metadata map; scalar values are kept as text, nested ones are refused."""
    value = optional_object(doc, key) or {}
    result: dict[str, str] = {}
    for name, item in value.items():
        if isinstance(item, dict | list):
            raise ParseError(f"'{key}.{name}' must be a scalar, got {_kind(item)}")
        if item is not None:
            result[name] = item if isinstance(item, str) else str(item)
    return result


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if value == "":
        return "an empty string"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
