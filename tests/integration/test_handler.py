"""The real handler against DynamoDB in moto's server mode, over HTTP."""

from __future__ import annotations

import copy
import json
import threading
import uuid
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.conftest import SNS_SUBSCRIPTION_CONFIRMATION, load_event
from tests.integration.conftest import T0, failed_ids, invoke
from transcoder_status import handler
from transcoder_status.handler import StatusWriter
from transcoder_status.local.context import LocalContext
from transcoder_status.local.messages import elastic_transcoder_message, mediaconvert_event, sns_envelope, sqs_record
from transcoder_status.sources import Delivery, parse_body
from transcoder_status.status import JobStatus
from transcoder_status.table import MAX_EVENT_ID, MAX_WARNINGS_PER_NOTIFICATION, StatusTable, WriteOutcome

JOB = "1502631977930-rabioh"
OTHER = "1432217012218-qpa0jk"


def records(*names: str) -> dict[str, Any]:
    return {"Records": [record for name in names for record in load_event(name)["Records"]]}


def et_record(job_id: str, state: str, at_ms: int, sns_id: str | None = None) -> dict[str, Any]:
    """An Elastic Transcoder notification through SNS, ``at_ms`` after T0."""
    envelope = sns_envelope(elastic_transcoder_message(job_id, state), T0 + at_ms, sns_id)
    return sqs_record(json.dumps(envelope), sent_ms=T0 + at_ms + 5)


def mc_record(status: str, at_ms: int, event_id: str, job_id: str = JOB, **kwargs: Any) -> dict[str, Any]:
    """A MediaConvert event through EventBridge, ``at_ms`` after T0."""
    event = mediaconvert_event(job_id, status, T0 + at_ms, event_id=event_id, **kwargs)
    return sqs_record(json.dumps(event), sent_ms=T0 + at_ms + 300, message_id=f"sqs-{event_id}")


def emitted_metrics(output: str) -> dict[str, float]:
    """Sum the EMF documents Powertools printed."""
    totals: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for definition in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            name = definition["Name"]
            value = document[name]
            totals[name] = totals.get(name, 0) + (sum(value) if isinstance(value, list) else value)
    return totals


def test_progressing_then_completed(writer: StatusWriter) -> None:
    assert invoke(writer, records("elastic-transcoder-progressing")) == {"batchItemFailures": []}
    row = writer.table.get(JOB, attributes=None)
    assert row is not None
    assert (row.status, row.finished, row.state) == (JobStatus.RUNNING, False, "PROGRESSING")
    invoke(writer, records("elastic-transcoder-completed"))
    row = writer.table.get(JOB, attributes=None)
    assert row is not None
    assert (row.status, row.finished, row.state) == (JobStatus.SUCCESS, True, "COMPLETED")
    assert row.outputs[0].duration_ms == 6000
    assert row.notified_at == "2025-08-12T12:00:06.000Z"
    assert row.pipeline_id == "1502609200466-80khou"
    assert row.source == "elastic-transcoder"


def test_error_row_keeps_code_and_message(writer: StatusWriter) -> None:
    invoke(writer, records("elastic-transcoder-error"))
    row = writer.table.get(OTHER, attributes=None)
    assert row is not None
    assert (row.status, row.finished, row.error_code) == (JobStatus.ERROR, True, "3001")
    assert row.error_message and "does not exist" in row.error_message


def test_warning_is_kept_after_completion(writer: StatusWriter) -> None:
    invoke(writer, records("elastic-transcoder-progressing", "elastic-transcoder-warning"))
    invoke(writer, records("elastic-transcoder-completed"))
    row = writer.table.get(JOB, attributes=None)
    assert row is not None
    assert row.status is JobStatus.SUCCESS
    assert row.warnings == ("output 1: The input audio is mono; the output was upmixed to stereo.",)


def test_out_of_order_delivery_never_reopens_a_finished_job(writer: StatusWriter, capsys: Any) -> None:
    invoke(writer, records("elastic-transcoder-completed"))
    capsys.readouterr()
    assert invoke(writer, records("elastic-transcoder-progressing", "elastic-transcoder-warning")) == {
        "batchItemFailures": []
    }
    row = writer.table.get(JOB, attributes=None)
    assert row is not None
    assert (row.status, row.state) == (JobStatus.SUCCESS, "COMPLETED")
    # The late warning is still recorded: warnings merge whatever their order.
    assert len(row.warnings) == 1
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.get("StaleOrDuplicate") == 2
    assert "Applied" not in metrics


