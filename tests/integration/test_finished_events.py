"""One "Transcoding Job Finished" event per job: the real handler writes the rows, the table's stream
goes through the template's Pipes (run by the local stand-in) to an event bus, a consumer's rule
sends them to a queue. Against the emulator, as deployed from template.yaml."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from jsonschema import Draft202012Validator

from tests.integration.conftest import T0, failed_ids, invoke
from tests.integration.test_corpus import SAMPLES
from transcoder_status.handler import StatusWriter
from transcoder_status.local.emulator import Emulator
from transcoder_status.local.messages import elastic_transcoder_message, mediaconvert_event, sns_envelope, sqs_record
from transcoder_status.local.pipe import PipeRunner, PipeRunners, drain_queue, subscribe_queue
from transcoder_status.local.provision import Stack, provision
from transcoder_status.status import JobStatus
from transcoder_status.table import ALL_ATTRIBUTES, JobRow, StatusTable

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "transcoding-job-finished.schema.json").read_text()
)
VALIDATOR = Draft202012Validator(SCHEMA)
CAUGHT_UP_S = 30


@dataclass
class FinishedEvents:
    """A stack from template.yaml with its own bus, the handler's writer, a consumer, and the Pipes."""

    stack: Stack
    writer: StatusWriter
    consumer: str
    errors: list[BaseException] = field(default_factory=list)
    runners: PipeRunners = field(default_factory=PipeRunners)

    @property
    def table(self) -> StatusTable:
        return self.writer.table

    def start(self, put_events: Callable[[list[dict[str, Any]]], Mapping[str, Any]] | None = None) -> None:
        self.runners = PipeRunners(
            [PipeRunner(pipe, put_events=put_events, on_error=self.errors.append) for pipe in self.stack.pipes]
        ).start()

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
        """Every event on the bus so far: once the Pipes have read the stream to its end."""
        caught_up = self.runners.wait_caught_up(CAUGHT_UP_S)
        assert caught_up, f"the Pipes did not catch up with the stream: {self.errors[-3:]}"
        return drain_queue(self.consumer)

    def row(self, job_id: str) -> JobRow:
        row = self.table.get(job_id, attributes=ALL_ATTRIBUTES)
        assert row is not None
        return row


@pytest.fixture
def finished_events(emulator: Emulator) -> Iterator[FinishedEvents]:
    stack = provision(stack_name=f"fe-{uuid.uuid4().hex[:8]}", parameters={"FinishedEventBus": "create"})
    consumer = subscribe_queue(stack.outputs["FinishedEventBusName"], f"{stack.name}-consumer")
    writer = StatusWriter(StatusTable(stack.outputs["TableName"], boto3.client("dynamodb")))
    setup = FinishedEvents(stack, writer, consumer)
    yield setup
    setup.runners.stop()


def expected_detail(row: JobRow) -> dict[str, Any]:
    """What the event must say of a row: its own values, "" for an optional text it does not hold."""
    return {
        "jobId": row.job_id,
        "status": row.status.value,
        "source": row.source,
        "state": row.state,
        "finishedAt": row.finished_at,
        "errorCode": row.error_code or "",
        "errorMessage": row.error_message or "",
        "pipelineId": row.pipeline_id or "",
        "queue": row.queue or "",
        "outputs": sorted(row.output_files),
    }


def assert_events_are_the_rows(setup: FinishedEvents, events: list[dict[str, Any]]) -> None:
    for event in events:
        assert (event["source"], event["detail-type"]) == ("transcoder-status", "Transcoding Job Finished")
        detail = event["detail"]
        VALIDATOR.validate(detail)
        row = setup.row(detail["jobId"])
        assert row.finished and row.finished_at == row.notified_at  # the terminal notification's time
        assert {**detail, "outputs": sorted(detail["outputs"])} == expected_detail(row)


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
    assert finished_events.runners.stats.matched == len(events)
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
    arn = stack.pipes[0].stream_arn
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


