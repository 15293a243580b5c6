"""A stand-in for an EventBridge schedule: invoke its function on a timer, in an execution environment.

moto records schedule rules but runs no function. The local stack runs the template's scheduled
function itself, as it runs the SQS trigger's: in one warm execution environment (a process of its
own, with the function's environment variables and its log in a file), with the event EventBridge
sends for a schedule. The interval and any environment override (the demo's shorter threshold, the
MediaConvert stand-in's endpoint) are the caller's; on AWS the rule's own rate applies.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .emulator import ACCOUNT, REGION
from .environment import ExecutionEnvironment, InvocationError
from .provision import LocalSchedule


class LocalScheduler:
    """Invokes a schedule's function every ``every_s`` seconds until ``stop()``; keeps its answers."""

    def __init__(
        self, schedule: LocalSchedule, every_s: float, log_path: Path, environment: dict[str, str] | None = None
    ):
        self.schedule = schedule
        self.every_s = every_s
        self.function = replace(schedule.function, environment={**schedule.function.environment, **(environment or {})})
        self.log_path = log_path
        self.responses: list[Any] = []
        self.errors: list[InvocationError] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{schedule.rule_name}", daemon=True)

    def start(self) -> LocalScheduler:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        environment = ExecutionEnvironment(self.function, log_path=self.log_path)
        try:
            while not self._stopping.wait(self.every_s):
                try:
                    self.responses.append(environment.invoke(self.event()))
                except InvocationError as error:
                    self.errors.append(error)
                    if not environment.alive():
                        environment = ExecutionEnvironment(self.function, log_path=self.log_path)
        finally:
            environment.close()

    def event(self) -> dict[str, Any]:
        """What EventBridge sends a function for a schedule."""
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{self.schedule.rule_name}"],
            "detail": {},
        }
