"""The whole local pipeline's throughput (the soak, no faults) beside the emulator's own floor.

The soak sends every notification through the topic or the bus, the queue, the poller and the
function to the table; the floor is the same number of bare conditional UpdateItems, 10 per job as
the soak's notifications are, sent straight to a fresh emulator's table (provisioned from the same
template) from another process on this machine, as the function's writes come from its execution
environments: once one at a time, and once from as many threads as the trigger's
``MaximumConcurrency``. The pipeline cannot beat the faster floor: every notification costs it at
least one such write, plus the publish, the receive and the delete around it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass

from .write_units import Sizes, WriteUnits, from_log, index_attributes

NOTIFICATIONS_PER_JOB = 10  # the soak's default mix: 10,000 notifications for 1,000 jobs


@dataclass(frozen=True)
class Floor:
    threads: int
    writes: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.writes / self.seconds


@dataclass(frozen=True)
class Throughput:
    notifications: int
    pipeline_per_second: float
    pipeline_seconds: float
    passed: bool  # every soak check held: the figure is of a run that did the whole job
    floors: list[Floor]
    # The soak's shape, for the cost model: its duplicates, late arrivals and batching included.
    notifications_per_invocation: float  # sent per invocation: every batch is billed, redelivered or not
    records_per_invocation: float
    log_bytes_per_notification: float
    write_units: WriteUnits


def measure(notifications: int, log: Callable[[str], None] = lambda line: None) -> Throughput:
    """The soak at ``notifications`` (fresh stack), then the floor at the same count (fresh emulator)."""
    from transcoder_status.local.template import load_template

    from .soak.report import throughput
    from .soak.run import SoakOptions, run_soak

    log(f"throughput: the soak, {notifications:,} notifications")
    result = run_soak(
        SoakOptions(notifications=notifications, jobs=notifications // NOTIFICATIONS_PER_JOB),
        progress=lambda running: log(f"throughput: {running.sent:,} sent"),
    )
    rate = throughput(result)
    if rate is None or result.drained_s is None:
        raise RuntimeError(f"the soak never drained its queue: {result.problems}")
    log(f"throughput: the emulator's floor, {notifications:,} UpdateItems twice")
    indexed = index_attributes(load_template())
    units = from_log(result.log.written, {job: Sizes.of(item, indexed) for job, item in result.items.items()})
    batches = result.log.poller["batches"]
    return Throughput(
        notifications,
        rate,
        result.drained_s,
        result.passed,
        floors(notifications),
        notifications_per_invocation=result.sent / batches,
        records_per_invocation=result.log.poller["records"] / batches,
        log_bytes_per_notification=result.log_path.stat().st_size / result.sent,
        write_units=units,
    )


def floors(writes: int) -> list[Floor]:
    from transcoder_status.local.emulator import running_emulator
    from transcoder_status.local.provision import provision

    with running_emulator() as emulator:
        stack = provision("transcoder-status-floor")
        (trigger,) = stack.triggers
        table = stack.outputs["TableName"]
        measured = []
        # The writer runs in a process of its own: in this one it would share the emulator's GIL.
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as writer:
            for round_, threads in enumerate([1, trigger.maximum_concurrency or 1]):
                first = round_ * writes  # new jobs each round: the same mix of creates and updates
                jobs = [f"{n // NOTIFICATIONS_PER_JOB:08d}" for n in range(first, first + writes)]
                seconds = writer.submit(_timed_updates, emulator.environment(), table, jobs, threads).result()
                measured.append(Floor(threads, writes, seconds))
        return measured


def _timed_updates(environment: dict[str, str], table: str, jobs: list[str], threads: int) -> float:
    """Seconds for one conditional UpdateItem per entry of ``jobs``, each job's order key growing."""
    import os

    import boto3
    from botocore.config import Config

    os.environ.update(environment)
    client = boto3.client("dynamodb", config=Config(max_pool_connections=threads))
    client.describe_table(TableName=table)  # the client's first call sets it up: not the emulator's cost

    def write(index: int) -> None:
        with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):  # threads race: stale
            client.update_item(
                TableName=table,
                Key={"jobId": {"S": jobs[index]}},
                UpdateExpression="SET orderKey = :key, #status = :status",
                ConditionExpression="attribute_not_exists(jobId) OR orderKey < :key",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":key": {"S": f"{index:012d}"}, ":status": {"S": "RUNNING"}},
            )

    with ThreadPoolExecutor(max_workers=threads) as pool:
        start = time.perf_counter()
        list(pool.map(write, range(len(jobs))))
        return time.perf_counter() - start


def markdown(figures: Throughput) -> list[str]:
    best = max(figures.floors, key=lambda floor: floor.per_second)
    verdict = "every check held" if figures.passed else "**a check failed: see `make soak` for which**"
    return [
        f"## Throughput: {figures.notifications:,} notifications end to end beside the emulator's floor",
        "",
        "The soak without faults (topic and bus, queue, poller, function, table; "
        f"{verdict}) and, on a fresh emulator, the same number of bare conditional UpdateItems to the "
        "template's table. Its shape, which the cost model takes: "
        f"{figures.notifications_per_invocation:.1f} notifications sent and "
        f"{figures.records_per_invocation:.1f} records per invocation; per notification "
        f"{figures.write_units.per_notification:.2f} DynamoDB write units "
        f"({figures.write_units.writes:,} writes, {figures.write_units.applied:,} of them changed a row) "
        f"and {figures.log_bytes_per_notification:,.0f} bytes of the function's log.",
        "",
        "| what | per second | seconds | of the faster floor |",
        "|---|---:|---:|---:|",
        f"| the pipeline (`make soak`) | {figures.pipeline_per_second:,.0f} | {figures.pipeline_seconds:.1f} | "
        f"{figures.pipeline_per_second / best.per_second:.0%} |",
        *(
            f"| floor: UpdateItem from {floor.threads} thread{'s' if floor.threads > 1 else ''} | "
            f"{floor.per_second:,.0f} | {floor.seconds:.1f} | {floor.per_second / best.per_second:.0%} |"
            for floor in figures.floors
        ),
    ]
