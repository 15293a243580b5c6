"""Against the old worker: the AWS sample ``SqsQueueNotificationWorker.py`` and the new pipeline on
one emulator, fed the same Elastic Transcoder notifications through SNS, for 1 to 50 concurrent jobs.

For each side and job count: latency from a job's terminal notification being published to the
client seeing the job finished, and AWS calls per job, counted at the HTTP level by caller and
operation (``bench.emulator``). Each actor signs with its own dummy access key, so the calls split
cleanly: ``transcoder`` publishes (alike for both sides, not counted per job), ``oldworker`` is the
sample's processes, ``function`` the new pipeline's Lambda (its SQS poller and table writes),
``client`` the new ``JobMonitor``\\ s.

The old side runs on a plain queue of its own. Its workers delete only their own job's messages: a
message taken by another job's worker stays hidden for the queue's visibility timeout, then goes to
whichever worker asks next. With SQS's default timeout (30 s, as AWS's setup guide for the sample
creates the queue) a run with many jobs takes many minutes, so the main runs shorten it to 1 s and
a second, bounded, set of runs keeps the default. Every run stops at a time bound after its last
notification, or at a cap on its calls, and its process group is killed, so nothing outlives it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from transcoder_status.local.emulator import Emulator
from transcoder_status.local.messages import elastic_transcoder_message
from transcoder_status.local.provision import Stack, provision
from transcoder_status.local.runtime import Runtime, start_runtime

from .emulator import CallCounter, Counts, bench_emulator

ROOT = Path(__file__).resolve().parents[1]
SEED = Path(os.environ.get("OLD_WORKER", ROOT.parent / "shared" / "reference" / "SqsQueueNotificationWorker.py"))

# Who signs what (dummy access key IDs; the counter splits calls by them).
TRANSCODER, OLD_WORKER, FUNCTION, CLIENT = "transcoder", "oldworker", "function", "client"

SAMPLE_POLL_S = 5.0  # AWS's JobStatusNotificationSample.py: `while not finished(): time.sleep(5)`


@dataclass(frozen=True)
class Settings:
    sizes: Sequence[int] = (1, 5, 20, 50)
    # The old queue's visibility timeout in the main runs, shortened from SQS's 30 s so that every
    # run ends: each time another job's worker takes a message costs the owner one timeout.
    visibility_timeout_s: int = 1
    bound_s: float = 150.0  # a run stops this long after its last notification at the latest
    max_calls_per_job: int = 2000  # ... or once its side made this many calls per job
    # Also run the old worker on a queue with SQS's defaults, as AWS's guide creates it (30 s), this
    # long after the last notification; None: skip.
    default_queue_bound_s: float | None = 35.0
    job_duration_s: float = 2.0  # first notification to terminal one
    spread_s: float = 2.0  # job starts spread over this
    fair_long_polls: bool = True  # see bench.emulator._prompt_wait
    seed: int = 10


# -- the notifications, the same for both sides ---------------------------------------------------


@dataclass(frozen=True)
class Planned:
    at_s: float
    job_id: str
    state: str  # Elastic Transcoder's: PROGRESSING, WARNING, COMPLETED, ERROR

    @property
    def terminal(self) -> bool:
        return self.state in ("COMPLETED", "ERROR")


def plan(jobs: int, settings: Settings, rng: random.Random) -> tuple[list[Planned], dict[str, str]]:
    """A few notifications per job: PROGRESSING, a WARNING for every other job, then COMPLETED, or
    ERROR for every fourth job. Returns the schedule and each job's expected final JobStatus."""
    schedule: list[Planned] = []
    expected: dict[str, str] = {}
    for index in range(jobs):
        job_id = f"{int(time.time() * 1000) + index}-{rng.randbytes(3).hex()}"
        start = settings.spread_s * index / jobs
        end = start + settings.job_duration_s
        schedule.append(Planned(start, job_id, "PROGRESSING"))
        if index % 2:
            schedule.append(Planned((start + end) / 2, job_id, "WARNING"))
        failed = index % 4 == 3
        schedule.append(Planned(end, job_id, "ERROR" if failed else "COMPLETED"))
        expected[job_id] = "ERROR" if failed else "SUCCESS"
    return sorted(schedule, key=lambda step: step.at_s), expected


def publish(schedule: list[Planned], topic_arn: str, sns: Any) -> dict[str, float]:
    """Publish on schedule; return when each job's terminal notification left (time.time())."""
    sent: dict[str, float] = {}
    started = time.monotonic()
    for step in schedule:
        time.sleep(max(0.0, started + step.at_s - time.monotonic()))
        message = elastic_transcoder_message(step.job_id, step.state)
        at = time.time()
        sns.publish(
            TopicArn=topic_arn,
            Message=json.dumps(message, indent=2, separators=(",", " : ")),  # as Elastic Transcoder prints it
            Subject=f"Amazon Elastic Transcoder job {step.job_id} is {step.state.lower()}",
        )
        if step.terminal:
            sent[step.job_id] = at
    return sent


# -- one run of one side ----------------------------------------------------------------------------


