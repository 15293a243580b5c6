"""Every command that reaches AWS says the same thing, in one line with exit 3, when there are no
credentials (botocore's own "Unable to locate credentials" says nothing about what to do)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from transcoder_status.aws_errors import NO_CREDENTIALS, no_profile
from transcoder_status.cli import EXIT_UNREADABLE, app

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "http://127.0.0.1:9/000000000000/dlq"
COMMANDS = {
    "status": ["status", "1700000000000-aaaaaa"],
    "list": ["list"],
    "watch": ["watch", "1700000000000-aaaaaa", "--timeout", "5"],
    "replay": ["replay", str(ROOT / "events/mediaconvert-complete.json")],
    "reconcile": ["reconcile"],
    "backfill": ["backfill"],
    "dlq show": ["dlq", "show", "--dlq-url", QUEUE],
    "dlq redrive": ["dlq", "redrive", "--dlq-url", QUEUE],
}


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata service to ask
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: nothing can leave
    monkeypatch.setenv("TABLE_NAME", "transcoder-status-table")
    # As in a fresh process: no default session that found credentials for an earlier test.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
def test_missing_credentials_explained_alike(command: str, no_credentials: None) -> None:
    result = CliRunner().invoke(app, COMMANDS[command])
    assert result.exit_code == EXIT_UNREADABLE, result.output
    assert NO_CREDENTIALS in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
def test_a_profile_that_does_not_exist_explained_alike(
    command: str, no_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_PROFILE with a typo (what the credentials message itself suggests setting): one line, exit 3."""
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    result = CliRunner().invoke(app, COMMANDS[command])
    assert result.exit_code == EXIT_UNREADABLE, result.output
    assert no_profile("no-such-profile") in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output
