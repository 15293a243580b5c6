"""Job and monitor states, named as in the SqsWorker this project replaces.

Pure: no I/O. The handler stores ``JobStatus.name`` in the table; the client maps it back.
"""

from __future__ import annotations

from enum import Enum


class JobStatus(Enum):
    """Status of a transcoding job."""

    SUCCESS = "SUCCESS"  # the transcoder finished the job
    ERROR = "ERROR"  # the transcoder gave up on the job
    RUNNING = "RUNNING"  # no terminal notification seen yet
    UNKNOWN = "UNKNOWN"  # the monitor was stopped before the job finished
    CANCELED = "CANCELED"  # a MediaConvert job canceled by its owner

    @property
    def terminal(self) -> bool:
        """True for the states a job never leaves."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.SUCCESS, JobStatus.ERROR, JobStatus.CANCELED})


class ProcessStatus(Enum):
    """Status of one monitor (a ``JobMonitor``), as the old SqsWorker process had."""

    READY = "READY"  # created, not started
    IN_PROGRESS = "IN_PROGRESS"  # started, job not finished
    ABORTED = "ABORTED"  # stopped before the job finished
    FINISHED = "FINISHED"  # the job reached a terminal state
