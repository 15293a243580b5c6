"""The transcoder-status command, in process, against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.conftest import EVENTS
from tests.integration.conftest import Notify
from tests.integration.faults import Fault, FaultProxy, always
from transcoder_status import cli
from transcoder_status.cli import EXIT_FAILED, EXIT_TIMEOUT, EXIT_UNREADABLE, app
from transcoder_status.handler import StatusWriter
from transcoder_status.local.emulator import Emulator
from transcoder_status.table import StatusTable

runner = CliRunner()
READS = ("GetItem", "BatchGetItem")


@pytest.fixture
def cli_table(writer: StatusWriter, monkeypatch: pytest.MonkeyPatch) -> StatusTable:
    monkeypatch.setenv("TABLE_NAME", writer.table.name)
    monkeypatch.setattr(cli.output, "console", Console(width=200))  # wide enough that no cell wraps
    return writer.table


def test_status_table_and_json(cli_table: StatusTable, notify: Notify) -> None:
    notify("2000000000000-aaaaaa", "COMPLETED")
    notify("2000000000000-bbbbbb", "ERROR")
    result = runner.invoke(app, ["status", "2000000000000-aaaaaa", "2000000000000-bbbbbb", "2000000000000-cccccc"])
    assert result.exit_code == 0, result.output
    assert "2000000000000-aaaaaa" in result.output and "SUCCESS" in result.output
    assert "3001: 3001" in result.output  # the error code and its message
    assert "no notification yet" in result.output

    result = runner.invoke(app, ["status", "--json", "2000000000000-aaaaaa", "2000000000000-cccccc"])
    assert result.exit_code == 0, result.output
    known, unknown = json.loads(result.output)
    assert (known["jobId"], known["status"], known["finished"], known["known"]) == (
        "2000000000000-aaaaaa",
        "SUCCESS",
        True,
        True,
    )
    assert known["outputs"][0]["key"] == "HLS/400k"
    assert (unknown["status"], unknown["finished"], unknown["known"]) == ("RUNNING", False, False)


def test_watch_exit_codes(cli_table: StatusTable, notify: Notify) -> None:
    notify("2100000000000-aaaaaa", "COMPLETED")
    notify("2100000000000-bbbbbb", "COMPLETED")
    notify("2100000000000-cccccc", "ERROR")
    notify("2100000000000-dddddd", "PROGRESSING")
    ok = runner.invoke(app, ["watch", "2100000000000-aaaaaa", "2100000000000-bbbbbb"])
    assert ok.exit_code == 0, ok.output
    assert "All 2 job(s) succeeded" in ok.output
    failed = runner.invoke(app, ["watch", "2100000000000-aaaaaa", "2100000000000-cccccc"])
    assert failed.exit_code == EXIT_FAILED
    assert "2100000000000-cccccc" in failed.output
    timed_out = runner.invoke(app, ["watch", "2100000000000-aaaaaa", "2100000000000-dddddd", "--timeout", "0.3"])
    assert timed_out.exit_code == EXIT_TIMEOUT
    assert "1 job(s) not finished" in timed_out.output


def test_replay_runs_the_handler_on_an_event_file(cli_table: StatusTable) -> None:
    result = runner.invoke(app, ["replay", str(EVENTS / "elastic-transcoder-completed.json")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"batchItemFailures": []}
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    (written,) = [entry for entry in logged if entry.get("message") == "jobs written"]
    assert [job["jobId"] for job in written["jobs"]] == ["1502631977930-rabioh"]
    row = cli_table.get("1502631977930-rabioh")
    assert row is not None and row.finished

    mixed = runner.invoke(app, ["replay", str(EVENTS / "batch-mixed-with-malformed.json")])
    assert mixed.exit_code == EXIT_FAILED
    assert len(json.loads(mixed.stdout)["batchItemFailures"]) == 1


def test_missing_table_is_a_clear_error(writer: StatusWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TABLE_NAME", raising=False)
    result = runner.invoke(app, ["status", "x"])
    assert result.exit_code == EXIT_UNREADABLE
    assert "TABLE_NAME" in result.output
    result = runner.invoke(app, ["status", "x", "--table", "no-such-table"])
    assert result.exit_code == EXIT_UNREADABLE
    assert "does not exist" in result.output


def test_json_uses_the_rows_own_attribute_names(cli_table: StatusTable, notify: Notify) -> None:
    """Review finding 15: jobId beside pipeline_id and duration_ms."""
    notify("2200000000000-aaaaaa", "ERROR")
    result = runner.invoke(app, ["status", "--json", "2200000000000-aaaaaa", "2200000000000-bbbbbb"])
    assert result.exit_code == 0, result.output
    known, unknown = json.loads(result.stdout)
    keys = set(known) | {key for output in known["outputs"] for key in output} | set(unknown)
    assert not [key for key in keys if "_" in key], keys
    assert {"jobId", "status", "pipelineId", "errorCode", "errorMessage", "updatedAt", "notifiedAt"} <= set(known)
    assert (known["pipelineId"], known["errorCode"]) == ("1502609200466-80khou", "3001")
    item = cli_table.client.get_item(TableName=cli_table.name, Key={"jobId": {"S": "2200000000000-aaaaaa"}})["Item"]
    assert set(item) - {"orderKey", "expiresAt", "createdAt", "statusShard"} <= set(known)
    assert (unknown["status"], unknown["state"], unknown["known"]) == ("RUNNING", None, False)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (
            always(READS, 400, "ExpiredTokenException", "The security token included in the request is expired"),
            "rejected the credentials",
        ),
        (always(READS, 400, "ThrottlingException", "Rate exceeded"), "even after retries"),
        (always(READS, 500, "InternalServerError", "Internal server error"), "Cannot read table"),
    ],
)
def test_read_failures_exit_unreadable_with_one_line(
    emulator: Emulator, cli_table: StatusTable, fault: Fault, reason: str
) -> None:
    """Review finding 7: a traceback and exit 1, the code watch documents as 'a job failed'."""
    with FaultProxy(emulator.endpoint_url, fault).running() as endpoint:
        for command in (["status", "2300000000000-aaaaaa"], ["watch", "2300000000000-aaaaaa", "--timeout", "1"]):
            result = runner.invoke(app, [*command, "--endpoint-url", endpoint])
            assert result.exit_code == EXIT_UNREADABLE, result.output
            assert reason in result.output
            assert "Traceback" not in result.output


def test_unreachable_endpoint_and_missing_credentials_exit_unreadable(
    cli_table: StatusTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = str(EVENTS / "elastic-transcoder-completed.json")
    # A wait retries a connection error until its deadline (a network outage passes), then says why.
    for command in (["status", "x"], ["watch", "x", "--timeout", "1"], ["replay", event]):
        result = runner.invoke(app, [*command, "--endpoint-url", "http://127.0.0.1:9"])
        assert result.exit_code == EXIT_UNREADABLE, result.output
        assert "Cannot reach DynamoDB at http://127.0.0.1:9" in result.output
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = runner.invoke(app, ["watch", "x", "--timeout", "5"])
    assert result.exit_code == EXIT_UNREADABLE, result.output
    assert "No AWS credentials found" in result.output


def test_replay_with_region_option_and_retention_in_a_fresh_process(emulator: Emulator, cli_table: StatusTable) -> None:
    """Review finding 7: `replay --region` died with NoRegionError; RETENTION_DAYS was ignored."""
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    env.update(RETENTION_DAYS="20", TABLE_NAME=cli_table.name, AWS_ENDPOINT_URL=emulator.endpoint_url)
    started = time.time()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "transcoder_status.cli",
            "replay",
            "--region",
            "us-east-1",
            str(EVENTS / "elastic-transcoder-completed.json"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    item = cli_table.client.get_item(TableName=cli_table.name, Key={"jobId": {"S": "1502631977930-rabioh"}})["Item"]
    assert int(started) + 20 * 86400 <= int(item["expiresAt"]["N"]) <= time.time() + 20 * 86400
