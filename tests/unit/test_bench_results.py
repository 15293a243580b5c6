"""A run of some of `make bench`'s sections keeps the others of bench/results.md, saying from when."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench.__main__ import kept_sections

PREVIOUS = "# Benchmarks (2026-11-27)\n\nold head\n\n## Cold start: x\n\ncold\n\n## Lambda's CPU share: y\n\nold cpu\n"
CURRENT = "# Benchmarks (2026-12-06)\n\nnew head\n\n## Lambda's CPU share: y\n\nnew cpu\n\n## New: z\n\nnew\n"


def test_unmeasured_sections_are_kept_in_place_and_measured_ones_replaced() -> None:
    merged = kept_sections(PREVIOUS, CURRENT)
    assert merged == (
        "# Benchmarks (2026-12-06)\n\nnew head\n\n## Cold start: x\n\ncold\n\n"
        "(Kept from an earlier run: Benchmarks (2026-11-27).)\n\n## Lambda's CPU share: y\n\nnew cpu\n\n"
        "## New: z\n\nnew\n"
    )
    assert kept_sections(merged, CURRENT) == merged  # the note names the run that measured it, once


def test_the_cost_model_bills_the_chosen_sizes_mean_duration_each_rounded_up_to_the_millisecond() -> None:
    """The cost model took the median batch of 10 (20.2 ms), though Lambda bills every invocation,
    the quota's slower mode too, each rounded up to 1 ms: a mean of 21, 21 and 41 ms."""
    from bench.__main__ import cost_inputs
    from bench.lambda_cpu import FULL_CPU_MB, FUNCTIONS, FunctionFigures, LambdaCpu, SizeFigures, Spread

    def size(memory_mb: int, samples: list[float]) -> SizeFigures:
        same = Spread.of([1.0])
        return SizeFigures(memory_mb, same, same, same, same, {1: same, 10: Spread.of(samples), 100: same})

    sizes = [size(512, [20.2, 20.2, 40.1]), size(FULL_CPU_MB, [20.0])]
    cpu = LambdaCpu([FunctionFigures(function, sizes) for function in FUNCTIONS], 1, 3, {})
    largest = SimpleNamespace(new=SimpleNamespace(published=25), old=SimpleNamespace(calls_per_job=46), jobs=10)
    soak = SimpleNamespace(
        notifications_per_invocation=9.0,
        records_per_invocation=9.4,
        write_units=SimpleNamespace(per_notification=1.75),
        log_bytes_per_notification=358,
    )
    waits = [SimpleNamespace(reads_per_minute=40)]
    measured = cost_inputs(None, waits, SimpleNamespace(sized=[largest]), soak, cpu)  # type: ignore[arg-type]
    assert measured.invocation.memory_mb == 512
    assert measured.invocation.ms == pytest.approx((21 + 21 + 41) / 3)