@dataclass
class SideRun:
    side: str  # "old" or "new"
    jobs: int
    latency_s: dict[str, float]  # job -> terminal published to client seeing it finished
    calls: dict[str, Counter[str]]  # principal -> service:operation -> calls, the side's own principals
    received: int  # messages ReceiveMessage handed to the side
    published: int  # notifications the transcoder published (alike for both sides)
    stopped_by: str  # "all finished", "time bound", "call cap", "watcher exited"
    server_errors: int  # 5xx answers to the side (moto under load); botocore retried them
    wrong: list[str] = field(default_factory=list)  # jobs seen finished with the wrong status
    flag_latency_s: dict[str, float] = field(default_factory=dict)  # old: the worker's flag, read every 20 ms
    bound_s: float = math.inf  # how long after its last notification it was allowed to run

    @property
    def finished(self) -> int:
        return len(self.latency_s)

    @property
    def total_calls(self) -> int:
        return sum(sum(calls.values()) for calls in self.calls.values())

    @property
    def calls_per_job(self) -> float:
        return self.total_calls / self.jobs


def _signing(emulator: Emulator, principal: str) -> dict[str, str]:
    return {**emulator.environment(), "AWS_ACCESS_KEY_ID": principal}


def _session(emulator: Emulator, principal: str) -> boto3.Session:
    return boto3.Session(aws_access_key_id=principal, aws_secret_access_key="bench", region_name=emulator.region)


class _FunctionEmulator(Emulator):
    """The emulator as the function's runtime sees it: signing as ``function``."""

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "AWS_ACCESS_KEY_ID": FUNCTION}


