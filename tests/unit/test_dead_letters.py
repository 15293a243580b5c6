"""The dead-letter queue's pure parts."""

from __future__ import annotations

from transcoder_status.dead_letters import MAX_BATCH_BYTES, _within_batch_size


def test_a_hand_redrive_sends_batches_sqs_takes_whole() -> None:
    """Review of issue 13: ten 40 KB messages in one SendMessageBatch exceed SQS's 256 KB a batch."""
    messages = [{"Body": "x" * 40_000, "MessageAttributes": {}} for _ in range(10)]
    batches = _within_batch_size(messages)
    assert [len(batch) for batch in batches] == [6, 4]
    assert all(sum(len(m["Body"]) for m in batch) <= MAX_BATCH_BYTES for batch in batches)
    assert _within_batch_size([{"Body": "small"}] * 10) == [[{"Body": "small"}] * 10]
