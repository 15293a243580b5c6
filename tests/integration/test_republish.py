"""``transcoder-status events republish`` and ``dlq show --events``, in process, against the emulator."""

from __future__ import annotations

import json
import signal
import uuid

import boto3
import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.integration.conftest import Notify
from tests.integration.test_dead_letters import counts
from tests.integration.test_finished_events import VALIDATOR
from transcoder_status import cli
from transcoder_status.cli import EXIT_FAILED, app
from transcoder_status.cli.signals import Interrupted
from transcoder_status.finished_event import finished_detail
from transcoder_status.handler import StatusWriter
from transcoder_status.local.consumer import drain_queue, subscribe_queue

runner = CliRunner()


@pytest.fixture
def bus(writer: StatusWriter, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A bus with a consumer's queue; TABLE_NAME and EVENT_BUS_NAME set as the docs say."""
    name = f"jobs-{uuid.uuid4().hex[:8]}"
    boto3.client("events").create_event_bus(Name=name)
    monkeypatch.setenv("TABLE_NAME", writer.table.name)
    monkeypatch.setenv("EVENT_BUS_NAME", name)
    monkeypatch.setattr(cli.output, "console", Console(width=200))
    return name, subscribe_queue(name, f"{name}-consumer")


def test_republish_puts_each_finished_jobs_event_again_from_its_row(
    writer: StatusWriter, bus: tuple[str, str], notify: Notify
) -> None:
    _, consumer = bus
    notify("2000000000000-done", "COMPLETED")
    notify("2000000000000-fail", "ERROR")
    notify("2000000000000-runs", "PROGRESSING")
    result = runner.invoke(
        app,
        ["events", "republish", *[f"--job=2000000000000-{job}" for job in ("done", "fail", "runs", "none")]],
    )
    assert result.exit_code == EXIT_FAILED, result.output
    assert "2 event(s) put" in result.output and "2 not" in result.output
    assert "2000000000000-runs: job 2000000000000-runs is not finished" in result.output
    assert "2000000000000-none: no row" in result.output
    events = {event["detail"]["jobId"]: event for event in drain_queue(consumer)}
    assert set(events) == {"2000000000000-done", "2000000000000-fail"}
    for job_id, event in events.items():
        row = writer.table.get(job_id, attributes=None)
        assert row is not None and event["detail"] == finished_detail(row)  # what the publisher puts
        VALIDATOR.validate(event["detail"])


def test_republish_since_puts_every_job_finished_in_that_time(bus: tuple[str, str], notify: Notify) -> None:
    _, consumer = bus
    for job in ("2000000000001-a", "2000000000002-b"):
        notify(job, "COMPLETED")
    notify("2000000000003-c", "PROGRESSING")
    result = runner.invoke(app, ["events", "republish", "--since", "1h"])
    assert result.exit_code == 0, result.output
    assert sorted(e["detail"]["jobId"] for e in drain_queue(consumer)) == ["2000000000001-a", "2000000000002-b"]


@pytest.mark.parametrize("arguments", [[], ["--job", "x", "--since", "1h"], ["--since", "soon"]])
def test_republish_wants_jobs_or_a_time(bus: tuple[str, str], arguments: list[str]) -> None:
    result = runner.invoke(app, ["events", "republish", *arguments])
    assert result.exit_code == 2, result.output  # a usage error


def test_dlq_show_events_explains_the_publishers_failed_batches_and_keeps_them(
    emulator: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.output, "console", Console(width=400))
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"failed-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    record = {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
        "DDBStreamBatchInfo": {
            "shardId": "shardId-1",
            "startSequenceNumber": "100",
            "endSequenceNumber": "105",
            "approximateArrivalOfFirstRecord": "2025-08-12T12:00:00.000Z",
            "batchSize": 6,
        },
    }
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
    sqs.send_message(QueueUrl=url, MessageBody="something else")
    for _ in range(2):  # the messages stay for the next look
        result = runner.invoke(app, ["dlq", "show", "--events", "--events-url", url])
        assert result.exit_code == 0, result.output
        assert "gave up (RetryAttemptsExhausted) on 6 stream record(s) 100..105 of shard shardId-1" in result.output
        assert "not Lambda's invocation record" in result.output
        assert "2 stream batch(es)" in result.output


def failed_batches_queue() -> str:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"failed-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for body in ("first", "second"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    return url


def test_dlq_show_events_stopped_by_sigterm_leaves_nothing_hidden(
    emulator: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dlq show` keeps what it read visible when stopped (issue 19); its --events path (issue 17)
    left the publisher's failed batches hidden for 30 s and exited 1 ("Aborted!")."""
    url = failed_batches_queue()

    def stopped(body: str) -> str:
        raise Interrupted(signal.SIGTERM)  # as the messages, all received, are shown

    monkeypatch.setattr(cli.events, "failed_batch_reason", stopped)
    result = runner.invoke(app, ["dlq", "show", "--events", "--events-url", url])
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert counts(url) == (2, 0)  # visible again at once


def test_dlq_show_events_json(emulator: object) -> None:
    """--json is for scripts on every path of `dlq show`: --events printed text lines."""
    url = failed_batches_queue()
    result = runner.invoke(app, ["dlq", "show", "--events", "--events-url", url, "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    reasons = [message["reason"] for message in shown["messages"]]
    assert reasons == ["not Lambda's invocation record of a stream batch: not the publisher's"] * 2
    assert all(message["messageId"] for message in shown["messages"])
