"""Fuzz tests share the integration tests' emulator; ``make fuzz`` prints each test's figures."""

from __future__ import annotations

import pytest

from tests.integration.conftest import emulator  # noqa: F401  (the session's moto server)

FIGURES = "fuzz figures"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Each fuzz test's figures (recorded as a user property, so they cross from xdist workers)."""
    lines = [
        str(value)
        for outcome in ("passed", "failed")
        for report in terminalreporter.getreports(outcome)
        for name, value in report.user_properties
        if name == FIGURES
    ]
    if lines:
        terminalreporter.section(FIGURES)
        for line in lines:
            terminalreporter.write_line(line)
