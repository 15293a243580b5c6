"""A cost model: dollars per million notifications on AWS, from the calls and durations measured.

The function's duration is the status writer's on a batch of 10 at the memory size bench.lambda_cpu
chose, under that size's CPU share (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html),
billed at the arm64 price (https://aws.amazon.com/lambda/pricing/).

Prices are AWS's public list prices for us-east-1 (on-demand, no free tier), as of 2026; change
them here. Every count that enters the model comes from this run's measurements, passed in by
``bench/__main__.py``; nothing but the prices and the stated assumptions is fixed.
"""

from __future__ import annotations

import math
import platform
from dataclasses import dataclass
from pathlib import Path

# us-east-1 list prices, USD.
LAMBDA_ARM_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1e6
SNS_PUBLISH = 0.50 / 1e6  # per 64 KB chunk; deliveries to SQS are free
SQS_REQUEST = 0.40 / 1e6  # standard queue, per 64 KB chunk
DYNAMODB_WRITE_UNIT = 0.625 / 1e6  # on-demand, per write request unit (1 KB of item)
DYNAMODB_READ_UNIT = 0.125 / 1e6  # on-demand, per read request unit (strongly consistent, up to 4 KB)
LOGS_INGESTED_GB = 0.50  # CloudWatch Logs, standard class
EVENTBRIDGE_EVENT = 1.00 / 1e6  # a custom event put on a bus (the publisher's PutEvents)
EC2_T4G_SMALL_HOUR = 0.0168  # 2 vCPU (burstable), 2 GiB: where the old worker's processes would run

SQS_BATCH_LIMIT = 10  # messages per ReceiveMessage and per DeleteMessageBatch
LAMBDA_REPORT_LINE_BYTES = 250  # Lambda's REPORT line per invocation (the local runtime writes START and END)
OLD_WORKERS_PER_INSTANCE = 40  # one process per job, about 40 MiB each, in 2 GiB
OLD_IDLE_POLLS_PER_MINUTE = 12  # the sample long-polls with WaitTimeSeconds=5
# The finished-event publisher, at most: one invocation per finished job (its stream mapping batches
# finishes; filtered-out records cost nothing), of an assumed 50 ms (one PutEvents call).
PUBLISHER_INVOCATION_MS = 50


@dataclass(frozen=True)
class Invocation:
    """The status writer on a batch of 10 jobs, as measured: at which memory and CPU share (bench.lambda_cpu)."""

    memory_mb: int  # the template's MemorySize, chosen from bench.lambda_cpu's table
    vcpu_share: float  # of one vCPU, memory / 1,769 (1.0: a whole core, where no CPU quota could be set)
    ms: float  # billed: the mean of the invocations' durations, each rounded up to 1 ms
    dynamodb_latency_ms: float  # the stand-in's, per call


@dataclass(frozen=True)
class Measured:
    """What this run measured, per notification and per job, and the one assumption (job_minutes)."""

    notifications_per_job: float  # the old-worker comparison's jobs (a transcoder's own mix)
    sns_share: float  # of the notifications, those published on an SNS topic (Elastic Transcoder's)
    notifications_per_invocation: float  # the soak: notifications sent per invocation, redeliveries included
    records_per_invocation: float  # the soak: SQS records per invocation
    invocation: Invocation
    write_units_per_notification: float  # the soak: table and index write units (bench.write_units)
    log_bytes_per_notification: float  # the soak: the function's log, metrics included
    job_minutes: float  # how long a client waits on a job (an assumption: stated in the table)
    reads_per_waiting_minute: float  # the client's default polling, simulated
    old_calls_per_job: float  # SQS calls of the old worker per job, at the largest concurrency measured
    old_concurrent_jobs: int


@dataclass(frozen=True)
class Line:
    what: str
    new_poll: float
    new_push: float
    old: float


