"""A run of some of `make bench`'s sections keeps the others of bench/results.md, saying from when."""

from __future__ import annotations

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
