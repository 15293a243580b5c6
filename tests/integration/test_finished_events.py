"""One "Transcoding Job Finished" event per job: the real handler writes the rows, the table's stream
goes through the publisher's event source mapping (the local stand-in, FilterCriteria matched by
moto's EventBridge matcher) to the real publisher, which puts the events on the stack's bus; a
consumer's rule (the one docs/finished-events.md shows) sends them to a queue. Against the emulator,
as deployed from template.yaml."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from jsonschema import Draft202012Validator

from bench.soak.faults import AwsError, Call, FaultProxy
from tests.integration.conftest import T0, failed_ids, invoke
from tests.integration.test_corpus import SAMPLES
from transcoder_status.event_bus import EventBus
from transcoder_status.handler import StatusWriter
from transcoder_status.local.consumer import FINISHED_PATTERN, drain_queue, subscribe_queue
from transcoder_status.local.context import LocalContext
from transcoder_status.local.emulator import Emulator
from transcoder_status.local.messages import elastic_transcoder_message, mediaconvert_event, sns_envelope, sqs_record
from transcoder_status.local.provision import Stack, provision
from transcoder_status.local.stream_mapping import StreamMapping
from transcoder_status.publisher import OutcomeCounter
from transcoder_status.publisher import lambda_handler as publish
from transcoder_status.status import JobStatus
from transcoder_status.table import ALL_ATTRIBUTES, JobRow, StatusTable

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "transcoding-job-finished.schema.json").read_text()
)
VALIDATOR = Draft202012Validator(SCHEMA)
CAUGHT_UP_S = 30
# The docs' consumer rule, read from docs/finished-events.md: it must work as written.
DOCS = (Path(__file__).resolve().parents[2] / "docs" / "finished-events.md").read_text()
CONSUMER_PATTERN = json.loads(DOCS.split("```json\n", 1)[1].split("```", 1)[0])


@dataclass
class FinishedEvents:
    """A stack from template.yaml with its own bus, the handler's writer, a consumer, and the publisher."""

    stack: Stack
    writer: StatusWriter
    consumer: str
    errors: list[BaseException] = field(default_factory=list)
    mapping: StreamMapping | None = None

    @property
    def table(self) -> StatusTable:
        return self.writer.table

    def start(self, events_client: Any = None, **overrides: Any) -> StreamMapping:
        """The publisher's mapping (``overrides`` replace its settings), invoking the real handler
        in-process with a bus whose client may be a stand-in (to fail calls); no pause between
        PutEvents attempts."""
        (trigger,) = self.stack.stream_triggers
        trigger = replace(trigger, **overrides)
        bus = EventBus(
            trigger.function.environment["EVENT_BUS_NAME"], events_client or boto3.client("events"), pause_s=0
        )

        counter = OutcomeCounter(self.table.name, boto3.client("dynamodb"))

        def invoke_publisher(event: dict[str, Any]) -> Any:
            context = LocalContext(trigger.function.name, trigger.function.timeout_s)
            return publish(event, context, bus, counter.claim)

        self.mapping = StreamMapping(trigger, invoke=invoke_publisher, on_error=self.errors.append).start()
        return self.mapping

    def deliver(self, *batches: list[dict[str, Any]]) -> None:
        """Each batch through the Lambda entry point, in turn."""
        for batch in batches:
            assert failed_ids(invoke(self.writer, {"Records": batch})) == set()

    def deliver_at_once(self, batches: list[list[dict[str, Any]]], concurrency: int = 3) -> None:
        """Batches written by racing invocations, as the trigger's concurrent batches are: the handler's
        own code (``StatusWriter.handle``), without the entry point's Powertools decorators, whose log
        context and metrics belong to one invocation at a time in a process."""

        def handle(batch: list[dict[str, Any]]) -> None:
            response = self.writer.handle({"Records": batch}, deadline=time.monotonic() + 30)
            assert failed_ids(response) == set()

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(handle, batches))

    def received(self) -> list[dict[str, Any]]:
        """Every event on the bus so far: once the publisher has read the stream to its end."""
        assert self.mapping is not None
        caught_up = self.mapping.wait_caught_up(CAUGHT_UP_S)
        assert caught_up, f"the publisher did not catch up with the stream: {self.errors[-3:]}"
        return drain_queue(self.consumer)

    def row(self, job_id: str) -> JobRow:
        row = self.table.get(job_id, attributes=ALL_ATTRIBUTES)
        assert row is not None
        return row


