"""What the command line prints: tables that fit 80 columns with job IDs and statuses whole, plain and
complete output off a terminal, --version, the install hint as written, and replay's refusals."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

import transcoder_status.cli as cli
from tests.unit.test_demo_verdict import recorded
from transcoder_status.cli.dlq import _letters_view
from transcoder_status.cli.jobs import _rows_view
from transcoder_status.cli.repair import _report_view
from transcoder_status.dead_letters import DeadLetter
from transcoder_status.display import PLAIN_WIDTH, JobProgress, PlainConsole
from transcoder_status.local.demo import _dlq_table, _events_table, _jobs_table
from transcoder_status.local.simulator import SimulatedJob
from transcoder_status.reconcile import Checked, Report, Verdict
from transcoder_status.status import JobStatus
from transcoder_status.table import JobRow

ROOT = Path(__file__).resolve().parents[2]
LONG_ERROR = "Video codec [indeo4] is not a supported input video codec " * 3
JOB_IDS = ["1700000042000-79b1a3", "1700000042005-12e65b", "1700000042007-1c945c"]


def rendered(table: Table, width: int = 80) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text()


def assert_fits(text: str, whole: list[str], width: int = 80) -> None:
    assert max(len(line) for line in text.splitlines()) <= width, text
    for value in whole:
        assert value in text, f"{value!r} not shown whole:\n{text}"


def rows() -> list[tuple[str, JobRow | None]]:
    return [
        (
            JOB_IDS[0],
            JobRow(
                job_id=JOB_IDS[0],
                status=JobStatus.RUNNING,
                finished=False,
                state="STATUS_UPDATE",
                progress=40,
                source="mediaconvert",
                updated_at="2026-11-27T01:40:34.236Z",
            ),
        ),
        (
            JOB_IDS[1],
            JobRow(
                job_id=JOB_IDS[1],
                status=JobStatus.ERROR,
                finished=True,
                state="ERROR",
                source="elastic-transcoder",
                updated_at="2026-11-27T01:40:34.348Z",
                error_code="1030",
                error_message=LONG_ERROR,
            ),
        ),
        (JOB_IDS[2], None),
    ]


def test_status_and_list_fit_80_columns() -> None:
    text = rendered(_rows_view(rows(), 80))
    assert_fits(text, [*JOB_IDS, "RUNNING", "ERROR", "[indeo4]", "no notification yet"])


def test_a_listing_of_finished_jobs_shows_when_they_finished_at_80_columns() -> None:
    """Issue 19: `list --status ERROR --since 1d` at 80 columns dropped Finished: a job that failed
    five days ago and was repaired today read as today's."""
    repaired = JobRow(
        job_id=JOB_IDS[0],
        status=JobStatus.ERROR,
        finished=True,
        state="ERROR",
        source="mediaconvert",
        updated_at="2026-12-06T18:40:37.709Z",
        finished_at="2026-12-01T17:40:37.000Z",
        repaired_at="2026-12-06T18:40:37.709Z",
    )
    failed = JobRow(
        job_id=JOB_IDS[1],
        status=JobStatus.ERROR,
        finished=True,
        state="ERROR",
        source="elastic-transcoder",
        updated_at="2026-12-06T18:40:37.140Z",
        finished_at="2026-12-06T18:40:37.100Z",
        error_code="1030",
        error_message=LONG_ERROR,
    )
    text = rendered(_rows_view([(row.job_id, row) for row in (repaired, failed)], 80))
    assert_fits(text, [JOB_IDS[0], JOB_IDS[1], "ERROR (repaired)", "[indeo4]", "Finished", "2026-12-01"])


def test_status_and_list_show_every_column_when_wide() -> None:
    text = rendered(_rows_view(rows(), 200), 200)
    for header in ("Job ID", "Status", "State", "Progress", "Source", "Updated", "Details"):
        assert header in text
    assert "STATUS_UPDATE" in text and "40%" in text and "elastic-transcoder" in text


def finished_rows() -> list[tuple[str, JobRow | None]]:
    """rows(), the failed job finished, repaired and found by the stuck check."""
    (running, (job_id, failed), unknown) = rows()
    assert failed is not None
    done = replace(
        failed,
        finished_at="2026-11-27T01:40:33.001Z",
        repaired_at="2026-11-27T01:40:34.348Z",
        discovered_at="2026-11-27T01:40:34.348Z",
    )
    return [running, (job_id, done), unknown]


def test_list_shows_the_finished_column_only_when_a_job_finished() -> None:
    assert "Finished" not in rendered(_rows_view(rows(), 200), 200)  # no job finished: no empty column
    text = rendered(_rows_view(finished_rows(), 200), 200)
    assert "Finished" in text and "2026-11-27 01:40:33.001Z" in text
    assert "ERROR (repaired) (discovered)" in text  # the marks on the status, kept whole


