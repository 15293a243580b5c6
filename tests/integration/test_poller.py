"""The event-source poller against the emulator: Lambda's SQS trigger semantics, with invocations
running at once in execution environment processes.

The handlers under test live in ``tests.integration.functions``; they run in other processes and
report through trace files (see there). Assertions allow a duplicate delivery (SQS is at least once,
and moto's receive can hand one message to two concurrent receivers).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from bench.soak.faults import SERVER_ERROR, AwsError, Call, FailedEntries, FaultProxy
from tests.integration.functions import GATE
from tests.integration.test_local_stack import new_stack, queue_attributes, wait_until
from transcoder_status.local.emulator import Emulator
from transcoder_status.local.messages import elastic_transcoder_message, mediaconvert_event
from transcoder_status.local.poller import EventSourcePoller
from transcoder_status.local.provision import Stack
from transcoder_status.status import JobStatus
from transcoder_status.table import StatusTable

PARKED = "ApproximateNumberOfMessagesNotVisible"  # received and neither deleted nor released yet
SETTLE_S = 60  # a bound for failing tests only: cold starts are slow on a busy machine


@pytest.fixture
def stack(emulator: Emulator) -> Stack:
    return new_stack(MaxReceiveCount=3, MaximumBatchingWindowInSeconds=0)


def poller(
    stack: Stack,
    handler: str | None,
    traces: Path,
    *,
    environment: dict[str, str] | None = None,
    timeout_s: int | None = None,
    maximum_concurrency: int | None = None,
) -> EventSourcePoller:
    """A poller for the stack's trigger; ``handler`` (a function of tests.integration.functions)
    replaces the real one, ``environment`` adds to the function's, the others override the template."""
    default = stack.triggers[0]
    function = replace(
        default.function,
        handler=f"tests.integration.functions.{handler}" if handler else default.function.handler,
        environment={**default.function.environment, "TEST_TRACE_DIR": str(traces), **(environment or {})},
        timeout_s=timeout_s or default.function.timeout_s,
    )
    concurrency = maximum_concurrency or default.maximum_concurrency
    return EventSourcePoller(replace(default, function=function, maximum_concurrency=concurrency), retry_after_s=0)


def read_traces(traces: Path, kind: str) -> list[dict[str, Any]]:
    """Every invocation's trace of this kind ("start" or "end"), in the order they started."""
    return sorted((json.loads(path.read_text()) for path in traces.glob(f"*.{kind}")), key=lambda t: t["started"])


def processed(traces: Path) -> list[str]:
    """IDs of the messages of every invocation that returned, once per delivery."""
    return [message["id"] for trace in read_traces(traces, "end") for message in trace["messages"]]


