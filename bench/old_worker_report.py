"""The old-versus-new comparison as a results.md section and a PNG plot."""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import platform
import sys
from collections import Counter
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from transcoder_status.client import Backoff

from .old_worker import CLIENT, FUNCTION, SAMPLE_POLL_S, Comparison, SideRun


def machine(load_at_start: Sequence[float]) -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("boto3", "moto", "werkzeug"))
    start, end = (", ".join(f"{value:.1f}" for value in load) for load in (load_at_start, os.getloadavg()))
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"Python {sys.version.split()[0]}, {versions}; load average {start} at the start, {end} at the end"
    )


def censored_median(run: SideRun, latencies: dict[str, float]) -> float:
    """Median over every job, an unfinished job counting as longer than any: inf if most did not finish."""
    values = sorted(latencies.values()) + [math.inf] * (run.jobs - len(latencies))
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _seconds(value: float, bound: float) -> str:
    return f"> {bound:.0f} s" if math.isinf(value) else f"{value:.1f} s"


def _latency(run: SideRun, latencies: dict[str, float] | None = None) -> str:
    latencies = run.latency_s if latencies is None else latencies
    highest = max(latencies.values()) if len(latencies) == run.jobs else math.inf
    return f"{_seconds(censored_median(run, latencies), run.bound_s)} / {_seconds(highest, run.bound_s)}"


def _per_job(calls: Counter[str], jobs: int) -> str:
    return ", ".join(f"{name} {n / jobs:.1f}" for name, n in sorted(calls.items(), key=lambda item: -item[1]))


def exponent(sizes: Sequence[int], values: Sequence[float]) -> float:
    """Least-squares slope of log(value) on log(size): value grows as size ** slope."""
    xs = [math.log(size) for size in sizes]
    ys = [math.log(value) for value in values]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum((x - mean_x) ** 2 for x in xs)


