"""Writes events/: Lambda SQS events for ``sam local invoke -e``, ``transcoder-status replay`` and tests.

Run ``make events`` to rebuild them. IDs and times are fixed, so a rebuild changes nothing unless
a message shape changed.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

from .messages import elastic_transcoder_message, mediaconvert_event, sns_envelope, sqs_record

ET_JOB = "1502631977930-rabioh"
ET_OTHER_JOB = "1432217012218-qpa0jk"
MC_JOB = "1671477617078-2886ye"
T0 = 1_755_000_000_000  # 2025-08-12T12:00:00Z


def _id(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, parts))))


def _via_sns(job_id: str, state: str, at_ms: int, **kwargs: Any) -> dict[str, Any]:
    envelope = sns_envelope(elastic_transcoder_message(job_id, state, **kwargs), at_ms, _id("sns", job_id, state))
    return sqs_record(
        json.dumps(envelope),
        sent_ms=at_ms + 40,
        message_id=_id("sqs", job_id, state),
        receipt_handle=_id("rh", job_id, state),
    )


def _via_eventbridge(job_id: str, status: str, at_ms: int, **kwargs: Any) -> dict[str, Any]:
    event = mediaconvert_event(job_id, status, at_ms, event_id=_id("eb", job_id, status), **kwargs)
    return sqs_record(
        json.dumps(event),
        sent_ms=at_ms + 300,
        message_id=_id("sqs", job_id, status),
        receipt_handle=_id("rh", job_id, status),
    )


def sample_events() -> dict[str, dict[str, Any]]:
    raw_body = json.dumps(elastic_transcoder_message(ET_JOB, "COMPLETED"), indent=2)
    malformed = sqs_record(
        '{"state" : "COMPLETED", "jobId" : ',
        sent_ms=T0 + 9_000,
        message_id=_id("sqs", "malformed"),
        receipt_handle=_id("rh", "malformed"),
    )
    events = {
        "elastic-transcoder-progressing": [_via_sns(ET_JOB, "PROGRESSING", T0)],
        "elastic-transcoder-warning": [_via_sns(ET_JOB, "WARNING", T0 + 2_000)],
        "elastic-transcoder-completed": [_via_sns(ET_JOB, "COMPLETED", T0 + 6_000)],
        "elastic-transcoder-error": [_via_sns(ET_OTHER_JOB, "ERROR", T0 + 3_000)],
        "elastic-transcoder-raw-delivery": [
            sqs_record(raw_body, sent_ms=T0 + 6_000, message_id=_id("sqs", "raw"), receipt_handle=_id("rh", "raw"))
        ],
        "batch-mixed-with-malformed": [
            _via_sns(ET_JOB, "PROGRESSING", T0),
            _via_sns(ET_OTHER_JOB, "PROGRESSING", T0 + 500),
            malformed,
            _via_sns(ET_JOB, "COMPLETED", T0 + 6_000),
            _via_sns(ET_OTHER_JOB, "ERROR", T0 + 3_000),
        ],
    }
    for status, extra in (
        ("INPUT_INFORMATION", {}),
        ("PROGRESSING", {}),
        ("STATUS_UPDATE", {"percent": 42}),
        ("NEW_WARNING", {}),
        ("QUEUE_HOP", {}),
        ("COMPLETE", {}),
        ("ERROR", {}),
        ("CANCELED", {}),
    ):
        name = f"mediaconvert-{status.lower().replace('_', '-')}"
        events[name] = [_via_eventbridge(MC_JOB, status, T0 + 60_000, **extra)]
    return {name: {"Records": records} for name, records in events.items()}


def main(directory: str = "events") -> None:
    target = Path(directory)
    target.mkdir(exist_ok=True)
    for name, event in sample_events().items():
        (target / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")
        print(f"wrote {target / name}.json")


if __name__ == "__main__":
    main(*sys.argv[1:])
