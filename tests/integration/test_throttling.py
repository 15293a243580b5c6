"""DynamoDB throttling on some calls: only the records of those jobs fail, and SQS redelivers them."""

from __future__ import annotations

import json

import boto3
from botocore.config import Config

from tests.integration.conftest import T0, failed_ids, invoke
from tests.integration.faults import FaultProxy, throttle_jobs
from transcoder_status.handler import StatusWriter
from transcoder_status.local.emulator import Emulator
from transcoder_status.local.messages import elastic_transcoder_message, sns_envelope, sqs_record
from transcoder_status.status import JobStatus
from transcoder_status.table import StatusTable


def record(job_id: str, state: str, at_ms: int) -> dict[str, object]:
    envelope = sns_envelope(elastic_transcoder_message(job_id, state), T0 + at_ms)
    return sqs_record(json.dumps(envelope), sent_ms=T0 + at_ms)


def test_throttled_jobs_fail_alone(emulator: Emulator, table: StatusTable) -> None:
    jobs = [f"1700000000000-job{i:03d}" for i in range(6)]
    throttled = {jobs[1], jobs[4]}
    proxy = FaultProxy(emulator.endpoint_url, throttle_jobs(throttled))
    event = {
        "Records": [record(job, state, at) for job in jobs for state, at in (("PROGRESSING", 1), ("COMPLETED", 2))]
    }
    with proxy.running() as endpoint:
        client = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            config=Config(retries={"total_max_attempts": 2, "mode": "standard"}),
        )
        response = invoke(StatusWriter(StatusTable(table.name, client)), event)

    expected = {
        r["messageId"] for r in event["Records"] if json.loads(json.loads(r["body"])["Message"])["jobId"] in throttled
    }
    assert failed_ids(response) == expected
    assert len(expected) == 4
    assert proxy.faults_sent == 2 * len(throttled)  # botocore retried once, then gave up
    for job in jobs:
        row = table.get(job)
        if job in throttled:
            assert row is None
        else:
            assert row is not None and row.status is JobStatus.SUCCESS

    # The redelivery, with DynamoDB healthy again, completes the throttled jobs.
    assert invoke(StatusWriter(table), {"Records": [r for r in event["Records"] if r["messageId"] in expected]}) == {
        "batchItemFailures": []
    }
    for job in throttled:
        row = table.get(job)
        assert row is not None and row.status is JobStatus.SUCCESS
