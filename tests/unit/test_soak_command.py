"""`make soak`'s command (python -m bench.soak): it refuses what it cannot run, and it is not part of
the installed `transcoder-status` command any more."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bench.soak.__main__ import app as soak_app
from transcoder_status.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        (["--faults", "dynamodb,gremlins"], "unknown fault(s) gremlins"),
        (["--notifications", "30"], "4 notifications per job"),
    ],
)
def test_soak_refuses_what_it_cannot_run_before_starting_anything(options: list[str], refusal: str) -> None:
    result = runner.invoke(soak_app, ["--jobs", "10", *options])
    assert result.exit_code == 2
    assert refusal in " ".join(result.output.replace("│", " ").split())  # the message, unwrapped from its box


def test_the_installed_command_has_no_soak() -> None:
    result = runner.invoke(app, ["soak", "--help"])
    assert result.exit_code == 2
    assert "No such command" in result.output
