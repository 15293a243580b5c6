"""The fault proxy (transcoder_status.local.faults): AWS errors on the wire, before or after the call lands."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from transcoder_status.local.emulator import Emulator
from transcoder_status.local.faults import SERVER_ERROR, THROTTLED, AwsError, Call, FaultProxy
from transcoder_status.table import StatusTable

ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})


def test_an_error_after_forwarding_lands_the_call_and_loses_its_answer(emulator: Emulator, table: StatusTable) -> None:
    def late_500(call: Call) -> AwsError | None:
        error = SERVER_ERROR["dynamodb"]
        return (
            AwsError(error.status, error.code, error.message, after_forwarding=True)
            if call.operation == "PutItem"
            else None
        )

    proxy = FaultProxy(emulator.endpoint_url, late_500)
    with proxy.running() as endpoint:
        client = boto3.client("dynamodb", endpoint_url=endpoint, config=ONE_ATTEMPT)
        with pytest.raises(ClientError) as raised:
            client.put_item(TableName=table.name, Item={"jobId": {"S": "5000000000000-aaaaaa"}})
    assert raised.value.response["Error"]["Code"] == "InternalServerError"
    assert table.get("5000000000000-aaaaaa") is not None  # the write landed all the same
    assert (proxy.faults_sent, proxy.after_forwarding["dynamodb"]) == (1, 1)


def test_sqs_errors_reach_botocore_as_sqs_errors_and_other_calls_pass(emulator: Emulator) -> None:
    url = boto3.client("sqs").create_queue(QueueName=f"faults-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    proxy = FaultProxy(
        emulator.endpoint_url, lambda call: THROTTLED["sqs"] if call.operation == "ReceiveMessage" else None
    )
    with proxy.running() as endpoint:
        sqs = boto3.client("sqs", endpoint_url=endpoint, config=ONE_ATTEMPT)
        sqs.send_message(QueueUrl=url, MessageBody="through the proxy")
        with pytest.raises(ClientError) as raised:
            sqs.receive_message(QueueUrl=url)
    assert raised.value.response["Error"]["Code"] == "RequestThrottled"
    assert proxy.calls == {("sqs", "SendMessage"): 1, ("sqs", "ReceiveMessage"): 1}
    assert proxy.errors == {("sqs", "ReceiveMessage", "RequestThrottled"): 1}
