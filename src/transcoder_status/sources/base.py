"""What every source shares: the transport facts it receives, the error it raises, its shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..notification import Notification


class ParseError(ValueError):
    """The body is not a notification this project can use; the message says why.

    The handler reports the record as failed, so the queue's redrive policy moves it to the DLQ.
    """


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the transport knows of a message: when it was sent, and an ID stable across retries."""

    sent_ms: int
    message_id: str


class NotificationSource(Protocol):
    """A source module: ``matches`` recognises its documents, ``parse`` reads them."""

    def matches(self, doc: dict[str, Any]) -> bool: ...

    def parse(self, doc: dict[str, Any], delivery: Delivery) -> Notification: ...
