"""The parts of Lambda's context object that handlers (and Powertools) read. Standard library only."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from .emulator import ACCOUNT, REGION


@dataclass
class LocalContext:
    """The parts of Lambda's context object that handlers (and Powertools) read."""

    function_name: str
    timeout_s: int
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
