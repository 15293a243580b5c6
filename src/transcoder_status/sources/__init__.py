"""Which transcoder sent a message body, and what it says: body -> ``Notification``.

Pure. A body is the SNS envelope (raw delivery off), or the transcoder's own JSON (raw delivery on,
or EventBridge's event). ``parse_body`` unwraps the envelope, then asks each source in turn whether
the document is its own. Adding a source is one module here and one entry in ``SOURCES``.
"""

from __future__ import annotations

import json

from ..notification import Notification
from . import elastic_transcoder, mediaconvert
from ._fields import ACCOUNT_ID, REGION_NAME, Fields, JsonObject, safe_text
from .base import Delivery, NotificationSource, ParseError, SnsControlMessage

__all__ = [
    "ACCOUNT_ID",
    "REGION_NAME",
    "SOURCES",
    "Delivery",
    "ParseError",
    "SnsControlMessage",
    "parse_body",
    "safe_text",
]

# What SNS sends a new or leaving subscriber besides notifications (a cross-account topic does).
SNS_CONTROL_TYPES = frozenset({"SubscriptionConfirmation", "UnsubscribeConfirmation"})


SOURCES: tuple[NotificationSource, ...] = (elastic_transcoder, mediaconvert)


def parse_body(body: str, delivery: Delivery) -> Notification:
    """Turn one SQS message body into a Notification, or raise ParseError with the reason."""
    doc = _json_object(body, "the message body")
    kind = doc.get("Type")
    if isinstance(kind, str) and kind in SNS_CONTROL_TYPES:
        control = Fields(doc)
        raise SnsControlMessage(kind, control.text("TopicArn"), control.text("SubscribeURL"))
    if _is_sns_envelope(doc):
        envelope = Fields(doc)
        # SNS keeps MessageId across its own retries, so it names the notification better than SQS's.
        # Exports and test fixtures leave the envelope's IDs and time empty: the SQS ones serve then.
        sent_ms = envelope.iso_time_ms("Timestamp")
        delivery = Delivery(
            sent_ms=delivery.sent_ms if sent_ms is None else sent_ms,
            message_id=envelope.text("MessageId") or delivery.message_id,
        )
        # SNS sends Message as a JSON string; copies that were decoded once already carry the object.
        message = doc["Message"]
        doc = message if isinstance(message, dict) else _json_object(message, "the SNS Message")
    for source in SOURCES:
        if source.matches(doc):
            return source.parse(doc, delivery)
    keys = ", ".join(safe_text(key[:40]) for key in sorted(doc)[:8])  # keys are untrusted text too
    raise ParseError(f"not a known transcoder notification (keys: {keys or 'none'})")


def _is_sns_envelope(doc: JsonObject) -> bool:
    return doc.get("Type") == "Notification" and isinstance(doc.get("Message"), str | dict)


def _json_object(text: str, what: str) -> JsonObject:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ParseError(f"{what} is not JSON: {str(error)[:200]}") from None
    if not isinstance(doc, dict):
        raise ParseError(f"{what} is JSON but not an object")
    return doc