@pytest.fixture
def finished_events(emulator: Emulator) -> Iterator[FinishedEvents]:
    stack = provision(stack_name=f"fe-{uuid.uuid4().hex[:8]}", parameters={"FinishedEventBus": "create"})
    consumer = subscribe_queue(stack.outputs["FinishedEventBusName"], f"{stack.name}-consumer", CONSUMER_PATTERN)
    writer = StatusWriter(StatusTable(stack.outputs["TableName"], boto3.client("dynamodb")))
    setup = FinishedEvents(stack, writer, consumer)
    yield setup
    if setup.mapping is not None:
        setup.mapping.stop()


def test_the_docs_consumer_rule_is_the_one_the_demo_subscribes() -> None:
    assert CONSUMER_PATTERN == FINISHED_PATTERN


def expected_detail(row: JobRow) -> dict[str, Any]:
    """What the event must say of a row (version 1): its own values; no key for an absent error."""
    prefix = row.output_key_prefix or ""
    detail: dict[str, Any] = {
        "version": "1",
        "jobId": row.job_id,
        "status": row.status.value,
        "source": row.source,
        "state": row.state,
        "createdAt": row.created_at,
        "finishedAt": row.finished_at,
        **({"errorCode": row.error_code} if row.error_code else {}),
        **({"errorMessage": row.error_message} if row.error_message else {}),
        **({"pipelineId": row.pipeline_id or ""} if row.source == "elastic-transcoder" else {"queue": row.queue or ""}),
        **({"account": row.account} if row.account else {}),
        **({"region": row.region} if row.region else {}),
        "userMetadata": row.user_metadata,
        "outputs": [
            {
                "uri": prefix + o.key,
                **{
                    k: v
                    for k, v in (("durationMs", o.duration_ms), ("widthPx", o.width), ("heightPx", o.height))
                    if v is not None
                },
            }
            for o in row.outputs
        ],
        "playlists": [prefix + p for p in row.playlists],
        "warnings": len(row.warnings),
        "outputsTruncated": False,
    }
    return detail


def assert_events_are_the_rows(setup: FinishedEvents, events: list[dict[str, Any]]) -> None:
    for event in events:
        assert (event["source"], event["detail-type"]) == ("transcoder-status", "Transcoding Job Finished")
        detail = event["detail"]
        VALIDATOR.validate(detail)
        row = setup.row(detail["jobId"])
        assert row.finished and row.finished_at == row.notified_at  # the terminal notification's time
        expected = expected_detail(row)
        # Warnings of late notifications merge into the finished row after its event: at most the row's.
        assert detail["warnings"] <= expected.pop("warnings")
        assert {key: value for key, value in detail.items() if key != "warnings"} == expected


# -- many jobs, every delivery mess ---------------------------------------------------------------


def et_body(job_id: str, state: str, at_ms: int) -> tuple[str, int]:
    return json.dumps(
        sns_envelope(elastic_transcoder_message(job_id, state, output_key=f"out/{job_id}"), T0 + at_ms)
    ), at_ms


def mc_body(job_id: str, status: str, at_ms: int, **extra: Any) -> tuple[str, int]:
    return json.dumps(mediaconvert_event(job_id, status, T0 + at_ms, **extra)), at_ms


def record(notification: tuple[str, int]) -> dict[str, Any]:
    body, at_ms = notification
    return sqs_record(body, sent_ms=T0 + at_ms)


