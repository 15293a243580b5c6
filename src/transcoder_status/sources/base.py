"""What every source shares: the transport facts it receives, the error it raises, its shape,
and the bounds of a believable time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..notification import Notification

# Times outside these bounds are no transcoder's: epoch seconds or microseconds mistaken for
# milliseconds, or garbage. 2000-01-01 and 2100-01-01 UTC, in epoch milliseconds.
MIN_TIME_MS = 946_684_800_000
MAX_TIME_MS = 4_102_444_800_000


class ParseError(ValueError):
    """The body is not a notification this project can use; the message says why.

    The handler reports the record as failed, so the queue's redrive policy moves it to the DLQ.
    """


class SnsControlMessage(ParseError):
    """Not a notification but SNS talking to the subscriber: a subscription to confirm, or an
    unsubscribe confirmed. No row comes of it; it goes to the DLQ, where an operator can act on it."""

    def __init__(self, kind: str, topic_arn: str | None, subscribe_url: str | None):
        self.kind = kind
        self.topic_arn = topic_arn
        self.subscribe_url = subscribe_url
        action = (
            f"to subscribe the queue, open its SubscribeURL: {subscribe_url}"
            if kind == "SubscriptionConfirmation"
            else "nothing to do unless the unsubscribe was a mistake: subscribe the queue again"
        )
        super().__init__(f"an SNS {kind} for topic {topic_arn or '?'}, not a notification; {action}")


def checked_time_ms(value: float, what: str) -> int:
    if not MIN_TIME_MS <= value < MAX_TIME_MS:
        raise ParseError(
            f"'{what}' is {value:.0f}, not a time between 2000 and 2100 in epoch milliseconds "
            "(seconds or microseconds instead of milliseconds?)"
        )
    return int(value)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the transport knows of a message: when it was sent, and an ID stable across retries.

    ``sent_ms`` is None when the transport gave no usable time (an SQS record without
    SentTimestamp); only a notification that must be ordered by it is refused then.
    """

    sent_ms: int | None
    message_id: str

    def time_ms(self) -> int:
        if self.sent_ms is None:
            raise ParseError("the notification has no time of its own and its delivery has no SentTimestamp")
        return checked_time_ms(self.sent_ms, "SentTimestamp")


class NotificationSource(Protocol):
    """A source module: ``matches`` recognises its documents, ``parse`` reads them."""

    def matches(self, doc: dict[str, Any]) -> bool: ...

    def parse(self, doc: dict[str, Any], delivery: Delivery) -> Notification: ...