def test_a_column_given_way_for_a_later_one_comes_back_when_that_one_went_too() -> None:
    """`list --status ERROR` at 80 columns (docs/samples/list-errors.txt): the Finished column does
    not fit beside Updated and Details, so it gives way after State; State, which fits once Finished
    is gone, is shown again rather than lost with it."""
    (_, (job_id, failed), _) = rows()
    assert failed is not None
    missing = "3001 035215da-a522-4c6e-8a57-7c7d3f6984b5: The specified object does not exist"  # a long word
    done = replace(failed, finished_at="2026-11-27T01:40:33.001Z", error_code="3001", error_message=missing)
    text = rendered(_rows_view([(job_id, done)], 80))
    assert_fits(text, [job_id, "ERROR"])
    assert "State" in text, text


def test_demo_tables_fit_80_columns() -> None:
    jobs = [
        SimulatedJob(JOB_IDS[0], "elastic-transcoder", JobStatus.SUCCESS, ["warning", "late INPUT_INFORMATION"]),
        SimulatedJob(JOB_IDS[1], "mediaconvert", JobStatus.ERROR, ["duplicate"], terminal_sent_at=1.0),
        SimulatedJob(JOB_IDS[2], "mediaconvert", JobStatus.CANCELED, [], terminal_sent_at=1.0),
    ]
    finals = {job.job_id: JobRow(job_id=job.job_id, status=job.outcome, finished=True, **recorded(job)) for job in jobs}
    events = {job.job_id: [{"detail": {"jobId": job.job_id, "status": job.outcome.value}}] for job in jobs}
    view, wrong, _, _ = _jobs_table(
        80, jobs, rows=finals, seen_at={JOB_IDS[1]: 11.5}, repaired=set(), finished_events=events
    )
    assert wrong == []
    assert_fits(rendered(view), [*JOB_IDS, "SUCCESS", "ERROR", "CANCELED", "10500 ms", "INPUT_INFORMATION"])

    received = [
        {
            "detail": {
                "jobId": job_id,
                "status": "ERROR",
                "state": "ERROR",
                "finishedAt": "2026-11-27T01:56:21.940Z",
                "outputs": [{"uri": "s3://example-output-bucket/a/very/long/path/file.mp4"}],
                "errorCode": "1030",
                "errorMessage": LONG_ERROR,
            }
        }
        for job_id in JOB_IDS
    ]
    assert_fits(rendered(_events_table(80, received)), [*JOB_IDS, "ERROR", "…/file.mp4"])


def test_the_demo_dlq_table_fits_80_columns(tmp_path: Path) -> None:
    log = tmp_path / "function.log"
    message_id = "0cff236e-6427-41a4-aa4b-b1f77798326b"  # an SQS message ID: whole, to search the log for
    log.write_text(json.dumps({"level": "ERROR", "reason": LONG_ERROR, "messageId": message_id}) + "\n")
    body = json.dumps({"Type": "Notification", "Message": "{ this is not a transcoder notification"})
    view, _ = _dlq_table(80, [{"MessageId": message_id, "Body": body}], log)
    assert_fits(rendered(view), [message_id, "[indeo4]"])


def test_dlq_show_fits_80_columns() -> None:
    letters = [
        DeadLetter("4720b336-068d-4e29-b9aa-20284305d086", 1_764_207_631_000, 6, "{ not json", "malformed", LONG_ERROR),
        DeadLetter("2ddb65ab-acf2-4905-ae29-c9370c1ea1ea", None, 12, "{}", "write-failed", "parses now"),
    ]
    text = rendered(_letters_view(letters, 80, "Dead-letter queue: 2 message(s), all still there"))
    assert_fits(text, ["4720b336-068d-4e29-b9aa-20284305d086", "2ddb65ab-acf2-4905-ae29-c9370c1ea1ea", "12"])


def test_repair_reports_fit_80_columns() -> None:
    report = Report(
        [
            Checked(JOB_IDS[0], Verdict.WOULD_REPAIR, "COMPLETE", LONG_ERROR),
            Checked(JOB_IDS[1], Verdict.NOT_FOUND, None, "MediaConvert no longer knows the job"),
        ]
    )
    text = rendered(_report_view(report, "Running MediaConvert jobs not updated for 2h [dry run]", 80))
    assert_fits(text, [*JOB_IDS[:2], "would repair", "not found", "COMPLETE", "[dry run]"])


def test_output_off_a_terminal_is_plain_and_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    written = io.StringIO()  # not a terminal
    console = PlainConsole(file=written)
    assert console.width == PLAIN_WIDTH
    console.print(_rows_view(rows(), console.width))
    text = written.getvalue()
    assert "\x1b[" not in text  # no colour
    assert " ".join(LONG_ERROR.split()) in text  # the whole message, on one line
    for header in ("Progress", "Source", "State"):
        assert header in text


