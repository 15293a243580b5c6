"""Listing jobs through the status index, and the stuck check, with the real handler writing rows."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.integration.conftest import T0, create_status_table, failed_ids, invoke
from transcoder_status import cli, list_jobs, stuck_check, stuck_jobs
from transcoder_status.cli import app
from transcoder_status.handler import StatusWriter
from transcoder_status.local.context import LocalContext
from transcoder_status.local.emulator import Emulator
from transcoder_status.local.messages import elastic_transcoder_message, mediaconvert_event, sns_envelope, sqs_record
from transcoder_status.local.provision import provision
from transcoder_status.status import JobStatus
from transcoder_status.table import STATUS_SHARDS, JobRow, StatusTable, WriteResult, status_shard
from transcoder_status.transitions import JobUpdate

runner = CliRunner()
HOUR = 3600.0


class ClockedTable(StatusTable):
    """The status table with the writer's clock set by the test: the real handler writes the rows,
    as if it had run ``ago`` seconds before now (updatedAt is the write's time, not the event's)."""

    ago: float = 0.0

    def write(self, update: JobUpdate, now: float | None = None, deadline: float | None = None) -> WriteResult:
        return super().write(update, time.time() - self.ago, deadline)


@pytest.fixture
def clocked(emulator: Emulator) -> ClockedTable:
    name = f"listing-{uuid.uuid4().hex[:12]}"
    create_status_table(name)
    return ClockedTable(name, boto3.client("dynamodb"))


Deliver = Callable[..., None]


@pytest.fixture
def deliver(clocked: ClockedTable) -> Deliver:
    """One notification through the real handler, written ``ago`` seconds in the past."""
    writer = StatusWriter(clocked)

    def send(job_id: str, state: str, *, ago: float, mediaconvert: bool = False) -> None:
        clocked.ago = ago
        at_ms = int((time.time() - ago) * 1000)
        if mediaconvert:
            body = json.dumps(mediaconvert_event(job_id, state, at_ms))
        else:
            body = json.dumps(sns_envelope(elastic_transcoder_message(job_id, state), at_ms))
        assert invoke(writer, {"Records": [sqs_record(body, sent_ms=at_ms)]}) == {"batchItemFailures": []}

    return send


def ids(rows: list[JobRow]) -> list[str]:
    return [row.job_id for row in rows]


def count_queries(client: Any) -> list[str]:
    """Every Query the client sends, by the shard it asks for."""
    calls: list[str] = []
    client.meta.events.register(
        "provide-client-params.dynamodb.Query",
        lambda params, **_: calls.append(params["ExpressionAttributeValues"][":p"]["S"]),
    )
    return calls


def test_listing_by_status_and_time_window_newest_first_paging_past_one_page(
    clocked: ClockedTable, deliver: Deliver
) -> None:
    # 24 jobs, one a minute from 3 hours ago: running, succeeded, failed in turn; a few from MediaConvert.
    states = ("PROGRESSING", "COMPLETED", "ERROR")
    for minute in range(24):
        deliver(f"5000000000000-{minute:06d}", states[minute % 3], ago=3 * HOUR - minute * 60)
    deliver("5000000000001-canceled", "CANCELED", ago=HOUR, mediaconvert=True)
    newest_first = [f"5000000000000-{minute:06d}" for minute in reversed(range(24))]

    client = boto3.client("dynamodb")
    queries = count_queries(client)
    everything = list(list_jobs(table_name=clocked.name, client=client, page_size=1))
    assert ids(everything) == ["5000000000001-canceled", *newest_first]
    assert [row.status for row in everything[1:4]] == [JobStatus.ERROR, JobStatus.SUCCESS, JobStatus.RUNNING]
    # Each of the 4 statuses x 8 shards was asked once, and each shard holding a row again.
    assert len(set(queries)) == 4 * STATUS_SHARDS < len(queries)

    failed = list(list_jobs("error", table_name=clocked.name, page_size=1))
    assert ids(failed) == [job for job in newest_first if int(job[-2:]) % 3 == 2]
    assert all(row.error_code == "3001" and row.state == "ERROR" for row in failed)

    # Updated between 2h55m and 2h45m ago: the jobs of minutes 5 to 14, newest first, only running.
    window = list(
        list_jobs(
            [JobStatus.RUNNING, "SUCCESS"],
            since=timedelta(hours=2, minutes=55, seconds=30),
            until=timedelta(hours=2, minutes=45, seconds=30),
            table_name=clocked.name,
            page_size=1,
        )
    )
    assert ids(window) == [f"5000000000000-{m:06d}" for m in reversed(range(5, 15)) if m % 3 != 2]
    # Absolute times work as well; naive ones are UTC.
    start = datetime.now(UTC) - timedelta(hours=2, minutes=55, seconds=30)
    assert ids(
        list(
            list_jobs(
                "RUNNING",
                since=start.replace(tzinfo=None),
                until=timedelta(hours=2, minutes=45, seconds=30),
                table_name=clocked.name,
            )
        )
    ) == [f"5000000000000-{m:06d}" for m in reversed(range(5, 15)) if m % 3 == 0]

    # A limit asks each shard for no more than the limit.
    queries.clear()
    assert ids(list(list_jobs(limit=3, table_name=clocked.name, client=client))) == ids(everything)[:3]
    assert len(queries) == 4 * STATUS_SHARDS
    assert list(list_jobs(until=timedelta(days=1), table_name=clocked.name)) == []


def test_a_job_moves_from_running_to_its_outcome_in_the_index(clocked: ClockedTable, deliver: Deliver) -> None:
    deliver("5100000000000-aaaaaa", "PROGRESSING", ago=HOUR)
    assert ids(list(list_jobs("RUNNING", table_name=clocked.name))) == ["5100000000000-aaaaaa"]
    deliver("5100000000000-aaaaaa", "COMPLETED", ago=60)
    assert list(list_jobs("RUNNING", table_name=clocked.name)) == []
    (row,) = list_jobs("SUCCESS", table_name=clocked.name)
    assert (row.job_id, row.finished, row.source, row.pipeline_id) == (
        "5100000000000-aaaaaa",
        True,
        "elastic-transcoder",
        "1502609200466-80khou",
    )
    item = clocked.client.get_item(TableName=clocked.name, Key={"jobId": {"S": row.job_id}})["Item"]
    assert item["statusShard"]["S"] == status_shard(JobStatus.SUCCESS, row.job_id)


def test_stuck_jobs_are_running_jobs_not_updated_for_the_threshold(
    clocked: ClockedTable, deliver: Deliver, caplog: pytest.LogCaptureFixture
) -> None:
    deliver("5200000000000-stuck1", "PROGRESSING", ago=5 * HOUR)
    deliver("5200000000000-stuck2", "STATUS_UPDATE", ago=3 * HOUR, mediaconvert=True)
    deliver("5200000000000-recent", "PROGRESSING", ago=HOUR)
    deliver("5200000000000-oldbut", "COMPLETED", ago=6 * HOUR)  # finished: never stuck
    deliver("5200000000000-revive", "PROGRESSING", ago=4 * HOUR)
    deliver("5200000000000-revive", "WARNING", ago=10 * 60)  # heard from since
    assert ids(list(stuck_jobs(timedelta(hours=2), table_name=clocked.name))) == [
        "5200000000000-stuck2",
        "5200000000000-stuck1",
    ]
    assert ids(list(stuck_jobs(timedelta(hours=4), table_name=clocked.name))) == ["5200000000000-stuck1"]

    # The scheduled function counts the same, emits the metric and names them in its log.
    check = stuck_check.StuckCheck(clocked, stuck_after_minutes=120)
    response = stuck_check.lambda_handler({}, LocalContext("stuck-check-test", 60), check)
    assert response["stuckJobs"] == 2
    assert response["jobIds"] == ["5200000000000-stuck1", "5200000000000-stuck2"]  # the longest stuck first
    (logged,) = [record for record in caplog.records if record.getMessage().startswith("stuck jobs")]
    assert (logged.levelname, logged.stuckJobs, logged.jobIds) == ("WARNING", 2, response["jobIds"])


def emitted_metrics(output: str) -> dict[str, list[float]]:
    """EMF documents printed by Powertools: metric name -> values."""
    found: dict[str, list[float]] = {}
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                assert directive["Namespace"] == "TranscoderStatusTests"
                for metric in directive["Metrics"]:
                    found.setdefault(metric["Name"], []).extend(document[metric["Name"]])
    return found


def test_the_scheduled_function_of_the_local_stack_counts_and_emits_the_metric(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The schedule is provisioned from the template and recorded; its function, configured as the
    stack configures it, runs against the stack's table."""
    stack = provision(stack_name=f"ts-stuck-{time.monotonic_ns() % 10**8}", parameters={"StuckAfterMinutes": 90})
    (schedule,) = stack.schedules
    assert schedule.expression == "rate(15 minutes)"
    rule = boto3.client("events").describe_rule(Name=schedule.rule_name)
    assert rule["ScheduleExpression"] == "rate(15 minutes)"
    assert schedule.function is stack.functions["StuckCheckFunction"]

    table = ClockedTable(stack.outputs["TableName"], boto3.client("dynamodb"))
    writer = StatusWriter(table)
    for job, ago in (
        ("5300000000000-stuck1", 2 * HOUR),
        ("5300000000000-stuck2", 100 * 60),
        ("5300000000000-fresh", 80 * 60),
    ):
        table.ago = ago
        body = json.dumps(sns_envelope(elastic_transcoder_message(job, "PROGRESSING"), T0))
        assert invoke(writer, {"Records": [sqs_record(body, sent_ms=T0)]}) == {"batchItemFailures": []}

    environment = schedule.function.environment
    assert environment["STUCK_AFTER_MINUTES"] == "90"
    for name, value in environment.items():
        if name != "POWERTOOLS_METRICS_NAMESPACE":  # the tests' namespace stays
            monkeypatch.setenv(name, value)
    stuck_check.default_check.cache_clear()
    capsys.readouterr()
    try:
        response = stuck_check.lambda_handler({"source": "aws.events"}, LocalContext(schedule.function.name, 60))
    finally:
        stuck_check.default_check.cache_clear()
    assert response["stuckJobs"] == 2
    assert emitted_metrics(capsys.readouterr().out)["StuckJobs"] == [2.0]

    # Nothing stuck is a 0, not silence: the alarm and the dashboard see the check ran.
    create_status_table(f"{stack.name}-empty")
    empty = StatusTable(f"{stack.name}-empty", boto3.client("dynamodb"))
    stuck_check.lambda_handler({}, LocalContext(schedule.function.name, 60), stuck_check.StuckCheck(empty, 90))
    assert emitted_metrics(capsys.readouterr().out)["StuckJobs"] == [0.0]


