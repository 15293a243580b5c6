"""The publisher's pure parts: the detail built from a row, PutEvents' batching and retries, and
which finished jobs a batch counts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import botocore
import pytest
from jsonschema import Draft202012Validator

from transcoder_status.event_bus import MAX_REQUEST_BYTES, EventBus, entry_bytes
from transcoder_status.finished_event import (
    MAX_ENTRY_BYTES,
    NotFinishedError,
    finished_detail,
    put_events_entry,
)
from transcoder_status.notification import OutputSummary
from transcoder_status.publisher import count_finished, publish_records
from transcoder_status.sources._fields import ACCOUNT_ID, REGION_NAME
from transcoder_status.status import JobStatus
from transcoder_status.table import JobRow, row_from_item

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "transcoding-job-finished.schema.json").read_text()
)
VALIDATOR = Draft202012Validator(SCHEMA)
AT = "2025-08-12T12:00:00.000Z"


def row(**fields: Any) -> JobRow:
    defaults: dict[str, Any] = {
        "job_id": "1755000000000-abcdef",
        "status": JobStatus.SUCCESS,
        "finished": True,
        "state": "COMPLETE",
        "source": "mediaconvert",
        "queue": "arn:aws:mediaconvert:us-east-1:123456789012:queues/Default",
        "created_at": AT,
        "finished_at": AT,
    }
    return JobRow(**{**defaults, **fields})


def test_a_detail_leaves_absent_texts_out_and_is_valid() -> None:
    detail = finished_detail(row())
    VALIDATOR.validate(detail)
    assert "errorCode" not in detail and "errorMessage" not in detail and "pipelineId" not in detail
    assert (detail["version"], detail["userMetadata"], detail["outputs"], detail["playlists"]) == ("1", {}, [], [])


def test_a_detail_says_where_the_job_ran_when_the_row_does() -> None:
    detail = finished_detail(row(account="444455556666", region="eu-west-1"))
    VALIDATOR.validate(detail)
    assert (detail["account"], detail["region"]) == ("444455556666", "eu-west-1")
    assert "account" not in finished_detail(row(region="eu-west-1"))  # each absent when unknown


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("account", "44445555666"),
        ("account", "4444555566667"),
        ("account", "٤" * 12),  # digits, but not ASCII ones
        ("account", ""),
        ("region", "eu-west"),
        ("region", "EU-WEST-1"),
        ("region", ""),
    ],
)
def test_the_schema_refuses_a_malformed_account_or_region(key: str, value: str) -> None:
    detail = finished_detail(row(account="444455556666", region="eu-west-1"))
    assert VALIDATOR.is_valid(detail)
    assert not VALIDATOR.is_valid({**detail, key: value})


def test_the_schema_takes_exactly_the_places_the_parser_keeps() -> None:
    """The parser's patterns decide what a row (so a detail) holds; the schema must say the same."""
    properties = SCHEMA["properties"]
    assert properties["account"]["pattern"] == f"^{ACCOUNT_ID.pattern}$"
    assert properties["region"]["pattern"] == f"^{REGION_NAME.pattern}$"


def test_a_row_written_before_version_1_reads_into_a_valid_detail() -> None:
    """Old finished rows stored "" for absent texts and an outputFiles set; they republish cleanly."""
    item = {
        "jobId": {"S": "1755000000000-old"},
        "status": {"S": "SUCCESS"},
        "finished": {"BOOL": True},
        "state": {"S": "COMPLETED"},
        "source": {"S": "elastic-transcoder"},
        "createdAt": {"S": AT},
        "finishedAt": {"S": AT},
        "errorCode": {"S": ""},
        "errorMessage": {"S": ""},
        "pipelineId": {"S": "p-1"},
        "queue": {"S": ""},
        "outputs": {"L": [{"M": {"key": {"S": "/output/400k"}, "status": {"S": "Complete"}}}]},
        "outputFiles": {"SS": ["/output/400k"]},
    }
    detail = finished_detail(row_from_item(item))
    VALIDATOR.validate(detail)
    assert "errorCode" not in detail and detail["pipelineId"] == "p-1" and "queue" not in detail
    assert detail["outputs"] == [{"uri": "/output/400k"}]


