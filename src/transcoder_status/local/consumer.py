"""What a consumer of the finished events deploys locally (a rule and a queue), and reading a
function's EMF metrics from its log, as CloudWatch would extract them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3

from ..finished_event import DETAIL_TYPE, DETAIL_VERSION, EVENT_SOURCE

# The consumer rule docs/finished-events.md shows (a test holds the two together).
FINISHED_PATTERN = {"source": [EVENT_SOURCE], "detail-type": [DETAIL_TYPE], "detail": {"version": [DETAIL_VERSION]}}


def subscribe_queue(bus_name: str, name: str, pattern: Mapping[str, Any] = FINISHED_PATTERN) -> str:
    """A queue, and a rule on the bus that sends it the matching events (the queue's policy lets
    only that rule send). Returns the queue URL."""
    sqs = boto3.client("sqs")
    events = boto3.client("events")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_arn = events.put_rule(Name=name, EventBusName=bus_name, EventPattern=json.dumps(pattern))["RuleArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    events.put_targets(Rule=name, EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return str(url)


def drain_queue(url: str) -> list[dict[str, Any]]:
    """Every message body waiting in a queue (each deleted once read), in the order received."""
    sqs = boto3.client("sqs")
    received: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return received
        received.extend(json.loads(message["Body"]) for message in messages)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


def emf_totals(log_path: Path) -> dict[str, int]:
    """Each count metric's sum over the EMF lines of a function's log (a missing log: none)."""
    totals: Counter[str] = Counter()
    if not log_path.exists():
        return {}
    for line in log_path.read_text(errors="replace").splitlines():
        if not line.startswith("{") or "_aws" not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:  # a line cut short by a SIGKILL
            continue
        for directive in entry.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive.get("Metrics", []):
                value = entry.get(metric["Name"])
                totals[metric["Name"]] += int(sum(value) if isinstance(value, list) else float(value or 0))
    return dict(totals)
