"""The dead-letter queue's pure parts."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from transcoder_status import dead_letters
from transcoder_status.dead_letters import MAX_BATCH_BYTES, DeadLetterQueue, _within_batch_size
from transcoder_status.local.messages import mediaconvert_event


def test_a_hand_redrive_sends_batches_sqs_takes_whole() -> None:
    """Review of issue 13: ten 40 KB messages in one SendMessageBatch exceed SQS's 256 KB a batch."""
    messages = [{"Body": "x" * 40_000, "MessageAttributes": {}} for _ in range(10)]
    batches = _within_batch_size(messages)
    assert [len(batch) for batch in batches] == [6, 4]
    assert all(sum(len(m["Body"]) for m in batch) <= MAX_BATCH_BYTES for batch in batches)
    assert _within_batch_size([{"Body": "small"}] * 10) == [[{"Body": "small"}] * 10]


def test_a_redrive_follows_its_own_move_task_until_it_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19: the move task's progress is read by its own handle only. Just started, it may not be
    listed yet: that is no "moved 0, done" (exit 0) while SQS goes on moving."""
    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    dlq, queue = "https://sqs.us-east-1.amazonaws.com/123456789012/dlq", "https://sqs.us-east-1.amazonaws.com/1/q"
    arns = {dlq: "arn:aws:sqs:us-east-1:123456789012:dlq", queue: "arn:aws:sqs:us-east-1:123456789012:q"}
    theirs = {"TaskHandle": "theirs", "Status": "COMPLETED", "ApproximateNumberOfMessagesMoved": 500}
    ours = {"TaskHandle": "ours", "ApproximateNumberOfMessagesMoved": 3}
    with Stubber(client) as sqs:
        for url in (dlq, queue):
            sqs.add_response(
                "get_queue_attributes",
                {"Attributes": {"QueueArn": arns[url]}},
                {"QueueUrl": url, "AttributeNames": ["QueueArn"]},
            )
        sqs.add_response("start_message_move_task", {"TaskHandle": "ours"})
        for listed in (
            [theirs],
            [{**ours, "Status": "RUNNING"}, theirs],
            [{**ours, "Status": "COMPLETED", "ApproximateNumberOfMessagesMoved": 7}, theirs],
        ):
            sqs.add_response("list_message_move_tasks", {"Results": listed})
        monkeypatch.setattr(dead_letters.time, "sleep", lambda seconds: None)
        result = DeadLetterQueue(dlq, client)._move_task(queue)
        sqs.assert_no_pending_responses()
    assert (result.moved, result.complete) == (7, True)


def test_a_notification_that_says_its_account_is_explained_with_what_a_clash_looks_like() -> None:
    """A clash (handler: two accounts' events for one row) reaches the DLQ parsing fine: the reason
    tells the operator how to tell it from a write outage, and that a redrive brings it back."""
    event = mediaconvert_event("1502631977930-rabioh", "COMPLETE", 1_755_000_000_000, account="444455556666")
    message = {"MessageId": "m-1", "Body": json.dumps(event), "Attributes": {"SentTimestamp": "1755000000300"}}
    letter = dead_letters.explain(message, now_ms=1_755_000_001_000)
    assert letter.kind == dead_letters.WRITE_FAILED
    assert "two accounts' events for one row" in letter.reason and "444455556666" in letter.reason
    del event["account"], event["region"]
    bare = dead_letters.explain({**message, "Body": json.dumps(event)}, now_ms=1_755_000_001_000)
    assert "two accounts" not in bare.reason


def test_a_clash_told_by_the_row_is_not_redriven_by_default() -> None:
    """The row's place never changes (table.py): a letter from another account or Region than its
    job's row could only come back here after MaxReceiveCount more deliveries (and fire the alarm
    again), so a redrive leaves it unless --all. One whose row says its own place, or no place, or
    that has no row, failed on writing: safe to redrive. A row that could not be read tells nothing."""
    event = mediaconvert_event("1502631977930-rabioh", "COMPLETE", 1_755_000_000_000, account="444455556666")
    message = {"MessageId": "m-1", "Body": json.dumps(event), "Attributes": {"SentTimestamp": "1755000000300"}}
    rows = {"1502631977930-rabioh": ("111122223333", "us-east-1")}
    clash = dead_letters.explain(message, now_ms=1_755_000_001_000, row_place=rows.get)
    assert clash.kind == dead_letters.CLASH and clash.job_id == "1502631977930-rabioh"
    assert "111122223333" in clash.reason and "444455556666" in clash.reason
    assert (clash.applies(), clash.applies(everything=True)) == (False, True)
    for place in (("444455556666", event["region"]), ("444455556666", None), (None, None)):
        written = dead_letters.explain(message, now_ms=1_755_000_001_000, row_place=lambda _, p=place: p)
        assert (written.kind, written.applies()) == (dead_letters.WRITE_FAILED, True)
        assert "safe to redrive" in written.reason and "unless" not in written.reason
    unread = dead_letters.explain(message, now_ms=1_755_000_001_000, row_place=lambda _: None)
    assert unread.kind == dead_letters.WRITE_FAILED and "unless the function logged" in unread.reason
