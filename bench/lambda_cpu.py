"""Both functions under Lambda's CPU share: a cgroup CPU quota of memory / 1,769 of one CPU (issue 23).

Lambda allocates CPU in proportion to memory, a whole vCPU at 1,769 MB
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html). For each memory size, a
child process (bench.lambda_child) runs in a cgroup whose CPU quota is that share of one CPU:
interpreter start, the function's import, its first invocation (the cold start), then warm batches
of 1, 10 and 100. The stand-ins for DynamoDB and MediaConvert (bench.stub_dynamodb) answer from a
process outside the limit, after a fixed latency. Several cold environments per size, each with
several warm rounds: a quota of a fraction of a period makes durations bimodal (the work fits in
one period, or waits for the next), so each figure is a median with its range.

The chosen size (``choice``) is the cheapest in GB-seconds whose batch of 10 stays within 1.5x of
the whole-CPU size's on average (the mean, both modes counted, as billed); it is written to
bench/lambda-memory.json, which template.yaml's default is held to
(tests/unit/test_template_memory.py).

Needs a writable cgroup with the cpu controller (v1: cpu.cfs_quota_us; v2: cpu.max), as root
usually; ``quota_groups()`` says why not otherwise, and the section is skipped with that reason.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .stub_dynamodb import running_stub

ROOT = Path(__file__).resolve().parents[1]
FULL_CPU_MB = 1769  # one whole vCPU
MEMORY_SIZES = (128, 256, 512, 1024, FULL_CPU_MB)
BATCHES = (1, 10, 100)
FUNCTIONS = {"writer": "the status writer", "stuck": "the stuck check"}
TEMPLATE_FUNCTIONS = {"writer": "StatusWriterFunction", "stuck": "StuckCheckFunction"}
LATENCY_MS = 5  # every DynamoDB and MediaConvert call: in-Region, single-digit milliseconds
PERIOD_US = 100_000  # the kernel's default CFS period; Lambda does not document its own
WITHIN = 1.5  # a size qualifies when its batch of 10 takes at most this times the whole CPU's
HEADING = "Lambda's CPU share: both functions at each memory size"
CHOICE = ROOT / "bench" / "lambda-memory.json"
V1_ROOT = Path("/sys/fs/cgroup/cpu")
V2_ROOTS = (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))


class QuotaGroups:
    """Makes cgroups with a CPU quota under ``root`` (cgroup v1's cpu controller, or v2's)."""

    def __init__(self, root: Path, version: int):
        self.root, self.version = root, version

    def sweep(self) -> None:
        """Removes the empty groups of runs that ended without removing them (killed outright): their
        names hold the creating process's id, and that process is gone."""
        for group in self.root.glob("bench-lambda-*-*"):
            creator = int(group.name.split("-")[2])
            if not Path(f"/proc/{creator}").exists():
                with contextlib.suppress(OSError):  # a process still in it: the next sweep's
                    group.rmdir()

    @contextmanager
    def limited(self, share: float) -> Iterator[Callable[[], object]]:
        """A new cgroup allowed ``share`` of one CPU, and what joins a child to it: a ``preexec_fn``, so
        that the child's interpreter starts under the quota. Removed afterwards (empty by then)."""
        group = self.root / f"bench-lambda-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        group.mkdir()
        try:
            quota = max(1000, round(PERIOD_US * share))  # the kernel's least quota is 1 ms
            if self.version == 1:
                (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (group / "cpu.cfs_quota_us").write_text(str(quota))
            else:
                (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
            yield lambda: (group / "cgroup.procs").write_text(str(os.getpid()))
        finally:
            _remove(group)


def _remove(group: Path) -> None:
    """Removes a group of this run, first ending what is left in it: a child whose start a signal
    interrupted (Popen raised before it could kill it), or one the kernel has not yet let go of."""
    deadline = time.monotonic() + 10
    while True:
        try:
            group.rmdir()
            return
        except OSError as error:
            if error.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.01)


def quota_groups() -> QuotaGroups | str:
    """Where CPU quotas can be set here, or why they cannot (the section's skip reason)."""
    reasons = []
    candidates = [(V1_ROOT, 1)] if (V1_ROOT / "cpu.cfs_quota_us").exists() else []
    for root in V2_ROOTS:
        controllers = root / "cgroup.subtree_control"
        if controllers.exists() and "cpu" in controllers.read_text().split():
            candidates.append((root, 2))
        elif controllers.exists():
            reasons.append(f"{root}: cgroup v2 without the cpu controller for its children")
    for root, version in candidates:
        groups = QuotaGroups(root, version)
        try:
            with groups.limited(0.5):
                pass
            groups.sweep()
            return groups
        except OSError as error:
            reasons.append(f"{root}: {error.strerror or error}")
    return "no writable cgroup CPU quota (" + ("; ".join(reasons) or "no cpu controller mounted") + ")"


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    billed: float  # the mean of the samples each rounded up to 1 ms, as Lambda bills a duration in ms

    @classmethod
    def of(cls, samples: list[float]) -> Spread:
        billed = statistics.fmean(math.ceil(sample) for sample in samples)
        return cls(statistics.median(samples), min(samples), max(samples), billed)

    def text(self, unit: float = 1.0) -> str:
        """``median (low-high)``, in ms, or seconds with ``unit`` 1000."""
        digits = 2 if unit > 1 else 0
        values = [f"{value / unit:,.{digits}f}" for value in (self.median, self.low, self.high)]
        return values[0] if values[1] == values[2] else f"{values[0]} ({values[1]}-{values[2]})"


@dataclass(frozen=True)
class SizeFigures:
    memory_mb: int
    interpreter: Spread
    imports: Spread
    first_batch: Spread
    cold: Spread  # the three above, each environment's sum
    batches: dict[int, Spread]

    @property
    def share(self) -> float:
        return min(1.0, self.memory_mb / FULL_CPU_MB)

    def gb_seconds_per_1000(self, batch: int = 10) -> float:
        """GB-seconds per 1,000 notifications (the check: jobs asked about) in batches of ``batch``: the
        bill is the sum of the invocations' durations, each rounded up to 1 ms, so the mean billed
        duration, both modes of the quota's bimodality counted (https://aws.amazon.com/lambda/pricing/)."""
        return self.memory_mb / 1024 * self.batches[batch].billed / 1000 * 1000 / batch


@dataclass(frozen=True)
class FunctionFigures:
    function: str
    sizes: list[SizeFigures]

    def choice(self) -> SizeFigures:
        """The cheapest size whose batch of 10 takes at most WITHIN times the whole CPU's, on average:
        a median of the quota's two modes flips between runs, the mean counts both as the bill does."""
        measured = {size.memory_mb: size for size in self.sizes}
        if FULL_CPU_MB not in measured:
            raise ValueError(f"the size rule compares with a whole vCPU: measure {FULL_CPU_MB:,} MB too")
        whole = measured[FULL_CPU_MB].batches[10].billed
        fast_enough = [size for size in self.sizes if size.batches[10].billed <= WITHIN * whole]
        return min(fast_enough, key=lambda size: (size.gb_seconds_per_1000(), size.memory_mb))


@dataclass(frozen=True)
class ImportCost:
    module: str
    self_ms: float
    cumulative_ms: float


@dataclass(frozen=True)
class LambdaCpu:
    functions: list[FunctionFigures]
    cold_runs: int
    warm_runs: int
    imports: dict[str, list[ImportCost]]  # by function, at its chosen size


def measure(
    groups: QuotaGroups, sizes: tuple[int, ...] = MEMORY_SIZES, cold_runs: int = 3, warm_runs: int = 4
) -> LambdaCpu:
    with tempfile.TemporaryDirectory(prefix="lambda-cpu-") as scratch, running_stub(LATENCY_MS) as endpoint:
        events = Path(scratch) / "events.json"
        events.write_text(json.dumps({str(size): _batch(size) for size in BATCHES}))
        environment = _environment(endpoint)
        for function in FUNCTIONS:  # compiles what is not compiled yet, fills the stand-in's answers
            _run(groups, 1.0, function, events, Path(scratch), 1, environment)
        functions = []
        for function in FUNCTIONS:
            figures = [
                _size(groups, function, memory, events, Path(scratch), cold_runs, warm_runs, environment)
                for memory in sizes
            ]
            functions.append(FunctionFigures(function, figures))
        imports = {
            figures.function: import_costs(groups, figures.choice().share, figures.function, environment)
            for figures in functions
        }
    return LambdaCpu(functions, cold_runs, warm_runs, imports)


def _batch(size: int) -> dict[str, object]:
    from .handler_batches import batch_event

    return batch_event(size)


def _environment(endpoint: str) -> dict[str, str]:
    """The functions' environment as template.yaml sets it, every AWS endpoint the stand-in."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "POWERTOOLS_"))}
    return {
        **environment,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ENDPOINT_URL_MEDIACONVERT": endpoint,
        "AWS_RETRY_MODE": "standard",
        "AWS_MAX_ATTEMPTS": "3",
        "TABLE_NAME": "stuck-1",  # the writer writes to it; the check finds one stuck row in it
        "RECONCILE_MEDIACONVERT": "true",
        "POWERTOOLS_SERVICE_NAME": "transcoder-status",
        "POWERTOOLS_METRICS_NAMESPACE": "TranscoderStatus",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


def _run(
    groups: QuotaGroups,
    share: float,
    function: str,
    events: Path,
    scratch: Path,
    warm_runs: int,
    environment: dict[str, str],
) -> dict[str, object]:
    """One cold environment in a cgroup of ``share``; its figures, with the interpreter's start."""
    result = scratch / f"{function}-{uuid.uuid4().hex[:8]}.json"
    command = [sys.executable, "-m", "bench.lambda_child", function, str(events), str(result), str(warm_runs)]
    with groups.limited(share) as join:
        spawned = time.monotonic()
        subprocess.run(
            command,
            check=True,
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            preexec_fn=join,
        )
    figures: dict[str, object] = json.loads(result.read_text())
    figures["interpreter_ms"] = (float(figures["started"]) - spawned) * 1000  # type: ignore[arg-type]
    return figures


def _size(
    groups: QuotaGroups,
    function: str,
    memory: int,
    events: Path,
    scratch: Path,
    cold_runs: int,
    warm_runs: int,
    environment: dict[str, str],
) -> SizeFigures:
    share = min(1.0, memory / FULL_CPU_MB)
    runs = [_run(groups, share, function, events, scratch, warm_runs, environment) for _ in range(cold_runs)]
    parts = {name: [float(run[name]) for run in runs] for name in ("interpreter_ms", "import_ms", "first_ms")}  # type: ignore[arg-type]
    cold = [sum(values) for values in zip(*parts.values(), strict=True)]
    warm = {size: [ms for run in runs for ms in run["warm_ms"][str(size)]] for size in BATCHES}  # type: ignore[index]
    return SizeFigures(
        memory,
        interpreter=Spread.of(parts["interpreter_ms"]),
        imports=Spread.of(parts["import_ms"]),
        first_batch=Spread.of(parts["first_ms"]),
        cold=Spread.of(cold),
        batches={size: Spread.of(samples) for size, samples in warm.items()},
    )


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_costs(groups: QuotaGroups, share: float, function: str, environment: dict[str, str]) -> list[ImportCost]:
    """``python -X importtime`` of the function's module under the quota: the module, then each module
    it imports itself, its own time and with what that imports, largest first."""
    from .lambda_child import MODULES

    command = [sys.executable, "-X", "importtime", "-c", f"import {MODULES[function]}"]
    with groups.limited(share) as join:
        run = subprocess.run(
            command,
            check=True,
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            preexec_fn=join,
        )
    lines = [
        (len(match[3]), ImportCost(match[4], int(match[1]) / 1000, int(match[2]) / 1000))
        for match in _IMPORT_LINE.finditer(run.stderr)
    ]
    # A module's line follows its imports': the function's module is the last line, its imports
    # the deeper lines just before it (the interpreter's own start-up imports come earlier).
    top, module = lines[-1]
    children = []
    for depth, cost in reversed(lines[:-1]):
        if depth <= top:
            break
        if depth == top + 2:
            children.append(cost)
    return [module, *sorted(children, key=lambda cost: cost.cumulative_ms, reverse=True)]


def memory_sizes(text: str) -> tuple[int, ...]:
    """The sizes of ``BENCH_LAMBDA_MEMORY`` (``256,512``), with the whole vCPU the rule compares with."""
    return tuple(sorted({int(mb) for mb in text.split(",") if mb.strip()} | {FULL_CPU_MB}))


def write_choice(figures: LambdaCpu, path: Path = CHOICE) -> bool:
    """The memory each function's template default must be (tests/unit/test_template_memory.py);
    written only by a run of every size in MEMORY_SIZES (the cheapest may be one a smaller run left out)."""
    if any({size.memory_mb for size in f.sizes} < set(MEMORY_SIZES) for f in figures.functions):
        return False
    chosen = {TEMPLATE_FUNCTIONS[f.function]: f.choice().memory_mb for f in figures.functions}
    path.write_text(json.dumps(chosen, indent=2) + "\n")
    return True


def plot(figures: LambdaCpu, path: Path) -> None:
    """Duration and GB-seconds per 1,000 notifications against memory, as Power Tuning charts them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (duration, cost) = plt.subplots(1, 2, figsize=(11, 4.2))
    for function in figures.functions:
        memory = [size.memory_mb for size in function.sizes]
        label = FUNCTIONS[function.function]
        medians = [size.batches[10].median for size in function.sizes]
        errors = [
            [m - size.batches[10].low for m, size in zip(medians, function.sizes, strict=True)],
            [size.batches[10].high - m for m, size in zip(medians, function.sizes, strict=True)],
        ]
        duration.errorbar(memory, medians, yerr=errors, marker="o", capsize=3, label=label)
        cost.plot(memory, [size.gb_seconds_per_1000() for size in function.sizes], marker="o", label=label)
    duration.set(xscale="log", yscale="log", xlabel="memory (MB)", ylabel="ms", title="a batch of 10: median and range")
    cost.set(xscale="log", xlabel="memory (MB)", ylabel="GB-s", title="GB-seconds per 1,000 (batches of 10)")
    for axes in (duration, cost):
        axes.set_xticks(list(MEMORY_SIZES), [str(size) for size in MEMORY_SIZES])
        axes.minorticks_off()
        axes.legend()
        axes.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def markdown(figures: LambdaCpu, plot_name: str) -> list[str]:
    lines = [
        f"## {HEADING}",
        "",
        f"Each function in a child process whose cgroup CPU quota is memory / {FULL_CPU_MB:,} of one CPU "
        f"(period {PERIOD_US // 1000} ms), DynamoDB and MediaConvert stand-ins outside it answering in "
        f"{LATENCY_MS} ms. Cold start: interpreter start, the function's import, its first invocation "
        f"(a batch of 1; the check: one stuck row), {figures.cold_runs} environments per size. Batches: "
        f"{figures.cold_runs} x {figures.warm_runs} warm invocations each; the check's batch of N finds N "
        "stuck MediaConvert rows, asks GetJob about each (unpaced: the deployed check sleeps 0.5 s "
        "between calls at every size) and writes each repair. Median (range) in ms, cold start in s. GB-s per "
        "1,000: from the batch of 10's mean billed duration (each invocation rounded up to 1 ms, both modes "
        "of the quota's bimodality counted), the check's per 1,000 jobs asked about.",
        "",
        "| function | memory (vCPU share) | interpreter | import | first batch | cold start s "
        "| batch of 1 | batch of 10 | batch of 100 | GB-s per 1,000 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for function in figures.functions:
        chosen = function.choice().memory_mb
        for size in function.sizes:
            mark = " **chosen**" if size.memory_mb == chosen else ""
            lines.append(
                f"| {FUNCTIONS[function.function]} | {size.memory_mb:,} MB ({size.share:.3f}){mark} "
                f"| {size.interpreter.text()} | {size.imports.text()} | {size.first_batch.text()} "
                f"| {size.cold.text(1000)} | "
                + " | ".join(size.batches[batch].text() for batch in BATCHES)
                + f" | {size.gb_seconds_per_1000():.3f} |"
            )
    lines += [
        "",
        f"Chosen (bench/lambda-memory.json, template.yaml's default): the cheapest size in GB-seconds whose "
        f"batch of 10 takes at most {WITHIN}x the whole vCPU's on average: "
        + "; ".join(
            f"{FUNCTIONS[f.function]} {f.choice().memory_mb:,} MB ({f.choice().batches[10].billed:.0f} ms mean, "
            f"{f.sizes[-1].batches[10].billed:.0f} ms at {f.sizes[-1].memory_mb:,} MB)"
            for f in figures.functions
        )
        + ".",
        "",
        f"![duration and GB-seconds against memory]({plot_name})",
    ]
    for function in figures.functions:
        share = function.choice().share
        costs = figures.imports[function.function]
        lines += [
            "",
            f"Import of {FUNCTIONS[function.function]} at its chosen size ({share:.3f} of a vCPU), "
            "`python -X importtime`: the module, then each module it imports itself, largest first (ms):",
            "",
            "| module | self | with its imports |",
            "|---|---:|---:|",
            *(f"| `{cost.module}` | {cost.self_ms:.0f} | {cost.cumulative_ms:.0f} |" for cost in costs[:12]),
        ]
    return lines
