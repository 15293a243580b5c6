"""`transcoder-status dlq show` and `dlq redrive` against a stack in the emulator, the real handler
putting the messages in the DLQ (MaxReceiveCount 1) and applying them once redriven."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import boto3
import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.conftest import SNS_SUBSCRIPTION_CONFIRMATION
from tests.integration.conftest import failed_ids, invoke
from transcoder_status import cli
from transcoder_status.cli import EXIT_UNREADABLE, app
from transcoder_status.cli.signals import Interrupted
from transcoder_status.dead_letters import (
    CLASH,
    FAILED_BATCH,
    FINISHED_EVENTS_FAILED,
    FIRST_SENT_ATTRIBUTE,
    MALFORMED,
    PARSER_FAILED,
    SNS_CONTROL,
    WRITE_FAILED,
    DeadLetterQueue,
    DeadLetterQueueError,
    explain,
)
from transcoder_status.handler import StatusWriter
from transcoder_status.local.emulator import Emulator
from transcoder_status.local.messages import elastic_transcoder_message, mediaconvert_event, sns_envelope, sqs_record
from transcoder_status.local.provision import Stack, provision
from transcoder_status.status import JobStatus
from transcoder_status.table import StatusTable

runner = CliRunner()
DAY_MS = 86_400_000


@pytest.fixture
def stack(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """A stack whose queue gives up on a message after one failed delivery; DLQ_URL set as an operator would."""
    built = provision(stack_name=f"ts-dlq-{uuid.uuid4().hex[:8]}", parameters={"MaxReceiveCount": 1})
    monkeypatch.setenv("DLQ_URL", built.outputs["DeadLetterQueueUrl"])
    monkeypatch.setattr(cli.output, "console", Console(width=250))
    return built


def drain(queue_url: str, writer: StatusWriter) -> None:
    """Lambda's SQS trigger in this process: batches to the real handler until the queue is empty.
    Failed records are visible again at once; with MaxReceiveCount 1 the next receive moves them."""
    sqs = boto3.client("sqs")
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return
        records = [
            sqs_record(
                m["Body"],
                sent_ms=int(m["Attributes"]["SentTimestamp"]),
                message_id=m["MessageId"],
                receipt_handle=m["ReceiptHandle"],
                receive_count=int(m["Attributes"]["ApproximateReceiveCount"]),
            )
            for m in messages
        ]
        failed = failed_ids(invoke(writer, {"Records": records}))
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def counts(url: str) -> tuple[int, int]:
    """Visible and in-flight messages of a queue."""
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def show(*options: str) -> dict[str, dict[str, Any]]:
    result = runner.invoke(app, ["dlq", "show", "--json", *options])
    assert result.exit_code == 0, result.output
    look = json.loads(result.stdout)
    assert look["complete"] and (look["more"], look["inFlight"]) == (0, 0)
    return {letter["messageId"]: letter for letter in look["messages"]}


def test_dlq_show_says_why_without_taking_and_redrive_brings_back_what_parses(stack: Stack) -> None:
    queue, dlq = stack.outputs["NotificationQueueUrl"], stack.outputs["DeadLetterQueueUrl"]
    now_ms = int(time.time() * 1000)
    bodies = {
        "malformed": "{ this is not a transcoder notification",
        "unknown": json.dumps({"detail-type": "EC2 Instance State-change Notification", "detail": {}}),
        "control": json.dumps(SNS_SUBSCRIPTION_CONFIRMATION),
        "elastic": json.dumps(sns_envelope(elastic_transcoder_message("6000000000000-etjob1", "COMPLETED"), now_ms)),
        "mediaconvert": json.dumps(mediaconvert_event("6000000000000-mcjob1", "ERROR", now_ms)),
    }
    sqs = boto3.client("sqs")
    sent = {kind: sqs.send_message(QueueUrl=queue, MessageBody=body)["MessageId"] for kind, body in bodies.items()}
    # A write outage: the function's table is not there, so every notification that parses fails too.
    drain(queue, StatusWriter(StatusTable(f"{stack.name}-missing", boto3.client("dynamodb"))))
    assert counts(queue) == (0, 0) and counts(dlq) == (5, 0)

    letters = show()
    assert set(letters) == set(sent.values())
    why = {kind: letters[message_id] for kind, message_id in sent.items()}
    assert (why["malformed"]["kind"], why["unknown"]["kind"]) == (MALFORMED, MALFORMED)
    assert why["malformed"]["reason"].startswith("the message body is not JSON")
    assert why["unknown"]["reason"].startswith("not a known transcoder notification")
    assert why["control"]["kind"] == SNS_CONTROL
    assert SNS_SUBSCRIPTION_CONFIRMATION["SubscribeURL"] in why["control"]["reason"]
    for kind, job in (("elastic", "6000000000000-etjob1"), ("mediaconvert", "6000000000000-mcjob1")):
        assert why[kind]["kind"] == WRITE_FAILED and why[kind]["jobId"] == job
        assert (
            why[kind]["reason"].startswith("parses now") and "failed on writing; safe to redrive" in why[kind]["reason"]
        )
    for kind, letter in why.items():
        assert letter["body"] == bodies[kind] and letter["receiveCount"] >= 1 and letter["redrive"]
        assert letter["firstSent"].startswith(time.strftime("%Y-%m-%d", time.gmtime(now_ms / 1000)))
    # Nothing was taken: every message is visible again at once, and a second look sees them all.
    assert counts(dlq) == (5, 0)
    assert set(show()) == set(sent.values())
    bounded = runner.invoke(app, ["dlq", "show", "--json", "--max", "2"])
    assert bounded.exit_code == 1  # not everything was shown
    assert (len(json.loads(bounded.stdout)["messages"]), json.loads(bounded.stdout)["more"]) == (2, 3)
    assert counts(dlq) == (5, 0)
    bounded_table = runner.invoke(app, ["dlq", "show", "--max", "2"])
    assert "2 message(s), not all" in bounded_table.stdout and "3 more not read" in bounded_table.stderr
    table = runner.invoke(app, ["dlq", "show"])
    assert table.exit_code == 0, table.output
    assert "5 message(s), all still there" in table.stdout and "safe to redrive" in table.stdout
    assert 'SNS: { "state" : "COMPLETED"' in table.stdout  # an envelope shows the notification it carries
    assert counts(dlq) == (5, 0)

    # The outage is over: redrive, and the function applies what parses; the rest stays, listed, exit 1.
    moved = runner.invoke(app, ["dlq", "redrive"])
    assert moved.exit_code == 1, moved.output
    assert f"Moved 2 message(s) to {queue}" in moved.stdout
    assert "some messages stay: the others moved by receive, send, delete" in moved.stderr
    for kind in ("malformed", "unknown", "control"):
        assert f"stayed in the queue: {sent[kind]}" in moved.stderr
    assert counts(dlq) == (3, 0) and counts(queue) == (2, 0)
    table_writer = StatusWriter(StatusTable(stack.outputs["TableName"], boto3.client("dynamodb")))
    drain(queue, table_writer)
    elastic, mediaconvert = (table_writer.table.get(job) for job in ("6000000000000-etjob1", "6000000000000-mcjob1"))
    assert elastic is not None and elastic.status is JobStatus.SUCCESS
    assert mediaconvert is not None and mediaconvert.status is JobStatus.ERROR

    # What does not parse is back, for the same reasons, and still shows when it was first sent.
    back = show()
    assert {letter["kind"] for letter in back.values()} == {MALFORMED, SNS_CONTROL}
    assert sorted(letter["body"] for letter in back.values()) == sorted(
        bodies[kind] for kind in ("malformed", "unknown", "control")
    )
    for letter in back.values():
        original = next(kind for kind, body in bodies.items() if body == letter["body"])
        assert letter["firstSent"] == why[original]["firstSent"]


def test_redrive_leaves_what_could_bring_an_expired_job_back(stack: Stack) -> None:
    """A row expires RetentionDays after its last update; a redriven message is new to SQS again."""
    dlq = stack.outputs["DeadLetterQueueUrl"]
    sqs = boto3.client("sqs")
    now_ms = int(time.time() * 1000)
    old_event = json.dumps(
        sns_envelope(elastic_transcoder_message("6100000000000-oldjob", "PROGRESSING"), now_ms - 40 * DAY_MS)
    )
    young_event = json.dumps(mediaconvert_event("6100000000000-newjob", "COMPLETE", now_ms - DAY_MS))
    old_id = sqs.send_message(QueueUrl=dlq, MessageBody=old_event)["MessageId"]
    young_id = sqs.send_message(QueueUrl=dlq, MessageBody=young_event)["MessageId"]
    # Redriven before and failed again: its first time is kept in an attribute.
    twice_id = sqs.send_message(
        QueueUrl=dlq,
        MessageBody="not json, first sent 29.5 days ago",
        MessageAttributes={FIRST_SENT_ATTRIBUTE: {"DataType": "Number", "StringValue": str(now_ms - 59 * DAY_MS // 2)}},
    )["MessageId"]

    letters = show()
    assert not letters[old_id]["redrive"] and "too old to redrive" in letters[old_id]["reason"]
    assert not letters[twice_id]["redrive"]
    assert letters[young_id]["redrive"]
    # With a longer retention, the 29.5-day-old one may go back (the margin is a day).
    assert show("--retention-days", "35")[twice_id]["redrive"] is True

    moved = runner.invoke(app, ["dlq", "redrive"])
    assert moved.exit_code == 1, moved.output  # some stayed
    assert "Moved 1 message(s)" in moved.stdout
    assert "too old to redrive" in moved.stderr and old_id in moved.stderr and twice_id in moved.stderr
    assert set(show()) == {old_id, twice_id}  # left in the DLQ, visible
    (redriven,) = boto3.client("sqs").receive_message(
        QueueUrl=stack.outputs["NotificationQueueUrl"], MessageAttributeNames=["All"]
    )["Messages"]
    assert redriven["Body"] == young_event and FIRST_SENT_ATTRIBUTE in redriven["MessageAttributes"]


def test_bounded_redrive_and_the_errors_an_operator_meets(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    dlq = stack.outputs["DeadLetterQueueUrl"]
    sqs = boto3.client("sqs")
    for index in range(3):
        sqs.send_message(QueueUrl=dlq, MessageBody=f"bad {index}")
    moved = runner.invoke(app, ["dlq", "redrive", "--max", "2", "--all"])
    assert moved.exit_code == 0, moved.output
    assert "Moved 2 message(s)" in moved.stdout and "bounded redrive" in moved.stderr
    assert counts(dlq) == (1, 0) and counts(stack.outputs["NotificationQueueUrl"]) == (2, 0)

    missing = runner.invoke(app, ["dlq", "show", "--dlq-url", f"{dlq}-gone"])
    assert missing.exit_code == EXIT_UNREADABLE and "does not exist" in missing.output
    # The source queue is not the DLQ of any queue: forced, there is nowhere to redrive it to without --to.
    nowhere = runner.invoke(app, ["dlq", "redrive", "--force", "--dlq-url", stack.outputs["NotificationQueueUrl"]])
    assert nowhere.exit_code == EXIT_UNREADABLE and "pass --to" in nowhere.output
    monkeypatch.delenv("DLQ_URL")
    unset = runner.invoke(app, ["dlq", "show"])
    assert unset.exit_code == EXIT_UNREADABLE and "DLQ_URL" in unset.output


def test_a_parser_bug_is_named_as_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from transcoder_status import dead_letters

    def broken(body: str, delivery: Any) -> Any:
        raise TypeError("unhashable type: 'dict'")

    monkeypatch.setattr(dead_letters, "parse_body", broken)
    letter = explain({"MessageId": "m-1", "Body": "{}", "Attributes": {"SentTimestamp": "1755000000000"}})
    assert letter.kind == PARSER_FAILED and "a bug" in letter.reason


def test_peek_restores_visibility_when_it_fails_half_way(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    dlq_url = stack.outputs["DeadLetterQueueUrl"]
    sqs = boto3.client("sqs")
    for index in range(12):
        sqs.send_message(QueueUrl=dlq_url, MessageBody=f"bad {index}")
    queue = DeadLetterQueue.connect(dlq_url)
    calls = 0
    receive = queue.client.receive_message

    def failing_second_receive(**request: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionResetError("the network went away")
        return receive(**request)

    monkeypatch.setattr(queue.client, "receive_message", failing_second_receive)
    with pytest.raises(ConnectionResetError):
        queue.look()
    assert counts(dlq_url) == (12, 0)


def test_the_undelivered_queue_is_explained_and_delivered_to_the_notification_queue(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: what SNS or EventBridge could not deliver waits in the undelivered queue; `dlq show
    --undelivered` says so, and `dlq redrive --undelivered` delivers it to the notification queue."""
    queue, undelivered = stack.outputs["NotificationQueueUrl"], stack.outputs["UndeliveredQueueUrl"]
    monkeypatch.setenv("UNDELIVERED_URL", undelivered)
    sqs = boto3.client("sqs")
    now_ms = int(time.time() * 1000)
    # What EventBridge puts in a target's DLQ: the event, and the error as message attributes.
    event_id = sqs.send_message(
        QueueUrl=undelivered,
        MessageBody=json.dumps(mediaconvert_event("6100000000000-mclost", "COMPLETE", now_ms)),
        MessageAttributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": "SDK_CLIENT_ERROR"},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": "Access to the queue was denied (KMS)"},
        },
    )["MessageId"]
    # What SNS puts in a subscription's DLQ: the envelope it could not deliver.
    envelope = sns_envelope(elastic_transcoder_message("6100000000000-etlost", "COMPLETED"), now_ms)
    sns_id = sqs.send_message(QueueUrl=undelivered, MessageBody=json.dumps(envelope))["MessageId"]

    letters = show("--undelivered")
    assert {letter["kind"] for letter in letters.values()} == {"undelivered"}
    assert letters[event_id]["reason"].startswith(
        "never reached the notification queue (EventBridge: SDK_CLIENT_ERROR: Access to the queue was denied (KMS))"
    )
    assert "safe to redrive" in letters[sns_id]["reason"]
    assert counts(undelivered) == (2, 0)  # looking took nothing

    refused = runner.invoke(app, ["dlq", "redrive", "--undelivered"])
    assert refused.exit_code == EXIT_UNREADABLE and "NotificationQueueUrl" in refused.output
    moved = runner.invoke(app, ["dlq", "redrive", "--undelivered", "--to", queue])
    assert moved.exit_code == 0, moved.output
    assert "Moved 2 message(s)" in moved.output
    assert counts(undelivered) == (0, 0)
    writer = StatusWriter(StatusTable(stack.outputs["TableName"], boto3.client("dynamodb")))
    drain(queue, writer)
    for job, status in (("6100000000000-mclost", JobStatus.SUCCESS), ("6100000000000-etlost", JobStatus.SUCCESS)):
        row = writer.table.get(job)
        assert row is not None and row.status is status


