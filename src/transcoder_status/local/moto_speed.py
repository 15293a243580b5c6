"""moto, made to carry a soak: the same answers for less work per request.

Found by ``make soak``: under load, moto spent its time on work whose result never changes.

- SQS: for every message it sends, and three times for every message it receives, moto computes all
  of the queue's attributes to read one (``ContentBasedDeduplication``, ``MessageRetentionPeriod``).
  All of them includes the approximate message counts: a pass over the whole queue each, reading the
  clock through ``datetime`` for every message. So a call's cost grew with the queue's depth: with a
  thousand messages queued, sending ten took 0.3 s and receiving ten 0.9 s here. Now the clock is
  read with ``time.time()`` (the same UTC epoch moto's ``unix_time`` computes through ``datetime``,
  30 times slower) and the retention check reads the retention period alone: 10 ms and 4 ms.
- The server lists moto's package directory (``os.listdir``, an ``isdir`` per entry) on every
  request, to recognise service names: the list is kept once read.
- EventBridge compiles the same JSONPath expressions (its default input paths) for every event it
  delivers, building a parser each time: a compiled expression is kept and reused.
"""

from __future__ import annotations

import functools
import time
from datetime import datetime
from typing import Any

_applied = False


def speed_up_moto() -> None:
    """Apply the changes in this process (once; later calls do nothing)."""
    global _applied  # noqa: PLW0603 - a process-wide patch of moto, applied once
    if _applied:
        return
    import jsonpath_ng.ext
    from jsonpath_ng.ext import parse as compile_path  # type: ignore[attr-defined]
    from moto import backends
    from moto.core import utils
    from moto.sqs import models

    def unix_time(dt: datetime | None = None) -> float:
        return time.time() if dt is None else utils.unix_time(dt)

    def unix_time_millis(dt: datetime | None = None) -> float:
        return unix_time(dt) * 1000.0

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        return bool(int(queue.message_retention_period) + message.sent_timestamp / 1000 > time.time())

    modules = tuple(backends.list_of_moto_modules())
    for owner, name, faster in (
        (models, "unix_time", unix_time),
        (models, "unix_time_millis", unix_time_millis),
        (models.SQSBackend, "is_message_valid_based_on_retention_period", is_message_valid_based_on_retention_period),
        (backends, "list_of_moto_modules", lambda: modules),
        (jsonpath_ng.ext, "parse", functools.lru_cache(maxsize=256)(compile_path)),
    ):
        setattr(owner, name, faster)
    _applied = True
