"""DynamoDB write request units the status table costs, from what the function logged and the rows.

DynamoDB bills an on-demand write by the item's size, 1 unit per KB begun, whether or not its
condition held. A write also costs the status index when it changes the index's entry: a new entry is
a put; a changed sort key (`updatedAt`, set by every write that lands) is a delete and a put; a
changed projected attribute alone is a put; a write that changes neither costs the index nothing.
The writes of one job in one invocation share one `updatedAt`, so after the first that lands, a
progress merge only updates the entry in place and a warnings merge (not projected) leaves it alone.

The function logs every job it wrote ("jobs written": outcome, and the merges that landed, each a
write of its own); row and index-entry sizes come from the table at the end. An estimate, not a
bound: rows only grow but for a few attributes removed; merges refused by a concurrent writer, and
writes that landed before an error failed their record, are billed but not logged.
"""

from __future__ import annotations

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


def index_attributes(template: Mapping[str, Any]) -> frozenset[str]:
    """What an entry of the table's index holds: the table's key, the index's key, the projected
    attributes (template.yaml's one table and its one index)."""
    (table,) = (r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table")
    properties = table["Properties"]
    (index,) = properties["GlobalSecondaryIndexes"]
    keys = [key["AttributeName"] for key in [*properties["KeySchema"], *index["KeySchema"]]]
    return frozenset([*keys, *index["Projection"].get("NonKeyAttributes", [])])


@dataclass(frozen=True)
class Sizes:
    """A job's final row and its index entry, in bytes."""

    row: int
    index_entry: int

    @classmethod
    def of(cls, item: Mapping[str, Any], indexed: frozenset[str]) -> Sizes:
        return cls(item_bytes(item), item_bytes({name: value for name, value in item.items() if name in indexed}))


@dataclass(frozen=True)
class WriteUnits:
    notifications: int  # handled by the function (applied, refused or merged)
    writes: int  # UpdateItems whose outcome the log names
    applied: int  # of them, the ones that changed a row (state writes and merges)
    table_units: int
    index_units: int

    @property
    def per_notification(self) -> float:
        return (self.table_units + self.index_units) / self.notifications


def from_log(written: Iterable[Mapping[str, Any]], sizes: Mapping[str, Sizes]) -> WriteUnits:
    """Write units of every job write the function logged ("jobs written" entries, in log order)."""
    notifications = writes = applied = table_units = index_units = 0
    indexed: set[str] = set()
    for job in written:
        if job.get("continued"):  # the rest of a job's IDs, on the next line: no write of its own
            notifications += len(job["messageIds"])
            continue
        size = sizes.get(job["jobId"], Sizes(0, 0))
        row, entry = _units(size.row), _units(size.index_entry)
        state = job["outcome"] == "applied"
        progress, warnings = bool(job.get("progressMerged")), bool(job.get("warningsMerged"))
        job_writes = 1 + progress + warnings
        notifications += len(job["messageIds"])
        writes += job_writes
        applied += state + progress + warnings
        table_units += row * job_writes
        moved = False  # whether a write of this invocation already set the entry's new updatedAt
        for landed in (state, progress):
            if landed:
                index_units += entry if moved or job["jobId"] not in indexed else 2 * entry
                indexed.add(job["jobId"])
                moved = True
        if warnings and not moved:
            index_units += 2 * entry
    return WriteUnits(notifications, writes, applied, table_units, index_units)


def _units(size: int) -> int:
    return max(1, math.ceil(size / KB))