def test_an_output_with_no_file_or_a_negative_number_still_makes_a_valid_detail() -> None:
    """An Elastic Transcoder output may name no key (nor id), and a transcoder's numbers are not
    checked for sign: the detail leaves out what its schema cannot hold instead of breaking it."""
    outputs = (
        OutputSummary(key="", status="Error"),
        OutputSummary(key="/output/400k", duration_ms=-1000, width=-2, height=360),
    )
    detail = finished_detail(
        row(source="elastic-transcoder", queue=None, pipeline_id="p", outputs=outputs, output_key_prefix="HLS/a")
    )
    VALIDATOR.validate(detail)
    assert detail["outputs"] == [{"uri": "HLS/a/output/400k", "heightPx": 360}]
    assert detail["outputsTruncated"] is False  # nothing a consumer could use was left out


def test_a_running_row_has_no_event() -> None:
    with pytest.raises(NotFinishedError, match="not finished"):
        finished_detail(row(finished=False, status=JobStatus.RUNNING, finished_at=None))


def test_an_event_with_every_cap_full_stays_under_256_kb() -> None:
    """User metadata and texts at their caps, outputs past the event's budget in 4-byte characters."""
    huge = "\U0001f3ac" * 256
    detail = finished_detail(
        row(
            status=JobStatus.ERROR,
            error_code="e" * 64,
            error_message="\n" * 1024,
            queue="q" * 1024,
            user_metadata={f"{i:03d}{huge}"[:256]: huge for i in range(20)},
            outputs=tuple(OutputSummary(f"s3://b/{i}/" + "\u0001" * 1_000, None, 1, 2, 3) for i in range(500)),
            playlists=tuple(f"s3://b/{i}.m3u8" for i in range(50)),
        )
    )
    VALIDATOR.validate(detail)
    assert detail["outputsTruncated"] is True and detail["playlists"] and detail["outputs"]
    entry = put_events_entry(detail, "bus")
    assert entry_bytes(entry) <= MAX_ENTRY_BYTES
    assert json.loads(entry["Detail"]) == detail  # the text as it was, escapes and all


class Recorder:
    """PutEvents: records the calls; refuses the entries ``refuse`` names (jobId -> times)."""

    def __init__(self, refuse: dict[str, int] | None = None, fail_calls: int = 0):
        self.calls: list[list[dict[str, Any]]] = []
        self.refuse = dict(refuse or {})
        self.fail_calls = fail_calls

    def put_events(self, Entries: list[dict[str, Any]]) -> Mapping[str, Any]:
        self.calls.append(Entries)
        if len(self.calls) <= self.fail_calls:
            raise ConnectionError("reset")
        results = []
        for entry in Entries:
            job = json.loads(entry["Detail"])["jobId"]
            if self.refuse.get(job, 0) > 0:
                self.refuse[job] -= 1
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"})
            else:
                results.append({"EventId": "e"})
        return {"Entries": results}


def entries(count: int, size: int = 10) -> list[dict[str, Any]]:
    return [put_events_entry({"jobId": f"job-{n}", "pad": "x" * size}, "bus") for n in range(count)]


def test_ten_entries_a_call_and_no_request_over_256_kb() -> None:
    recorder = Recorder()
    assert EventBus("bus", recorder, sleep=lambda _: None).put(entries(25)) == {}  # type: ignore[arg-type]
    assert [len(call) for call in recorder.calls] == [10, 10, 5]
    recorder = Recorder()
    assert EventBus("bus", recorder, sleep=lambda _: None).put(entries(6, size=100_000)) == {}  # type: ignore[arg-type]
    assert all(sum(entry_bytes(e) for e in call) <= MAX_REQUEST_BYTES for call in recorder.calls)
    assert [len(call) for call in recorder.calls] == [2, 2, 2]


