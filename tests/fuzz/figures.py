"""What a fuzz run did, for its summary: cases, outcomes, times (printed by ``make fuzz``)."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Figures:
    """Counts and timings of one fuzz test; ``line()`` is what the run prints for it."""

    name: str
    unit: str = "case"  # what ``timings`` are per
    cases: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    timings: list[float] = field(default_factory=list)  # seconds, one per ``unit``
    largest: Counter[str] = field(default_factory=Counter)  # the largest of each size seen, in bytes
    started: float = field(default_factory=time.perf_counter)

    def size(self, what: str, size: int) -> None:
        self.largest[what] = max(self.largest[what], size)

    def line(self) -> str:
        elapsed = time.perf_counter() - self.started
        parts = [f"{self.name}: {self.cases:,} cases in {elapsed:.1f} s"]
        parts.extend(f"{count:,} {what}" for what, count in sorted(self.counts.items()))
        if self.timings:
            median = statistics.median(self.timings) * 1000
            longest = max(self.timings) * 1000
            parts.append(f"per {self.unit}: median {median:.2f} ms, max {longest:.1f} ms")
        parts.extend(f"largest {what} {size:,} bytes" for what, size in sorted(self.largest.items()))
        return "; ".join(parts)
