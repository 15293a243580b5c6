"""The soak's load (bench.soak.load): what is sent, in what order, and the rows it must leave."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from bench.soak.load import (
    MALFORMED_REASONS,
    Expected,
    Kind,
    Load,
    PlannedJob,
    Route,
    Stored,
    carried_id,
    plan_load,
    queue_body,
)
from transcoder_status.local.messages import iso_ms, sns_envelope
from transcoder_status.notification import Source
from transcoder_status.sources import Delivery, ParseError, parse_body
from transcoder_status.status import JobStatus
from transcoder_status.table import status_shard

START_MS = 1_764_000_000_000
RETENTION_DAYS = 30
DAY_S = 86400


@pytest.fixture(scope="module")
def load() -> Load:
    return plan_load(1_000, 100, seed=7, start_ms=START_MS)


@pytest.fixture(scope="module")
def sent() -> Load:
    """A load as the sender leaves it: each send 10 ms after the last, its call answered 4 ms later."""
    load = plan_load(1_000, 100, seed=7, start_ms=START_MS)
    for number, send in enumerate(load.sends):
        send.message_id = f"id-{number}"
        send.sent_ms = START_MS + 10 * number
        send.answered_ms = send.sent_ms + 4
    return load


def checked_ms(load: Load) -> int:
    """When the soak reads the rows: a minute after the last send."""
    return max(send.answered_ms or 0 for send in load.sends) + 60_000


def expected(load: Load, job: PlannedJob) -> Expected:
    return load.expected(job, retention_days=RETENTION_DAYS, checked_ms=checked_ms(load))


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


def test_expected_rows_follow_the_terminal_notification_warnings_and_latest_progress(sent: Load) -> None:
    for job in sent.jobs:
        facts = expected(sent, job).facts
        documents: list[Any] = [send.document for send in job.notifications]
        assert facts.finished and facts.status is job.outcome
        assert facts.status_shard == status_shard(job.outcome, job.job_id)
        if job.source == Source.ELASTIC_TRANSCODER:
            assert facts.progress is None
            assert len(facts.warnings) == sum(message["state"] == "WARNING" for message in documents)
            assert [o.key for o in facts.details[2]] == ["HLS/400k"]  # an error's output too: as it was told
        elif job.outcome is JobStatus.SUCCESS:
            assert (facts.progress, facts.phase) == (100, None)
            assert [o.key for o in facts.details[2]] == [f"s3://example-output-bucket/{job.job_id}/file.mp4"]
        else:
            reports = [event["detail"] for event in documents if event["detail"]["status"] == "STATUS_UPDATE"]
            latest = max(reports, key=lambda detail: detail["timestamp"], default=None)
            assert facts.progress == (None if latest is None else latest["jobProgress"]["jobPercentComplete"])
            assert facts.details[2] == ()


def test_a_mediaconvert_jobs_finish_is_its_terminal_events_own_time(sent: Load) -> None:
    for job in sent.jobs:
        if job.source == Source.MEDIACONVERT:
            (terminal,) = [send for send in job.notifications if send.terminal]
            assert isinstance(terminal.document, dict)
            at = terminal.document["detail"]["timestamp"]
            assert expected(sent, job).event_times == (range(at, at + 1),)


def test_an_elastic_transcoder_jobs_finish_is_when_sns_stamped_any_of_its_terminal_publishes(sent: Load) -> None:
    """SNS stamps the envelope while the publish call runs; which of two publishes wins is a race."""
    republished = 0
    for job in sent.jobs:
        if job.source == Source.ELASTIC_TRANSCODER:
            (terminal,) = [send for send in job.notifications if send.terminal]
            published = [send for send in sent.sends_of(terminal) if send.route is Route.TOPIC]
            windows = expected(sent, job).event_times
            assert windows == tuple(range(s.sent_ms, s.sent_ms + 5) for s in published if s.sent_ms is not None)
            republished += len(published) > 1
    assert republished == sent.republished_terminals() > 0


def test_expiry_is_retention_days_after_a_write_between_the_terminal_notifications_first_send_and_the_check(
    sent: Load,
) -> None:
    job = sent.jobs[1]
    (terminal,) = [send for send in job.notifications if send.terminal]
    first_ms = min(send.sent_ms for send in sent.sends_of(terminal) if send.sent_ms is not None)
    assert expected(sent, job).expires_at == range(
        first_ms // 1000 + RETENTION_DAYS * DAY_S, checked_ms(sent) // 1000 + RETENTION_DAYS * DAY_S + 1
    )


def right_row(load: Load, job: PlannedJob) -> Stored:
    wanted = expected(load, job)
    at = iso_ms(wanted.event_times[-1].start)
    return Stored(wanted.facts, finished_at=at, notified_at=at, expires_at=wanted.expires_at.start)


def test_a_row_compares_with_its_expectation_on_every_attribute(sent: Load) -> None:
    for job in sent.jobs[:2]:  # one of each source
        wanted, row = expected(sent, job), right_row(sent, job)
        assert wanted.differences(row) == []
        never = "1999-01-01T00:00:00.000Z"
        wrong = {
            "progress": replace(row, facts=replace(row.facts, progress=(row.facts.progress or 0) + 1)),
            "warnings": replace(row, facts=replace(row.facts, warnings=(*row.facts.warnings, "one more"))),
            "statusShard": replace(row, facts=replace(row.facts, status_shard=status_shard(JobStatus.RUNNING, "x"))),
            "playlists": replace(row, facts=replace(row.facts, playlists=(*row.facts.playlists, "extra.m3u8"))),
            "finishedAt": replace(row, finished_at=never),
            "notifiedAt": replace(row, notified_at=None),
            "expiresAt": replace(row, expires_at=wanted.expires_at.start - DAY_S),
        }
        for attribute, sabotaged in wrong.items():
            (difference,) = wanted.differences(sabotaged)
            assert difference.startswith(f"{attribute}: ")
        assert expected(sent, job).differences(None) == ["no row"]


def test_finished_and_notified_must_be_one_time_even_where_either_send_may_win(sent: Load) -> None:
    job = next(
        job for job in sent.jobs if job.source == Source.ELASTIC_TRANSCODER and len(expected(sent, job).event_times) > 1
    )
    wanted = expected(sent, job)
    first, second = (iso_ms(window.start) for window in wanted.event_times[:2])
    row = right_row(sent, job)
    assert wanted.differences(replace(row, finished_at=first, notified_at=first)) == []
    assert wanted.differences(replace(row, finished_at=second, notified_at=second)) == []
    (difference,) = wanted.differences(replace(row, finished_at=first, notified_at=second))
    assert difference.startswith("notifiedAt: ")


def test_a_delivered_body_carries_its_notifications_id() -> None:
    envelope = sns_envelope({"jobId": "x", "state": "COMPLETED"}, START_MS, "sns-id")
    assert carried_id(json.dumps(envelope)) == "sns-id"
    assert carried_id(json.dumps({"id": "event-id", "detail": {}})) == "event-id"
    assert carried_id("not JSON") is None and carried_id("[]") is None


def test_too_few_notifications_for_the_jobs_are_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        plan_load(30, 10, seed=1, start_ms=START_MS)