def per_million(m: Measured) -> list[Line]:
    jobs = 1e6 / m.notifications_per_job
    invocations = 1e6 / m.notifications_per_invocation
    publishes = 1e6 * m.sns_share * SNS_PUBLISH
    # SQS per notification: its send (SNS or EventBridge delivers it); per invocation, the trigger's
    # receives and batched deletes, 10 messages a call at most.
    calls_per_invocation = 2 * math.ceil(m.records_per_invocation / SQS_BATCH_LIMIT)
    sqs = (1e6 + invocations * calls_per_invocation) * SQS_REQUEST
    gb_seconds = m.invocation.memory_mb / 1024 * m.invocation.ms / 1000
    lambda_cost = invocations * (LAMBDA_REQUEST + gb_seconds * LAMBDA_ARM_GB_SECOND)
    writes = 1e6 * m.write_units_per_notification * DYNAMODB_WRITE_UNIT
    log_bytes = 1e6 * m.log_bytes_per_notification + invocations * LAMBDA_REPORT_LINE_BYTES
    logs = log_bytes / 1e9 * LOGS_INGESTED_GB
    reads = jobs * m.job_minutes * m.reads_per_waiting_minute * DYNAMODB_READ_UNIT
    publisher = LAMBDA_REQUEST + m.invocation.memory_mb / 1024 * PUBLISHER_INVOCATION_MS / 1000 * LAMBDA_ARM_GB_SECOND
    finished_events = jobs * (publisher + EVENTBRIDGE_EVENT)
    # The old design: every message is sent once, then received by every worker, whose long polls
    # (5 s) also run on while nothing arrives; its compute is one process per job for the job's length.
    old_calls_per_job = max(m.old_calls_per_job, OLD_IDLE_POLLS_PER_MINUTE * m.job_minutes)
    old_sqs = (1e6 + jobs * old_calls_per_job) * SQS_REQUEST
    old_compute = jobs * m.job_minutes / 60 * EC2_T4G_SMALL_HOUR / OLD_WORKERS_PER_INSTANCE
    return [
        Line("SNS publishes (the transcoder's, the same both ways)", publishes, publishes, publishes),
        Line("SQS requests", sqs, sqs, old_sqs),
        Line(f"Lambda (arm64, {m.invocation.memory_mb:,} MB: requests and GB-s)", lambda_cost, lambda_cost, 0.0),
        Line("DynamoDB writes (table and status index)", writes, writes, 0.0),
        Line("CloudWatch Logs (the function's log and metrics)", logs, logs, 0.0),
        Line("client reads while waiting", reads, 0.0, 0.0),
        Line("finished events (the publisher and the bus)", 0.0, finished_events, 0.0),
        Line("EC2 time of the old worker's processes", 0.0, 0.0, old_compute),
    ]


def _cpu_model() -> str:
    """This machine's CPU, from /proc/cpuinfo (Linux), else what the platform module knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown model"


def markdown(m: Measured) -> list[str]:
    lines = per_million(m)
    total = Line("total", *(sum(getattr(line, side) for line in lines) for side in ("new_poll", "new_push", "old")))
    rows = [
        f"| {line.what} | ${line.new_poll:.2f} | ${line.new_push:.2f} | ${line.old:.2f} |" for line in [*lines, total]
    ]
    return [
        "## Cost model: dollars per million notifications (us-east-1 list prices)",
        "",
        f"Measured in this run: {m.notifications_per_job:g} notifications per job, {m.sns_share:.0%} of them "
        f"through SNS (the old-worker comparison); {m.notifications_per_invocation:.1f} notifications and "
        f"{m.records_per_invocation:.1f} SQS records per invocation, {m.write_units_per_notification:.2f} "
        f"DynamoDB write units and {m.log_bytes_per_notification:.0f} log bytes per notification (the soak: "
        "its duplicates, late arrivals and a saturated queue included; writes at the final row's and index "
        "entry's size); "
        f"{m.invocation.ms:.0f} ms billed per invocation (the mean, each rounded up to 1 ms; a batch of 10 jobs "
        f"at {m.invocation.dynamodb_latency_ms:g} ms per "
        f"DynamoDB call, at {m.invocation.memory_mb:,} MB, measured with {m.invocation.vcpu_share:.3f} of a vCPU: "
        "a cgroup CPU quota of its share, bench.lambda_cpu, or a whole core where none could be set); "
        f"{m.reads_per_waiting_minute:.0f} reads per waiting minute (the client's defaults); the old worker's "
        f"{m.old_calls_per_job:.0f} SQS calls per job at {m.old_concurrent_jobs} concurrent jobs. Assumed: a "
        f"client waits {m.job_minutes:g} min per job; the old worker's processes share t4g.small instances, "
        f"{OLD_WORKERS_PER_INSTANCE} each; Lambda's REPORT line, {LAMBDA_REPORT_LINE_BYTES} bytes an invocation; "
        f"the finished-event publisher, one {PUBLISHER_INVOCATION_MS} ms invocation per finished job at most. "
        "'Take the event': consumers of the job-finished event instead of "
        "polling clients. Not per notification, so not here: the triggers' idle polling, "
        "storage, alarms and the dashboard.",
        "",
        f"The duration was measured on this machine's {platform.machine()} cores ({_cpu_model()}) under the "
        "share's CPU quota; Lambda's arm64 functions run on Graviton2 cores (Arm Neoverse N1), another design "
        "whose speed per core on CPython differs, so the figure is an estimate of the share's effect, not of "
        "Graviton's speed (AWS Lambda Power Tuning measures that on the deployed function). arm64's GB-second "
        "costs 20% less than x86_64's.",
        "",
        "| | new, clients poll | new, clients take the event | old worker |",
        "|---|---:|---:|---:|",
        *rows,
    ]