def test_list_command_prints_json_under_the_rows_own_names(
    clocked: ClockedTable, deliver: Deliver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABLE_NAME", clocked.name)
    monkeypatch.setattr(cli.output, "console", Console(width=200))  # wide enough that no cell is cut
    deliver("5400000000000-failed", "ERROR", ago=30 * 60)
    deliver("5400000000000-stuck", "PROGRESSING", ago=3 * HOUR)
    deliver("5400000000000-done", "COMPLETED", ago=2 * 86400)

    result = runner.invoke(app, ["list", "--status", "ERROR", "--status", "SUCCESS", "--since", "1d", "--json"])
    assert result.exit_code == 0, result.output
    (failed,) = json.loads(result.stdout)
    assert {"jobId", "status", "state", "source", "updatedAt", "errorCode", "errorMessage"} <= set(failed)
    assert "outputs" not in failed and not [key for key in failed if "_" in key]  # the row's own names
    assert (failed["jobId"], failed["status"], failed["state"], failed["source"]) == (
        "5400000000000-failed",
        "ERROR",
        "ERROR",
        "elastic-transcoder",
    )

    stuck = runner.invoke(app, ["list", "--stuck", "2h", "--json"])
    assert stuck.exit_code == 0, stuck.output
    assert [row["jobId"] for row in json.loads(stuck.stdout)] == ["5400000000000-stuck"]

    everything = runner.invoke(app, ["list", "--json", "--limit", "2"])
    assert [row["jobId"] for row in json.loads(everything.stdout)] == ["5400000000000-failed", "5400000000000-stuck"]
    assert "there are more" in everything.stderr

    deliver("5400000000000-codec", "ERROR", ago=2 * HOUR, mediaconvert=True)
    table = runner.invoke(app, ["list", "--until", "90m"])
    assert table.exit_code == 0, table.output
    assert "5400000000000-stuck" in table.stdout and "5400000000000-failed" not in table.stdout
    assert "1030: Video codec [indeo4] is not" in table.stdout  # the transcoder's text, not rich markup
    assert "3 job(s)." in table.stderr

    reversed_window = runner.invoke(app, ["list", "--since", "1h", "--until", "2h", "--json"])
    assert reversed_window.exit_code == 2 and "is later than until" in reversed_window.stderr  # issue 19

    for bad in (["--since", "2 hours"], ["--status", "DONE"], ["--stuck", "2h", "--status", "ERROR"]):
        refused = runner.invoke(app, ["list", *bad])
        assert refused.exit_code == 2, (bad, refused.output)


def test_a_table_without_the_index_says_to_deploy_it(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"no-index-{time.monotonic_ns() % 10**9}"
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    result = runner.invoke(app, ["list", "--table", name])
    assert result.exit_code == 3, result.output
    assert "has no index 'status-updatedAt'" in result.output and "Traceback" not in result.output


def test_listing_by_the_account_and_region_a_job_ran_in(clocked: ClockedTable, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows from two accounts and two Regions in one table (a central stack): the index does not
    project account and region, so each listed row's are read (BatchGetItem) and filtered."""
    writer = StatusWriter(clocked)
    places = {
        "5500000000000-first": ("111122223333", "us-east-1"),
        "5500000000000-second": ("444455556666", "eu-west-1"),
        "5500000000000-third": ("444455556666", "us-east-1"),
    }
    for minutes, (job_id, (account, region)) in enumerate(places.items()):
        at_ms = int((time.time() - HOUR + minutes * 60) * 1000)
        event = mediaconvert_event(job_id, "COMPLETE", at_ms, account=account, region=region)
        clocked.ago = HOUR - minutes * 60
        assert failed_ids(invoke(writer, {"Records": [sqs_record(json.dumps(event), sent_ms=at_ms)]})) == set()
    at_ms = int(time.time() * 1000)
    body = json.dumps(sns_envelope(elastic_transcoder_message("5500000000000-elastic", "COMPLETED"), at_ms))
    clocked.ago = 0
    invoke(writer, {"Records": [sqs_record(body, sent_ms=at_ms)]})

    def listed(**filters: Any) -> list[str]:
        return ids(list(list_jobs(table_name=clocked.name, page_size=1, **filters)))

    assert listed(account="444455556666") == ["5500000000000-third", "5500000000000-second"]
    assert listed(job_region="us-east-1") == ["5500000000000-third", "5500000000000-first"]
    assert listed(account="444455556666", job_region="eu-west-1") == ["5500000000000-second"]
    assert listed(account="444455556666", limit=1) == ["5500000000000-third"]
    assert listed(account="123456789012") == []  # an account with no jobs here
    (row,) = list_jobs(table_name=clocked.name, account="111122223333")
    assert (row.account, row.region) == ("111122223333", "us-east-1") and row.finished_at is not None
    for bad in (
        {"account": "44445555666"},
        {"account": "\u0664" * 12},
        {"job_region": "EU-WEST-1"},
        {"job_region": ""},
    ):
        with pytest.raises(ValueError, match=r"account ID|Region name"):
            list_jobs(table_name="not-connected", **bad)

    monkeypatch.setenv("TABLE_NAME", clocked.name)
    result = runner.invoke(app, ["list", "--account", "444455556666", "--job-region", "us-east-1", "--json"])
    assert result.exit_code == 0, result.output
    (shown,) = json.loads(result.stdout)
    assert (shown["jobId"], shown["account"], shown["region"]) == ("5500000000000-third", "444455556666", "us-east-1")
    everything = runner.invoke(app, ["list", "--json"])
    assert {row["jobId"]: row.get("account") for row in json.loads(everything.stdout)} == {
        **{job_id: account for job_id, (account, _) in places.items()},
        "5500000000000-elastic": None,
    }
    for bad in (["--account", "4444-5555-6666"], ["--job-region", "Ireland"]):
        refused = runner.invoke(app, ["list", *bad])
        assert refused.exit_code == 2, (bad, refused.output)
        assert len(refused.stderr.strip().splitlines()) == 1 and bad[0] in refused.stderr, refused.stderr
    status = runner.invoke(app, ["status", "5500000000000-second", "--json"])
    assert status.exit_code == 0, status.output
    ((shown_status),) = json.loads(status.stdout)
    assert (shown_status["account"], shown_status["region"]) == ("444455556666", "eu-west-1")
    monkeypatch.setattr(cli.output, "console", Console(width=200))
    view = runner.invoke(app, ["status", "5500000000000-second"])
    assert "444455556666" in view.stdout and "eu-west-1" in view.stdout