def send(stack: Stack, *bodies: str) -> list[str]:
    sqs, url = boto3.client("sqs"), stack.outputs["NotificationQueueUrl"]
    return [sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"] for body in bodies]


def drained(stack: Stack) -> bool:
    attributes = queue_attributes(stack.outputs["NotificationQueueUrl"])
    return attributes["ApproximateNumberOfMessages"] == attributes[PARKED] == "0"


def assert_stats_add_up(running: EventSourcePoller, traces: Path) -> None:
    stats = running.stats
    assert stats.batches == len(read_traces(traces, "start"))
    assert stats.records == stats.deleted + stats.failed
    assert stats.deleted == len(processed(traces))  # every record of an invocation that succeeded


def test_notifications_flow_through_topic_rule_queue_and_poller(stack: Stack, tmp_path: Path) -> None:
    sns, events = boto3.client("sns"), boto3.client("events")
    et_job, mc_job = "3000000000000-aaaaaa", "3000000000000-bbbbbb"
    sns.publish(
        TopicArn=stack.outputs["NotificationTopicArn"],
        Message=json.dumps(elastic_transcoder_message(et_job, "COMPLETED")),
    )
    event = mediaconvert_event(mc_job, "COMPLETE", int(time.time() * 1000))
    events.put_events(
        Entries=[{"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}]
    )
    table = StatusTable(stack.outputs["TableName"], boto3.client("dynamodb"))

    def finished(job: str) -> bool:
        row = table.get(job)
        return row is not None and row.finished

    running = poller(stack, None, tmp_path).start()  # the real handler, in its own processes
    try:
        wait_until(lambda: finished(et_job) and finished(mc_job), SETTLE_S)
    finally:
        running.stop()
    assert table.get(et_job).status is JobStatus.SUCCESS  # type: ignore[union-attr]
    assert table.get(mc_job).status is JobStatus.SUCCESS  # type: ignore[union-attr]


def test_failed_records_reach_the_dlq_through_the_redrive_policy(stack: Stack, tmp_path: Path) -> None:
    sqs = boto3.client("sqs")
    dlq = stack.outputs["DeadLetterQueueUrl"]
    (_, bad_id) = send(stack, json.dumps(elastic_transcoder_message("3100000000000-aaaaaa", "COMPLETED")), "not JSON")
    running = poller(stack, "recording", tmp_path).start()
    try:
        wait_until(lambda: queue_attributes(dlq)["ApproximateNumberOfMessages"] == "1" and drained(stack), SETTLE_S)
    finally:
        running.stop()
    (dead,) = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])["Messages"]
    assert (dead["MessageId"], dead["Body"]) == (bad_id, "not JSON")
    deliveries = [m for trace in read_traces(tmp_path, "end") for m in trace["messages"] if m["id"] == bad_id]
    assert sorted(m["receiveCount"] for m in deliveries) == [1, 2, 3]  # maxReceiveCount deliveries, then the DLQ
    table = StatusTable(stack.outputs["TableName"], boto3.client("dynamodb"))
    assert table.get("3100000000000-aaaaaa") is not None
    assert running.stats.failed == 3


def test_a_raised_error_or_an_invalid_response_fails_the_whole_batch(stack: Stack, tmp_path: Path) -> None:
    jobs = ("3200000000000-aaaaaa", "3200000000000-bbbbbb")
    send(stack, *(json.dumps(elastic_transcoder_message(job, "COMPLETED")) for job in jobs))
    running = poller(stack, "misbehaving", tmp_path, maximum_concurrency=1).start()  # one batch at a time
    try:
        wait_until(lambda: drained(stack), SETTLE_S)
    finally:
        running.stop()
    calls = sorted(read_traces(tmp_path, "start"), key=lambda trace: trace["call"])
    assert [len(trace["messages"]) for trace in calls] == [2, 2, 2]  # both records came back after each failure
    assert running.stats.invocation_errors == 2


def test_batches_run_at_once_up_to_the_maximum_concurrency(emulator: Emulator, tmp_path: Path) -> None:
    stack = new_stack(MaximumConcurrency=3, BatchSize=1, MaximumBatchingWindowInSeconds=0)
    sent = send(stack, *(f"message {n}" for n in range(6)))
    # Each invocation returns only once three have started.
    running = poller(stack, "rendezvous", tmp_path, environment={"RENDEZVOUS": "3"}).start()
    try:
        wait_until(lambda: drained(stack) and len(read_traces(tmp_path, "end")) >= 6, SETTLE_S)
    finally:
        running.stop()
    traces = read_traces(tmp_path, "end")
    assert set(processed(tmp_path)) == set(sent)
    # The most invocations running at one instant, from their start and end times: exactly the maximum.
    edges = sorted([(t["started"], 1) for t in traces] + [(t["ended"], -1) for t in traces])
    running_now = [sum(change for _, change in edges[: i + 1]) for i in range(len(edges))]
    assert max(running_now) == 3
    first_three = traces[:3]  # they overlapped, each in its own process
    assert len({t["pid"] for t in first_three}) == 3
    assert running.environments.started == len({t["pid"] for t in traces}) <= 3  # warm environments reused
    assert_stats_add_up(running, tmp_path)


def test_a_killed_environment_fails_its_batch_and_is_replaced(emulator: Emulator, tmp_path: Path) -> None:
    stack = new_stack(MaximumConcurrency=2, BatchSize=1, MaximumBatchingWindowInSeconds=0, MaxReceiveCount=2)
    die_once, die_always, *good = send(stack, "die-once", "die-always", "ok 1", "ok 2", "ok 3")
    dlq = stack.outputs["DeadLetterQueueUrl"]
    running = poller(stack, "fatal", tmp_path).start()
    try:
        wait_until(lambda: queue_attributes(dlq)["ApproximateNumberOfMessages"] == "1" and drained(stack), SETTLE_S)
    finally:
        running.stop()
    killed = [t for t in read_traces(tmp_path, "start") if t.get("killed")]
    deliveries = sorted((m["id"], m["receiveCount"]) for t in killed for m in t["messages"])
    assert deliveries == sorted([(die_once, 1), (die_always, 1), (die_always, 2)])
    # The killed batch's record came back and was processed; the one that always kills went to the DLQ.
    assert set(processed(tmp_path)) == {die_once, *good}
    (dead,) = boto3.client("sqs").receive_message(QueueUrl=dlq)["Messages"]
    assert dead["MessageId"] == die_always
    # Every dead environment was replaced by a new process; none of them ran anything after.
    pids = {t["pid"] for t in read_traces(tmp_path, "start")}
    assert running.environments.started == len(pids) >= 1 + len(killed)
    assert not {t["pid"] for t in killed} & {t["pid"] for t in read_traces(tmp_path, "end")}
    assert running.stats.invocation_errors == len(killed) == running.stats.failed
    assert_stats_add_up(running, tmp_path)


def test_an_invocation_over_the_timeout_fails_and_its_environment_is_replaced(stack: Stack, tmp_path: Path) -> None:
    running = poller(stack, "hanging", tmp_path, timeout_s=1, maximum_concurrency=1).start()
    try:
        (warm,) = send(stack, "warm up")  # the init's allowance is spent: the next invocation has 1 s
        wait_until(lambda: processed(tmp_path) == [warm], SETTLE_S)
        (hang,) = send(stack, "hang")
        wait_until(lambda: hang in processed(tmp_path) and drained(stack), SETTLE_S)
    finally:
        running.stop()
    (hung,) = [trace for trace in read_traces(tmp_path, "start") if trace.get("hung")]
    (done,) = [trace for trace in read_traces(tmp_path, "end") if trace["messages"][0]["id"] == hang]
    assert done["messages"][0]["receiveCount"] == 2 and done["pid"] != hung["pid"]
    assert (running.stats.invocation_errors, running.environments.started) == (1, 2)


def test_stop_settles_the_batches_in_flight_and_a_restart_loses_nothing(emulator: Emulator, tmp_path: Path) -> None:
    stack = new_stack(MaximumConcurrency=2, BatchSize=2, MaximumBatchingWindowInSeconds=0)
    sent = send(stack, *(f"message {n}" for n in range(10)))
    running = poller(stack, "gated", tmp_path).start()
    wait_until(lambda: len(read_traces(tmp_path, "start")) == 2, SETTLE_S)  # both lanes hold a batch at the gate
    stopper = threading.Thread(target=running.stop)
    stopper.start()
    wait_until(lambda: running.stopping, SETTLE_S)
    (tmp_path / GATE).touch()
    stopper.join(30)
    assert not stopper.is_alive()

    # Stopped mid-run: the batches in flight finished and were deleted; nothing was left received.
    queue = queue_attributes(stack.outputs["NotificationQueueUrl"])
    assert queue[PARKED] == "0"
    done = set(processed(tmp_path))
    assert len(done) >= 2 and len(done) + int(queue["ApproximateNumberOfMessages"]) == len(sent)

    running.start()
    try:
        wait_until(lambda: drained(stack) and len(set(processed(tmp_path))) == len(sent), SETTLE_S)
    finally:
        running.stop()
    assert sorted(set(processed(tmp_path))) == sorted(sent)
    assert_stats_add_up(running, tmp_path)


def test_stop_invokes_a_batch_still_being_gathered(emulator: Emulator, tmp_path: Path) -> None:
    stack = new_stack(MaximumBatchingWindowInSeconds=60)
    (sent,) = send(stack, "message")
    running = poller(stack, "succeeding", tmp_path, maximum_concurrency=1).start()
    # Received, and waiting for the batch to fill: the window would keep it for a minute.
    wait_until(lambda: queue_attributes(stack.outputs["NotificationQueueUrl"])[PARKED] == "1", SETTLE_S)
    assert read_traces(tmp_path, "start") == []
    running.stop()
    assert processed(tmp_path) == [sent]
    assert drained(stack)


def test_an_sqs_error_while_gathering_still_invokes_the_batch_in_hand(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the soak: the records already received waited out the queue's 180 s visibility timeout."""
    stack = new_stack(MaximumBatchingWindowInSeconds=1)
    (sent,) = send(stack, "message")

    def gathering_fails(call: Call) -> AwsError | None:  # a receive asking for less than a full batch
        if call.operation == "ReceiveMessage" and call.body.get("MaxNumberOfMessages", 10) < 10:
            return AwsError(500, "InternalError", "We encountered an internal error.")
        return None

    proxy = FaultProxy(emulator.endpoint_url, gathering_fails)
    with proxy.running() as endpoint:
        with monkeypatch.context() as patched:  # the poller's SQS clients are created by start()
            patched.setenv("AWS_ENDPOINT_URL", endpoint)
            running = poller(stack, "succeeding", tmp_path, maximum_concurrency=1).start()
        try:
            wait_until(lambda: processed(tmp_path) == [sent] and drained(stack), SETTLE_S)
        finally:
            running.stop()
    assert proxy.faults_sent >= 1 and running.stats.poll_errors >= 1


def test_settling_rides_out_failed_deletes(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by the soak: a delete that failed after botocore's retries also skipped releasing the
    batch's failed records, so both waited out the queue's 180 s visibility timeout."""
    stack = new_stack(MaxReceiveCount=2, MaximumBatchingWindowInSeconds=0)
    good, bad = send(stack, json.dumps(elastic_transcoder_message("3300000000000-aaaaaa", "COMPLETED")), "not JSON")
    deletes = iter(range(1_000_000))

    def first_deletes_fail(call: Call) -> AwsError | None:  # twice botocore's attempts in these tests
        if call.operation == "DeleteMessageBatch" and next(deletes) < 4:
            return AwsError(500, "InternalError", "We encountered an internal error.")
        return None

    dlq = stack.outputs["DeadLetterQueueUrl"]
    proxy = FaultProxy(emulator.endpoint_url, first_deletes_fail)
    with proxy.running() as endpoint:
        with monkeypatch.context() as patched:
            patched.setenv("AWS_ENDPOINT_URL", endpoint)
            running = poller(stack, "recording", tmp_path, maximum_concurrency=1).start()
        try:
            wait_until(lambda: queue_attributes(dlq)["ApproximateNumberOfMessages"] == "1" and drained(stack), SETTLE_S)
        finally:
            running.stop()
    assert proxy.errors["sqs", "DeleteMessageBatch", "InternalError"] == 4
    assert processed(tmp_path).count(good) == 1  # deleted once the delete went through: not run again
    (dead,) = boto3.client("sqs").receive_message(QueueUrl=dlq)["Messages"]
    assert dead["MessageId"] == bad


def test_entries_a_batch_call_reports_failed_are_tried_again_unless_the_sender_is_at_fault(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DeleteMessageBatch reports failed entries in its answer, without raising: they were counted
    deleted and never tried again, so their records ran again after the visibility timeout."""
    stack = new_stack(MaximumBatchingWindowInSeconds=1)  # both records in one batch
    sent = send(stack, "one", "two")
    deletes: list[list[str]] = []
    invalid = AwsError(400, "ReceiptHandleIsInvalid", "The input receipt handle is not a valid receipt handle.")

    def first_delete_fails_each_entry(call: Call) -> FailedEntries | None:
        if call.operation != "DeleteMessageBatch":
            return None
        deletes.append([entry["Id"] for entry in call.body["Entries"]])
        return FailedEntries({"0": SERVER_ERROR["sqs"], "1": invalid}) if len(deletes) == 1 else None

    errors: list[BaseException] = []
    proxy = FaultProxy(emulator.endpoint_url, first_delete_fails_each_entry)
    with proxy.running() as endpoint:
        with monkeypatch.context() as patched:
            patched.setenv("AWS_ENDPOINT_URL", endpoint)
            running = poller(stack, "succeeding", tmp_path, maximum_concurrency=1)
            running.on_error = errors.append
            running.start()
        try:
            wait_until(lambda: sorted(processed(tmp_path)) == sorted(sent), SETTLE_S)
        finally:
            running.stop()  # the batch in hand is settled first
    assert running.stats.deleted == 1  # what SQS said it deleted, no more
    assert deletes == [["0", "1"], ["0"]]  # the server's failure tried again, the sender's fault not
    assert running.stats.unsettled == 1
    (reported,) = errors  # naming the record left received, and why
    assert len([message_id for message_id in sent if message_id in str(reported)]) == 1
    assert "ReceiptHandleIsInvalid" in str(reported)
    # The record whose delete failed waits out its visibility timeout, and comes back, as on Lambda.
    queue = queue_attributes(stack.outputs["NotificationQueueUrl"])
    assert (queue["ApproximateNumberOfMessages"], queue[PARKED]) == ("0", "1")
