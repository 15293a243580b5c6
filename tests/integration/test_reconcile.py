"""Repairs from MediaConvert's own answers: the real reconciler, the local GetJob/ListJobs
stand-in over HTTP, the real handler writing rows in the emulator."""

from __future__ import annotations

import json
import os
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest
from botocore.exceptions import ClientError
from rich.console import Console
from typer.testing import CliRunner

from tests.integration.conftest import T0, Notify, invoke
from transcoder_status import cli, stuck_check
from transcoder_status.handler import StatusWriter
from transcoder_status.local.context import LocalContext
from transcoder_status.local.mediaconvert import MediaConvertStandIn, hanging, unreachable
from transcoder_status.local.messages import mediaconvert_event, sqs_record
from transcoder_status.reconcile import Reconciler, TableUnavailable, Verdict, mediaconvert_client
from transcoder_status.status import JobStatus

QUEUE = "arn:aws:mediaconvert:us-east-1:123456789012:queues/Default"
runner = CliRunner()


# MediaConvert's answers are about jobs of the last hours: a backfill skips what ended before the
# table keeps rows.
RECENT_MS = (int(time.time()) - 3_600) * 1000


def at(ms: int) -> datetime:
    return datetime.fromtimestamp((RECENT_MS + ms) / 1000, UTC)


def truth(job_id: str, status: str, finished_ms: int | None = 9_000, created_ms: int = 0) -> dict[str, Any]:
    """What MediaConvert knows of a job, as boto3 shapes it."""
    timing: dict[str, Any] = {"SubmitTime": at(created_ms), "StartTime": at(created_ms + 100)}
    if finished_ms is not None:
        timing["FinishTime"] = at(finished_ms)
    return {
        "Id": job_id,
        "Status": status,
        "Queue": QUEUE,
        "Role": "arn:aws:iam::123456789012:role/MediaConvertRole",
        "CreatedAt": at(created_ms),
        "Timing": timing,
        "Settings": {"OutputGroups": []},
    }


def event(writer: StatusWriter, job_id: str, status: str, ms: int, **kwargs: Any) -> None:
    body = json.dumps(mediaconvert_event(job_id, status, T0 + ms, event_id=f"{job_id}-{status}-{ms}", **kwargs))
    assert invoke(writer, {"Records": [sqs_record(body, sent_ms=T0 + ms)]}) == {"batchItemFailures": []}


def reconciler(writer: StatusWriter, **options: Any) -> Reconciler:
    return Reconciler(writer.table, mediaconvert_client(), rate_per_second=1_000, **options)


def test_a_job_whose_terminal_event_was_lost_is_repaired(writer: StatusWriter, stand_in: MediaConvertStandIn) -> None:
    event(writer, "1700000000000-lost01", "STATUS_UPDATE", 1_000, percent=40)
    stand_in.put(truth("1700000000000-lost01", "COMPLETE"))
    row = writer.table.get("1700000000000-lost01", attributes=None)
    assert row is not None
    report = reconciler(writer).reconcile([row])
    assert [(c.job_id, c.verdict, c.status) for c in report.checked] == [
        ("1700000000000-lost01", Verdict.REPAIRED, "COMPLETE")
    ]
    repaired = writer.table.get("1700000000000-lost01", attributes=None)
    assert repaired is not None
    assert (repaired.status, repaired.finished, repaired.progress) == (JobStatus.SUCCESS, True, 100)
    assert repaired.repaired_at is not None
    # The real COMPLETE, arriving late after all, changes no state: the row stays as repaired (its
    # warnings still merge, as a late event's always do).
    event(writer, "1700000000000-lost01", "COMPLETE", 9_000)
    late = writer.table.get("1700000000000-lost01", attributes=None)
    assert late is not None
    assert (late.state, late.notified_at, late.repaired_at) == (
        repaired.state,
        repaired.notified_at,
        repaired.repaired_at,
    )
    # Asking again is a duplicate of the first answer.
    assert reconciler(writer).reconcile([repaired]).checked == []  # finished rows are not asked about


def test_a_repair_never_overwrites_a_newer_event(writer: StatusWriter, stand_in: MediaConvertStandIn) -> None:
    event(writer, "1700000000000-newer1", "STATUS_UPDATE", 5_000, percent=80)
    # MediaConvert's answer is older than what the row holds (started at 100 ms, still running).
    stand_in.put(truth("1700000000000-newer1", "PROGRESSING", finished_ms=None))
    row = writer.table.get("1700000000000-newer1", attributes=None)
    assert row is not None
    (checked,) = reconciler(writer).reconcile([row]).checked
    assert checked.verdict is Verdict.UNCHANGED
    after = writer.table.get("1700000000000-newer1", attributes=None)
    assert after is not None and (after.state, after.progress, after.repaired_at) == ("STATUS_UPDATE", 80, None)


