"""Notifications written by others: published samples, run through the real handler.

Each ``tests/corpus/<name>.json`` holds one published sample and what is known of it:

- ``_source``: where it was published (a URL, or a repository and path), how it was wrapped to become
  an SQS record, and every change made to it (scrubs, repairs); ``SOURCES.md`` lists them all;
- ``_expect``: per SQS record, the row the handler must leave (a subset of the row as
  ``transcoder-status status --json`` prints it), or ``{"error": ...}``, a part of the reason it must
  give for refusing that record alone;
- the sample: ``sqsEvent`` (a whole Lambda SQS event, run as-is), ``body`` (a JSON message body) or
  ``bodyText`` (a body that is not JSON, kept verbatim); a body goes into one SQS record.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import failed_ids, invoke
from transcoder_status.handler import StatusWriter
from transcoder_status.local.messages import sqs_record
from transcoder_status.sources import elastic_transcoder, mediaconvert
from transcoder_status.table import row_to_json

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
# SentTimestamp of the record a body is put in: the one `sam local generate-event sqs receive-message` prints.
SENT_MS = 1_523_232_000_000


@dataclass(frozen=True)
class Sample:
    name: str
    source: dict[str, Any]
    expect: list[dict[str, Any]]
    event: dict[str, Any]

    @property
    def records(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = self.event["Records"]
        return records


def _event(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    if "sqsEvent" in doc:
        event: dict[str, Any] = copy.deepcopy(doc["sqsEvent"])
        return event
    body = doc["bodyText"] if "bodyText" in doc else json.dumps(doc["body"])
    sent_ms = doc.get("sentTimestamp", SENT_MS)
    return {"Records": [sqs_record(body, sent_ms=sent_ms, message_id=f"corpus-{name}")]}


def load_corpus() -> list[Sample]:
    samples = []
    for path in sorted(CORPUS.glob("*.json")):
        doc = json.loads(path.read_text())
        samples.append(Sample(path.stem, doc["_source"], doc["_expect"], _event(path.stem, doc)))
    return samples


SAMPLES = load_corpus()


def test_every_sample_names_its_source_and_what_it_must_become() -> None:
    assert len(SAMPLES) >= 15
    listed = (CORPUS / "SOURCES.md").read_text()
    for sample in SAMPLES:
        source = sample.source
        published = str(source.get("url", "")).startswith("https://") or (source.get("repo") and source.get("path"))
        assert published, f"{sample.name}: no source URL, nor repository and path"
        assert source.get("wrapping"), f"{sample.name}: say how the sample became an SQS record"
        assert isinstance(source.get("changes"), list), f"{sample.name}: list the changes made (or [])"
        assert f"`{sample.name}.json`" in listed, f"{sample.name}: not in SOURCES.md"
        assert len(sample.expect) == len(sample.records), f"{sample.name}: one expectation per SQS record"


def test_the_corpus_covers_both_sources_and_every_state() -> None:
    seen = {
        (expect["source"], expect["state"]) for sample in SAMPLES for expect in sample.expect if "error" not in expect
    }
    assert {state for source, state in seen if source == "mediaconvert"} == set(mediaconvert.STATES)
    assert {state for source, state in seen if source == "elastic-transcoder"} == set(elastic_transcoder.STATES)
    assert any("error" in expect for sample in SAMPLES for expect in sample.expect)


def _reasons(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    return {
        record.messageId: record.reason for record in caplog.records if "malformed notification" in record.getMessage()
    }


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda sample: sample.name)
def test_published_sample_through_the_handler(
    sample: Sample, writer: StatusWriter, caplog: pytest.LogCaptureFixture
) -> None:
    response = invoke(writer, sample.event)

    refused = {
        record["messageId"] for record, expect in zip(sample.records, sample.expect, strict=True) if "error" in expect
    }
    assert failed_ids(response) == refused
    reasons = _reasons(caplog)
    for record, expect in zip(sample.records, sample.expect, strict=True):
        if "error" in expect:
            assert expect["error"] in reasons[record["messageId"]]
            continue
        row = writer.table.get(expect["jobId"], attributes=None)
        assert row is not None, f"no row for job {expect['jobId']}"
        stored = row_to_json(row)
        assert {key: stored[key] for key in expect} == expect


def test_the_whole_corpus_in_one_batch_fails_only_what_is_not_a_notification(
    writer: StatusWriter, caplog: pytest.LogCaptureFixture
) -> None:
    records, refused, jobs = [], {}, set()
    for sample in SAMPLES:
        for index, (record, expect) in enumerate(zip(sample.records, sample.expect, strict=True)):
            message_id = f"{sample.name}/{index}"  # published events share message IDs
            records.append({**record, "messageId": message_id})
            if "error" in expect:
                refused[message_id] = expect["error"]
            else:
                jobs.add(expect["jobId"])

    response = invoke(writer, {"Records": records})

    assert failed_ids(response) == set(refused)
    reasons = _reasons(caplog)
    assert all(reason in reasons[message_id] for message_id, reason in refused.items())
    rows, unprocessed = writer.table.get_many(sorted(jobs))
    assert unprocessed == []
    assert {row.job_id for row in rows} == jobs
