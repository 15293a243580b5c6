"""`make bench`: every performance figure of issue 10, measured side by side in one run.

Ratios and medians from one run on this machine, which is shared and noisy: compare within a run,
not across runs. Results go to bench/results.md (with the machine and the versions), the plot of
the old worker against the new pipeline to bench/old-vs-new.png.

Sections (``BENCH_SECTIONS=cold,artifact,handler,client,coalescing,old,throughput,lambda,cost`` picks
some; all by default; a run of some keeps the other sections of bench/results.md as they were):
- cold: the handler's cold start beside ``import boto3`` plus the DynamoDB client (bench.cold_start);
- artifact: each function's Lambda artifact (its imports) beside the whole package, in size and in
  the handler's import time (bench.artifact);
- handler: batches of 1, 10 and 100 jobs at 20 ms per DynamoDB call, beside plain threads, and the
  handler's CPU per record (bench.handler_batches);
- client: the default backoff in simulated time, and wait_all's calls per round (bench.client_wait);
- coalescing: one batch of 100 notifications over 25 jobs written three ways against moto;
- old: AWS's SqsQueueNotificationWorker.py beside the new pipeline for 1 to 50 concurrent jobs
  (bench.old_worker; ``BENCH_OLD_JOBS=1,5`` picks the job counts);
- throughput: the soak's 10,000 notifications end to end beside as many bare conditional
  UpdateItems against the emulator (bench.throughput; ``BENCH_THROUGHPUT=500`` scales it);
- lambda: both functions under Lambda's CPU share for each memory size, the memory chosen, the
  import at that size (bench.lambda_cpu; skipped, with the reason, where cgroups cannot be written;
  ``BENCH_LAMBDA_MEMORY=256,512`` picks sizes, 1769 always among them, ``BENCH_LAMBDA_COLD`` and
  ``BENCH_LAMBDA_RUNS`` the cold environments per size and the warm rounds in each; only a run of
  every size chooses the template's memory);
- cost: dollars per million notifications, from the figures above (bench.cost).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .client_wait import WaitFigures
    from .cost import Measured
    from .handler_batches import HandlerFigures
    from .lambda_cpu import LambdaCpu
    from .old_worker import Comparison
    from .throughput import Throughput

DEFAULT_RESULTS = Path(__file__).with_name("results.md")
RESULTS = Path(os.environ.get("BENCH_RESULTS") or DEFAULT_RESULTS)
PLOT = RESULTS.with_name("old-vs-new.png")
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
OLD_JOBS = [int(n) for n in os.environ.get("BENCH_OLD_JOBS", "1,5,20,50").split(",") if n.strip()]
THROUGHPUT_NOTIFICATIONS = int(os.environ.get("BENCH_THROUGHPUT", "10000"))
ALL_SECTIONS = "cold,artifact,handler,client,coalescing,old,throughput,lambda,cost"
SECTIONS = set(os.environ.get("BENCH_SECTIONS", ALL_SECTIONS).split(","))
LAMBDA_MEMORY = os.environ.get("BENCH_LAMBDA_MEMORY", "128,256,512,1024,1769")  # and 1769 always
LAMBDA_COLD = int(os.environ.get("BENCH_LAMBDA_COLD", "3"))
LAMBDA_RUNS = int(os.environ.get("BENCH_LAMBDA_RUNS", "4"))
T0 = 1_755_000_000_000  # notification times must be believable (2000-2100)
# The bench never reaches AWS: dummy credentials for the emulator and the stand-ins.
os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def coalescing_ms(endpoint: str) -> dict[str, float]:
    """One SQS batch of 100 notifications over 25 jobs, written three ways against moto."""
    import boto3
    from botocore.config import Config

    from transcoder_status.local.messages import elastic_transcoder_message, sns_envelope
    from transcoder_status.sources import Delivery, parse_body
    from transcoder_status.table import StatusTable
    from transcoder_status.transitions import coalesce

    client = boto3.client("dynamodb", endpoint_url=endpoint, config=Config(max_pool_connections=16))

    def fresh_table() -> StatusTable:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        return StatusTable(name, client)

    steps = (("PROGRESSING", 1_000), ("WARNING", 2_000), ("PROGRESSING", 3_000), ("COMPLETED", 4_000))
    notifications = [
        parse_body(
            json.dumps(sns_envelope(elastic_transcoder_message(f"1700000000000-{job:06d}", state), T0 + ms)),
            Delivery(T0 + ms, f"m-{job}-{state}"),
        )
        for job in range(25)
        for state, ms in steps
    ]
    pool = ThreadPoolExecutor(max_workers=8)

    def per_record(table: StatusTable) -> None:
        for notification in notifications:
            table.apply(notification)

    def coalesced(table: StatusTable) -> None:
        for update in coalesce(notifications).values():
            table.write(update)

    def coalesced_parallel(table: StatusTable) -> None:
        list(pool.map(table.write, coalesce(notifications).values()))

    ways: dict[str, Callable[[StatusTable], None]] = {
        "one write per record, in turn": per_record,
        "one update per job, in turn": coalesced,
        "one update per job, 8 in parallel": coalesced_parallel,
    }
    samples: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(RUNS):
        for name, way in ways.items():  # interleaved, so drift hits every way alike
            table = fresh_table()
            start = time.perf_counter()
            way(table)
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def coalescing_section() -> list[str]:
    server, endpoint = start_moto()
    try:
        writes = coalescing_ms(endpoint)
    finally:
        server.terminate()
        server.wait()
    baseline = writes["one write per record, in turn"]
    return [
        "## Coalescing: one SQS batch of 100 notifications over 25 jobs, DynamoDB in moto (HTTP)",
        "",
        "| write path | median ms | speed-up |",
        "|---|---:|---:|",
        *(f"| {name} | {ms:.0f} | {baseline / ms:.1f}x |" for name, ms in writes.items()),
    ]


def header() -> list[str]:
    packages = ", ".join(f"{name} {version(name)}" for name in ("boto3", "aws-lambda-powertools", "moto"))
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return [
        f"# Benchmarks ({time.strftime('%Y-%m-%d')})",
        "",
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {packages}; "
        f"load average at the start {load} (a shared machine: compare within this run). Medians of {RUNS} "
        "runs unless a section says otherwise. Rerun with `make bench`.",
    ]


def cost_inputs(
    handler: HandlerFigures, waits: list[WaitFigures], comparison: Comparison, soak: Throughput, cpu: LambdaCpu | None
) -> Measured:
    """The cost model's inputs, all from this run: the largest old-worker size, the longest wait, the
    soak, and the writer's batch of 10 at its chosen memory (a whole core's where cgroups are not writable)."""
    from .cost import Invocation, Measured
    from .handler_batches import LATENCY_MS
    from .lambda_cpu import CHOICE, TEMPLATE_FUNCTIONS
    from .lambda_cpu import LATENCY_MS as QUOTA_LATENCY_MS

    largest = comparison.sized[-1]
    longest = waits[-1]
    if cpu is None:  # the template's memory, billed for a whole core's duration: an understatement
        whole_core = next(b for b in handler.batches if b.jobs == 10).handler_ms
        memory = json.loads(CHOICE.read_text())[TEMPLATE_FUNCTIONS["writer"]]
        invocation = Invocation(memory, 1.0, math.ceil(whole_core), LATENCY_MS)
    else:  # what Lambda bills: every invocation, each rounded up to 1 ms (the mean, not the median)
        chosen = next(f for f in cpu.functions if f.function == "writer").choice()
        invocation = Invocation(chosen.memory_mb, chosen.share, chosen.batches[10].billed, QUOTA_LATENCY_MS)
    return Measured(
        notifications_per_job=largest.new.published / largest.jobs,
        sns_share=1.0,  # the comparison's notifications are Elastic Transcoder's, through SNS
        notifications_per_invocation=soak.notifications_per_invocation,
        records_per_invocation=soak.records_per_invocation,
        invocation=invocation,
        write_units_per_notification=soak.write_units.per_notification,
        log_bytes_per_notification=soak.log_bytes_per_notification,
        job_minutes=5,
        reads_per_waiting_minute=longest.reads_per_minute,
        old_calls_per_job=largest.old.calls_per_job,
        old_concurrent_jobs=largest.jobs,
    )


def lambda_section() -> tuple[list[str], LambdaCpu | None]:
    """Both functions under Lambda's CPU share (bench.lambda_cpu), its plot and the memory chosen;
    or why not, where no cgroup CPU quota can be written."""
    from . import lambda_cpu

    groups = lambda_cpu.quota_groups()
    if isinstance(groups, str):
        return [f"## {lambda_cpu.HEADING}", "", f"Skipped: {groups}."], None
    figures = lambda_cpu.measure(groups, lambda_cpu.memory_sizes(LAMBDA_MEMORY), LAMBDA_COLD, LAMBDA_RUNS)
    plot = RESULTS.with_name("lambda-cpu.png")
    lambda_cpu.plot(figures, plot)
    if RESULTS == DEFAULT_RESULTS:  # a scaled-down run elsewhere (the tests') chooses nothing
        lambda_cpu.write_choice(figures)
    return lambda_cpu.markdown(figures, plot.name), figures


def kept_sections(previous: str, current: str) -> str:
    """This run's sections, with the previous file's sections that this run did not measure kept in
    their place (a run of some sections: BENCH_SECTIONS), each saying which run measured it."""

    def split(text: str) -> tuple[str, dict[str, str]]:
        head, *sections = text.rstrip("\n").split("\n## ")
        return head, {section.split("\n", 1)[0]: section for section in sections}

    old_head, old = split(previous)
    head, new = split(current)
    note = f"(Kept from an earlier run: {old_head.splitlines()[0].removeprefix('# ')}.)"
    ordered = [new.pop(heading) if heading in new else _noted(old[heading], note) for heading in old]
    return "\n## ".join([head, *ordered, *new.values()]).rstrip("\n") + "\n"


def _noted(section: str, note: str) -> str:
    return section if "(Kept from an earlier run: " in section else f"{section.rstrip()}\n\n{note}\n"


def _terminated(signum: int, _frame: object) -> None:
    """SIGTERM ends the run as Ctrl-C does, through every ``finally``: the stand-ins stop and the
    CPU quota groups are removed (the default action left both behind)."""
    raise SystemExit(128 + signum)


def main() -> None:
    from transcoder_status.client import Backoff

    signal.signal(signal.SIGTERM, _terminated)

    from . import artifact, client_wait, cold_start, cost, handler_batches

    lines = header()
    handler_figures = None
    waits = None
    comparison = None
    soak = None
    cpu = None
    if "cold" in SECTIONS:
        lines += ["", *cold_start.markdown(cold_start.measure(RUNS))]
    if "artifact" in SECTIONS:
        lines += ["", *artifact.markdown(artifact.measure(RUNS))]
    if "handler" in SECTIONS:
        with contextlib.redirect_stdout(io.StringIO()):  # the function's metrics (EMF) print to stdout
            handler_figures = handler_batches.measure(RUNS)
        lines += ["", *handler_batches.markdown(handler_figures)]
    if "client" in SECTIONS:
        waits = client_wait.waits(Backoff())
        old_defaults = client_wait.waits(Backoff(0.5, 10.0))
        lines += ["", *client_wait.markdown(waits, old_defaults, client_wait.wait_all_calls_per_round())]
    if "coalescing" in SECTIONS:
        lines += ["", *coalescing_section()]
    if "old" in SECTIONS and OLD_JOBS:
        from .old_worker import Settings, compare
        from .old_worker_report import markdown, plot

        comparison = compare(Settings(sizes=OLD_JOBS), log=lambda line: print(line, flush=True))
        plot(comparison, PLOT)
        lines += ["", *markdown(comparison), "", f"![old vs new]({PLOT.name})"]
    if "throughput" in SECTIONS:
        from . import throughput

        soak = throughput.measure(THROUGHPUT_NOTIFICATIONS, log=lambda line: print(line, flush=True))
        lines += ["", *throughput.markdown(soak)]
    if "lambda" in SECTIONS:
        section, cpu = lambda_section()
        lines += ["", *section]
    if "cost" in SECTIONS and handler_figures and waits and comparison and soak:
        lines += ["", *cost.markdown(cost_inputs(handler_figures, waits, comparison, soak, cpu))]
    text = "\n".join(lines) + "\n"
    if set(ALL_SECTIONS.split(",")) != SECTIONS and RESULTS.exists():
        text = kept_sections(RESULTS.read_text(), text)
    RESULTS.write_text(text)
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