def test_duplicate_delivery_changes_nothing(writer: StatusWriter, capsys: Any) -> None:
    invoke(writer, records("elastic-transcoder-completed"))
    first = writer.table.get(JOB, attributes=None)
    capsys.readouterr()
    invoke(writer, records("elastic-transcoder-completed", "elastic-transcoder-raw-delivery"))
    assert writer.table.get(JOB, attributes=None) == first
    assert emitted_metrics(capsys.readouterr().out) == {"StaleOrDuplicate": 2}


def test_the_log_names_each_records_notification_beside_its_sqs_message(
    writer: StatusWriter, caplog: pytest.LogCaptureFixture
) -> None:
    """What the soak matches each notification it sent to the message that carried it by."""
    event = {"Records": [et_record(JOB, "PROGRESSING", 1_000, "sns-1"), et_record(JOB, "COMPLETED", 2_000, "sns-2")]}
    event["Records"].append(mc_record("COMPLETE", 1_000, "event-1", job_id=OTHER))
    invoke(writer, event)
    logged = {
        tuple(job["messageIds"]): tuple(job["eventIds"])
        for r in caplog.records
        if r.getMessage() == "jobs written"
        for job in r.jobs  # type: ignore[attr-defined]
    }
    message_ids = [record["messageId"] for record in event["Records"]]
    assert logged == {tuple(message_ids[:2]): ("sns-1", "sns-2"), (message_ids[2],): ("event-1",)}


def test_older_running_notification_never_replaces_a_newer_one(writer: StatusWriter) -> None:
    invoke(writer, {"Records": [et_record(JOB, "WARNING", 2_000)]})
    invoke(writer, {"Records": [et_record(JOB, "PROGRESSING", 1_000)]})
    row = writer.table.get(JOB, attributes=None)
    assert row is not None
    assert row.state == "WARNING"


