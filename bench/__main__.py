"""`make bench`: the handler's cold import, and the batch write path against an emulator process.

Everything is measured side by side in one run, as medians, on this machine: compare ratios, not
absolute figures (moto is far slower than DynamoDB, and the machine is shared).

- cold import: ``import transcoder_status.handler`` in a fresh interpreter, beside ``import boto3``.
- batch writes: one SQS batch of 100 notifications over 25 jobs (4 each), written to DynamoDB in
  moto's server (its own process, over HTTP) three ways: one write per record in turn (what a naive
  handler does), one coalesced write per job in turn, and coalesced writes 8 in parallel.
- against the old worker (``bench.old_worker``): AWS's SqsQueueNotificationWorker.py and the new
  pipeline on one emulator for 1 to 50 concurrent jobs; latency and AWS calls per job; also plotted
  to bench/old-vs-new.png. ``BENCH_OLD_JOBS=1,5`` picks the job counts, ``BENCH_OLD_JOBS=`` skips it.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

RESULTS = Path(__file__).with_name("results.md")
PLOT = Path(__file__).with_name("old-vs-new.png")
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
OLD_JOBS = [int(n) for n in os.environ.get("BENCH_OLD_JOBS", "1,5,20,50").split(",") if n.strip()]


def cold_import_ms(statement: str) -> float:
    samples = []
    for _ in range(RUNS):
        code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
        env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


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


T0 = 1_755_000_000_000  # notification times must be believable (2000-2100)


def batch_write_ms(endpoint: str) -> dict[str, float]:
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
    )
    import boto3
    from botocore.config import Config

    from transcoder_status.local.messages import elastic_transcoder_message, sns_envelope
    from transcoder_status.sources import Delivery, parse_body
    from transcoder_status.table import StatusTable
    from transcoder_status.transitions import coalesce

    client = boto3.client("dynamodb", config=Config(max_pool_connections=16))

    def fresh_table() -> StatusTable:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        return StatusTable(name, client)

    notifications = [
        parse_body(
            json.dumps(sns_envelope(elastic_transcoder_message(f"1700000000000-{job:06d}", state), at)),
            Delivery(at, f"m-{job}-{state}"),
        )
        for job in range(25)
        for state, at in (
            (s, T0 + ms)
            for s, ms in (("PROGRESSING", 1_000), ("WARNING", 2_000), ("PROGRESSING", 3_000), ("COMPLETED", 4_000))
        )
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
        "one write per job, in turn": coalesced,
        "one write per job, 8 in parallel": coalesced_parallel,
    }
    samples: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(RUNS):
        for name, way in ways.items():  # interleaved, so drift hits every way alike
            table = fresh_table()
            start = time.perf_counter()
            way(table)
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def against_old_worker() -> list[str]:
    from .old_worker import Settings, compare
    from .old_worker_report import markdown, plot

    comparison = compare(Settings(sizes=OLD_JOBS), log=lambda line: print(line, flush=True))
    plot(comparison, PLOT)
    return [*markdown(comparison), "", f"![old vs new]({PLOT.name})"]


def main() -> None:
    lines = [f"# Benchmarks ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, medians of {RUNS} runs)", ""]
    boto3_ms = cold_import_ms("import boto3")
    handler_ms = cold_import_ms("import transcoder_status.handler")
    lines += [
        "## Cold import",
        "",
        "| import | median ms | ratio |",
        "|---|---:|---:|",
        f"| boto3 alone | {boto3_ms:.0f} | 1.00 |",
        f"| transcoder_status.handler (boto3, Powertools) | {handler_ms:.0f} | {handler_ms / boto3_ms:.2f} |",
        "",
    ]
    server, endpoint = start_moto()
    try:
        writes = batch_write_ms(endpoint)
    finally:
        server.terminate()
        server.wait()
    baseline = writes["one write per record, in turn"]
    lines += [
        "## One SQS batch: 100 notifications, 25 jobs, DynamoDB in moto server over HTTP",
        "",
        "| write path | median ms | speed-up |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {ms:.0f} | {baseline / ms:.1f}x |" for name, ms in writes.items()]
    if OLD_JOBS:
        lines += ["", *against_old_worker()]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