def job_notifications(
    rng: random.Random, index: int, finishes: bool
) -> tuple[str, JobStatus | None, list[tuple[str, int]]]:
    at = rng.randrange(0, 5_000)
    if index % 2 == 0:
        job_id = f"{1_755_000_000_000 + index}-et{index:04d}"
        end = rng.choice(["COMPLETED", "COMPLETED", "ERROR"])
        bodies = [et_body(job_id, "PROGRESSING", at), et_body(job_id, "WARNING", at + 500)]
        if finishes:
            bodies.append(et_body(job_id, end, at + 2_000))
        outcome = JobStatus.SUCCESS if end == "COMPLETED" else JobStatus.ERROR
    else:
        job_id = f"{1_755_000_000_000 + index}-mc{index:04d}"
        end = rng.choice(["COMPLETE", "COMPLETE", "ERROR", "CANCELED"])
        bodies = [
            mc_body(job_id, "INPUT_INFORMATION", at),
            mc_body(job_id, "PROGRESSING", at + 100),
            mc_body(job_id, "STATUS_UPDATE", at + 700, percent=40),
            mc_body(job_id, "NEW_WARNING", at + 900),
            mc_body(job_id, "STATUS_UPDATE", at + 1_400, percent=80),
        ]
        if finishes:
            bodies.append(mc_body(job_id, end, at + 2_000))
        outcome = {"COMPLETE": JobStatus.SUCCESS, "ERROR": JobStatus.ERROR, "CANCELED": JobStatus.CANCELED}[end]
    return job_id, outcome if finishes else None, bodies


def test_one_event_per_job_whatever_the_order_duplication_and_batching(finished_events: FinishedEvents) -> None:
    rng = random.Random(11)
    outcomes: dict[str, JobStatus | None] = {}
    bodies: list[tuple[str, int]] = []
    for index in range(32):
        job_id, outcome, notifications = job_notifications(rng, index, finishes=index % 8 != 7)
        outcomes[job_id] = outcome
        bodies.extend(notifications)
        bodies.extend(rng.sample(notifications, k=2))  # redeliveries of the very same messages
    rng.shuffle(bodies)
    records = [record(notification) for notification in bodies]
    batches: list[list[dict[str, Any]]] = []
    while records:
        size = rng.randint(1, 10)
        batches.append(records[:size])
        records = records[size:]

    finished_events.start()  # reading the stream while the batches are written, three at a time
    finished_events.deliver_at_once(batches)
    # After every job's end: its notifications again, whose warnings and progress merge into finished rows.
    finished_events.deliver(*[[record(notification)] for notification in bodies[:40]])
    events = finished_events.received()

    per_job = Counter(event["detail"]["jobId"] for event in events)
    assert per_job == Counter({job_id: 1 for job_id, outcome in outcomes.items() if outcome is not None})
    assert not [job_id for job_id, outcome in outcomes.items() if outcome is None and job_id in per_job]
    for event in events:
        assert JobStatus(event["detail"]["status"]) is outcomes[event["detail"]["jobId"]]
    assert {e["detail"]["source"] for e in events} == {"elastic-transcoder", "mediaconvert"}
    assert {e["detail"]["status"] for e in events} == {"SUCCESS", "ERROR", "CANCELED"}
    assert_events_are_the_rows(finished_events, events)
    assert finished_events.mapping is not None and finished_events.mapping.stats.matched == len(events)
    assert not finished_events.errors
    # What the filters dropped: among others, writes to rows that were finished already (merges of
    # late warnings and progress), whose new image is finished too.
    after_finish = [
        r for r in stream_records(finished_events.stack) if finished(r, "OldImage") and finished(r, "NewImage")
    ]
    assert len({r["dynamodb"]["Keys"]["jobId"]["S"] for r in after_finish}) >= 10


def stream_records(stack: Stack) -> list[dict[str, Any]]:
    """Everything the table's stream holds (moto's stream has one shard)."""
    streams = boto3.client("dynamodbstreams")
    arn = stack.stream_triggers[0].stream_arn
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
    response = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)
    return list(response["Records"])


def finished(record: Mapping[str, Any], image: str) -> bool:
    return bool(record["dynamodb"].get(image, {}).get("finished", {}).get("BOOL"))


