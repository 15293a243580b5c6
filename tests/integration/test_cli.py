"""The transcoder-status command, in process, against the emulator."""

from __future__ import annotations

import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.conftest import EVENTS
from tests.integration.conftest import Notify
from transcoder_status import cli
from transcoder_status.cli import EXIT_FAILED, EXIT_TIMEOUT, EXIT_UNREADABLE, app
from transcoder_status.handler import StatusWriter
from transcoder_status.table import StatusTable

runner = CliRunner()


@pytest.fixture
def cli_table(writer: StatusWriter, monkeypatch: pytest.MonkeyPatch) -> StatusTable:
    monkeypatch.setenv("TABLE_NAME", writer.table.name)
    monkeypatch.setattr(cli, "console", Console(width=200))  # wide enough that no cell wraps
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
    assert "notification applied" in result.stderr
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
