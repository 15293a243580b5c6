"""The emulator's moto answers as moto does (see transcoder_status.local.moto_speed)."""

from __future__ import annotations

import json
import time
import uuid

import boto3
from moto.backends import get_backend
from moto.core.utils import utcnow

from transcoder_status.local.emulator import ACCOUNT, REGION, Emulator


def test_the_clock_is_moto_s_own(emulator: Emulator) -> None:
    from moto.core import utils
    from moto.sqs import models

    assert abs(models.unix_time() - utils.unix_time(utcnow())) < 1
    assert abs(models.unix_time_millis() - time.time() * 1000) < 1000


def test_retention_and_counts_are_kept(emulator: Emulator) -> None:
    sqs = boto3.client("sqs")
    name = f"depth-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(3)])
    backend = get_backend("sqs")[ACCOUNT][REGION]
    fresh, expired, _ = backend.queues[name]._messages
    expired.sent_timestamp -= 61_000  # past the queue's retention period
    assert backend.is_message_valid_based_on_retention_period(name, fresh)
    assert not backend.is_message_valid_based_on_retention_period(name, expired)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=30)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    counts = (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"])
    assert counts == ("2", "1")


def test_eventbridge_still_delivers_whole_events(emulator: Emulator) -> None:
    """Its input paths are compiled once now: two events through one rule arrive whole and distinct."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    name = f"speed-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventPattern='{"source": ["speed.test"]}')
    events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
    entries = [{"Source": "speed.test", "DetailType": "t", "Detail": f'{{"n": {n}}}'} for n in range(2)]
    ids = [entry["EventId"] for entry in events.put_events(Entries=entries)["Entries"]]  # type: ignore[arg-type]
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert sorted((body["id"], body["detail"]["n"], body["source"]) for body in bodies) == sorted(
        zip(ids, range(2), ["speed.test"] * 2, strict=True)
    )
