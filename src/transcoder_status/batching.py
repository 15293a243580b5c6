"""Cutting a sequence into batches bounded by count and by bytes (log lines, PutEvents requests)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def sized_batches(items: Iterable[tuple[T, int]], max_items: int, max_bytes: int) -> Iterator[list[T]]:
    """The items, in order, in batches of at most ``max_items`` and about ``max_bytes`` (each item
    given with its size; an item alone over ``max_bytes`` makes a batch of its own)."""
    batch: list[T] = []
    size = 0
    for item, item_size in items:
        if batch and (len(batch) == max_items or size + item_size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch
