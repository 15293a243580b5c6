"""The demo's verdict: exit 0 only when every job ended as simulated, with exactly one finished event of
its row's status, and the DLQ holds the bad message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from transcoder_status.local.demo import _summary
from transcoder_status.local.simulator import MALFORMED_MESSAGE, SimulatedJob
from transcoder_status.local.stream_mapping import StreamStats
from transcoder_status.status import JobStatus
from transcoder_status.table import JobRow

JOBS = [
    SimulatedJob("1700000000000-aaaaaa", "elastic-transcoder", JobStatus.SUCCESS, terminal_sent_at=100.0),
    SimulatedJob("1700000000001-bbbbbb", "mediaconvert", JobStatus.CANCELED, terminal_sent_at=100.0),
]
DEAD_LETTER = {"MessageId": "dead-1", "Body": json.dumps({"Type": "Notification", "Message": MALFORMED_MESSAGE})}


def finished_event(job_id: str, status: JobStatus) -> dict[str, Any]:
    detail = {"jobId": job_id, "status": status.value, "state": status.value, "finishedAt": "2025-01-01T00:00:00.000Z"}
    return {
        "source": "transcoder-status",
        "detail-type": "Transcoding Job Finished",
        "detail": {**detail, "outputs": []},
    }


ONE_EACH = [finished_event(JOBS[0].job_id, JobStatus.SUCCESS), finished_event(JOBS[1].job_id, JobStatus.CANCELED)]


def recorded(job: SimulatedJob) -> dict[str, str]:
    """Where a MediaConvert job's row says it ran: where it did (Elastic Transcoder's say nothing)."""
    return {"account": job.where.account, "region": job.where.region} if job.source == "mediaconvert" else {}


def verdict(
    tmp_path: Path,
    finals: list[JobStatus],
    dead_letters: list[dict[str, Any]],
    events: list[dict[str, Any]] = ONE_EACH,
    settled: bool = True,
    jobs: list[SimulatedJob] = JOBS,
    repaired: frozenset[str] = frozenset(),
    metrics: dict[str, int] | None = None,
    width: int = 200,
    recorded_as: dict[str, dict[str, str]] | None = None,
    **summary: Any,
) -> tuple[int, str]:
    """The summary's exit code and text; ``recorded_as`` overrides where a job's row says it ran,
    ``summary`` gives _summary's other keywords."""
    log = tmp_path / "function.log"
    log.write_text(
        json.dumps({"level": "ERROR", "messageId": "dead-1", "reason": "the SNS Message is not JSON"}) + "\n"
    )
    console = Console(record=True, width=width)
    rows: dict[str, JobRow | None] = {
        job.job_id: JobRow(
            job_id=job.job_id,
            status=final,
            finished=final.terminal,
            **(recorded_as or {}).get(job.job_id, recorded(job)),
        )
        for job, final in zip(jobs, finals, strict=True)
    }
    code = _summary(
        console,
        jobs=jobs,
        simulator_errors=[],
        rows=rows,
        seen_at={job.job_id: 100.25 for job in jobs},
        repaired=set(repaired),
        check_errors=[],
        dead_letters=dead_letters,
        events=events,
        settled=settled,
        publisher_stats=StreamStats(records=20, matched=2, invocations=2),
        publisher_metrics=metrics
        if metrics is not None
        else {"EventsPublished": len(events), "JobsSucceeded": 1, "JobsCanceled": 1},
        publisher_errors=[],
        log_path=log,
        started=0.0,
        **summary,
    )
    return code, console.export_text()


def test_pass_when_all_jobs_match_and_the_malformed_message_is_in_the_dlq(tmp_path: Path) -> None:
    code, text = verdict(tmp_path, [JobStatus.SUCCESS, JobStatus.CANCELED], [DEAD_LETTER])
    assert code == 0
    assert "PASS" in text and "the SNS Message is not JSON" in text and "250 ms" in text
    assert "Transcoding Job Finished events received (2)" in text and "each with one Transcoding Job Finished" in text


