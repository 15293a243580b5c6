"""The handler on batches of 1, 10 and 100 jobs, with every DynamoDB call taking 20 ms (issue 10).

Three figures per batch size, medians side by side:
- the handler (``StatusWriter.handle``, the function's own code path) against the latency stub;
- the floor: the same number of conditional UpdateItems from as many plain threads, one boto3
  client (the best any client can do against that latency on this machine);
- the handler's CPU per record outside the AWS calls, with a client that answers at once.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from transcoder_status.handler import MAX_WRITERS, StatusWriter, lambda_handler, logger
from transcoder_status.local.context import LocalContext
from transcoder_status.local.messages import elastic_transcoder_message, sns_envelope, sqs_record
from transcoder_status.table import StatusTable

from .stub_dynamodb import running_stub

T0 = 1_755_000_000_000
LATENCY_MS = 20
SIZES = (1, 10, 100)


@dataclass(frozen=True)
class BatchFigures:
    jobs: int
    handler_ms: float
    floor_ms: float


@dataclass(frozen=True)
class HandlerFigures:
    batches: list[BatchFigures]
    cpu_us_per_record: float
    records_for_cpu: int


def batch_event(jobs: int, first: int = 0) -> dict[str, Any]:
    """One SQS batch: a COMPLETED notification (through SNS) for each of ``jobs`` jobs."""
    records = []
    for index in range(first, first + jobs):
        job_id = f"1700000000000-{index:06d}"
        body = json.dumps(sns_envelope(elastic_transcoder_message(job_id, "COMPLETED"), T0 + index))
        records.append(sqs_record(body, sent_ms=T0 + index))
    return {"Records": records}


def invoke(writer: StatusWriter, event: dict[str, Any]) -> None:
    """The function's entry point (logging and metrics included), as Lambda calls it."""
    lambda_handler(event, LocalContext("bench", timeout_s=30), writer)


def measure(runs: int) -> HandlerFigures:
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    # The function's log lines are formatted as on Lambda, then dropped rather than printed here.
    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.stream = open(os.devnull, "w")  # noqa: SIM115 - for the process's life
    with running_stub(LATENCY_MS) as endpoint:
        writer = StatusWriter.connect("bench", endpoint_url=endpoint, region_name="us-east-1")
        floor_client = boto3.client(
            "dynamodb", endpoint_url=endpoint, region_name="us-east-1", config=Config(max_pool_connections=MAX_WRITERS)
        )
        floor_pool = ThreadPoolExecutor(max_workers=max(SIZES))
        _warm(writer, floor_client, floor_pool)
        samples: dict[int, tuple[list[float], list[float]]] = {jobs: ([], []) for jobs in SIZES}
        for run in range(runs):
            for jobs in SIZES:  # interleaved, so drift hits every size alike
                event = batch_event(jobs, first=run * 1000)
                samples[jobs][0].append(_timed(lambda event=event: invoke(writer, event)))
                samples[jobs][1].append(_timed(lambda jobs=jobs: _plain_updates(floor_client, floor_pool, jobs)))
    batches = [
        BatchFigures(jobs, statistics.median(handler), statistics.median(floor))
        for jobs, (handler, floor) in samples.items()
    ]
    cpu, records = _cpu_per_record()
    return HandlerFigures(batches, cpu, records)


def _timed(action: Any) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def _warm(writer: StatusWriter, client: Any, pool: ThreadPoolExecutor) -> None:
    """Open connections and start threads first, as a warm function has: a cold start is apart."""
    invoke(writer, batch_event(max(SIZES), first=900_000))
    _plain_updates(client, pool, max(SIZES))


def _plain_updates(client: Any, pool: ThreadPoolExecutor, jobs: int) -> None:
    def update(index: int) -> None:
        client.update_item(
            TableName="bench",
            Key={"jobId": {"S": f"1700000000000-{index:06d}"}},
            UpdateExpression="SET #s = :s",
            ConditionExpression="attribute_not_exists(#k) OR #s <> :s",
            ExpressionAttributeNames={"#s": "status", "#k": "jobId"},
            ExpressionAttributeValues={":s": {"S": "SUCCESS"}},
        )

    list(pool.map(update, range(jobs)))


class _InstantClient:
    """Answers every UpdateItem at once: what is left is the handler's own CPU."""

    class exceptions:
        class ConditionalCheckFailedException(Exception):
            """Never raised: every write lands."""

    def update_item(self, **_: Any) -> dict[str, Any]:
        return {}


def _cpu_per_record(batches: int = 100, jobs: int = 100) -> tuple[float, int]:
    """CPU seconds per record over full batches of distinct jobs, each record a write of its own
    (none coalesced away), the writes on the handler's own pool."""
    writer = StatusWriter(StatusTable("bench", _InstantClient()))  # type: ignore[arg-type]
    events = [batch_event(jobs, first=batch * jobs) for batch in range(batches)]
    invoke(writer, batch_event(jobs, first=batches * jobs))  # the pool's threads start outside the count
    start = time.process_time()
    for event in events:
        invoke(writer, event)
    records = batches * jobs
    return (time.process_time() - start) / records * 1e6, records


def markdown(figures: HandlerFigures) -> list[str]:
    single = figures.batches[0]
    lines = [
        f"## The handler on one batch, every DynamoDB call taking {LATENCY_MS} ms",
        "",
        "A stand-in answers every UpdateItem after the latency, from a process of its own; the floor is",
        "the same number of conditional UpdateItems from as many plain threads. Targets (issue 10): a",
        "batch of 10 jobs at most 2.0x a batch of 1, a batch of 100 at most 4x.",
        "",
        "| jobs in the batch | handler ms | vs 1 job | floor ms | floor vs 1 job |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {b.jobs} | {b.handler_ms:.1f} | {b.handler_ms / single.handler_ms:.2f}x | {b.floor_ms:.1f} "
        f"| {b.floor_ms / single.floor_ms:.2f}x |"
        for b in figures.batches
    ]
    lines += [
        "",
        f"CPU per record outside the AWS calls (parse, coalesce, build the writes, log; a client that "
        f"answers at once; batches of 100 records of 100 jobs, none a duplicate): "
        f"**{figures.cpu_us_per_record:.0f} µs** over {figures.records_for_cpu:,} records (target: under 100 µs).",
    ]
    return lines