def test_the_event_escapes_what_the_row_holds(finished_events: FinishedEvents) -> None:
    finished_events.start()
    message = 'Codec "indeo4" at C:\\in\\a.avi\nline two \u2013 \u00e9t\u00e9 <$.dynamodb.NewImage.jobId.S> {"x": 1}'
    failed = mediaconvert_event("1755000000000-quotes", "ERROR", T0)
    failed["detail"]["errorMessage"] = message
    failed["detail"]["errorCode"] = 1030
    complete = mediaconvert_event("1755000000001-files", "COMPLETE", T0)
    group = complete["detail"]["outputGroupDetails"][0]
    group["outputDetails"].append(
        {"outputFilePaths": ['s3://example-output-bucket/"odd" name.mp4', "s3://example-output-bucket/a.mp4"]}
    )
    group["outputDetails"].append({"outputFilePaths": ["s3://example-output-bucket/a.mp4"]})  # listed twice
    finished_events.deliver([sqs_record(json.dumps(failed), sent_ms=T0), sqs_record(json.dumps(complete), sent_ms=T0)])

    events = {e["detail"]["jobId"]: e["detail"] for e in finished_events.received()}
    assert events["1755000000000-quotes"]["errorMessage"] == message
    assert events["1755000000000-quotes"]["outputs"] == []
    assert sorted(events["1755000000001-files"]["outputs"]) == [
        's3://example-output-bucket/"odd" name.mp4',
        "s3://example-output-bucket/1755000000001-files/file.mp4",
        "s3://example-output-bucket/a.mp4",
    ]
    assert_events_are_the_rows(
        finished_events,
        [
            {"source": "transcoder-status", "detail-type": "Transcoding Job Finished", "detail": d}
            for d in events.values()
        ],
    )


def test_published_notifications_make_events_that_fit_the_schema(finished_events: FinishedEvents) -> None:
    """The corpus (samples published by others) through the handler: one valid event per finished job."""
    finished_events.start()
    for sample in SAMPLES:
        invoke(finished_events.writer, sample.event)  # some records are refused: that is the corpus's point
    finished = {expect["jobId"] for sample in SAMPLES for expect in sample.expect if expect.get("finished") is True}
    events = finished_events.received()
    assert sorted(e["detail"]["jobId"] for e in events) == sorted(finished)
    assert_events_are_the_rows(finished_events, events)


def test_at_least_once_when_putting_fails(finished_events: FinishedEvents) -> None:
    """A PutEvents whose answer is lost puts its batch again; a refused entry is put again alone."""
    put = boto3.client("events").put_events
    calls = Counter[str]()

    def flaky(entries: list[dict[str, Any]]) -> Mapping[str, Any]:
        calls["all"] += 1
        if calls["all"] == 1:
            put(Entries=entries)  # type: ignore[arg-type]
            raise ConnectionError("the answer was lost")
        answer = dict(put(Entries=entries))  # type: ignore[arg-type]
        if calls["all"] == 2 and len(entries) > 1:
            answer["Entries"][0] = {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
        return answer

    jobs = [f"1755000000{n:03d}-flaky{n}" for n in range(12)]
    finished_events.deliver([record(et_body(job, "COMPLETED", 1_000)) for job in jobs[:8]])
    finished_events.deliver([record(et_body(job, "COMPLETED", 1_000)) for job in jobs[8:]])
    finished_events.start(put_events=flaky)
    events = finished_events.received()

    per_job = Counter(e["detail"]["jobId"] for e in events)
    assert set(per_job) == set(jobs)  # none lost
    assert 1 <= max(per_job.values()) <= 3 and sum(per_job.values()) > len(jobs)  # some twice: dedupe on jobId
    assert finished_events.runners.stats.retries >= 2 and len(finished_events.errors) >= 2


def test_a_pipe_stopped_and_started_again_resumes_where_it_stopped(finished_events: FinishedEvents) -> None:
    finished_events.start()
    finished_events.deliver([record(et_body("1755000000000-first", "COMPLETED", 1_000))])
    assert len(finished_events.received()) == 1
    finished_events.runners.stop()
    finished_events.deliver([record(et_body("1755000000001-second", "ERROR", 1_000))])
    finished_events.runners.start()
    assert [e["detail"]["jobId"] for e in finished_events.received()] == ["1755000000001-second"]