def test_batch_with_malformed_record_fails_only_that_record(
    writer: StatusWriter, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    event = records("batch-mixed-with-malformed")
    malformed = [r["messageId"] for r in event["Records"] if not r["body"].startswith('{"Type"')]
    response = invoke(writer, event)
    assert failed_ids(response) == set(malformed)
    assert len(malformed) == 1
    job, other = writer.table.get(JOB), writer.table.get(OTHER)
    assert job is not None and job.status is JobStatus.SUCCESS
    assert other is not None and other.status is JobStatus.ERROR
    log = next(r for r in caplog.records if "malformed notification" in r.getMessage())
    assert log.messageId == malformed[0]
    assert "not JSON" in log.reason
    assert log.body == '{"state" : "COMPLETED", "jobId" : '
    metrics = emitted_metrics(capsys.readouterr().out)
    assert (metrics["Malformed"], metrics["Applied"]) == (1, 2)
    # Finished jobs are the publisher's to count (it sees each finish once), not the writer's.
    assert not {"JobsSucceeded", "JobsFailed", "JobsCanceled"} & set(metrics)
    # Three of the four good records were folded into the two winning writes.
    assert metrics["StaleOrDuplicate"] == 2


def test_batch_of_only_bad_records_reports_all_and_does_not_raise(writer: StatusWriter) -> None:
    bad = [sqs_record(body, sent_ms=1) for body in ("nope", "[]", '{"jobId": "x", "state": "BOGUS"}')]
    response = invoke(writer, {"Records": bad})
    assert failed_ids(response) == {r["messageId"] for r in bad}


def test_bad_body_log_is_bounded(writer: StatusWriter, caplog: pytest.LogCaptureFixture) -> None:
    invoke(writer, {"Records": [sqs_record("x" * 100_000, sent_ms=1)]})
    log = next(r for r in caplog.records if "malformed" in r.getMessage())
    assert len(log.body) == handler.BODY_EXCERPT


@pytest.mark.parametrize(
    "body",
    [
        '{"jobId": "j", "state": "\ud800"}',  # a lone surrogate, raw: the excerpt carries it
        '{"\\ud800": 1}',  # escaped: the reason names the key
        '{"jobId": "j", "state": "COMPLETED", "userMetadata": {"\\ud800": {}}}',  # the dropped note names it
    ],
)
def test_every_log_line_can_be_written_whatever_the_body(
    writer: StatusWriter, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    """Found by fuzzing: Powertools writes JSON log lines with ``ensure_ascii=False``, so a lone
    surrogate in a line made it unwritable as UTF-8 and the line was lost. SQS bodies are valid
    Unicode, but a direct invocation or a replayed event file can carry ``"\\ud800"`` in a body."""
    record = sqs_record("", sent_ms=T0)
    record["body"] = body
    invoke(writer, {"Records": [record]})
    assert caplog.records
    for log in caplog.records:
        assert handler.logger.registered_formatter.format(log).encode("utf-8")


def test_a_record_without_sent_timestamp_fails_only_if_it_needs_that_time(writer: StatusWriter) -> None:
    """Found by fuzzing: Powertools' ``attributes.sent_timestamp`` raises KeyError when a record has no
    SentTimestamp, so such a record failed even when its notification carries its own time
    (MediaConvert, SNS envelope); ``Delivery`` documents this case as ``sent_ms=None``."""
    own_time = mc_record("COMPLETE", 1_000, "e1")
    needs_it = sqs_record(json.dumps(elastic_transcoder_message(OTHER, "COMPLETED")), sent_ms=T0)
    for record in (own_time, needs_it):
        del record["attributes"]["SentTimestamp"]
    assert failed_ids(invoke(writer, {"Records": [own_time, needs_it]})) == {needs_it["messageId"]}
    row = writer.table.get(JOB)
    assert row is not None and row.status is JobStatus.SUCCESS


def test_other_pipelines_are_skipped(writer: StatusWriter, capsys: Any) -> None:
    filtering = StatusWriter(writer.table, accepted_pipelines=frozenset({"1111111111111-aaaaaa"}))
    response = invoke(filtering, records("elastic-transcoder-completed"))
    assert response == {"batchItemFailures": []}  # skipped is handled: the message is deleted
    assert writer.table.get(JOB) is None
    assert emitted_metrics(capsys.readouterr().out) == {"Skipped": 1}


def test_same_job_in_one_batch_is_one_state_write(writer: StatusWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = writer.table.client.update_item

    def counting(**kwargs: Any) -> Any:
        calls.append(kwargs["Key"]["jobId"]["S"])
        return original(**kwargs)

    monkeypatch.setattr(writer.table.client, "update_item", counting)
    event = {
        "Records": [et_record(JOB, state, at) for state, at in (("PROGRESSING", 1), ("WARNING", 2), ("COMPLETED", 3))]
    }
    event["Records"].append(et_record(OTHER, "PROGRESSING", 1))
    invoke(writer, event)
    # One state write per job, and for the job with a warning one merge of it (the cap on warnings
    # must never decide whether the state advances, so they are not part of the state write).
    assert sorted(calls) == sorted([JOB, JOB, OTHER])
    row = writer.table.get(JOB, attributes=None)
    assert row is not None and row.status is JobStatus.SUCCESS and len(row.warnings) == 1


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_missing_table_name_fails_the_whole_batch_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TABLE_NAME", raising=False)
    with pytest.raises(RuntimeError, match="TABLE_NAME"):
        handler.lambda_handler(records("elastic-transcoder-completed"), LocalContext("f", 30))


def test_events_are_not_mutated_by_the_handler(writer: StatusWriter) -> None:
    event = records("batch-mixed-with-malformed")
    before = copy.deepcopy(event)
    invoke(writer, event)
    assert event == before


def test_records_missing_parts_fail_alone(writer: StatusWriter) -> None:
    good = et_record(JOB, "COMPLETED", 1_000)
    no_body = {k: v for k, v in et_record(OTHER, "COMPLETED", 1_000).items() if k != "body"}
    # A raw delivery carries no time of its own: without a SentTimestamp it cannot be ordered.
    odd_time = sqs_record(json.dumps(elastic_transcoder_message(OTHER, "PROGRESSING")), sent_ms=T0)
    odd_time["attributes"]["SentTimestamp"] = "yesterday"
    response = invoke(writer, {"Records": [good, no_body, odd_time]})
    assert failed_ids(response) == {no_body["messageId"], odd_time["messageId"]}
    job, other = writer.table.get(JOB), writer.table.get(OTHER)
    assert job is not None and job.status is JobStatus.SUCCESS
    assert other is None


# -- review findings (issue 8): each failed before its fix --------------------------------------


@pytest.mark.parametrize("winner", ["STATUS_UPDATE", "ERROR"])
def test_a_redelivered_winner_keeps_its_batch_mates_warnings(writer: StatusWriter, winner: str) -> None:
    """Finding 1: the winner's write was refused as a duplicate and the warning never merged."""
    first = mc_record(winner, 6_000, "winner", percent=50)
    invoke(writer, {"Records": [first]})
    late_warning = mc_record("NEW_WARNING", 3_000, "warning")
    assert invoke(writer, {"Records": [first, late_warning]}) == {"batchItemFailures": []}
    row = writer.table.get(JOB, attributes=None)
    assert row is not None
    assert row.state == winner
    assert len(row.warnings) == 1


def test_warnings_are_capped_per_notification_not_per_batch(writer: StatusWriter) -> None:
    """Finding 2: one batch stored 10 of 12 warnings, one record per batch stored all 12."""
    complete = mediaconvert_event(JOB, "COMPLETE", T0 + 9_000, event_id="complete")
    complete["detail"]["warnings"] = [{"code": code, "count": 1} for code in (1, 2, 3)]
    batch = [sqs_record(json.dumps(complete), sent_ms=T0 + 9_300)]
    for index in range(MAX_WARNINGS_PER_NOTIFICATION - 1):
        event = mediaconvert_event(JOB, "NEW_WARNING", T0 + 1_000 + index, event_id=f"warning-{index}")
        event["detail"]["warningCode"] = 100 + index
        batch.append(sqs_record(json.dumps(event), sent_ms=T0 + 9_300))
    invoke(writer, {"Records": batch})
    one_by_one = StatusWriter(writer.table)
    for record in batch:
        other = copy.deepcopy(record)
        other["body"] = other["body"].replace(JOB, OTHER)
        invoke(one_by_one, {"Records": [other]})
    batched, single = writer.table.get(JOB, attributes=None), writer.table.get(OTHER, attributes=None)
    assert batched is not None and single is not None
    assert len(batched.warnings) == 12
    assert batched.warnings == single.warnings


def test_a_lone_redelivery_of_a_batched_notification_is_a_duplicate(writer: StatusWriter) -> None:
    """Finding 12: progress borrowed from a batch mate changed the winner's key."""
    warning = mc_record("NEW_WARNING", 2_000, "warning")
    invoke(writer, {"Records": [mc_record("STATUS_UPDATE", 1_000, "update", percent=30), warning]})
    before = writer.table.get(JOB, attributes=None)
    notification = parse_body(warning["body"], Delivery(T0, "again"))
    assert writer.table.apply(notification).outcome is WriteOutcome.DUPLICATE
    after = writer.table.get(JOB, attributes=None)
    assert before is not None and after is not None
    assert (after.state, after.progress, after.warnings) == (before.state, 30, before.warnings)


def test_an_empty_optional_field_never_costs_a_job_its_end(
    writer: StatusWriter, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 3: the terminal notification went to the DLQ and every client waited in vain."""
    event = mediaconvert_event(JOB, "ERROR", T0, event_id="error")
    event["detail"].update(errorMessage="", queue="", jobProgress="odd")
    assert invoke(writer, {"Records": [sqs_record(json.dumps(event), sent_ms=T0)]}) == {"batchItemFailures": []}
    row = writer.table.get(JOB, attributes=None)
    assert row is not None and (row.status, row.error_code, row.error_message) == (JobStatus.ERROR, "1030", None)
    log = next(r for r in caplog.records if "optional details dropped" in r.getMessage())
    assert log.dropped == ["'detail.jobProgress' dropped: expected a JSON object, got the string 'odd'"]


def test_an_impossible_time_is_malformed_on_first_delivery(writer: StatusWriter) -> None:
    """Finding 4: microseconds broke the order key, the write raised five times, then DLQ."""
    event = mediaconvert_event(JOB, "COMPLETE", T0, event_id="micro")
    event["detail"]["timestamp"] = T0 * 1000
    record = sqs_record(json.dumps(event), sent_ms=T0)
    assert failed_ids(invoke(writer, {"Records": [record]})) == {record["messageId"]}
    assert writer.table.get(JOB) is None


def test_records_of_writes_past_the_deadline_fail_and_the_rest_land(writer: StatusWriter) -> None:
    """Finding 10: one hung write timed out the invocation and every record came back. And a write
    still hung afterwards must not starve the next invocation (review of issue 8)."""
    release = threading.Event()
    table = HangingTable(writer.table, hang_job=OTHER, release=release)
    good, hung = et_record(JOB, "COMPLETED", 1_000), et_record(OTHER, "COMPLETED", 1_000)
    try:
        # Timeout 4 s minus the handler's 3 s margin: it stops waiting after about a second.
        response = invoke(StatusWriter(table), {"Records": [hung, good]}, timeout_s=4)
        assert failed_ids(response) == {hung["messageId"]}
        # One writer thread: had the hung write kept it, the next invocation would write nothing.
        one_writer = StatusWriter(table, max_writers=1)
        assert failed_ids(invoke(one_writer, {"Records": [hung]}, timeout_s=4)) == {hung["messageId"]}
        later = et_record("1432217012218-zzzzzz", "COMPLETED", 2_000)
        assert invoke(one_writer, {"Records": [later]}, timeout_s=4) == {"batchItemFailures": []}
    finally:
        release.set()
    for job in (JOB, "1432217012218-zzzzzz"):
        row = writer.table.get(job)
        assert row is not None and row.status is JobStatus.SUCCESS


class HangingTable(StatusTable):
    """The real table, except that one job's write hangs until released (a socket that never answers)."""

    def __init__(self, table: StatusTable, hang_job: str, release: threading.Event):
        super().__init__(table.name, table.client, table.retention_days)
        self.hang_job, self.release = hang_job, release

    def write(self, update: Any, now: float | None = None, deadline: float | None = None) -> Any:
        if update.job_id == self.hang_job:
            self.release.wait(10)
        return super().write(update, now, deadline)


def test_an_sns_subscription_confirmation_is_logged_counted_and_kept_for_an_operator(
    writer: StatusWriter, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    confirmation = SNS_SUBSCRIPTION_CONFIRMATION
    record = sqs_record(json.dumps(confirmation), sent_ms=T0)
    good = et_record(JOB, "COMPLETED", 1_000)
    assert failed_ids(invoke(writer, {"Records": [record, good]})) == {record["messageId"]}
    (log,) = [r for r in caplog.records if "SubscriptionConfirmation" in r.getMessage()]
    assert confirmation["SubscribeURL"] in log.getMessage()
    assert log.topicArn == confirmation["TopicArn"]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["SnsControlMessages"] == 1
    assert "Malformed" not in metrics
    assert writer.table.get(JOB) is not None


def test_every_written_job_is_logged_with_its_message_ids_in_lines_of_a_hundred(
    writer: StatusWriter, caplog: pytest.LogCaptureFixture
) -> None:
    batch = {"Records": [et_record(f"1700000000000-{n:06d}", "COMPLETED", n) for n in range(150)]}
    batch["Records"].append(copy.deepcopy(batch["Records"][0]) | {"messageId": "redelivered"})
    assert invoke(writer, batch) == {"batchItemFailures": []}
    lines = [r for r in caplog.records if r.getMessage() == "jobs written"]
    assert [len(line.jobs) for line in lines] == [100, 50]  # type: ignore[attr-defined]
    logged = {entry["jobId"]: entry for line in lines for entry in line.jobs}  # type: ignore[attr-defined]
    assert len(logged) == 150
    first = logged["1700000000000-000000"]
    assert sorted(first["messageIds"]) == sorted([batch["Records"][0]["messageId"], "redelivered"])
    assert (first["outcome"], first["status"], first["state"]) == ("applied", "SUCCESS", "COMPLETED")


def test_no_jobs_written_line_passes_a_log_events_size(writer: StatusWriter, caplog: pytest.LogCaptureFixture) -> None:
    """Review of issue 10: lines were cut at a hundred jobs, but a job's entry holds every message and
    notification ID of the batch, so few jobs with many records made a line past CloudWatch Logs'
    256 KB per event, and a notification ID's length had no bound at all."""
    long_id = "é" * 1_000  # 2 bytes each in UTF-8
    records = [
        mc_record("PROGRESSING", n, f"{n:04d}{long_id}", job_id=f"1700000000000-{n % 100:06d}") for n in range(1_000)
    ]
    for record in records:
        record["messageId"] = str(uuid.uuid4())  # as SQS gives them
    assert invoke(writer, {"Records": records}) == {"batchItemFailures": []}
    lines = [r for r in caplog.records if r.getMessage() == "jobs written"]
    formatter = handler.logger.registered_formatter
    assert all(len(formatter.format(line).encode()) <= 256 * 1024 for line in lines)
    logged = [entry for line in lines for entry in line.jobs]  # type: ignore[attr-defined]
    assert sorted(entry["jobId"] for entry in logged) == sorted({f"1700000000000-{n:06d}" for n in range(100)})
    assert sum(len(entry["messageIds"]) for entry in logged) == 1_000
    assert {len(event_id) for entry in logged for event_id in entry["eventIds"]} == {MAX_EVENT_ID}


def test_a_total_write_outage_fails_every_record_and_counts_them(
    writer: StatusWriter, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """What the WritesFailing alarm watches (issue 8, item 9): the function never raises for failed
    records, so an outage (here the table deleted) shows only in WriteFailed and the logs."""
    writer.table.client.delete_table(TableName=writer.table.name)
    event = {"Records": [et_record(JOB, "COMPLETED", 1_000), mc_record("COMPLETE", 1_000, "e-1", job_id=OTHER)]}
    response = invoke(writer, event)
    assert failed_ids(response) == {record["messageId"] for record in event["Records"]}
    assert emitted_metrics(capsys.readouterr().out) == {"WriteFailed": 2}
    assert {getattr(r, "jobId", None) for r in caplog.records if r.getMessage().startswith("write failed")} == {
        JOB,
        OTHER,
    }


@pytest.mark.parametrize(
    ("records", "jobs", "event_id"),
    [
        (4_000, 1, None),  # one job's IDs alone would pass the limit (a backlog of one job)
        (2_000, 20, '"' * 300),  # quotes take two bytes each in JSON
    ],
)
def test_a_jobs_ids_continue_on_the_next_line_and_every_line_stays_under_a_log_events_size(
    writer: StatusWriter, caplog: pytest.LogCaptureFixture, records: int, jobs: int, event_id: str | None
) -> None:
    """Review of issue 10: a single job's entry was never split, and quotes were counted as one byte."""
    batch = [
        mc_record(
            "PROGRESSING",
            n,
            f"{event_id}{n}" if event_id else str(uuid.uuid4()),
            job_id=f"1700000000000-{n % jobs:06d}",
        )
        for n in range(records)
    ]
    for record in batch:
        record["messageId"] = str(uuid.uuid4())
    assert invoke(writer, {"Records": batch}) == {"batchItemFailures": []}
    lines = [r for r in caplog.records if r.getMessage() == "jobs written"]
    formatter = handler.logger.registered_formatter
    assert max(len(formatter.format(line).encode()) for line in lines) <= 256 * 1024
    entries = [entry for line in lines for entry in line.jobs]  # type: ignore[attr-defined]
    logged = [message_id for entry in entries for message_id in entry["messageIds"]]
    assert sorted(logged) == sorted(record["messageId"] for record in batch)  # each once
    heads = [entry for entry in entries if not entry.get("continued")]
    assert len(heads) == jobs and all(entry["outcome"] == "applied" for entry in heads)


def test_a_warnings_merge_given_up_is_logged_with_its_job_and_counted(
    capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 20: near the cap, a merge refused three times under contention vanished without a trace."""
    client = boto3.client("dynamodb")
    writer = StatusWriter(StatusTable("t", client))
    batch = []
    for index in range(4):
        message = elastic_transcoder_message(JOB, "WARNING", warning=f"warning {index}")
        batch.append(sqs_record(json.dumps(sns_envelope(message, T0 + index)), sent_ms=T0 + index))

    def row(warnings: int) -> dict[str, Any]:
        return {"jobId": {"S": JOB}, "warnings": {"SS": [f"held {i}" for i in range(warnings)]}}

    with Stubber(client) as stubber:
        stubber.add_response("update_item", {"Attributes": row(95)})  # the state write: room for 5
        # Other writers add warnings before each of the three merges: refused at 97, 98, 99 held.
        for held in (97, 98, 99):
            stubber.add_client_error(
                "update_item",
                "ConditionalCheckFailedException",
                "The conditional request failed",
                modeled_fields={"Item": row(held)},
            )
        assert invoke(writer, {"Records": batch}) == {"batchItemFailures": []}
        stubber.assert_no_pending_responses()
    output = capsys.readouterr().out
    assert emitted_metrics(output)["WarningsDropped"] == 1  # one of the four still had room at 99
    logged = [r for r in caplog.records if "warnings merge given up" in r.getMessage()]
    assert [(r.jobId, r.warningsDropped, len(r.messageIds)) for r in logged] == [(JOB, 1, 4)]


def test_two_accounts_events_for_one_row_are_a_clash_logged_counted_and_failed_for_the_dlq(
    writer: StatusWriter, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The row stays the first account's; the other account's notification is not dropped: its record
    fails (the queue's redrive policy moves it to the DLQ, as a malformed one), with an error naming both."""
    first = mc_record("PROGRESSING", 1_000, "e-1", account="111122223333", region="us-east-1")
    assert failed_ids(invoke(writer, {"Records": [first]})) == set()
    before = writer.table.get(JOB, attributes=None)
    capsys.readouterr()
    other = mc_record("COMPLETE", 2_000, "e-2", account="444455556666", region="eu-west-1")
    assert failed_ids(invoke(writer, {"Records": [other]})) == {other["messageId"]}
    assert writer.table.get(JOB, attributes=None) == before
    (log,) = [r for r in caplog.records if "two accounts' events for one row" in r.getMessage()]
    assert log.levelname == "ERROR"
    assert (log.jobId, log.messageIds) == (JOB, [other["messageId"]])
    assert (log.account, log.region) == ("444455556666", "eu-west-1")
    assert (log.rowAccount, log.rowRegion) == ("111122223333", "us-east-1")
    assert emitted_metrics(capsys.readouterr().out) == {"AccountClashes": 1}


def test_an_event_without_an_account_keeps_the_rows(writer: StatusWriter) -> None:
    first = mc_record("PROGRESSING", 1_000, "e-1", account="444455556666", region="eu-west-1")
    later = mc_record("COMPLETE", 2_000, "e-2")
    event = json.loads(later["body"])
    del event["account"], event["region"]
    later["body"] = json.dumps(event)
    assert failed_ids(invoke(writer, {"Records": [first]})) == set()
    assert failed_ids(invoke(writer, {"Records": [later]})) == set()
    row = writer.table.get(JOB, attributes=None)
    assert row is not None and row.status is JobStatus.SUCCESS
    assert (row.account, row.region) == ("444455556666", "eu-west-1")


def test_two_accounts_events_for_one_job_in_one_batch_are_not_folded_into_one_write(
    writer: StatusWriter, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Coalesced, the other account's notification would be superseded by the winner and lost
    unseen; its record is failed instead, and clashes with the row when SQS delivers it again."""
    first = mc_record("PROGRESSING", 1_000, "e-1", account="111122223333", region="us-east-1")
    other = mc_record("COMPLETE", 2_000, "e-2", account="444455556666", region="us-east-1")
    assert failed_ids(invoke(writer, {"Records": [first, other]})) == {other["messageId"]}
    row = writer.table.get(JOB, attributes=None)
    assert row is not None and row.state == "PROGRESSING" and row.account == "111122223333"
    assert emitted_metrics(capsys.readouterr().out) == {"Applied": 1}
    assert failed_ids(invoke(writer, {"Records": [other]})) == {other["messageId"]}
    assert emitted_metrics(capsys.readouterr().out) == {"AccountClashes": 1}
    assert [r for r in caplog.records if "two accounts' events for one row" in r.getMessage()]


def test_another_accounts_event_batched_with_one_that_says_no_place_still_clashes(
    writer: StatusWriter, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Coalesced, the winner was the event that says no place (an account or Region dropped as
    malformed, an older forwarder): the state write's condition did not see the other account, whose
    event was then superseded unseen. The batch's place for the job goes with its winner."""
    owner = mc_record("PROGRESSING", 1_000, "e-1", account="111122223333", region="us-east-1")
    assert failed_ids(invoke(writer, {"Records": [owner]})) == set()
    other = mc_record("STATUS_UPDATE", 2_000, "e-2", account="444455556666", region="eu-west-1")
    bare = mc_record("COMPLETE", 3_000, "e-3")
    event = json.loads(bare["body"])
    del event["account"], event["region"]
    bare["body"] = json.dumps(event)
    capsys.readouterr()
    assert other["messageId"] in failed_ids(invoke(writer, {"Records": [other, bare]}))
    assert emitted_metrics(capsys.readouterr().out).get("AccountClashes", 0) >= 1
    row = writer.table.get(JOB, attributes=None)
    assert row is not None and (row.state, row.account) == ("PROGRESSING", "111122223333")