def test_nothing_for_running_updates_nor_for_writes_to_a_finished_row(finished_events: FinishedEvents) -> None:
    finished_events.start()
    done, running = "1755000000000-finish", "1755000000001-runner"
    finished_events.deliver([record(et_body(done, "COMPLETED", 2_000))])
    assert [e["detail"]["jobId"] for e in finished_events.received()] == [done]

    finished_events.deliver(
        [record(et_body(running, "PROGRESSING", 1_000))],
        [record(et_body(running, "WARNING", 1_500))],
        # A finished row takes the warnings and progress of late notifications: each write is a
        # MODIFY whose old image is finished already.
        [record(et_body(done, "WARNING", 1_000))],
        [record(et_body(done, "COMPLETED", 2_000))],
        [record(et_body(done, "PROGRESSING", 500))],
    )
    assert finished_events.row(done).warnings  # the merge happened
    boto3.client("dynamodb").delete_item(  # as the TTL deletes an expired row: a REMOVE
        TableName=finished_events.table.name, Key={"jobId": {"S": done}}
    )
    assert finished_events.received() == []


TEXTS = [
    'Codec "indeo4" at C:\\in\\a.avi',  # quotes and backslashes
    "line one\nline two\r\n\ttabbed",  # newlines, tabs
    "bell \x07 escape \x1b nul-free \x7f control",  # control characters
    "caf\u00e9 \u2013 \U0001f3ac \U0001d11e \U00020000",  # accents, emoji, 4-byte characters
    '<$.dynamodb.NewImage.jobId.S> {"x": 1} \\u0022 not an escape',  # what a template would read
]


def test_any_text_arrives_as_the_transcoder_sent_it(finished_events: FinishedEvents) -> None:
    finished_events.start()
    records = []
    for number, text in enumerate(TEXTS):
        failed = mediaconvert_event(f"1755000000{number:03d}-text{number}", "ERROR", T0, user_metadata={"note": text})
        failed["detail"]["errorMessage"] = text
        failed["detail"]["errorCode"] = 1030
        records.append(sqs_record(json.dumps(failed), sent_ms=T0))
    message = elastic_transcoder_message("1755000000100-ettext", "ERROR", pipeline_id=TEXTS[0])
    message["messageDetails"] = TEXTS[3]
    records.append(sqs_record(json.dumps(sns_envelope(message, T0)), sent_ms=T0))
    finished_events.deliver(records)

    events = {e["detail"]["jobId"]: e["detail"] for e in finished_events.received()}
    for number, text in enumerate(TEXTS):
        detail = events[f"1755000000{number:03d}-text{number}"]
        assert (detail["errorMessage"], detail["userMetadata"], detail["errorCode"]) == (text, {"note": text}, "1030")
    assert (events["1755000000100-ettext"]["errorMessage"], events["1755000000100-ettext"]["pipelineId"]) == (
        TEXTS[3],
        TEXTS[0],
    )
    wrap = [
        {"source": "transcoder-status", "detail-type": "Transcoding Job Finished", "detail": d} for d in events.values()
    ]
    assert_events_are_the_rows(finished_events, wrap)


def corpus_body(name: str) -> str:
    return json.dumps(json.loads((Path(__file__).resolve().parents[1] / "corpus" / name).read_text())["body"])