@dataclass
class Bench:
    emulator: Emulator
    counter: CallCounter
    stack: Stack
    workdir: Path
    settings: Settings
    log: Callable[[str], None] = print

    def run_new(self, schedule: list[Planned], expected: dict[str, str]) -> SideRun:
        return self._run(
            "new", schedule, expected, self.stack.outputs["NotificationTopicArn"], {}, self.settings.bound_s
        )

    def run_old(
        self, schedule: list[Planned], expected: dict[str, str], visibility_timeout_s: int | None, bound_s: float
    ) -> SideRun:
        """On a fresh topic and plain queue (no leftovers from earlier runs), deleted afterwards."""
        sns = _session(self.emulator, TRANSCODER).client("sns")
        sqs = _session(self.emulator, TRANSCODER).client("sqs")
        name = f"ets-sample-{uuid.uuid4().hex[:8]}"
        topic_arn = sns.create_topic(Name=f"{name}-topic")["TopicArn"]
        attributes = {} if visibility_timeout_s is None else {"VisibilityTimeout": str(visibility_timeout_s)}
        queue_url = sqs.create_queue(QueueName=f"{name}-queue", Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        # Raw delivery off: the sample reads the SNS envelope's Message.
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        try:
            run = self._run("old", schedule, expected, topic_arn, {"queue_name": f"{name}-queue"}, bound_s)
        finally:
            sqs.delete_queue(QueueUrl=queue_url)
            sns.delete_topic(TopicArn=topic_arn)
        return run

    def _run(
        self,
        side: str,
        schedule: list[Planned],
        expected: dict[str, str],
        topic_arn: str,
        extra: dict[str, Any],
        bound_s: float,
    ) -> SideRun:
        jobs = len(expected)
        principals = (OLD_WORKER,) if side == "old" else (CLIENT, FUNCTION)
        results = self.workdir / f"{side}-{jobs}-{uuid.uuid4().hex[:6]}.jsonl"
        spec = {
            "side": side,
            "job_ids": list(expected),
            "results_path": str(results),
            "seed_path": str(SEED),
            "table_name": self.stack.outputs["TableName"],
            "max_s": schedule[-1].at_s + bound_s + 60,  # its own bound, should we die first
            **extra,
        }
        before = self.counter.snapshot()
        with _watcher(spec, _signing(self.emulator, OLD_WORKER if side == "old" else CLIENT), self.workdir) as watcher:
            self._await_ready(side, jobs, results, watcher, before)
            sent = publish(schedule, topic_arn, _session(self.emulator, TRANSCODER).client("sns"))
            stopped_by = self._await_end(watcher, jobs, principals, before, bound_s)
        counts = self.counter.snapshot() - before
        run = self._result(side, jobs, expected, sent, results, counts, principals, stopped_by)
        run.bound_s = bound_s
        return run

    def _await_ready(
        self, side: str, jobs: int, results: Path, watcher: subprocess.Popen[bytes], before: Counts
    ) -> None:
        """Until every watcher polls: the old workers have each looked their queue up, the new
        monitors are built (a client each)."""
        deadline = time.monotonic() + 60 + jobs
        while time.monotonic() < deadline and watcher.poll() is None:
            if side == "old":
                if (self.counter.snapshot() - before).of(OLD_WORKER)["sqs:GetQueueUrl"] >= jobs:
                    return
            elif results.exists() and results.read_text():
                return
            time.sleep(0.05)
        raise RuntimeError(f"the {side} watchers did not start; see {self.workdir}")

    def _await_end(
        self, watcher: subprocess.Popen[bytes], jobs: int, principals: Sequence[str], before: Counts, bound_s: float
    ) -> str:
        deadline = time.monotonic() + bound_s
        cap = self.settings.max_calls_per_job * jobs
        while watcher.poll() is None:
            if time.monotonic() > deadline:
                return "time bound"
            if (self.counter.snapshot() - before).total(*principals) > cap:
                return "call cap"
            time.sleep(0.1)
        return "all finished" if watcher.returncode == 0 else "watcher exited"

    def _result(
        self,
        side: str,
        jobs: int,
        expected: dict[str, str],
        sent: dict[str, float],
        results: Path,
        counts: Counts,
        principals: Sequence[str],
        stopped_by: str,
    ) -> SideRun:
        records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
        started = next((record["at"] for record in records if record["event"] == "started"), None)
        if started is None:
            raise RuntimeError(f"the {side} watchers never started; see {self.workdir}")
        finished = [record for record in records if record["event"] == "finished"]
        run = SideRun(
            side,
            jobs,
            latency_s={},
            calls={principal: counts.of(principal) for principal in principals},
            received=counts.received_by(*principals),
            published=counts.of(TRANSCODER)["sns:Publish"],
            stopped_by=stopped_by if len(finished) < jobs else "all finished",
            server_errors=counts.errors_of(*principals),
        )
        for record in finished:
            job = record["job"]
            if record["status"] != expected[job]:
                run.wrong.append(job)
            if side == "new":
                run.latency_s[job] = record["at"] - sent[job]
                continue
            # The sample's JobMonitor reads finished() every 5 s from its start: it sees the flag
            # at the first of those reads after the flag went up. A shared-memory read, so the
            # read times follow exactly from the flag's time; no AWS call is involved.
            flag, first_read = record["at"], started[job]
            seen = first_read + SAMPLE_POLL_S * math.ceil(max(0.0, flag - first_read) / SAMPLE_POLL_S)
            run.flag_latency_s[job] = flag - sent[job]
            run.latency_s[job] = seen - sent[job]
        self.log(
            f"  {side}: {run.finished}/{jobs} seen finished ({run.stopped_by}), "
            f"{run.total_calls} calls, {run.received} messages received"
        )
        return run


@contextmanager
def _watcher(spec: dict[str, Any], environment: dict[str, str], workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m bench.watchers`` in a session of its own; its whole process group is killed on exit."""
    with (workdir / f"{spec['side']}-watchers.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.watchers", json.dumps(spec)],
            cwd=ROOT,
            # Only the emulator's AWS settings: boto3's defaults otherwise, as the sample would run.
            env={
                **{name: value for name, value in os.environ.items() if not name.startswith("AWS_")},
                **environment,
                "PYTHONPATH": str(ROOT),
            },
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the sample pprints every message it receives
            stderr=log,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the watcher and any worker it left behind
        process.wait()


# -- the whole comparison ---------------------------------------------------------------------------


@dataclass
class Sized:
    """One job count, every side fed the same notifications, measured back to back."""

    jobs: int
    new: SideRun
    old: SideRun  # on a queue with the shortened visibility timeout
    old_default_queue: SideRun | None  # on a queue with SQS's defaults, bounded


@dataclass
class Comparison:
    settings: Settings
    sized: list[Sized]
    elapsed_s: float
    workdir: Path
    load_at_start: tuple[float, float, float]


def compare(settings: Settings = Settings(), log: Callable[[str], None] = print) -> Comparison:
    if not SEED.is_file():
        raise FileNotFoundError(f"the old worker is not at {SEED}; set OLD_WORKER to its path")
    started, load = time.monotonic(), os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="bench-old-worker-"))
    rng = random.Random(settings.seed)
    log(f"Against the old worker; logs in {workdir}")
    with bench_emulator(fair_long_polls=settings.fair_long_polls) as (emulator, counter):
        stack = provision(f"bench-{uuid.uuid4().hex[:6]}")
        (trigger,) = stack.triggers
        runtime = start_runtime(trigger, _FunctionEmulator(emulator.endpoint_url), workdir / "function.log")
        try:
            _await_function(counter, runtime, workdir)
            bench = Bench(emulator, counter, stack, workdir, settings, log)
            sized = []
            for jobs in settings.sizes:
                log(f"{jobs} concurrent job(s)")
                schedule, expected = plan(jobs, settings, rng)
                new = bench.run_new(schedule, expected)
                old = bench.run_old(schedule, expected, settings.visibility_timeout_s, settings.bound_s)
                default = None
                if settings.default_queue_bound_s is not None:
                    default = bench.run_old(schedule, expected, None, settings.default_queue_bound_s)
                sized.append(Sized(jobs, new, old, default))
        finally:
            runtime.stop()
    return Comparison(settings, sized, time.monotonic() - started, workdir, load)


def _await_function(counter: CallCounter, runtime: Runtime, workdir: Path) -> None:
    deadline = time.monotonic() + 60
    while counter.snapshot().of(FUNCTION)["sqs:ReceiveMessage"] == 0:
        if runtime.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the function's runtime did not start polling; see {workdir / 'function.log'}")
        time.sleep(0.05)