def test_version() -> None:
    result = CliRunner().invoke(cli.app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"transcoder-status {version('transcoder-status')}"


def test_the_install_hint_keeps_its_brackets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def without_moto() -> None:
        raise ModuleNotFoundError("No module named 'moto'", name="moto")

    monkeypatch.setattr(cli, "app", without_moto)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == cli.EXIT_UNREADABLE
    assert "pip install 'transcoder-status[local]'" in capsys.readouterr().err


BAD_FILES = {
    "truncated.json": (ROOT / "events/mediaconvert-complete.json").read_text()[:120],
    "empty.json": "",
    "not-json.json": "this is not json",
    "array.json": "[1, 2]",
    "no-message-id.json": json.dumps({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}),
    "not-sqs.json": json.dumps({"Records": [{"eventSource": "aws:s3", "messageId": "1", "body": "{}"}]}),
    "no-records.json": json.dumps({"Records": []}),
    "too-deep.json": "[" * 100_000,  # json's RecursionError
    "huge-number.json": '{"Records": ' + "1" * 5000 + "}",  # past Python's digits limit: a ValueError
}


@pytest.mark.parametrize("name", [*BAD_FILES, "a-directory", "events/env.json", "missing.json"])
def test_replay_refuses_unusable_input_in_one_line(name: str, tmp_path: Path) -> None:
    if name == "events/env.json":
        path = ROOT / name
    elif name == "a-directory":
        path = tmp_path
    else:
        path = tmp_path / name
        if name in BAD_FILES:
            path.write_text(BAD_FILES[name])
    # No table and no credentials needed: the file is refused before anything is read.
    result = CliRunner().invoke(cli.app, ["replay", str(path)], env={"TABLE_NAME": ""})
    assert result.exit_code == 2, result.output
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: "), result.output


def test_a_finished_job_keeps_its_own_end_time() -> None:
    """A job that ends below 100% (ERROR at 40%) stops its clock when it ends, not when the run does."""
    now = [0.0]
    console = Console(width=80, record=True, file=io.StringIO())
    progress = JobProgress(JOB_IDS[:2], console, clock=lambda: now[0])
    running = JobRow(job_id=JOB_IDS[1], status=JobStatus.RUNNING, finished=False, progress=40)
    with progress:
        now[0] = 3.0
        progress.show({JOB_IDS[0]: JobRow(job_id=JOB_IDS[0], status=JobStatus.ERROR, finished=True, progress=40)})
        progress.show({JOB_IDS[1]: running})
        for now[0] in (20.0, 40.0, 75.0):  # the other job runs on; each poll shows both again
            progress.show({JOB_IDS[0]: JobRow(job_id=JOB_IDS[0], status=JobStatus.ERROR, finished=True, progress=40)})
            progress.show({JOB_IDS[1]: running})
        progress.show({JOB_IDS[1]: JobRow(job_id=JOB_IDS[1], status=JobStatus.SUCCESS, finished=True)})
    lines = console.export_text().splitlines()
    assert next(line for line in lines if JOB_IDS[0] in line).endswith("0:00:03")
    assert next(line for line in lines if JOB_IDS[1] in line).endswith("0:01:15")


def test_backfill_names_mediaconvert_job_statuses_as_the_sdk_models_them() -> None:
    """The help names them without loading MediaConvert's model at import (a quarter of a second)."""
    from transcoder_status.cli import repair

    assert tuple(repair.JOB_STATUSES_HELP.split(", ")) == repair.job_statuses()


def gathered_rows() -> list[tuple[str, JobRow | None]]:
    """rows(), the MediaConvert job from another account and Region than a third one (a central stack)."""
    (running, failed, _) = rows()
    assert running[1] is not None
    third = replace(running[1], job_id=JOB_IDS[2], account="111122223333", region="us-east-1", progress=None)
    far = replace(running[1], account="444455556666", region="ap-southeast-1")
    return [(running[0], far), failed, (JOB_IDS[2], third)]


def test_a_listing_from_several_accounts_shows_where_each_job_ran_at_80_columns() -> None:
    text = rendered(_rows_view(gathered_rows(), 80))
    assert_fits(text, [*JOB_IDS, "RUNNING", "ERROR", "Account", "444455556666", "111122223333"])
    wide = rendered(_rows_view(gathered_rows(), 200), 200)
    assert "Region" in wide and "ap-southeast-1" in wide and "us-east-1" in wide


def test_a_listing_from_one_place_has_no_account_column_but_a_status_shows_it() -> None:
    """One account and Region throughout (a single-account stack, or a listing filtered by them):
    a column that says the same on every row gives its room to the others; `status` shows it."""
    (running, failed, _) = rows()
    assert running[1] is not None
    one = replace(running[1], account="444455556666", region="eu-west-1")
    listed = rendered(_rows_view([(running[0], one), failed], 200), 200)
    assert "Account" not in listed and "Region" not in listed
    shown = rendered(_rows_view([(running[0], one)], 200, every_place=True), 200)
    assert "444455556666" in shown and "eu-west-1" in shown
    assert_fits(rendered(_rows_view([(running[0], one), failed], 80, every_place=True)), [*JOB_IDS[:2], "RUNNING"])