def test_jobs_mediaconvert_no_longer_knows_are_counted_not_guessed(
    writer: StatusWriter, stand_in: MediaConvertStandIn, notify: Notify
) -> None:
    event(writer, "1700000000000-gone01", "PROGRESSING", 1_000)
    notify("1432217012218-etjob1", "PROGRESSING")  # Elastic Transcoder: never asked
    rows = [writer.table.get(job, attributes=None) for job in ("1700000000000-gone01", "1432217012218-etjob1")]
    et_row = rows[1]
    assert et_row is not None
    report = reconciler(writer).reconcile([row for row in rows if row is not None])
    assert [(c.job_id, c.verdict) for c in report.checked] == [("1700000000000-gone01", Verdict.NOT_FOUND)]
    row = writer.table.get("1700000000000-gone01")
    assert row is not None and row.status is JobStatus.RUNNING


def test_backfill_writes_what_the_table_lacks_and_a_dry_run_writes_nothing(
    writer: StatusWriter, stand_in: MediaConvertStandIn
) -> None:
    for index, status in enumerate(["COMPLETE", "ERROR", "PROGRESSING", "COMPLETE"]):
        stand_in.put(truth(f"1700000000000-back{index:02d}", status, created_ms=index * 60_000))
    stand_in.put(truth("1700000000000-old000", "COMPLETE", created_ms=-3 * 86_400_000))  # before `since`
    event(writer, "1700000000000-back00", "COMPLETE", 9_000)  # already right
    since = at(0) - timedelta(days=1)

    dry = reconciler(writer, dry_run=True).backfill(since)
    assert {c.job_id: c.verdict for c in dry.checked} == {
        "1700000000000-back00": Verdict.UNCHANGED,
        "1700000000000-back01": Verdict.WOULD_REPAIR,
        "1700000000000-back02": Verdict.WOULD_REPAIR,
        "1700000000000-back03": Verdict.WOULD_REPAIR,
    }
    assert writer.table.get("1700000000000-back01") is None

    report = reconciler(writer).backfill(since)
    assert report.count(Verdict.REPAIRED) == 3 and report.count(Verdict.UNCHANGED) == 1
    statuses = {job: writer.table.get(f"1700000000000-{job}") for job in ("back01", "back02", "back03", "old000")}
    assert {job: None if row is None else row.status for job, row in statuses.items()} == {
        "back01": JobStatus.ERROR,
        "back02": JobStatus.RUNNING,
        "back03": JobStatus.SUCCESS,
        "old000": None,
    }
    # By status: only the failed jobs.
    only_errors = reconciler(writer).backfill(since, statuses=["ERROR"])
    assert [c.job_id for c in only_errors.checked] == ["1700000000000-back01"]


def test_calls_are_paced() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Reconciler(None, None, rate_per_second=2, clock=lambda: now[0], sleep=sleep)  # type: ignore[arg-type]
    for _ in range(5):
        pacer._pace()
    assert now[0] == pytest.approx(2.0)  # five calls at 2 a second: the last at 2 s
    assert all(pause <= 0.5 for pause in slept)


def test_the_scheduled_check_repairs_stuck_mediaconvert_jobs_and_counts_the_rest(
    writer: StatusWriter, stand_in: MediaConvertStandIn, notify: Notify, capsys: pytest.CaptureFixture[str]
) -> None:
    event(writer, "1700000000000-stuck1", "STATUS_UPDATE", 1_000, percent=50)  # its COMPLETE was lost
    stand_in.put(truth("1700000000000-stuck1", "COMPLETE"))
    event(writer, "1700000000000-stuck2", "PROGRESSING", 1_000)  # MediaConvert forgot it
    notify("1432217012218-stuck3", "PROGRESSING")  # Elastic Transcoder: counted, never asked
    check = stuck_check.StuckCheck(writer.table, stuck_after_minutes=0, reconciler=reconciler(writer))
    capsys.readouterr()
    later = time.time() + 5  # every row is 5 s old by then
    with patch.object(check, "run", lambda deadline=None: stuck_check.StuckCheck.run(check, later, deadline)):
        response = stuck_check.lambda_handler({}, LocalContext("stuck-check-test", 60), check)
    assert response["reconciled"] == {
        "repaired": ["1700000000000-stuck1"],
        "unchanged": [],
        "not found": ["1700000000000-stuck2"],
        "failed": [],
    }
    assert sorted(response["jobIds"]) == ["1432217012218-stuck3", "1700000000000-stuck2"]
    assert response["stuckJobs"] == 2
    row = writer.table.get("1700000000000-stuck1", attributes=None)
    assert row is not None and row.status is JobStatus.SUCCESS and row.repaired_at is not None
    metrics = emitted(capsys.readouterr().out)
    assert (metrics["Reconciled"], metrics["ReconcileNotFound"], metrics["ReconcileFailed"]) == (1, 1, 0)
    assert metrics["StuckJobs"] == 2


