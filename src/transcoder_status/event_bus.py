"""Putting events on an EventBridge bus: ten entries a call, the refused ones put again.

PutEvents answers per entry: a call can succeed while some of its entries fail (an ErrorCode on
each), so every entry is checked, and those refused (or in a call that failed) are put again, up
to ``attempts`` times with backoff. What is still not put after that is returned, by index.
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .batching import sized_batches

if TYPE_CHECKING:
    from mypy_boto3_events.client import EventBridgeClient

MAX_ENTRIES = 10  # per PutEvents call
MAX_REQUEST_BYTES = 256 * 1024  # a whole PutEvents request, as an entry alone
ATTEMPTS = 3
PAUSE_S = 0.2  # before the second attempt; doubled before each further one


@dataclass
class EventBus:
    """One event bus, through one EventBridge client (thread-safe)."""

    name: str
    client: EventBridgeClient
    attempts: int = ATTEMPTS
    pause_s: float = PAUSE_S
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def put(self, entries: Sequence[dict[str, Any]]) -> dict[int, str]:
        """Put every entry (each names its bus); returns why each entry not put failed, by index."""
        pending = dict(enumerate(entries))
        errors: dict[int, str] = {}
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.pause_s * 2 ** (attempt - 1))
            errors = {}
            for chunk in _chunks(pending):
                try:
                    answer = self.client.put_events(Entries=[pending[i] for i in chunk])  # type: ignore[misc]
                except Exception as error:  # a failed call: all of its entries are put again
                    errors.update(dict.fromkeys(chunk, f"{type(error).__name__}: {error}"))
                    continue
                for index, result in zip(chunk, answer.get("Entries", []), strict=False):
                    if result.get("ErrorCode"):
                        errors[index] = f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}"
                # An answer shorter than the request would leave entries unaccounted for: not put.
                errors.update({i: "no answer for the entry" for i in chunk[len(answer.get("Entries", [])) :]})
            pending = {index: pending[index] for index in errors}
            if not pending:
                break
        return errors


def _chunks(pending: dict[int, dict[str, Any]]) -> Iterator[list[int]]:
    """Up to ten entries a call, and no more than 256 KB of them (PutEvents counts the request's
    entries together): https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html"""
    return sized_batches(
        ((index, entry_bytes(entry)) for index, entry in pending.items()), MAX_ENTRIES, MAX_REQUEST_BYTES
    )


def entry_bytes(entry: dict[str, Any]) -> int:
    """An entry's size as PutEvents counts it (Time, Source, DetailType, Detail, Resources)."""
    size = 14 if "Time" in entry else 0
    size += sum(len(str(entry.get(key, "")).encode("utf-8")) for key in ("Source", "DetailType", "Detail"))
    return size + sum(len(resource.encode("utf-8")) for resource in entry.get("Resources", ()))
