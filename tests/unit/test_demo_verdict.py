"""The demo's verdict: exit 0 only when every job ended as simulated and the DLQ holds the bad message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from transcoder_status.local.demo import _summary
from transcoder_status.local.simulator import MALFORMED_MESSAGE, SimulatedJob
from transcoder_status.status import JobStatus
from transcoder_status.table import JobRow

JOBS = [
    SimulatedJob("1700000000000-aaaaaa", "elastic-transcoder", JobStatus.SUCCESS, terminal_sent_at=100.0),
    SimulatedJob("1700000000001-bbbbbb", "mediaconvert", JobStatus.CANCELED, terminal_sent_at=100.0),
]
DEAD_LETTER = {"MessageId": "dead-1", "Body": json.dumps({"Type": "Notification", "Message": MALFORMED_MESSAGE})}


def verdict(tmp_path: Path, finals: list[JobStatus], dead_letters: list[dict[str, Any]]) -> tuple[int, str]:
    log = tmp_path / "function.log"
    log.write_text(
        json.dumps({"level": "ERROR", "messageId": "dead-1", "reason": "the SNS Message is not JSON"}) + "\n"
    )
    console = Console(record=True, width=200)
    rows: dict[str, JobRow | None] = {
        job.job_id: JobRow(job_id=job.job_id, status=final, finished=final.terminal)
        for job, final in zip(JOBS, finals, strict=True)
    }
    code = _summary(
        console,
        jobs=JOBS,
        simulator_errors=[],
        rows=rows,
        seen_at={job.job_id: 100.25 for job in JOBS},
        dead_letters=dead_letters,
        log_path=log,
        started=0.0,
    )
    return code, console.export_text()


def test_pass_when_all_jobs_match_and_the_malformed_message_is_in_the_dlq(tmp_path: Path) -> None:
    code, text = verdict(tmp_path, [JobStatus.SUCCESS, JobStatus.CANCELED], [DEAD_LETTER])
    assert code == 0
    assert "PASS" in text and "the SNS Message is not JSON" in text and "250 ms" in text


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
    code, text = verdict(tmp_path, finals, dead_letters)
    assert code == 1
    assert "FAIL" in text and problem in text