def test_refused_entries_and_failed_calls_are_put_again_then_reported() -> None:
    recorder = Recorder(refuse={"job-3": 1, "job-7": 99}, fail_calls=1)
    pauses: list[float] = []
    failed = EventBus("bus", recorder, attempts=3, sleep=pauses.append).put(entries(10))  # type: ignore[arg-type]
    assert set(failed) == {7} and "ThrottlingException" in failed[7]
    assert [len(call) for call in recorder.calls] == [10, 10, 2]  # all (answer lost), all again, the two refused
    assert pauses == [0.2, 0.4]


def stream_record(number: int, status: str = "SUCCESS") -> dict[str, Any]:
    image = {
        "jobId": {"S": f"job-{number}"},
        "status": {"S": status},
        "finished": {"BOOL": True},
        "state": {"S": status},
        "source": {"S": "mediaconvert"},
        "createdAt": {"S": AT},
        "finishedAt": {"S": AT},
    }
    return {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": str(100 + number), "NewImage": image}}


def test_each_job_is_counted_once_however_often_its_record_comes() -> None:
    """Lambda delivers a stream record at least once, retries a batch from its lowest failed record
    and, after its retries, gives the rest up: a job counts when its claim is the first."""
    claimed: set[str] = set()

    def claim(job_id: str) -> bool:
        if job_id == "job-2" and "throttled" not in claimed:
            claimed.add("throttled")
            raise RuntimeError("throttled")
        first = job_id not in claimed
        claimed.add(job_id)
        return first

    records = [stream_record(0), stream_record(1, "ERROR"), stream_record(2, "CANCELED"), stream_record(3)]
    counts, failures = count_finished(records, claim)
    assert counts == {"JobsSucceeded": 2, "JobsFailed": 1} and list(failures) == ["102"]
    counts, failures = count_finished(records, claim)  # the batch again: only the job not yet counted
    assert counts == {"JobsCanceled": 1} and not failures
    assert count_finished(records, claim) == ({}, {})


def test_a_record_whose_event_cannot_be_built_fails_alone() -> None:
    broken = stream_record(1)
    del broken["dynamodb"]["NewImage"]["finished"]
    recorder = Recorder()
    failures = publish_records(EventBus("bus", recorder), [stream_record(0), broken, stream_record(2)])  # type: ignore[arg-type]
    assert list(failures) == ["101"] and "not finished" in failures["101"]
    assert [json.loads(e["Detail"])["jobId"] for e in recorder.calls[0]] == ["job-0", "job-2"]


@pytest.mark.parametrize(
    ("variable", "build"),
    [("EVENT_BUS_NAME", "default_bus"), ("TABLE_NAME", "default_counter")],
)
def test_an_unset_resource_name_fails_with_the_variable_named(
    variable: str, build: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment without the name fails on the first record, saying which variable is missing."""
    from transcoder_status import publisher

    monkeypatch.setenv("EVENT_BUS_NAME", "bus")
    monkeypatch.setenv("TABLE_NAME", "jobs")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv(variable)
    factory = getattr(publisher, build)
    factory.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=rf"^{variable} is not set: the function has no "):
            factory()
    finally:
        factory.cache_clear()


def test_the_docs_example_event_fits_the_schema() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "finished-events.md").read_text()
    blocks = [json.loads(block.split("```", 1)[0]) for block in text.split("```json\n")[1:]]
    (event,) = [block for block in blocks if isinstance(block.get("detail-type"), str)]
    VALIDATOR.validate(event["detail"])
    assert event["detail"]["account"] != event["account"]  # the job's account, not the central stack's


def test_every_region_botocore_knows_is_a_region_name_to_the_parser_and_the_schema() -> None:
    """eusc-de-east-1 (the AWS European Sovereign Cloud) has a four-letter first part: a MediaConvert
    job there must keep its Region, be listed by it and publish a valid event."""
    endpoints = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text())
    regions = [region for partition in endpoints["partitions"] for region in partition["regions"]]
    assert "eusc-de-east-1" in regions and len(regions) > 30
    detail = finished_detail(row(account="444455556666", region="eu-west-1"))
    assert [r for r in regions if not REGION_NAME.fullmatch(r) or not VALIDATOR.is_valid({**detail, "region": r})] == []