def test_manifests_prefixes_and_whole_uris(finished_events: FinishedEvents) -> None:
    finished_events.start()
    long_key = "s3://example-output-bucket/" + "d/" * 532 + "xfile.mp4"  # 1,100 characters
    assert len(long_key) == 1_100
    complete = mediaconvert_event("1755000000001-long", "COMPLETE", T0)
    complete["detail"]["outputGroupDetails"][0]["outputDetails"][0]["outputFilePaths"] = [long_key]
    et = elastic_transcoder_message("1755000000002-etpref", "COMPLETED", output_key="/output/400k")
    et["outputKeyPrefix"] = "HLS/97f0fc90"
    et["playlists"] = [
        {"name": "/97f0fc90-master", "format": "HLSv4", "outputKeys": ["/output/400k"], "status": "Complete"},
        {"name": "/97f0fc90-dash", "format": "MPEG-DASH", "outputKeys": ["/output/400k"], "status": "Complete"},
    ]
    finished_events.deliver([sqs_record(corpus_body("mediaconvert-complete-cmaf-group-awsdocs.json"), sent_ms=T0)])
    cmaf = finished_events.received()
    finished_events.deliver(
        [
            sqs_record(
                corpus_body("mediaconvert-complete-hls-group-awsdocs.json").replace("opn151", "hls001"), sent_ms=T0
            ),
            sqs_record(json.dumps(complete), sent_ms=T0),
            sqs_record(json.dumps(sns_envelope(et, T0)), sent_ms=T0),
        ]
    )
    events = {e["detail"]["jobId"]: e["detail"] for e in cmaf + finished_events.received()}

    cmaf_detail = events["1536964333549-opn151"]
    assert cmaf_detail["playlists"] == ["s3://DOC-EXAMPLE-BUCKET/cmaf/1.mpd", "s3://DOC-EXAMPLE-BUCKET/cmaf/1.m3u8"]
    hls = events["1536964333549-hls001"]
    assert hls["playlists"] == ["s3://DOC-EXAMPLE-BUCKET/hls/main.m3u8"]
    assert {o["uri"] for o in hls["outputs"]} == {
        "s3://DOC-EXAMPLE-BUCKET/hls/mainv2.m3u8",
        "s3://DOC-EXAMPLE-BUCKET/hls/mainv1.m3u8",
    }
    assert [o["uri"] for o in events["1755000000001-long"]["outputs"]] == [long_key]
    assert [o["uri"] for o in events["1755000000002-etpref"]["outputs"]] == ["HLS/97f0fc90/output/400k"]
    assert events["1755000000002-etpref"]["playlists"] == [
        "HLS/97f0fc90/97f0fc90-master.m3u8",
        "HLS/97f0fc90/97f0fc90-dash.mpd",
    ]
    assert not any(detail["outputsTruncated"] for detail in events.values())
    wrap = [
        {"source": "transcoder-status", "detail-type": "Transcoding Job Finished", "detail": d} for d in events.values()
    ]
    assert_events_are_the_rows(finished_events, wrap)


def test_a_job_with_5000_outputs_makes_an_event_under_256_kb_that_says_it_is_truncated(
    finished_events: FinishedEvents,
) -> None:
    finished_events.start()
    complete = mediaconvert_event("1755000000001-many", "COMPLETE", T0)
    complete["detail"]["outputGroupDetails"][0]["outputDetails"] = [
        {"outputFilePaths": [f"s3://example-output-bucket/many/{n:05d}/segment-{n}.mp4"], "durationInMs": 1000}
        for n in range(5_000)
    ]
    finished_events.deliver([sqs_record(json.dumps(complete), sent_ms=T0)])
    (event,) = finished_events.received()
    detail = event["detail"]
    VALIDATOR.validate(detail)
    assert detail["outputsTruncated"] is True
    assert 100 < len(detail["outputs"]) < 5_000
    kept = [o["uri"] for o in detail["outputs"]]
    assert kept == [
        f"s3://example-output-bucket/many/{n:05d}/segment-{n}.mp4" for n in range(len(kept))
    ]  # whole, in order
    assert len(json.dumps(event).encode()) < 256 * 1024
    assert finished_events.row("1755000000001-many").outputs_truncated


def test_published_notifications_make_events_that_fit_the_schema(finished_events: FinishedEvents) -> None:
    """The corpus (samples published by others) through the handler: one valid event per finished job."""
    finished_events.start()
    for sample in SAMPLES:
        invoke(finished_events.writer, sample.event)  # some records are refused: that is the corpus's point
    finished = {expect["jobId"] for sample in SAMPLES for expect in sample.expect if expect.get("finished") is True}
    events = finished_events.received()
    assert sorted(e["detail"]["jobId"] for e in events) == sorted(finished)
    assert_events_are_the_rows(finished_events, events)


