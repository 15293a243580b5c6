"""bench.lambda_cpu's choice of memory, its figures' text and its skip reason, on made-up figures."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from bench import lambda_cpu
from bench.lambda_cpu import FUNCTIONS, MEMORY_SIZES, FunctionFigures, LambdaCpu, SizeFigures, Spread


def size(memory_mb: int, batch_of_10_ms: float) -> SizeFigures:
    same = Spread.of([1.0])
    batches = {1: same, 10: Spread.of([batch_of_10_ms]), 100: same}
    return SizeFigures(memory_mb, same, same, same, same, batches)


def test_the_cheapest_size_within_one_and_a_half_times_the_whole_vcpu_is_chosen() -> None:
    # GB-s of a batch of 10: 128 MB x 300 ms = 37.5, 256 x 100 = 25, 512 x 28 = 14, 1024 x 16 = 16, 1769 x 20 = 34.5
    figures = FunctionFigures("writer", [size(128, 300), size(256, 100), size(512, 28), size(1024, 16), size(1769, 20)])
    assert figures.choice().memory_mb == 512  # 28 ms is within 1.5 x 20 ms, and costs least
    slower = FunctionFigures("writer", [size(256, 100), size(512, 31), size(1024, 16), size(1769, 20)])
    assert slower.choice().memory_mb == 1024  # 31 ms is over 30: the cheaper 512 MB does not qualify


def test_the_size_rule_counts_both_modes_of_the_quota() -> None:
    """A batch that fits in one quota period or waits for the next is bimodal: its median lands in
    either mode from run to run (512 MB read 21 ms in one run, 55-64 ms in the next). The rule reads
    the mean, both modes counted: 21, 21, 21, 64, 64 ms is 38 ms on average, over 1.5 x 20."""
    bimodal = replace(size(512, 21), batches={**size(512, 21).batches, 10: Spread.of([21, 21, 21, 64, 64])})
    figures = FunctionFigures("writer", [size(256, 100), bimodal, size(1024, 22), size(1769, 20)])
    assert figures.choice().memory_mb == 1024


def test_gb_seconds_per_thousand_notifications() -> None:
    assert size(1024, 20).gb_seconds_per_1000() == pytest.approx(1.0 * 0.020 * 100)


def test_gb_seconds_are_billed_per_invocation_rounded_up_to_the_millisecond() -> None:
    """Lambda bills each invocation's duration rounded up to 1 ms, and the bill is their sum: 1,000
    notifications in batches of 10 cost 100 times the mean billed duration, not the median (a quota's
    second mode is billed too). https://aws.amazon.com/lambda/pricing/"""
    bimodal = size(1024, 20)
    samples = [20.2, 20.2, 60.1]  # billed 21, 21 and 61 ms
    figures = replace(bimodal, batches={**bimodal.batches, 10: Spread.of(samples)})
    assert figures.gb_seconds_per_1000() == pytest.approx(1.0 * (21 + 21 + 61) / 3 / 1000 * 100)


def test_the_size_rule_needs_the_whole_vcpu_measured() -> None:
    """Without 1,769 MB, the largest size measured stood in for a whole vCPU: 256 MB at 40 ms was
    "within 1.5x" of 512 MB's 28 ms, though twice a whole vCPU's 20 ms."""
    partial = FunctionFigures("writer", [size(256, 40), size(512, 28)])
    with pytest.raises(ValueError, match="1,769 MB"):
        partial.choice()


def test_the_template_memory_is_chosen_only_by_a_run_of_every_size(tmp_path: Path) -> None:
    """A run of some sizes (BENCH_LAMBDA_MEMORY) has not seen the cheapest: it chooses nothing."""
    figures = LambdaCpu(
        [FunctionFigures(function, [size(512, 28), size(1769, 20)]) for function in FUNCTIONS], 1, 1, {}
    )
    chosen = tmp_path / "lambda-memory.json"
    assert not lambda_cpu.write_choice(figures, chosen)
    assert not chosen.exists()
    every = LambdaCpu(
        [FunctionFigures(function, [size(memory, 20) for memory in MEMORY_SIZES]) for function in FUNCTIONS], 1, 1, {}
    )
    assert lambda_cpu.write_choice(every, chosen)
    assert set(json.loads(chosen.read_text()).values()) == {128}


def test_the_whole_vcpu_is_always_among_the_sizes_measured() -> None:
    assert lambda_cpu.memory_sizes("256, 512") == (256, 512, 1769)
    assert lambda_cpu.memory_sizes("1769,128") == (128, 1769)


def test_a_spread_shows_its_range_only_when_the_samples_differ() -> None:
    assert Spread.of([16.0, 72.0, 17.0]).text() == "17 (16-72)"
    assert Spread.of([5.0, 5.0]).text() == "5"
    assert Spread.of([1190.0, 1210.0, 1200.0]).text(1000) == "1.20 (1.19-1.21)"


def test_without_a_writable_cpu_controller_the_reason_is_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    unified = tmp_path / "unified"
    unified.mkdir()
    (unified / "cgroup.subtree_control").write_text("memory pids\n")
    monkeypatch.setattr(lambda_cpu, "V1_ROOT", tmp_path / "cpu")
    monkeypatch.setattr(lambda_cpu, "V2_ROOTS", (unified,))
    reason = lambda_cpu.quota_groups()
    assert isinstance(reason, str)
    assert reason.startswith("no writable cgroup CPU quota") and "without the cpu controller" in reason


def test_the_groups_of_runs_killed_outright_are_swept(tmp_path: Path) -> None:
    """A bench killed with SIGKILL cannot remove its group: the next run does, once it is empty."""
    dead = tmp_path / f"bench-lambda-{_reaped_pid()}-0a1b2c3d"
    dead.mkdir()
    live = tmp_path / f"bench-lambda-{os.getpid()}-0a1b2c3d"
    live.mkdir()
    lambda_cpu.QuotaGroups(tmp_path, 1).sweep()
    assert not dead.exists() and live.exists()


def _reaped_pid() -> int:
    """A process id that no process has any more."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
