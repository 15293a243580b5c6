"""DynamoDB write request units the status table costs, from what the function logged and the rows.

DynamoDB bills an on-demand write by the item's size, 1 unit per KB begun, whether or not its
condition held; and each write that changes an index entry costs the index too: a new entry is one
put, and a changed sort key (every applied write sets ``updatedAt``, the status index's sort key) is
a delete and a put. The index's entries are small (keys and a dozen short attributes: under 1 KB),
so 1 unit each.

The function logs every job it wrote ("jobs written": outcome, and whether warnings or progress were
merged, each a write of its own); the row sizes come from the table at the end. A row only grows, so
charging each write at the final row's size is an upper bound.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

KB = 1024


def item_bytes(item: Mapping[str, Any]) -> int:
    """An item's size by DynamoDB's rules: names and values in UTF-8, numbers by their digits."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _value_bytes(value: Mapping[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind in ("S", "B"):
        return len(inner.encode()) if isinstance(inner, str) else len(inner)
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "BS"):
        return sum(len(element.encode()) if isinstance(element, str) else len(element) for element in inner)
    if kind == "NS":
        return sum(_value_bytes({"N": element}) for element in inner)
    if kind == "L":
        return 3 + sum(1 + _value_bytes(element) for element in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_bytes(element) for name, element in inner.items())
    raise ValueError(f"not a DynamoDB attribute value: {kind}")


@dataclass(frozen=True)
class WriteUnits:
    notifications: int  # handled by the function (applied, refused or merged)
    writes: int  # UpdateItems whose outcome the log names
    applied: int  # of them, the ones that changed a row (state writes and merges)
    table_units: float
    index_units: float

    @property
    def per_notification(self) -> float:
        return (self.table_units + self.index_units) / self.notifications


def from_log(lines: Iterable[str], row_bytes: Mapping[str, int]) -> WriteUnits:
    """Write units of every job write in the function's log, at its job's final row size."""
    notifications = writes = applied = 0
    table_units = 0.0
    jobs_written: set[str] = set()
    for line in lines:
        entry = _json(line)
        if entry.get("message") != "jobs written":
            continue
        for job in entry["jobs"]:
            units = max(1, math.ceil(row_bytes.get(job["jobId"], 0) / KB))
            landed = (job["outcome"] == "applied") + bool(job.get("warningsMerged")) + bool(job.get("progressMerged"))
            job_writes = 1 + bool(job.get("warningsMerged")) + bool(job.get("progressMerged"))
            notifications += len(job["messageIds"])
            writes += job_writes
            applied += landed
            table_units += units * job_writes
            if landed:
                jobs_written.add(job["jobId"])
    # A job's first landed write created its index entry (a put); every later one moved it.
    index_units = len(jobs_written) + 2 * (applied - len(jobs_written))
    return WriteUnits(notifications, writes, applied, table_units, index_units)


def _json(line: str) -> dict[str, Any]:
    if not line.startswith("{"):
        return {}
    try:
        entry = json.loads(line)
    except ValueError:
        return {}
    return entry if isinstance(entry, dict) else {}
