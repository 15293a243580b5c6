"""A transcoder simulator: jobs that publish realistic notifications over a few seconds.

Elastic Transcoder jobs publish through the SNS topic; MediaConvert jobs through EventBridge
``put_events``, on the default bus of the account and Region that runs them (``fleet.Where``: the
central stack's, or the places given, in turn). Each job runs PROGRESSING (with progress for
MediaConvert), sometimes a warning, then its planned outcome. Delivery is made as messy as AWS's:
some notifications are duplicated, some arrive late and out of order; one malformed message goes
through the topic as well.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3

from ..notification import Source
from ..status import JobStatus
from .fleet import HOME, Where, session_in
from .mediaconvert import MediaConvertStandIn
from .messages import elastic_transcoder_message, mediaconvert_event, mediaconvert_job, sns_envelope
from .provision import Stack

MALFORMED_MESSAGE = "{ this is not a transcoder notification"


@dataclass
class SimulatedJob:
    job_id: str
    source: str
    outcome: JobStatus
    quirks: list[str] = field(default_factory=list)  # what the delivery did to it, for the summary
    terminal_sent_at: float | None = None  # time.time() when its terminal notification left
    lost_terminal: bool = False  # its terminal event is never sent: only a repair can end its row
    where: Where = HOME  # the account and Region that ran it (Elastic Transcoder's: the stack's)


@dataclass(order=True)
class _Step:
    at_s: float
    order: int
    send: Callable[[], None] = field(compare=False)


class TranscoderSimulator:
    """Plans the jobs from a seed, then sends their notifications on schedule from a thread."""

    def __init__(
        self,
        stack: Stack,
        jobs: int = 12,
        seed: int | None = None,
        spread_s: float = 4.0,
        mediaconvert: MediaConvertStandIn | None = None,
        *,
        places: Sequence[Where] = (HOME,),
    ):
        self.seed = random.randrange(1_000_000) if seed is None else seed  # nosec B311
        self._random = random.Random(self.seed)  # nosec B311
        self._stack = stack
        self._sns = boto3.client("sns")
        self._sqs = boto3.client("sqs")
        # MediaConvert puts a job's events on the default bus of its own account and Region only:
        # https://docs.aws.amazon.com/mediaconvert/latest/ug/cloudwatch_events.html
        self._places = tuple(places)
        self._events = {where: session_in(where).client("events") for where in self._places}
        self._steps: list[_Step] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="transcoder-simulator", daemon=True)
        self.errors: list[BaseException] = []
        self._first_delivery: dict[str, tuple[dict[str, Any], int, str]] = {}
        # MediaConvert's own knowledge of its jobs, for the reconciler to ask; and the one job whose
        # terminal event is lost on purpose (the last MediaConvert job sure to succeed: the second, so
        # in the second of the places, where ``fleet.places`` puts another account), for it to repair.
        self._mediaconvert = mediaconvert
        succeeding = [
            i for i in range(jobs) if i % 2 == 1 and self._outcome(i, Source.MEDIACONVERT) is JobStatus.SUCCESS
        ]
        self._losing = succeeding[-1] if mediaconvert is not None and succeeding else None
        self.jobs = [self._plan(index, jobs, spread_s) for index in range(jobs)]
        self._schedule(1.0, self._publish_malformed)
        self._steps.sort()

    @property
    def _topic_arn(self) -> str:
        return self._stack.outputs["NotificationTopicArn"]

    def start(self) -> TranscoderSimulator:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def wait(self, timeout: float) -> bool:
        """Wait until every planned notification has been sent; False on timeout."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        for step in self._steps:
            if self._stopping.wait(max(0.0, self._started + step.at_s - time.monotonic())):
                return
            try:
                step.send()
            except Exception as error:  # report it in the summary; keep the other jobs going
                self.errors.append(error)

    def _schedule(self, at_s: float, send: Callable[[], None]) -> None:
        self._steps.append(_Step(at_s, len(self._steps), send))

    # -- planning -----------------------------------------------------------------------------

    @staticmethod
    def _outcomes(source: str) -> list[JobStatus]:
        outcomes = [JobStatus.SUCCESS, JobStatus.SUCCESS, JobStatus.ERROR]
        return [*outcomes, JobStatus.CANCELED] if source == Source.MEDIACONVERT else outcomes

    @classmethod
    def _outcome(cls, index: int, source: str) -> JobStatus | None:
        """The first jobs show every outcome, in turn; the rest draw theirs from the seed (None here)."""
        outcomes = cls._outcomes(source)
        return outcomes[(index // 2) % len(outcomes)] if index < 8 else None

    def _where(self, index: int) -> Where:
        """The MediaConvert jobs (odd indexes) take the places in turn."""
        return self._places[(index // 2) % len(self._places)]

    def _plan(self, index: int, total: int, spread_s: float) -> SimulatedJob:
        source = Source.ELASTIC_TRANSCODER if index % 2 == 0 else Source.MEDIACONVERT
        outcome = self._outcome(index, source) or self._random.choice(self._outcomes(source))
        # Shaped like real job IDs (creation epoch ms, 6 characters); the same seed gives the same IDs.
        job_id = f"{1_700_000_000_000 + self.seed * 1000 + index}-{self._random.randbytes(3).hex()}"
        job = SimulatedJob(job_id, source, outcome)
        if source == Source.MEDIACONVERT:
            job.where = self._where(index)
        start = self._random.uniform(0, spread_s * 0.4)
        end = start + self._random.uniform(2.0, spread_s * 0.6 + 2.0)
        if source == Source.ELASTIC_TRANSCODER:
            self._plan_elastic_transcoder(job, start, end)
        else:
            self._plan_mediaconvert(job, start, end, lose_terminal=index == self._losing)
        return job

    def _plan_elastic_transcoder(self, job: SimulatedJob, start: float, end: float) -> None:
        progressing = self._publisher(job, "PROGRESSING", remember=True)
        self._schedule(start, progressing)
        if self._random.random() < 0.4:
            self._schedule((start + end) / 2, self._publisher(job, "WARNING"))
            job.quirks.append("warning")
        terminal = "COMPLETED" if job.outcome is JobStatus.SUCCESS else "ERROR"
        self._schedule(end, self._publisher(job, terminal, terminal=True))
        if self._random.random() < 0.4:
            self._schedule(end + 0.2, self._publisher(job, terminal))
            job.quirks.append("duplicate")
        if self._random.random() < 0.5:
            # SNS redelivering the first notification long after the job finished.
            self._schedule(end + 0.4, lambda: self._redeliver_late(job))
            job.quirks.append("late PROGRESSING")

    def _plan_mediaconvert(self, job: SimulatedJob, start: float, end: float, *, lose_terminal: bool = False) -> None:
        late_input_information = self._random.random() < 0.4
        self._schedule(start, self._knows(job, "PROGRESSING", start))
        if not late_input_information:
            self._schedule(start, self._emitter(job, "INPUT_INFORMATION", start))
        self._schedule(start + 0.1, self._emitter(job, "PROGRESSING", start + 0.1))
        updates = max(1, int((end - start) / 0.7))
        for step in range(1, updates + 1):
            at = start + 0.1 + step * (end - start - 0.2) / (updates + 1)
            percent = min(99, int(100 * step / (updates + 1)))
            self._schedule(at, self._emitter(job, "STATUS_UPDATE", at, percent=percent))
        if self._random.random() < 0.3:
            self._schedule((start + end) / 2, self._emitter(job, "NEW_WARNING", (start + end) / 2))
            job.quirks.append("warning")
        terminal = {JobStatus.SUCCESS: "COMPLETE", JobStatus.ERROR: "ERROR", JobStatus.CANCELED: "CANCELED"}
        self._schedule(end, self._knows(job, terminal[job.outcome], start, end))
        if lose_terminal:
            job.quirks.append("terminal event lost")  # MediaConvert knows; the reconciler must ask it
            job.lost_terminal = True
        else:
            self._schedule(end, self._emitter(job, terminal[job.outcome], end, terminal=True))
            if self._random.random() < 0.4:
                self._schedule(end + 0.2, self._emitter(job, terminal[job.outcome], end))
                job.quirks.append("duplicate")
        if late_input_information:
            # MediaConvert sends INPUT_INFORMATION after COMPLETE for short jobs.
            self._schedule(end + 0.3, self._emitter(job, "INPUT_INFORMATION", start))
            job.quirks.append("late INPUT_INFORMATION")

    # -- sending ------------------------------------------------------------------------------

    def _publish_malformed(self) -> None:
        self._sns.publish(TopicArn=self._topic_arn, Message=MALFORMED_MESSAGE)

    def _publisher(
        self, job: SimulatedJob, state: str, *, terminal: bool = False, remember: bool = False
    ) -> Callable[[], None]:
        def publish() -> None:
            message = elastic_transcoder_message(job.job_id, state)
            sent_ms = int(time.time() * 1000)
            message_id = self._sns.publish(
                TopicArn=self._topic_arn,
                Message=json.dumps(message, indent=2, separators=(",", " : ")),
                Subject=f"Amazon Elastic Transcoder job {job.job_id} is {state.lower()}",
            )["MessageId"]
            if remember:
                self._first_delivery[job.job_id] = (message, sent_ms, message_id)
            if terminal:
                job.terminal_sent_at = sent_ms / 1000

        return publish

    def _redeliver_late(self, job: SimulatedJob) -> None:
        message, sent_ms, message_id = self._first_delivery[job.job_id]
        body = json.dumps(sns_envelope(message, sent_ms, message_id))
        self._sqs.send_message(QueueUrl=self._stack.outputs["NotificationQueueUrl"], MessageBody=body)

    def _knows(self, job: SimulatedJob, status: str, start: float, end: float | None = None) -> Callable[[], None]:
        """MediaConvert's own record of the job, as GetJob will answer for it from then on."""

        def record() -> None:
            if self._mediaconvert is not None:
                self._mediaconvert.put(
                    mediaconvert_job(
                        job.job_id,
                        status,
                        submitted_ms=self._wall_ms(start),
                        started_ms=self._wall_ms(start + 0.05),
                        finished_ms=None if end is None else self._wall_ms(end),
                        user_metadata={"simulation": str(self.seed)},
                        account=job.where.account,
                        region=job.where.region,
                    )
                )

        return record

    def _wall_ms(self, at_s: float) -> int:
        return int((self._started + at_s - time.monotonic() + time.time()) * 1000)

    def _emitter(
        self,
        job: SimulatedJob,
        status: str,
        at_s: float,
        *,
        terminal: bool = False,
        percent: int | None = None,
    ) -> Callable[[], None]:
        def emit() -> None:
            event = mediaconvert_event(
                job.job_id,
                status,
                self._wall_ms(at_s),
                percent=percent,
                user_metadata={"simulation": str(self.seed)},
                account=job.where.account,
                region=job.where.region,
            )
            self._events[job.where].put_events(
                Entries=[
                    {
                        "Source": event["source"],
                        "DetailType": event["detail-type"],
                        "Detail": json.dumps(event["detail"]),
                        "Resources": event["resources"],
                    }
                ]
            )
            if terminal:
                job.terminal_sent_at = time.time()

        return emit