def markdown(comparison: Comparison) -> list[str]:
    settings, sized = comparison.settings, comparison.sized
    vt = settings.visibility_timeout_s
    lines = [
        "## Against the old worker: AWS's SqsQueueNotificationWorker.py and the new pipeline",
        "",
        f"{machine(comparison.load_at_start)}. All runs below in one {comparison.elapsed_s / 60:.1f} min run, "
        "on one emulator, side by side.",
        "",
        "Each job publishes Elastic Transcoder notifications through SNS: PROGRESSING, WARNING (every other job), "
        f"then COMPLETED (ERROR for every fourth job) {settings.job_duration_s:g} s later; job starts are spread "
        f"over {settings.spread_s:g} s. Both sides get the same notifications. **New**: the stack provisioned from "
        "template.yaml, its function behind the local SQS poller, and one `JobMonitor(job_id).wait()` per job (the "
        "library's defaults), each in a thread. **Old**: the sample, unchanged, one `SqsWorker` (one process) per job "
        f"on a plain queue subscribed to its own topic, visibility timeout {vt} s (SQS's default 30 s in the last "
        "table). **Latency**: from a job's terminal notification being published to the client seeing the job "
        f"finished; for the old side, as AWS's sample reads `finished()` (every {SAMPLE_POLL_S:g} s), and the "
        "worker's flag itself (read every 20 ms). **Calls**: HTTP requests the emulator served, by caller; the "
        "transcoder's own `sns:Publish` calls (the same for both sides) are not included.",
        "",
        "| jobs | new: latency median / max | old: latency median / max | old: worker flag median / max "
        "| new: calls/job (client + function) | old: calls/job | old / new calls | old: messages received/job |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in sized:
        new, old = row.new, row.old
        client, function = (sum(new.calls[p].values()) / row.jobs for p in (CLIENT, FUNCTION))
        lines.append(
            f"| {row.jobs} | {_latency(new)} | {_latency(old)} | {_latency(old, old.flag_latency_s)} "
            f"| {new.calls_per_job:.1f} ({client:.1f} + {function:.1f}) | {old.calls_per_job:.1f} "
            f"| {old.calls_per_job / new.calls_per_job:.2f} | {old.received / old.jobs:.1f} |"
        )
    lines += ["", *_growth(comparison), "", "Calls per job, by caller and operation:", ""]
    lines += ["| jobs | new: client | new: function | old: workers |", "|---:|---|---|---|"]
    for row in sized:
        by = row.new.calls
        workers = sum(row.old.calls.values(), Counter[str]())
        lines.append(
            f"| {row.jobs} | {_per_job(by[CLIENT], row.jobs)} | {_per_job(by[FUNCTION], row.jobs)} "
            f"| {_per_job(workers, row.jobs)} |"
        )
    defaults = [(row.jobs, row.old_default_queue) for row in sized if row.old_default_queue is not None]
    if defaults:
        bound = defaults[0][1].bound_s
        lines += [
            "",
            "The old worker on a queue as AWS's setup guide creates it (console defaults: visibility timeout 30 s), "
            f"each run stopped {bound:.0f} s after its last notification (so its calls, counted until then, "
            "cannot show their growth):",
            "",
            "| jobs | finished in time | latency median / max | worker flag median / max | calls/job "
            "| messages received/job |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for jobs, run in defaults:
            lines.append(
                f"| {jobs} | {run.finished}/{jobs} | {_latency(run)} | {_latency(run, run.flag_latency_s)} "
                f"| {run.calls_per_job:.1f} | {run.received / jobs:.1f} |"
            )
    lines += ["", *_notes(comparison)]
    return lines


def _growth(comparison: Comparison) -> list[str]:
    sized = comparison.sized
    if len(sized) < 2:
        return []
    sizes = [row.jobs for row in sized]
    old_totals = [row.old.total_calls for row in sized]
    new_totals = [row.new.total_calls for row in sized]
    received = [max(row.old.received, 1) for row in sized]
    steps = ", ".join(
        f"{a.jobs} -> {b.jobs} jobs: x{b.old.calls_per_job / a.old.calls_per_job:.1f}"
        for a, b in itertools.pairwise(sized)
    )
    return [
        f"Growth with the number of jobs N (least-squares fit of log total on log N, N = "
        f"{', '.join(map(str, sizes))}): the old workers' calls in total grow as N^{exponent(sizes, old_totals):.2f}, "
        f"the messages they receive as N^{exponent(sizes, received):.2f} (every worker receives every job's "
        f"messages); the new pipeline's calls as N^{exponent(sizes, new_totals):.2f}. Old calls per job, step by "
        f"step: {steps}."
    ]


def _notes(comparison: Comparison) -> list[str]:
    runs = [run for row in comparison.sized for run in (row.new, row.old, row.old_default_queue) if run is not None]
    errors = sum(run.server_errors for run in runs)
    unfinished = [f"{run.side} {run.jobs} jobs ({run.stopped_by})" for run in runs if run.finished < run.jobs]
    wrong = sum(len(run.wrong) for run in runs)
    notes = [
        "Notes:",
        "",
        f"- Every run is bounded: stopped {comparison.settings.bound_s:.0f} s after its last notification or after "
        f"{comparison.settings.max_calls_per_job} calls per job, and its process group killed. Runs that did not "
        f"see every job finished: {', '.join(unfinished) or 'none'}. Jobs seen with a wrong final status: {wrong}.",
        "- The old latency is in whole visibility timeouts: a job's worker sees its terminal message only when no "
        "other job's worker took it first; each time one did, the message stays hidden for the queue's visibility "
        "timeout. Calls and latency of the old side scale with that timeout too (its idle long polls last 5 s).",
        "- New-side calls are mostly the function's `sqs:ReceiveMessage`: the local poller long-polls 1 s at a time "
        "and, while it fills a batch (1 s window), short-polls every 50 ms. That standing cost is shared by all "
        "jobs; on AWS the event source mapping's polls are also SQS requests, shaped differently. The client reads "
        f"one `GetItem` per job per poll, pacing its polls with the library's default `{Backoff()!r}`, which is "
        "most of the new side's latency; `wait_all` would read 100 jobs per call.",
        f"- moto answered {errors} requests with a server error (a race in its SQS code under many concurrent long "
        "polls); botocore retried them, and the retries are counted as calls."
        if errors
        else "- moto answered no request with a server error.",
    ]
    if comparison.settings.fair_long_polls:
        notes.append(
            "- One emulator change, in the old worker's favour: moto re-checks a waiting long poll only when a "
            "message arrives or every 1 s, so when a visibility timeout ends, the worker that took the message "
            "last is first to look again and takes it again, for minutes. SQS leaves the next receiver to chance; "
            "here waiting long polls re-check every 20-100 ms at random (`bench.emulator._prompt_wait`)."
        )
    return notes


def plot(comparison: Comparison, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    sized = comparison.sized
    sizes = [row.jobs for row in sized]
    figure, (latency, calls) = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    series = [
        ("new: JobMonitor.wait() defaults", "tab:blue", [row.new for row in sized], None),
        (f"old: finished() every {SAMPLE_POLL_S:g} s (AWS's sample)", "tab:red", [row.old for row in sized], None),
        ("old: worker's flag", "tab:orange", [row.old for row in sized], "flag"),
    ]
    for label, color, runs, which in series:
        points = [(run.jobs, run.flag_latency_s if which else run.latency_s, run) for run in runs]
        medians = [censored_median(run, values) for _, values, run in points]
        highest = [max(values.values(), default=math.nan) for _, values, _ in points]
        latency.plot(sizes, medians, "o-", color=color, label=f"{label}, median")
        latency.plot(sizes, highest, "v:", color=color, alpha=0.6, label=f"{label}, max")
    latency.set(
        xscale="log",
        yscale="log",
        xlabel="concurrent jobs",
        ylabel="s, terminal notification -> client sees finished",
        title="Latency",
    )
    latency.legend(fontsize=7)
    calls.plot(sizes, [row.new.calls_per_job for row in sized], "o-", color="tab:blue", label="new: calls/job")
    calls.plot(
        sizes,
        [sum(row.new.calls[CLIENT].values()) / row.jobs for row in sized],
        "s--",
        color="tab:blue",
        alpha=0.6,
        label="new: the client's calls/job",
    )
    calls.plot(sizes, [row.old.calls_per_job for row in sized], "o-", color="tab:red", label="old: calls/job")
    calls.plot(
        sizes,
        [max(row.old.received, 1) / row.jobs for row in sized],
        "s--",
        color="tab:red",
        alpha=0.6,
        label="old: messages received/job",
    )
    anchor = max(sized[-1].old.received, 1) / sized[-1].jobs  # through the last point: compare slopes
    calls.plot(sizes, [anchor * size / sizes[-1] for size in sizes], "k:", alpha=0.4, label="per job ~ N (total ~ N²)")
    calls.set(xscale="log", yscale="log", xlabel="concurrent jobs", ylabel="per job", title="AWS calls per job")
    calls.legend(fontsize=7)
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    for axes in (latency, calls):
        axes.set_xticks(sizes, [str(size) for size in sizes])
        axes.xaxis.set_minor_formatter(NullFormatter())
        axes.yaxis.set_major_formatter(plain)
        axes.yaxis.set_minor_formatter(NullFormatter())
    vt = comparison.settings.visibility_timeout_s
    figure.suptitle(f"SqsQueueNotificationWorker.py (visibility timeout {vt} s) vs the new pipeline, on moto")
    figure.savefig(path, dpi=110)
    plt.close(figure)
