"""The one record every source produces: what a notification says about one job.

Pure: sources build it from a message body, the transition rules order it, the table writes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .status import JobStatus


class Source:
    """Names of the transcoders a notification can come from (stored in the row's ``source``)."""

    ELASTIC_TRANSCODER = "elastic-transcoder"
    MEDIACONVERT = "mediaconvert"


@dataclass(frozen=True, slots=True)
class OutputSummary:
    """One output of a job: its key (or S3 path), status and media facts, when known."""

    key: str
    status: str | None = None
    duration_ms: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobDetails:
    """What a notification tells of a job beyond its state; the row keeps the same."""

    # Which pipeline (Elastic Transcoder) or queue (MediaConvert) ran the job.
    pipeline_id: str | None = None
    queue: str | None = None
    outputs: tuple[OutputSummary, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    warnings: tuple[str, ...] = ()
    progress: int | None = None
    phase: str | None = None
    user_metadata: dict[str, str] = field(default_factory=dict)
    # Manifests: MediaConvert's playlistFilePaths (S3 URIs), Elastic Transcoder's playlists (keys).
    playlists: tuple[str, ...] = ()
    # Elastic Transcoder's outputKeyPrefix: an output's S3 key is this prefix followed by its key.
    output_key_prefix: str | None = None
    # Outputs or playlists left out to bound the row (table.fit_to_item); the event says so too.
    outputs_truncated: bool = False
    # MediaConvert's: the account and Region that ran the job (the event's own fields, or the job's
    # ARN in GetJob's answer). A central stack gathers many; the self-healing asks the job's own.
    account: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification(JobDetails):
    """A transcoder notification reduced to what the status row needs.

    ``event_time_ms`` orders notifications of one job (SNS Timestamp, SQS SentTimestamp or
    MediaConvert's detail.timestamp); ``event_id`` breaks ties deterministically and identifies
    duplicates (SNS MessageId, EventBridge id or SQS messageId).
    """

    source: str
    job_id: str
    state: str
    status: JobStatus
    event_time_ms: int
    event_id: str
    # Built from MediaConvert's own answer (GetJob, ListJobs) because the job's events were lost.
    repaired: bool = False
    # Found by the stuck check in MediaConvert's job list, with no row yet (MediaConvert sends no SUBMITTED event).
    discovered: bool = False
    # Optional details the parser found unusable and left out, for the log; not part of the job.
    dropped: tuple[str, ...] = field(default=(), compare=False)

    @property
    def finished(self) -> bool:
        return self.status.terminal