class FlakyEvents:
    """EventBridge, with a first call whose answer is lost, a second that refuses one entry, and
    every entry of ``refused_job`` always refused."""

    def __init__(self, refused_job: str | None = None):
        self.client = boto3.client("events")
        self.calls = 0
        self.refused_job = refused_job

    def put_events(self, Entries: list[dict[str, Any]]) -> Mapping[str, Any]:
        self.calls += 1
        kept = [e for e in Entries if self.refused_job is None or self.refused_job not in e["Detail"]]
        answer = dict(self.client.put_events(Entries=kept)) if kept else {"Entries": []}  # type: ignore[arg-type]
        results = iter(answer["Entries"])
        entries = [
            next(results) if entry in kept else {"ErrorCode": "InternalFailure", "ErrorMessage": "refused"}
            for entry in Entries
        ]
        if self.calls == 1:
            raise ConnectionError("the answer was lost")
        if self.calls == 2 and len(entries) > 1:
            entries[0] = {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
        return {"Entries": entries, "FailedEntryCount": sum("ErrorCode" in e for e in entries)}


def test_at_least_once_when_putting_fails_or_an_entry_is_refused(finished_events: FinishedEvents) -> None:
    jobs = [f"1755000000{n:03d}-flaky{n}" for n in range(12)]
    finished_events.deliver([record(et_body(job, "COMPLETED", 1_000)) for job in jobs[:8]])
    finished_events.deliver([record(et_body(job, "COMPLETED", 1_000)) for job in jobs[8:]])
    flaky = FlakyEvents()
    finished_events.start(flaky)
    events = finished_events.received()

    per_job = Counter(e["detail"]["jobId"] for e in events)
    assert set(per_job) == set(jobs)  # none lost
    assert max(per_job.values()) <= 2 and sum(per_job.values()) > len(jobs)  # some twice: dedupe on jobId
    assert flaky.calls >= 3


def test_a_record_that_always_fails_goes_to_the_on_failure_queue_and_the_shard_goes_on(
    finished_events: FinishedEvents, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = "1755000000000-alwaysrefused"
    jobs = [f"1755000000{n:03d}-after{n}" for n in range(1, 6)]
    finished_events.deliver([record(et_body(bad, "COMPLETED", 1_000))])
    finished_events.deliver([record(et_body(job, "ERROR", 1_000)) for job in jobs])
    # The template's 10 retries, made 3 for speed: the rule is the same.
    mapping = finished_events.start(FlakyEvents(refused_job=bad), maximum_retry_attempts=3)
    events = finished_events.received()

    # The rest of the shard goes on; the records after the bad one in its batch are put again on
    # each retry (at least once: consumers dedupe on jobId).
    assert {e["detail"]["jobId"] for e in events} == set(jobs)
    (trigger,) = finished_events.stack.stream_triggers
    assert trigger.on_failure_queue_url == finished_events.stack.outputs["FinishedEventsFailedQueueUrl"]
    (described,) = drain_queue(trigger.on_failure_queue_url)
    info = described["DDBStreamBatchInfo"]
    assert (info["streamArn"], described["requestContext"]["condition"]) == (
        trigger.stream_arn,
        "RetryAttemptsExhausted",
    )
    # The finishes (moto also records a keys-only INSERT before each new row's write, which the filter drops).
    finishes = [r for r in stream_records(finished_events.stack) if finished(r, "NewImage")]
    assert finishes[0]["dynamodb"]["Keys"]["jobId"]["S"] == bad
    numbers = [r["dynamodb"]["SequenceNumber"] for r in finishes]
    # Described from the lowest record reported failed (the bad one, first in the stream) to the batch's end.
    assert info["startSequenceNumber"] == numbers[0]
    assert numbers.index(info["endSequenceNumber"]) == info["batchSize"] - 1
    assert mapping.stats.retries >= 3 and trigger.maximum_retry_attempts == 10
    assert mapping.stats.sent_to_on_failure == info["batchSize"]
    # Issue 20: each job counted once as its row turned finished, though the batch was tried four
    # times and then given up on: the bad job too (its event is republished), and the five after it
    # in its batch, whose events were put on every try.
    metrics = publisher_metrics(capsys.readouterr().out)
    assert (metrics["JobsSucceeded"], metrics["JobsFailed"]) == (1, 5)
    assert all(finished_events.row(job).job_id == job for job in [bad, *jobs])  # rows whole, none added


def test_a_batch_is_retried_from_the_lowest_record_reported_failed(finished_events: FinishedEvents) -> None:
    """ReportBatchItemFailures: the checkpoint stays before the lowest failed record, which comes
    again first, with every record after it; those before it do not come again."""
    finished_events.deliver([record(et_body(f"1755000000{n:03d}-retry{n}", "COMPLETED", 1_000)) for n in range(5)])
    batches: list[list[str]] = []

    def fails_the_third_and_fourth_once(event: dict[str, Any]) -> dict[str, Any]:
        records = event["Records"]
        batches.append([r["dynamodb"]["Keys"]["jobId"]["S"] for r in records])
        failed = [r["dynamodb"]["SequenceNumber"] for r in records[2:4]] if len(batches) == 1 else []
        return {"batchItemFailures": [{"itemIdentifier": number} for number in reversed(failed)]}

    (trigger,) = finished_events.stack.stream_triggers
    finished_events.mapping = StreamMapping(trigger, invoke=fails_the_third_and_fourth_once).start()
    assert finished_events.mapping.wait_caught_up(CAUGHT_UP_S)
    assert len(batches[0]) == 5 and batches[1:] == [batches[0][2:]]
    assert finished_events.mapping.stats.retries == 1


def test_the_mapping_stopped_and_started_again_resumes_where_it_stopped(finished_events: FinishedEvents) -> None:
    mapping = finished_events.start()
    finished_events.deliver([record(et_body("1755000000000-first", "COMPLETED", 1_000))])
    assert len(finished_events.received()) == 1
    mapping.stop()
    finished_events.deliver([record(et_body("1755000000001-second", "ERROR", 1_000))])
    mapping.start()
    assert [e["detail"]["jobId"] for e in finished_events.received()] == ["1755000000001-second"]


def publisher_metrics(output: str) -> Counter[str]:
    """The publisher's EMF metrics among what was printed (its service dimension tells them apart)."""
    totals: Counter[str] = Counter()
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            if document.get("service") == "transcoder-status-events":
                for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                    value = document[metric["Name"]]
                    totals[metric["Name"]] += int(sum(value) if isinstance(value, list) else value)
    return totals


def test_a_job_finished_by_a_redelivery_is_counted_once(
    finished_events: FinishedEvents, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 20: the state write lands, the warnings merge after it fails; SQS redelivers the record,
    whose state write now comes back DUPLICATE. The writer counted such a job nowhere; the publisher,
    which sees the row turn finished once, counts it once."""
    failing = {"on": True}

    def merge_fails(call: Call) -> AwsError | None:
        merging = call.operation == "UpdateItem" and "ADD" in str(call.body.get("UpdateExpression"))
        return AwsError(500, "InternalServerError", "merge lost") if merging and failing["on"] else None

    job = "1755000000000-partial"
    complete = mediaconvert_event(job, "COMPLETE", T0)
    complete["detail"]["warnings"] = [{"code": 230001, "count": 1}]
    delivery = [sqs_record(json.dumps(complete), sent_ms=T0)]
    proxy = FaultProxy(boto3.client("dynamodb").meta.endpoint_url, merge_fails)
    with proxy.running() as endpoint:
        one_try = Config(retries={"mode": "standard", "total_max_attempts": 1})
        table = StatusTable(finished_events.table.name, boto3.client("dynamodb", endpoint_url=endpoint, config=one_try))
        faulty = StatusWriter(table)
        assert failed_ids(invoke(faulty, {"Records": delivery})) == {delivery[0]["messageId"]}  # SQS will redeliver
        assert finished_events.row(job).finished  # the state write landed all the same
        failing["on"] = False
        assert failed_ids(invoke(faulty, {"Records": delivery})) == set()  # DUPLICATE, warnings merged
    finished_events.start()
    (event,) = finished_events.received()
    assert event["detail"]["jobId"] == job
    metrics = publisher_metrics(capsys.readouterr().out)
    assert (metrics["JobsSucceeded"], metrics["EventsPublished"]) == (1, 1)
