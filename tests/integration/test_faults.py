"""The fault proxy (bench.soak.faults): AWS errors on the wire, before or after the call lands,
or for single entries of a batch call."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bench.soak.faults import SERVER_ERROR, THROTTLED, AwsError, Call, FailedEntries, FaultProxy
from transcoder_status.local.emulator import Emulator
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


def test_single_entries_of_a_batch_call_fail_as_sqs_reports_them(emulator: Emulator) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"faults-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for number in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"message {number}")
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=600)["Messages"]
    assert len(received) == 3
    invalid = AwsError(400, "ReceiptHandleIsInvalid", "The input receipt handle is not a valid receipt handle.")
    failing = FailedEntries({"0": SERVER_ERROR["sqs"], "2": invalid})
    proxy = FaultProxy(emulator.endpoint_url, lambda call: failing if call.operation == "DeleteMessageBatch" else None)
    with proxy.running() as endpoint:
        answer = boto3.client("sqs", endpoint_url=endpoint, config=ONE_ATTEMPT).delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]} for n, message in enumerate(received)],
        )
    assert [entry["Id"] for entry in answer["Successful"]] == ["1"]
    assert [(e["Id"], e["SenderFault"], e["Code"]) for e in answer["Failed"]] == [
        ("0", False, "InternalError"),
        ("2", True, "ReceiptHandleIsInvalid"),
    ]
    # Only the entry that succeeded was deleted: the other two are still received.
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "2"
    assert proxy.errors == {
        ("sqs", "DeleteMessageBatch", "InternalError"): 1,
        ("sqs", "DeleteMessageBatch", "ReceiptHandleIsInvalid"): 1,
    }


def test_a_batch_call_whose_every_entry_fails_is_not_forwarded(emulator: Emulator) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"faults-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="message")
    (message,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"]
    failing = FailedEntries({"0": SERVER_ERROR["sqs"]})
    proxy = FaultProxy(emulator.endpoint_url, lambda call: failing if call.operation == "DeleteMessageBatch" else None)
    with proxy.running() as endpoint:
        answer = boto3.client("sqs", endpoint_url=endpoint, config=ONE_ATTEMPT).delete_message_batch(
            QueueUrl=url, Entries=[{"Id": "0", "ReceiptHandle": message["ReceiptHandle"]}]
        )
    assert answer["Successful"] == [] and [entry["Id"] for entry in answer["Failed"]] == ["0"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