def emitted(output: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = document[metric["Name"]]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + (
                    sum(value) if isinstance(value, list) else value
                )
    return totals


def test_the_cli_reconciles_and_backfills(
    writer: StatusWriter, stand_in: MediaConvertStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABLE_NAME", writer.table.name)
    monkeypatch.setattr(cli.output, "console", Console(width=200))
    event(writer, "1700000000000-clilst", "STATUS_UPDATE", 1_000, percent=10)
    stand_in.put(truth("1700000000000-clilst", "ERROR"))
    five_minutes_ago = int(time.time() * 1000) - RECENT_MS - 300_000
    stand_in.put(truth("1700000000000-clinew", "COMPLETE", created_ms=five_minutes_ago, finished_ms=five_minutes_ago))

    dry = runner.invoke(cli.app, ["reconcile", "--stuck", "0s", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1700000000000-clilst" in dry.stdout and "would repair" in dry.stdout
    assert writer.table.get("1700000000000-clilst").status is JobStatus.RUNNING  # type: ignore[union-attr]
    done = runner.invoke(cli.app, ["reconcile", "--stuck", "0s"])
    assert done.exit_code == 0, done.output
    assert "repaired" in done.stdout
    assert writer.table.get("1700000000000-clilst").status is JobStatus.ERROR  # type: ignore[union-attr]

    backfilled = runner.invoke(cli.app, ["backfill", "--since", "1h"])
    assert backfilled.exit_code == 0, backfilled.output
    assert "1700000000000-clinew" in backfilled.stdout and "1700000000000-clilst" not in backfilled.stdout
    assert writer.table.get("1700000000000-clinew").status is JobStatus.SUCCESS  # type: ignore[union-attr]


def test_a_job_mediaconvert_says_still_runs_stays_stuck(writer: StatusWriter, stand_in: MediaConvertStandIn) -> None:
    """Review of issue 13: a hung job "repaired" with a running answer vanished from StuckJobs."""
    event(writer, "1700000000000-hung01", "PROGRESSING", 1_000)
    stand_in.put(truth("1700000000000-hung01", "PROGRESSING", finished_ms=None, created_ms=600_000))  # newer
    row = writer.table.get("1700000000000-hung01", attributes=None)
    assert row is not None
    (checked,) = reconciler(writer).reconcile([row]).checked
    assert (checked.verdict, checked.reason) == (Verdict.UNCHANGED, "still running")
    after = writer.table.get("1700000000000-hung01", attributes=None)
    assert after is not None and after.repaired_at is None and after.updated_at == row.updated_at


def test_backfill_keeps_to_what_the_stack_records_and_to_what_rows_are_kept(
    writer: StatusWriter, stand_in: MediaConvertStandIn
) -> None:
    """Review of issue 13: backfill wrote rows (and events) for other teams' jobs, and brought
    expired finished jobs back for another RetentionDays."""
    stand_in.put({**truth("1700000000000-ours01", "COMPLETE"), "UserMetadata": {"team": "video"}})
    stand_in.put({**truth("1700000000000-other1", "COMPLETE"), "UserMetadata": {"team": "ads"}})
    old = truth("1700000000000-expird", "COMPLETE", created_ms=-41 * 86_400_000, finished_ms=-40 * 86_400_000)
    stand_in.put({**old, "UserMetadata": {"team": "video"}})
    report = reconciler(writer).backfill(at(0) - timedelta(days=60), user_metadata=("team", "video"))
    assert {c.job_id: c.verdict for c in report.checked} == {
        "1700000000000-ours01": Verdict.REPAIRED,
        "1700000000000-expird": Verdict.TOO_OLD,
    }
    assert writer.table.get("1700000000000-other1") is None and writer.table.get("1700000000000-expird") is None


def test_the_check_stops_asking_before_its_deadline(writer: StatusWriter, stand_in: MediaConvertStandIn) -> None:
    rows = []
    for index in range(5):
        job = f"1700000000000-late{index:02d}"
        event(writer, job, "PROGRESSING", 1_000)
        stand_in.put(truth(job, "COMPLETE"))
        rows.append(writer.table.get(job, attributes=None))
    now = [0.0]
    paced = Reconciler(
        writer.table,
        mediaconvert_client(),
        rate_per_second=1,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    report = paced.reconcile([row for row in rows if row is not None], deadline=2.5)
    assert (len(report.checked), report.unasked) == (3, 2)  # at 1 a second: calls at 0, 1 and 2 s, not at 3


def stuck_rows(writer: StatusWriter, count: int) -> None:
    for index in range(count):
        event(writer, f"1700000000000-bad{index:03d}", "PROGRESSING", 1_000)


def test_backfill_into_a_missing_table_exits_3_before_asking_mediaconvert(
    stand_in: MediaConvertStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: into a missing table, backfill printed a table of "failed" jobs and exited 0."""
    stand_in.put(truth("1700000000000-nowher", "COMPLETE"))
    monkeypatch.setenv("TABLE_NAME", "status-not-deployed")
    result = runner.invoke(cli.app, ["backfill", "--since", "1d"])
    assert result.exit_code == cli.EXIT_UNREADABLE, result.output
    assert "'status-not-deployed' does not exist" in result.stderr
    assert stand_in.requests == 0


@pytest.mark.parametrize("fault", ["unreachable", "throttling", "hanging"])
def test_reconcile_on_a_bad_mediaconvert_stops_within_its_deadline_and_fails(
    fault: str, writer: StatusWriter, stand_in: MediaConvertStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: unreachable, throttled (60 s for 3 jobs) or hanging (184 s), reconcile exited 0."""
    monkeypatch.setenv("TABLE_NAME", writer.table.name)
    stuck_rows(writer, 8)
    with ExitStack() as stack:
        if fault == "unreachable":
            monkeypatch.setenv("AWS_ENDPOINT_URL_MEDIACONVERT", unreachable())
        elif fault == "hanging":
            monkeypatch.setenv("AWS_ENDPOINT_URL_MEDIACONVERT", stack.enter_context(hanging()))
        else:
            stand_in.throttled = True
        started = time.monotonic()
        result = runner.invoke(cli.app, ["reconcile", "--stuck", "0s", "--timeout", "5", "--json"])
        elapsed = time.monotonic() - started
    assert elapsed < 5 + 1, elapsed  # the deadline, and a moment to print
    report = json.loads(result.stdout)
    assert not any(checked["verdict"] == "repaired" for checked in report["checked"])
    if fault == "hanging":
        assert result.exit_code == cli.EXIT_TIMEOUT and report["outOfTime"], result.output
    else:
        assert result.exit_code == cli.EXIT_FAILED, result.output
        assert [checked["verdict"] for checked in report["checked"]] == ["failed"] * 4
        assert report["unasked"] == 4 and "failed in a row" in report["stopped"]


def test_the_stuck_check_returns_before_its_timeout_when_getjob_hangs(
    writer: StatusWriter, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19: the check ran 123 s against its 120 s timeout: Lambda killed it before its metrics."""
    stuck_rows(writer, 5)
    monkeypatch.setenv("TABLE_NAME", writer.table.name)
    monkeypatch.setenv("STUCK_AFTER_MINUTES", "0")
    with hanging() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_MEDIACONVERT", endpoint)
        check = stuck_check.StuckCheck.from_environment()
        context = LocalContext("stuck-check-test", stuck_check.DEADLINE_MARGIN_S + 5)
        capsys.readouterr()
        response = stuck_check.lambda_handler({}, context, check)
    assert context.get_remaining_time_in_millis() > 0
    assert response["stuckJobs"] == 5 and response["stopped"]
    assert emitted(capsys.readouterr().out)["StuckJobs"] == 5  # flushed


def test_the_scheduled_check_writes_a_row_for_a_running_job_the_table_lacks(
    writer: StatusWriter, stand_in: MediaConvertStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: MediaConvert sends no SUBMITTED event; a job whose first events were lost had no row."""
    now_ms = int(time.time() * 1000) - RECENT_MS
    stand_in.put(truth("1700000000000-nofrst", "PROGRESSING", finished_ms=None, created_ms=now_ms - 60_000))
    stand_in.put(truth("1700000000000-paused", "SUBMITTED", finished_ms=None, created_ms=now_ms - 60_000))
    stand_in.put(truth("1700000000000-ended0", "COMPLETE", created_ms=now_ms - 60_000))  # the backfill's, not this
    other = truth("1700000000000-others", "PROGRESSING", finished_ms=None, created_ms=now_ms - 60_000)
    stand_in.put({**other, "Queue": QUEUE.replace("Default", "Theirs")})
    stand_in.put(truth("1700000000000-old001", "PROGRESSING", finished_ms=None, created_ms=now_ms - 3 * 86_400_000))
    event(writer, "1700000000000-known1", "STATUS_UPDATE", 1_000, percent=30)
    stand_in.put(truth("1700000000000-known1", "PROGRESSING", finished_ms=None, created_ms=now_ms - 60_000))
    monkeypatch.setenv("TABLE_NAME", writer.table.name)
    monkeypatch.setenv("MEDIACONVERT_QUEUE_ARN", QUEUE)
    check = stuck_check.StuckCheck.from_environment()
    response = stuck_check.lambda_handler({}, LocalContext("stuck-check-test", 60), check)
    assert sorted(response["discovered"]) == ["1700000000000-nofrst", "1700000000000-paused"]
    for job, state in (("1700000000000-nofrst", "PROGRESSING"), ("1700000000000-paused", "SUBMITTED")):
        row = writer.table.get(job, attributes=None)
        assert row is not None and (row.status, row.state) == (JobStatus.RUNNING, state)
        assert row.discovered_at is not None
    for job in ("1700000000000-ended0", "1700000000000-others", "1700000000000-old001"):
        assert writer.table.get(job) is None
    known = writer.table.get("1700000000000-known1", attributes=None)
    assert known is not None and (known.state, known.discovered_at) == ("STATUS_UPDATE", None)
    # The client now knows the job.
    shown = runner.invoke(cli.app, ["status", "--json", "1700000000000-nofrst"])
    assert json.loads(shown.stdout)[0]["known"] is True and json.loads(shown.stdout)[0]["discoveredAt"]


def test_list_tells_when_a_repaired_job_finished(
    writer: StatusWriter, stand_in: MediaConvertStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: `list --status ERROR --since 1d` listed a job that failed five days ago and was
    backfilled today, with no finish time and no mark that it was repaired."""
    five_days_ago = -5 * 86_400_000 + 3_600_000  # RECENT_MS is an hour ago
    stand_in.put(truth("1700000000000-fail5d", "ERROR", created_ms=five_days_ago - 60_000, finished_ms=five_days_ago))
    event(writer, "1700000000000-failnw", "ERROR", 0)  # an event's job, failed at T0
    reconciler(writer).backfill(at(five_days_ago) - timedelta(days=1))
    monkeypatch.setenv("TABLE_NAME", writer.table.name)
    monkeypatch.setattr(cli.output, "console", Console(width=250))

    def listed(*options: str) -> dict[str, dict[str, Any]]:
        result = runner.invoke(cli.app, ["list", "--status", "ERROR", "--json", *options])
        assert result.exit_code == 0, result.output
        return {row["jobId"]: row for row in json.loads(result.stdout)}

    written_today = listed("--since", "1d")  # last written today: both rows
    repaired = written_today["1700000000000-fail5d"]
    assert repaired["finishedAt"].startswith(at(five_days_ago).strftime("%Y-%m-%dT%H:%M")) and repaired["repairedAt"]
    assert written_today["1700000000000-failnw"]["repairedAt"] is None
    assert "1700000000000-fail5d" not in listed("--finished-since", "1d")
    six_days_ago = (datetime.now(UTC) - timedelta(days=6)).isoformat(timespec="seconds").replace("+00:00", "Z")
    assert "1700000000000-fail5d" in listed("--finished-since", six_days_ago, "--finished-until", "4d")
    shown = runner.invoke(cli.app, ["list", "--status", "ERROR", "--since", "1d"])
    line = next(line for line in shown.stdout.splitlines() if "1700000000000-fail5d" in line)
    assert "(repaired)" in line and at(five_days_ago).strftime("%Y-%m-%d %H:%M") in line

    for bad in (
        ["--finished-since", "1d", "--status", "RUNNING"],
        ["--since", "2026-13-01"],
        ["--finished-since", "1d", "--finished-until", "2d"],
    ):
        refused = runner.invoke(cli.app, ["list", *bad])
        assert refused.exit_code == 2, (bad, refused.output)


def test_mediaconvert_has_its_own_endpoint_option_and_backfill_checks_statuses(
    writer: StatusWriter, stand_in: MediaConvertStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: reconcile's --endpoint-url sent table calls there but GetJob to the real MediaConvert."""
    endpoint = os.environ["AWS_ENDPOINT_URL_MEDIACONVERT"]
    monkeypatch.delenv("AWS_ENDPOINT_URL_MEDIACONVERT")
    monkeypatch.setenv("TABLE_NAME", writer.table.name)
    event(writer, "1700000000000-ownend", "PROGRESSING", 1_000)
    stand_in.put(truth("1700000000000-ownend", "COMPLETE"))
    options = ["--stuck", "0s", "--json", "--mediaconvert-endpoint-url", endpoint]
    result = runner.invoke(cli.app, ["reconcile", *options, "--endpoint-url", os.environ["AWS_ENDPOINT_URL"]])
    assert result.exit_code == 0, result.output
    assert [c["verdict"] for c in json.loads(result.stdout)["checked"]] == ["repaired"]
    wrong = runner.invoke(cli.app, ["backfill", "--status", "COMPLETED", "--mediaconvert-endpoint-url", endpoint])
    assert wrong.exit_code == 2 and "not a MediaConvert job status" in wrong.output
    assert stand_in.requests == 1  # the GetJob; the refused backfill asked nothing


@pytest.mark.parametrize("writing", ["discovery", "repairs"])
def test_the_stuck_check_still_counts_when_its_writes_are_denied(
    writing: str,
    writer: StatusWriter,
    stand_in: MediaConvertStandIn,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A role without UpdateItem on the table: the first write (discovery's, or a repair's) raised
    TableUnavailable out of the check before it counted, so StuckJobs went missing and its alarm
    drifted to OK. The count goes out, and the invocation still fails (FunctionErrorsAlarm)."""
    stuck_rows(writer, 3)
    now_ms = int(time.time() * 1000) - RECENT_MS
    if writing == "discovery":
        stand_in.put(truth("1700000000000-norow1", "PROGRESSING", finished_ms=None, created_ms=now_ms - 60_000))
    else:
        stand_in.put(truth("1700000000000-bad000", "COMPLETE"))
    monkeypatch.setenv("TABLE_NAME", writer.table.name)
    monkeypatch.setenv("STUCK_AFTER_MINUTES", "0")
    check = stuck_check.StuckCheck.from_environment()

    def denied(**request: Any) -> Any:
        error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized to perform UpdateItem"}}
        raise ClientError(error, "UpdateItem")  # type: ignore[arg-type]

    monkeypatch.setattr(check.table.client, "update_item", denied)
    capsys.readouterr()
    with pytest.raises(TableUnavailable, match="AccessDeniedException"):
        stuck_check.lambda_handler({}, LocalContext("stuck-check-test", 60), check)
    assert emitted(capsys.readouterr().out)["StuckJobs"] == 3


def test_an_answer_about_another_accounts_job_with_the_rows_id_is_a_clash_reported_not_unchanged(
    writer: StatusWriter, stand_in: MediaConvertStandIn
) -> None:
    """The row is a source account's job; the account asked (here the central one) ran another job
    with the same ID (docs/multi-account.md). The row stays its own job's, and the check says why
    instead of calling the row unchanged, as the writer logs a clash instead of dropping it."""
    job = "1700000000000-clash1"
    event(writer, job, "STATUS_UPDATE", 1_000, percent=40, account="444455556666", region="eu-west-1")
    stand_in.put({**truth(job, "COMPLETE"), "Arn": f"arn:aws:mediaconvert:us-east-1:123456789012:jobs/{job}"})
    row = writer.table.get(job, attributes=None)
    assert row is not None
    (dry,) = reconciler(writer, dry_run=True).reconcile([row]).checked  # says what a run would do
    (checked,) = reconciler(writer).reconcile([row]).checked
    assert dry == checked
    assert checked.verdict is Verdict.FAILED and checked.reason is not None
    assert "two accounts' events for one row" in checked.reason
    assert "123456789012 in us-east-1" in checked.reason and "444455556666 in eu-west-1" in checked.reason
    after = writer.table.get(job, attributes=None)
    assert after is not None and after.repaired_at is None
    assert (after.state, after.account) == ("STATUS_UPDATE", "444455556666")