@pytest.mark.parametrize(
    ("events", "settled", "problem"),
    [
        (ONE_EACH[:1], True, "1 job(s) without exactly one finished event of their row's status: 1700000000001-bbbbbb"),
        (
            [*ONE_EACH, ONE_EACH[0]],
            True,
            "without exactly one finished event of their row's status: 1700000000000-aaaaaa",
        ),
        (
            [ONE_EACH[0], finished_event(JOBS[1].job_id, JobStatus.ERROR)],
            True,
            "without exactly one finished event of their row's status: 1700000000001-bbbbbb",
        ),
        (
            [*ONE_EACH, finished_event("1700000000002-cccccc", JobStatus.SUCCESS)],
            True,
            "1 finished event(s) of no simulated job",
        ),
        (ONE_EACH, False, "the stack did not settle"),
    ],
)
def test_fail_without_exactly_one_finished_event_per_job(
    tmp_path: Path, events: list[dict[str, Any]], settled: bool, problem: str
) -> None:
    code, text = verdict(tmp_path, [JobStatus.SUCCESS, JobStatus.CANCELED], [DEAD_LETTER], events, settled)
    assert code == 1
    assert "FAIL" in text and problem in text


def test_an_event_is_shown_as_text_not_markup(tmp_path: Path) -> None:
    event = finished_event(JOBS[1].job_id, JobStatus.CANCELED)
    event["detail"].update(errorCode="1030", errorMessage="Video codec [indeo4] is not supported")
    _, text = verdict(tmp_path, [JobStatus.SUCCESS, JobStatus.CANCELED], [DEAD_LETTER], [ONE_EACH[0], event])
    assert "[indeo4]" in text


@pytest.mark.parametrize(
    ("finals", "dead_letters", "problem"),
    [
        ([JobStatus.SUCCESS, JobStatus.ERROR], [DEAD_LETTER], "1 job(s) ended wrong: 1700000000001-bbbbbb"),
        ([JobStatus.SUCCESS, JobStatus.RUNNING], [DEAD_LETTER], "1 job(s) ended wrong"),
        ([JobStatus.SUCCESS, JobStatus.CANCELED], [], "DLQ holds 0 message(s)"),
        ([JobStatus.SUCCESS, JobStatus.CANCELED], [DEAD_LETTER, {**DEAD_LETTER, "MessageId": "x"}], "DLQ holds 2"),
    ],
)
def test_fail_otherwise(
    tmp_path: Path, finals: list[JobStatus], dead_letters: list[dict[str, Any]], problem: str
) -> None:
    events = [finished_event(job.job_id, final) for job, final in zip(JOBS, finals, strict=True) if final.terminal]
    code, text = verdict(tmp_path, finals, dead_letters, events)
    assert code == 1
    assert "FAIL" in text and problem in text


def test_a_job_whose_terminal_event_was_lost_must_have_been_repaired(tmp_path: Path) -> None:
    """Issue 13: the demo drops one MediaConvert job's terminal event; only the reconciler can end it."""
    lost = [JOBS[0], SimulatedJob("1700000000001-bbbbbb", "mediaconvert", JobStatus.CANCELED, lost_terminal=True)]
    finals = [JobStatus.SUCCESS, JobStatus.CANCELED]
    code, text = verdict(tmp_path, finals, [DEAD_LETTER], jobs=lost, repaired=frozenset({lost[1].job_id}))
    assert code == 0 and "repaired from MediaConvert" in text
    code, text = verdict(tmp_path, finals, [DEAD_LETTER], jobs=lost)
    assert code == 1
    assert "1 job(s) whose terminal event was lost were not repaired: 1700000000001-bbbbbb" in text


@pytest.mark.parametrize(
    ("metrics", "problem"),
    [
        ({"EventsPublished": 1, "JobsSucceeded": 1, "JobsCanceled": 1}, "metrics count 1 events published"),
        ({"EventsPublished": 2, "JobsSucceeded": 2, "JobsCanceled": 1}, "counted 3 jobs finished, not 2"),
        ({"EventsPublished": 2}, "counted 0 jobs finished"),
    ],
)
def test_fail_when_the_publishers_metrics_disagree(tmp_path: Path, metrics: dict[str, int], problem: str) -> None:
    code, text = verdict(tmp_path, [JobStatus.SUCCESS, JobStatus.CANCELED], [DEAD_LETTER], metrics=metrics)
    assert code == 1 and problem in text