def fill(url: str, bodies: list[str]) -> None:
    sqs = boto3.client("sqs")
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")


def applicable(count: int, prefix: str = "6200000000000-job") -> list[str]:
    now_ms = int(time.time() * 1000)
    return [json.dumps(mediaconvert_event(f"{prefix}{index:03d}", "COMPLETE", now_ms)) for index in range(count)]


@pytest.mark.parametrize(
    ("output", "options"), [("DeadLetterQueueUrl", []), ("FinishedEventsFailedQueueUrl", ["--events", "--events-url"])]
)
def test_a_look_stopped_by_sigterm_leaves_nothing_hidden(stack: Stack, output: str, options: list[str]) -> None:
    """Issue 19: a `dlq show` killed by SIGTERM left every message it had read hidden for 300 s. The
    publisher's on-failure queue (`--events`) is looked at the same way (it hid them for 30 s)."""
    dlq = stack.outputs[output]
    fill(dlq, [f"bad {index}" for index in range(2_000)])
    look = subprocess.Popen(
        [sys.executable, "-m", "transcoder_status.cli", "dlq", "show", "--json", *options, *([dlq] if options else [])],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while counts(dlq)[1] == 0 and look.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # until the look has hidden its first page
        look.send_signal(signal.SIGTERM)
        assert look.wait(timeout=60) == 128 + signal.SIGTERM, look.stderr.read() if look.stderr else ""
    finally:
        look.kill()
        look.wait()
    assert counts(dlq) == (2_000, 0)  # visible again at once, not in 5 minutes
    assert len(show(*options, *([dlq] if options else []))) == 2_000


def test_two_looks_at_once_each_say_what_they_did_not_show(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19: two operators looking at once each saw part of the queue, titled "all still there"."""
    dlq = stack.outputs["DeadLetterQueueUrl"]
    fill(dlq, [f"bad {index}" for index in range(30)])
    first, second = DeadLetterQueue.connect(dlq), DeadLetterQueue.connect(dlq)
    receive = first.client.receive_message
    looks: list[Any] = []

    def receive_then_let_the_other_look(**request: Any) -> Any:
        page = receive(**request)
        if not looks:
            looks.append(second.look())  # the second operator looks while the first holds a page
        return page

    monkeypatch.setattr(first.client, "receive_message", receive_then_let_the_other_look)
    whole = first.look()
    (part,) = looks
    assert (len(part.letters), part.in_flight, part.complete) == (20, 10, False)
    assert (len(whole.letters), whole.complete) == (30, True)
    assert counts(dlq) == (30, 0)


def test_a_live_queue_is_refused_unless_forced(stack: Stack) -> None:
    """Issue 19: looking at the notification queue raised receive counts until messages moved to the DLQ."""
    queue = stack.outputs["NotificationQueueUrl"]
    fill(queue, ["a notification the function has not processed yet"])
    refused = runner.invoke(app, ["dlq", "show", "--dlq-url", queue])
    assert refused.exit_code == EXIT_UNREADABLE
    assert "has a dead-letter queue of its own, so it is a live queue" in refused.stderr
    assert "raises each message's receive count" in refused.stderr and "--force" in refused.stderr
    lone = boto3.client("sqs").create_queue(QueueName=f"{stack.name}-lone")["QueueUrl"]
    nobodys = runner.invoke(app, ["dlq", "redrive", "--dlq-url", lone, "--to", queue])
    assert nobodys.exit_code == EXIT_UNREADABLE and f"No queue uses {lone}" in nobodys.stderr
    (message,) = boto3.client("sqs").receive_message(QueueUrl=queue, MessageSystemAttributeNames=["All"])["Messages"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"  # only this receive: the refusal read nothing
    forced = runner.invoke(app, ["dlq", "show", "--json", "--force", "--dlq-url", queue])
    assert forced.exit_code == 1  # the message this test holds is in flight: not all shown
    assert json.loads(forced.stdout)["inFlight"] == 1


def test_the_publishers_on_failure_queue_is_looked_at_as_a_dead_letter_queue(stack: Stack) -> None:
    """`dlq show --events` refuses a live queue, says what it did not show, and nothing redrives its
    messages (Lambda's descriptions of stream batches, not notifications)."""
    queue, failed = stack.outputs["NotificationQueueUrl"], stack.outputs["FinishedEventsFailedQueueUrl"]
    fill(queue, ["a notification the function has not processed yet"])
    refused = runner.invoke(app, ["dlq", "show", "--events", "--events-url", queue])
    assert refused.exit_code == EXIT_UNREADABLE, refused.output
    assert "has a dead-letter queue of its own, so it is a live queue" in refused.stderr
    record = {"requestContext": {"condition": "RetryAttemptsExhausted"}, "DDBStreamBatchInfo": {"batchSize": 2}}
    fill(failed, [json.dumps(record)])
    held = boto3.client("sqs").receive_message(QueueUrl=failed, VisibilityTimeout=60)["Messages"]
    fill(failed, [json.dumps(record)])
    partial = runner.invoke(app, ["dlq", "show", "--json", "--events", "--events-url", failed])
    assert partial.exit_code == 1, partial.output  # the message this test holds is in flight: not all shown
    look = json.loads(partial.stdout)
    assert (len(look["messages"]), look["inFlight"]) == (1, 1)
    assert look["messages"][0]["kind"] == FAILED_BATCH
    assert "gave up (RetryAttemptsExhausted) on 2 stream record(s)" in look["messages"][0]["reason"]
    boto3.client("sqs").change_message_visibility(
        QueueUrl=failed, ReceiptHandle=held[0]["ReceiptHandle"], VisibilityTimeout=0
    )
    with pytest.raises(DeadLetterQueueError, match="events republish"):
        DeadLetterQueue.connect(failed, kind=FINISHED_EVENTS_FAILED).redrive(destination=queue, everything=True)
    assert counts(failed) == (2, 0) and counts(queue) == (1, 0)


def test_a_wrong_destination_is_named_and_nothing_stays_hidden(stack: Stack) -> None:
    dlq, queue = stack.outputs["DeadLetterQueueUrl"], stack.outputs["NotificationQueueUrl"]
    fill(dlq, [*applicable(12), "not json"])
    wrong = runner.invoke(app, ["dlq", "redrive", "--to", f"{queue}-typo"])
    assert wrong.exit_code == EXIT_UNREADABLE
    assert f"Queue {queue}-typo does not exist: check --to" in wrong.stderr
    assert counts(dlq) == (13, 0)


def test_an_interrupted_redrive_says_what_moved_and_duplicates_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: interrupted, a redrive said nothing of what it moved, and a SIGTERM between send
    and delete duplicated a batch."""
    dlq, queue = stack.outputs["DeadLetterQueueUrl"], stack.outputs["NotificationQueueUrl"]
    fill(dlq, applicable(25))
    finish = DeadLetterQueue._finish_move
    calls = 0

    def stopped_between_send_and_delete(self: DeadLetterQueue, *args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second batch was sent, not yet deleted
            raise Interrupted(signal.SIGTERM)
        finish(self, *args)

    monkeypatch.setattr(DeadLetterQueue, "_finish_move", stopped_between_send_and_delete)
    result = runner.invoke(app, ["dlq", "redrive", "--json"])
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    report = json.loads(result.stdout)
    assert (report["moved"], report["interrupted"], report["possiblyDuplicated"]) == (20, True, [])
    assert counts(queue) == (20, 0) and counts(dlq) == (5, 0)  # each message once, the rest visible


def test_a_redrive_that_could_not_delete_reports_possible_duplicates(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    dlq = stack.outputs["DeadLetterQueueUrl"]
    fill(dlq, applicable(3))
    queue = DeadLetterQueue.connect(dlq)

    def refused(**request: Any) -> Any:
        return {
            "Successful": [],
            "Failed": [{"Id": e["Id"], "Code": "ReceiptHandleIsInvalid"} for e in request["Entries"]],
        }

    monkeypatch.setattr(queue.client, "delete_message_batch", refused)
    result = queue.redrive()
    assert (result.moved, len(result.possibly_duplicated), result.complete) == (0, 3, False)


def test_a_clash_the_row_shows_stays_in_the_dlq_and_a_write_outage_goes_back(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two accounts' events for one row (docs/multi-account.md): the other account's event parses,
    as a write outage's does, but a redrive could only bring it back after MaxReceiveCount more
    deliveries. The table's row tells them apart; without the table the reason says how to."""
    queue, dlq = stack.outputs["NotificationQueueUrl"], stack.outputs["DeadLetterQueueUrl"]
    writer = StatusWriter(StatusTable(stack.outputs["TableName"], boto3.client("dynamodb")))
    now_ms = int(time.time() * 1000)
    job = "6300000000000-clash1"
    first = mediaconvert_event(job, "PROGRESSING", now_ms, account="111122223333", region="us-east-1")
    other = json.dumps(mediaconvert_event(job, "COMPLETE", now_ms + 1, account="444455556666", region="eu-west-1"))
    outage = json.dumps(mediaconvert_event("6300000000000-outage", "COMPLETE", now_ms, account="444455556666"))
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(first))
    drain(queue, writer)
    clash_id = sqs.send_message(QueueUrl=queue, MessageBody=other)["MessageId"]
    drain(queue, writer)  # refused as a clash: MaxReceiveCount 1 takes it to the DLQ
    outage_id = sqs.send_message(QueueUrl=dlq, MessageBody=outage)["MessageId"]
    assert counts(dlq) == (2, 0)

    monkeypatch.delenv("TABLE_NAME", raising=False)
    unread = show()
    assert unread[clash_id]["kind"] == WRITE_FAILED and "unless the function logged" in unread[clash_id]["reason"]
    letters = show("--table", writer.table.name)
    assert (letters[clash_id]["kind"], letters[outage_id]["kind"]) == (CLASH, WRITE_FAILED)
    assert "111122223333 in us-east-1" in letters[clash_id]["reason"]
    moved = runner.invoke(app, ["dlq", "redrive", "--table", writer.table.name])
    assert moved.exit_code == 1, moved.output  # the clash stayed
    assert "Moved 1 message(s)" in moved.stdout and f"stayed in the queue: {clash_id}" in moved.stderr
    assert set(show()) == {clash_id} and counts(queue) == (1, 0)
    row = writer.table.get(job, attributes=None)
    assert row is not None and (row.account, row.state) == ("111122223333", "PROGRESSING")
