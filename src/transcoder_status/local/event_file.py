"""Reading a Lambda SQS event from a file, for ``transcoder-status replay``: anything else is refused
with one line that says what is wrong, before the handler sees it. Standard library only.

The shape checked is what Lambda sends an SQS-triggered function
(https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#example-standard-queue-message-event):
an object whose ``Records`` are SQS messages, each with ``eventSource`` ``aws:sqs``, a ``messageId``
and a string ``body``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class EventFileError(ValueError):
    """The file cannot be replayed; the message names the file and what is wrong."""


def read_sqs_event(path: Path) -> dict[str, Any]:
    """The event in ``path``, or EventFileError."""

    def refused(reason: str) -> EventFileError:
        return EventFileError(f"{path}: {reason}")

    if path.is_dir():
        raise refused("is a directory, not an event file (try one of events/*.json)")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise refused("no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise refused(f"cannot be read ({error})") from None
    if not text.strip():
        raise refused("is empty: expected a Lambda SQS event (JSON)")
    try:
        event = json.loads(text)
    except json.JSONDecodeError as error:
        raise refused(f"is not JSON ({error.msg}, line {error.lineno} column {error.colno})") from None
    except (RecursionError, ValueError) as error:  # nested too deep; a number past Python's digits limit
        raise refused(f"is not JSON this program can read ({error})") from None
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        raise refused(f"is not a Lambda SQS event: expected an object with a Records list, found {_shape(event)}")
    records: list[Any] = event["Records"]
    if not records:
        raise refused("holds no records: a Lambda SQS event has at least one")
    for number, record in enumerate(records, start=1):
        problem = _record_problem(record)
        if problem:
            raise refused(f"record {number} is not an SQS message: {problem}")
    return event


def _record_problem(record: Any) -> str:
    if not isinstance(record, dict):
        return f"{_shape(record)} instead of an object"
    if record.get("eventSource") != "aws:sqs":
        return f'eventSource is {json.dumps(record.get("eventSource"))}, not "aws:sqs"'
    if not isinstance(record.get("messageId"), str) or not record["messageId"]:
        return "no messageId"
    if not isinstance(record.get("body"), str):
        return "no body (a string)"
    return ""


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(list(value)[:3])
        return f"an object with keys {keys}" if keys else "an empty object"
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
