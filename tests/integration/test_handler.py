"""The real handler against DynamoDB in moto's server mode, over HTTP."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import load_event
from tests.integration.conftest import failed_ids, invoke
from transcoder_status import handler
from transcoder_status.local.messages import elastic_transcoder_message, sns_envelope, sqs_record
from transcoder_status.status import JobStatus
from transcoder_status.table import StatusTable

JOB = "1502631977930-rabioh"
OTHER = "1432217012218-qpa0jk"


def records(*names: str) -> dict[str, Any]:
    return {"Records": [record for name in names for record in load_event(name)["Records"]]}


def et_record(job_id: str, state: str, at_ms: int, sns_id: str | None = None) -> dict[str, Any]:
    envelope = sns_envelope(elastic_transcoder_message(job_id, state), at_ms, sns_id)
    return sqs_record(json.dumps(envelope), sent_ms=at_ms + 5)


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


def test_progressing_then_completed(handler_table: StatusTable) -> None:
    assert invoke(records("elastic-transcoder-progressing")) == {"batchItemFailures": []}
    row = handler_table.get(JOB, attributes=None)
    assert row is not None
    assert (row.status, row.finished, row.state) == (JobStatus.RUNNING, False, "PROGRESSING")
    invoke(records("elastic-transcoder-completed"))
    row = handler_table.get(JOB, attributes=None)
    assert row is not None
    assert (row.status, row.finished, row.state) == (JobStatus.SUCCESS, True, "COMPLETED")
    assert row.outputs[0].duration_ms == 6000
    assert row.notified_at == "2025-08-12T12:00:06.000Z"
    assert row.pipeline_id == "1502609200466-80khou"
    assert row.source == "elastic-transcoder"


def test_error_row_keeps_code_and_message(handler_table: StatusTable) -> None:
    invoke(records("elastic-transcoder-error"))
    row = handler_table.get(OTHER, attributes=None)
    assert row is not None
    assert (row.status, row.finished, row.error_code) == (JobStatus.ERROR, True, "3001")
    assert row.error_message and "does not exist" in row.error_message


def test_warning_is_kept_after_completion(handler_table: StatusTable) -> None:
    invoke(records("elastic-transcoder-progressing", "elastic-transcoder-warning"))
    invoke(records("elastic-transcoder-completed"))
    row = handler_table.get(JOB, attributes=None)
    assert row is not None
    assert row.status is JobStatus.SUCCESS
    assert row.warnings == ("output 1: The input audio is mono; the output was upmixed to stereo.",)


def test_out_of_order_delivery_never_reopens_a_finished_job(handler_table: StatusTable, capsys: Any) -> None:
    invoke(records("elastic-transcoder-completed"))
    capsys.readouterr()
    assert invoke(records("elastic-transcoder-progressing", "elastic-transcoder-warning")) == {"batchItemFailures": []}
    row = handler_table.get(JOB, attributes=None)
    assert row is not None
    assert (row.status, row.state) == (JobStatus.SUCCESS, "COMPLETED")
    # The late warning is still recorded: warnings merge whatever their order.
    assert len(row.warnings) == 1
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.get("StaleOrDuplicate") == 2
    assert "Applied" not in metrics


def test_duplicate_delivery_changes_nothing(handler_table: StatusTable, capsys: Any) -> None:
    invoke(records("elastic-transcoder-completed"))
    first = handler_table.get(JOB, attributes=None)
    capsys.readouterr()
    invoke(records("elastic-transcoder-completed", "elastic-transcoder-raw-delivery"))
    assert handler_table.get(JOB, attributes=None) == first
    assert emitted_metrics(capsys.readouterr().out) == {"StaleOrDuplicate": 2}


def test_older_running_notification_never_replaces_a_newer_one(handler_table: StatusTable) -> None:
    invoke({"Records": [et_record(JOB, "WARNING", 2_000)]})
    invoke({"Records": [et_record(JOB, "PROGRESSING", 1_000)]})
    row = handler_table.get(JOB, attributes=None)
    assert row is not None
    assert row.state == "WARNING"


def test_batch_with_malformed_record_fails_only_that_record(
    handler_table: StatusTable, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    event = records("batch-mixed-with-malformed")
    malformed = [r["messageId"] for r in event["Records"] if not r["body"].startswith('{"Type"')]
    response = invoke(event)
    assert failed_ids(response) == set(malformed)
    assert len(malformed) == 1
    job, other = handler_table.get(JOB), handler_table.get(OTHER)
    assert job is not None and job.status is JobStatus.SUCCESS
    assert other is not None and other.status is JobStatus.ERROR
    log = next(r for r in caplog.records if "malformed notification" in r.getMessage())
    assert log.messageId == malformed[0]
    assert "not JSON" in log.reason
    assert log.body == '{"state" : "COMPLETED", "jobId" : '
    metrics = emitted_metrics(capsys.readouterr().out)
    assert (metrics["Malformed"], metrics["Applied"], metrics["JobsSucceeded"], metrics["JobsFailed"]) == (
        1,
        2,
        1,
        1,
    )
    # Three of the four good records were folded into the two winning writes.
    assert metrics["StaleOrDuplicate"] == 2


def test_batch_of_only_bad_records_reports_all_and_does_not_raise(handler_table: StatusTable) -> None:
    bad = [sqs_record(body, sent_ms=1) for body in ("nope", "[]", '{"jobId": "x", "state": "BOGUS"}')]
    response = invoke({"Records": bad})
    assert failed_ids(response) == {r["messageId"] for r in bad}


def test_bad_body_log_is_bounded(handler_table: StatusTable, caplog: pytest.LogCaptureFixture) -> None:
    invoke({"Records": [sqs_record("x" * 100_000, sent_ms=1)]})
    log = next(r for r in caplog.records if "malformed" in r.getMessage())
    assert len(log.body) == handler.BODY_EXCERPT


def test_other_pipelines_are_skipped(handler_table: StatusTable, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setattr(handler, "accepted_pipelines", frozenset({"1111111111111-aaaaaa"}))
    response = invoke(records("elastic-transcoder-completed"))
    assert response == {"batchItemFailures": []}  # skipped is handled: the message is deleted
    assert handler_table.get(JOB) is None
    assert emitted_metrics(capsys.readouterr().out) == {"Skipped": 1}


def test_same_job_in_one_batch_is_one_write(handler_table: StatusTable, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = handler_table.client.update_item

    def counting(**kwargs: Any) -> Any:
        calls.append(kwargs["Key"]["jobId"]["S"])
        return original(**kwargs)

    monkeypatch.setattr(handler_table.client, "update_item", counting)
    event = {
        "Records": [et_record(JOB, state, at) for state, at in (("PROGRESSING", 1), ("WARNING", 2), ("COMPLETED", 3))]
    }
    event["Records"].append(et_record(OTHER, "PROGRESSING", 1))
    invoke(event)
    assert sorted(calls) == sorted([JOB, OTHER])
    row = handler_table.get(JOB, attributes=None)
    assert row is not None and row.status is JobStatus.SUCCESS and len(row.warnings) == 1


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_missing_table_name_fails_the_whole_batch_loudly(
    monkeypatch: pytest.MonkeyPatch, handler_table: StatusTable
) -> None:
    monkeypatch.setattr(handler, "status_table", StatusTable("", handler_table.client))
    with pytest.raises(RuntimeError, match="TABLE_NAME"):
        invoke(records("elastic-transcoder-completed"))


def test_events_are_not_mutated_by_the_handler(handler_table: StatusTable) -> None:
    event = records("batch-mixed-with-malformed")
    before = copy.deepcopy(event)
    invoke(event)
    assert event == before


def test_records_missing_parts_fail_alone(handler_table: StatusTable) -> None:
    good = et_record(JOB, "COMPLETED", 1_000)
    no_body = {k: v for k, v in et_record(OTHER, "COMPLETED", 1_000).items() if k != "body"}
    odd_time = sqs_record(json.dumps(elastic_transcoder_message(OTHER, "PROGRESSING")), sent_ms=1)
    odd_time["attributes"]["SentTimestamp"] = "yesterday"
    response = invoke({"Records": [good, no_body, odd_time]})
    assert failed_ids(response) == {no_body["messageId"]}
    job, other = handler_table.get(JOB), handler_table.get(OTHER)
    assert job is not None and job.status is JobStatus.SUCCESS
    assert other is not None and other.status is JobStatus.RUNNING  # a raw delivery with no usable time still counts
