"""Fuzz: parse_body either returns a Notification the table can trust or raises its own ParseError.

Never KeyError, TypeError, RecursionError, UnicodeError, OverflowError or any other ValueError, on
any body: garbage, any JSON, real-shaped notifications of both transcoders and their mutations,
envelopes inside envelopes, bodies up to 256 KB. ``make test`` runs a hundred examples of each
test, ``make fuzz`` ten thousand (the ``fuzz`` hypothesis profile).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.checks import check_notification, check_parse_error
from tests.fuzz.conftest import FIGURES
from tests.fuzz.figures import Figures
from tests.fuzz.strategies import (
    Body,
    bodies,
    body_bytes,
    event_times,
    mutated,
    real_shaped,
    realistic_job_ids,
    render,
    rendered,
    styles,
    valid_messages,
)
from transcoder_status.sources import Delivery, ParseError, parse_body

FUZZ_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

sent_times = st.one_of(event_times(), event_times(), st.none(), st.integers(-(10**20), 10**20))


def parse_and_check(body: str, sent_ms: int | None, figures: Figures) -> Any:
    """Parse one body; check the result, or the refusal; count it."""
    figures.cases += 1
    figures.size("body", body_bytes(body))
    gc.disable()  # the parser's time, not the pauses of this process's heap (hypothesis's grows)
    started = time.perf_counter()
    try:
        notification = parse_body(body, Delivery(sent_ms=sent_ms, message_id="sqs-message-id"))
    except ParseError as error:
        figures.timings.append(time.perf_counter() - started)
        figures.counts["refused"] += 1
        check_parse_error(error)
        return None
    finally:
        gc.enable()
    figures.timings.append(time.perf_counter() - started)
    figures.counts["parsed"] += 1
    check_notification(notification)
    return notification


def run_fuzz(name: str, record_property: Callable[[str, object], None], test: Callable[[Figures], None]) -> None:
    figures = Figures(name, unit="body")
    try:
        test(figures)
    finally:
        record_property(FIGURES, figures.line())


def test_any_body_is_parsed_or_refused_with_a_parse_error(record_property: Any) -> None:
    def fuzz(figures: Figures) -> None:
        @FUZZ_SETTINGS
        @given(body=bodies(), sent_ms=sent_times)
        def parse(body: Body, sent_ms: int | None) -> None:
            parse_and_check(body.text(), sent_ms, figures)

        parse()

    run_fuzz("parse_body, any body", record_property, fuzz)


def test_mutated_real_messages_are_parsed_or_refused_with_a_parse_error(record_property: Any) -> None:
    """One to three fields dropped, nulled, retyped or replaced, at any depth, envelopes included."""

    def fuzz(figures: Figures) -> None:
        @FUZZ_SETTINGS
        @given(body=rendered(real_shaped(realistic_job_ids()).flatmap(mutated)), sent_ms=sent_times)
        def parse(body: Body, sent_ms: int | None) -> None:
            parse_and_check(body.text(), sent_ms, figures)

        parse()

    run_fuzz("parse_body, mutated real messages", record_property, fuzz)


def test_real_messages_always_parse(record_property: Any) -> None:
    """The control: every real-shaped notification of a valid job, written in any style, is read."""

    def fuzz(figures: Figures) -> None:
        @FUZZ_SETTINGS
        @given(
            job_id=realistic_job_ids(),
            data=st.data(),
            style=styles(),
            sent_ms=event_times(),
        )
        def parse(job_id: str, data: st.DataObject, style: Any, sent_ms: int) -> None:
            body = render(data.draw(valid_messages(st.just(job_id))), style)
            notification = parse_and_check(body, sent_ms, figures)
            assert notification is not None, "a valid notification was refused"
            assert notification.job_id == job_id

        parse()

    run_fuzz("parse_body, valid real messages", record_property, fuzz)


@pytest.mark.parametrize("depth", [10, 900, 990, 1_000, 5_000, 100_000])
def test_nesting_at_and_past_the_recursion_limit_is_no_crash(depth: int) -> None:
    for body in ("[" * depth + "]" * depth, '{"jobId":' * depth + '"j"' + "}" * depth):
        try:
            parse_body(body, Delivery(sent_ms=None, message_id="m"))
        except ParseError as error:
            check_parse_error(error)
