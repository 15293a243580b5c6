"""The emulator's queues keep SQS's promises under concurrent calls.

moto's SQS alone does not: a delete rebuilds the queue's list of messages, so a send or a delete
that lands meanwhile is undone. A message sent then is lost; a message deleted then comes back
after its visibility timeout (found by the soak: a batch processed twice, 180 s late). And two
receives at once can hand out one message twice.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3

from transcoder_status.local.emulator import Emulator

SENDERS, RECEIVERS, BATCHES = 4, 3, 25


def test_concurrent_sends_and_deletes_lose_nothing_and_bring_nothing_back(emulator: Emulator) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"race-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sent: set[str] = set()
    received: list[str] = []
    sending = threading.Event()
    lock = threading.Lock()

    def send(sender: int) -> None:
        client = boto3.client("sqs")
        for batch in range(BATCHES):
            bodies = [f"{sender}-{batch}-{n}" for n in range(10)]
            client.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": b} for n, b in enumerate(bodies)]
            )
            with lock:
                sent.update(bodies)

    def receive() -> None:
        client = boto3.client("sqs")
        while True:
            messages = client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=1
            ).get("Messages", [])
            if not messages and not sending.is_set():
                return
            with lock:
                received.extend(m["Body"] for m in messages)
            for message in messages:  # one at a time: the most deletes racing the most sends
                client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    sending.set()
    with ThreadPoolExecutor(SENDERS + RECEIVERS) as pool:
        receivers = [pool.submit(receive) for _ in range(RECEIVERS)]
        for future in [pool.submit(send, sender) for sender in range(SENDERS)]:
            future.result()
        sending.clear()
        for future in receivers:
            future.result()
    assert len(sent) == SENDERS * BATCHES * 10
    assert set(received) == sent  # nothing lost
    assert len(received) == len(sent)  # nothing handed out twice
    # Nothing deleted came back (it would sit received, waiting out its visibility timeout).
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == (
        "0",
        "0",
    )
