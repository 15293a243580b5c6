"""The soak's load (transcoder_status.local.load): what is sent, in what order, and the rows it must leave."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from transcoder_status.local.load import MALFORMED_REASONS, Expected, Kind, Load, Route, plan_load, queue_body
from transcoder_status.notification import Source
from transcoder_status.sources import Delivery, ParseError, parse_body
from transcoder_status.status import JobStatus
from transcoder_status.table import JobRow

START_MS = 1_764_000_000_000


@pytest.fixture(scope="module")
def load() -> Load:
    return plan_load(1_000, 100, seed=7, start_ms=START_MS)


def test_the_counts_are_the_ones_asked_for(load: Load) -> None:
    kinds = Counter(send.kind for send in load.sends)
    assert len(load.sends) == 1_000 and len(load.jobs) == 100
    assert kinds[Kind.MALFORMED] == 10  # 1%
    assert kinds[Kind.REPUBLISHED] + kinds[Kind.COPIED] + kinds[Kind.LATE_COPY] == 200  # 20%
    assert {job.source for job in load.jobs} == {Source.ELASTIC_TRANSCODER, Source.MEDIACONVERT}
    assert {send.route for send in load.sends if send.kind is Kind.ORIGINAL} == {Route.TOPIC, Route.BUS}
    assert Counter(send.malformed_reason for send in load.malformed) == dict.fromkeys(MALFORMED_REASONS, 10 // 4) | {
        MALFORMED_REASONS[0]: 3,
        MALFORMED_REASONS[1]: 3,
    }


def test_the_same_seed_gives_the_same_load(load: Load) -> None:
    again = plan_load(1_000, 100, seed=7, start_ms=START_MS)
    assert [json.dumps(send.document) for send in again.sends] == [json.dumps(send.document) for send in load.sends]


def test_each_job_has_one_terminal_notification_and_duplicates_come_after_their_original(load: Load) -> None:
    position = {id(send): index for index, send in enumerate(load.sends)}
    for job in load.jobs:
        assert sum(send.terminal for send in job.notifications) == 1
        assert all(id(send) in position for send in job.notifications)  # every one of them is sent
    for index, send in enumerate(load.sends):
        if send.original is not None:
            assert position[id(send.original)] < index
    late = [index for index, send in enumerate(load.sends) if send.kind is Kind.LATE_COPY]
    assert late == list(range(len(load.sends) - len(late), len(load.sends)))  # the late ones come last


def test_the_delivery_order_is_mangled(load: Load) -> None:
    after_terminal, out_of_order = load.disorder()
    assert after_terminal > 100 and out_of_order > 100


def test_malformed_notifications_are_refused_and_marked(load: Load) -> None:
    for send in load.malformed:
        body = send.document if isinstance(send.document, str) else json.dumps(send.document)
        assert send.token is not None and send.token in body
        with pytest.raises(ParseError):
            if send.route is Route.TOPIC and isinstance(send.document, dict):
                body = json.dumps({"Type": "Notification", "MessageId": "m", "Message": body})
            parse_body(body, Delivery(sent_ms=START_MS, message_id="m"))


def test_a_copy_is_the_body_its_original_was_delivered_with(load: Load) -> None:
    copies = [send for send in load.sends if send.original is not None and send.route is Route.QUEUE]
    for copy in copies[:20]:
        assert copy.original is not None
        copy.original.message_id, copy.original.sent_ms = "given-id", START_MS
        body = json.loads(queue_body(copy))
        if copy.original.route is Route.TOPIC:
            assert (body["MessageId"], json.loads(body["Message"])) == ("given-id", copy.original.document)
        else:
            assert (
                body["id"] == "given-id" and body["detail"] == json.loads(json.dumps(copy.original.document))["detail"]
            )


def test_expected_rows_follow_the_terminal_notification_warnings_and_latest_progress(load: Load) -> None:
    for job in load.jobs:
        expected = load.expected(job)
        documents: list[Any] = [send.document for send in job.notifications]
        assert expected.finished and expected.status is job.outcome
        if job.source == Source.ELASTIC_TRANSCODER:
            assert expected.progress is None
            assert len(expected.warnings) == sum(message["state"] == "WARNING" for message in documents)
        elif job.outcome is JobStatus.SUCCESS:
            assert (expected.progress, expected.phase) == (100, None)
        else:
            reports = [event["detail"] for event in documents if event["detail"]["status"] == "STATUS_UPDATE"]
            latest = max(reports, key=lambda detail: detail["timestamp"], default=None)
            assert expected.progress == (None if latest is None else latest["jobProgress"]["jobPercentComplete"])


def test_a_row_compares_with_its_expectation_on_what_matters(load: Load) -> None:
    job = load.jobs[1]
    expected = load.expected(job)
    row = JobRow(
        job_id=job.job_id,
        status=expected.status,
        finished=True,
        state=expected.state,
        source=expected.source,
        pipeline_id=expected.details[0],
        queue=expected.details[1],
        outputs=expected.details[2],
        error_code=expected.details[3],
        error_message=expected.details[4],
        user_metadata=dict(expected.details[5]),
        warnings=tuple(reversed(expected.warnings)),
        progress=expected.progress,
        phase=expected.phase,
        updated_at="whenever",
    )
    assert Expected.of_row(row) == expected
    assert Expected.of_row(replace(row, progress=(expected.progress or 0) + 1)) != expected
    assert Expected.of_row(replace(row, warnings=(*expected.warnings, "one more"))) != expected


def test_too_few_notifications_for_the_jobs_are_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        plan_load(30, 10, seed=1, start_ms=START_MS)
