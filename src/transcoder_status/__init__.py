"""transcoder-status: serverless job tracking for video transcoding on AWS.

The public face: ``JobMonitor`` and ``wait_all`` wait on the status table that the Lambda handler
(``transcoder_status.handler.lambda_handler``) writes; ``list_jobs`` and ``stuck_jobs`` list it by
status and time; ``JobStatus`` and ``ProcessStatus`` keep the names of the SqsWorker they replace.
The client is imported on first use, so that the handler's cold start pays only for what the
handler needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .status import JobStatus, ProcessStatus

if TYPE_CHECKING:
    from .client import (
        AsyncJobMonitor,
        Backoff,
        JobMonitor,
        JobWaitTimeout,
        StatusTableError,
        TransientReadError,
        wait_all,
    )
    from .listing import list_jobs, stuck_jobs
    from .table import JobRow, TableNotConfiguredError

__all__ = [
    "AsyncJobMonitor",
    "Backoff",
    "JobMonitor",
    "JobRow",
    "JobStatus",
    "JobWaitTimeout",
    "ProcessStatus",
    "StatusTableError",
    "TableNotConfiguredError",
    "TransientReadError",
    "list_jobs",
    "stuck_jobs",
    "wait_all",
]

_LAZY = {
    "AsyncJobMonitor": "client",
    "Backoff": "client",
    "StatusTableError": "client",
    "TransientReadError": "client",
    "JobMonitor": "client",
    "JobWaitTimeout": "client",
    "wait_all": "client",
    "list_jobs": "listing",
    "stuck_jobs": "listing",
    "JobRow": "table",
    "TableNotConfiguredError": "table",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'transcoder_status' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)
