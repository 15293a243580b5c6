"""``demo --accounts 2`` (issue 24): its option, where its jobs run, and its verdict on them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.unit.test_demo_verdict import DEAD_LETTER, finished_event, verdict
from transcoder_status import cli
from transcoder_status.local.fleet import HOME, SECOND_REGION, Where, central_parameters, fewest_jobs, places
from transcoder_status.local.simulator import SimulatedJob
from transcoder_status.status import JobStatus

SECOND_ACCOUNT = Where("444455556666", "eu-west-1")
HOME_WEST = Where(HOME.account, SECOND_REGION)
READER = "arn:aws:iam::444455556666:role/transcoder-status-reader"
JOBS = [
    SimulatedJob("1700000000000-aaaaaa", "elastic-transcoder", JobStatus.SUCCESS, terminal_sent_at=100.0),
    SimulatedJob("1700000000001-bbbbbb", "mediaconvert", JobStatus.SUCCESS, terminal_sent_at=100.0),
    SimulatedJob("1700000000003-cccccc", "mediaconvert", JobStatus.SUCCESS, lost_terminal=True, where=SECOND_ACCOUNT),
    SimulatedJob("1700000000005-dddddd", "mediaconvert", JobStatus.ERROR, terminal_sent_at=100.0, where=HOME_WEST),
]
FINALS = [job.outcome for job in JOBS]
EVENTS = [finished_event(job.job_id, job.outcome) for job in JOBS]
METRICS = {"EventsPublished": 4, "JobsSucceeded": 3, "JobsFailed": 1}


def summary(tmp_path: Path, **options: object) -> tuple[int, str]:
    settings: dict[str, object] = {
        "jobs": JOBS,
        "events": EVENTS,
        "metrics": METRICS,
        "repaired": frozenset({JOBS[2].job_id}),
        "unlisted_refused": True,
        "reader_roles": {READER: 2},
        **options,
    }
    return verdict(tmp_path, FINALS, [DEAD_LETTER], **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("accounts", ["0", "3", "-1"])
def test_accounts_other_than_1_or_2_get_one_line_and_exit_2(accounts: str) -> None:
    result = CliRunner().invoke(cli.app, ["demo", "--accounts", accounts])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"--accounts takes 1 or 2, not {accounts}"]


def test_two_accounts_run_jobs_in_a_second_account_and_a_second_region() -> None:
    assert places(1) == (HOME,)
    assert places(2) == (HOME, SECOND_ACCOUNT, HOME_WEST)
    # Only the other account needs listing (the central account's own Regions need no entry); the
    # stuck check discovers jobs in the other Regions too.
    assert central_parameters(places(2)) == {"SourceAccountIds": "444455556666", "SourceRegions": "eu-west-1,us-west-2"}
    assert central_parameters(places(1)) == {}
    with pytest.raises(ValueError, match="1 or 2"):
        places(3)


def test_pass_shows_where_each_job_ran_at_80_columns(tmp_path: Path) -> None:
    code, text = summary(tmp_path, width=80)
    assert code == 0, text
    said = " ".join(text.split())  # the sentences, as wrapped at 80 columns
    assert "PASS" in said and "3 accounts and Regions, each row recording its own" in said
    assert f"through {READER}" in said and "account 111122223333 refused" in said
    assert "123456789012/us-east-1 1/1, 444455556666/eu-west-1 1/1, 123456789012/us-west-2 1/1" in said
    assert "refused by the ingest bus's policy, in its forwarder's dead-letter queue" in said
    jobs = text.split("Transcoding Job Finished events received")[0]
    assert all(len(line) <= 80 for line in jobs.splitlines())
    for job in JOBS:  # IDs and statuses whole, each MediaConvert job's account above its Region
        (line,) = [line for line in jobs.splitlines() if job.job_id in line]
        assert job.outcome.value in line
        if job.source == "mediaconvert":
            below = jobs.splitlines()[jobs.splitlines().index(line) + 1]
            assert job.where.account in line and job.where.region in below


def test_a_row_that_records_another_account_or_region_ended_wrong(tmp_path: Path) -> None:
    elsewhere = {JOBS[3].job_id: {"account": HOME.account, "region": HOME.region}}
    code, text = summary(tmp_path, recorded_as=elsewhere)
    assert code == 1 and "1 job(s) ended wrong: 1700000000005-dddddd" in text
    assert "123456789012/us-west-2 0/1" in text
    code, text = summary(tmp_path, recorded_as={JOBS[1].job_id: {}})  # where it ran, not recorded at all
    assert code == 1 and "1 job(s) ended wrong: 1700000000001-bbbbbb" in text


def test_fail_unless_the_unlisted_account_was_refused(tmp_path: Path) -> None:
    code, text = summary(tmp_path, unlisted_refused=False)
    assert code == 1 and "the event of account 111122223333 (not listed) is not in its dead-letter queue" in text


def test_fail_unless_the_lost_jobs_reader_role_was_assumed(tmp_path: Path) -> None:
    code, text = summary(tmp_path, reader_roles={READER: 0})
    assert code == 1 and f"the stuck check never assumed {READER}" in text


@pytest.mark.parametrize("jobs", ["1", "2", "5"])
def test_two_accounts_with_too_few_jobs_for_every_place_get_one_line_and_exit_2(
    jobs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The simulator's MediaConvert jobs (every other one) take the places in turn, and the lost one is
    # the second: with fewer than 6 jobs some place runs none, or the lost job is the central
    # account's, and the demo used to PASS with no job through a forwarder or the reader role.
    ran: list[object] = []
    monkeypatch.setattr("transcoder_status.local.demo.run_demo", lambda *args, **kwargs: ran.append(kwargs) or 0)
    result = CliRunner().invoke(cli.app, ["demo", "--accounts", "2", "--jobs", jobs])
    assert (result.exit_code, ran) == (2, [])
    assert result.stderr.strip().splitlines() == [
        f"--accounts 2 needs --jobs 6 or more (a MediaConvert job in each of its 3 places), not {jobs}"
    ]
    assert fewest_jobs(places(1)) == 1  # one account: unchanged, --jobs 1 runs
