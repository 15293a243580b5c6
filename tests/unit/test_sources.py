"""Parsing: SQS bodies from both transcoders, both SNS deliveries, and what must be refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import load_event
from transcoder_status.local.messages import elastic_transcoder_message, mediaconvert_event, sns_envelope
from transcoder_status.notification import Source
from transcoder_status.sources import Delivery, ParseError, SnsControlMessage, parse_body
from transcoder_status.status import JobStatus

DELIVERY = Delivery(sent_ms=1_700_000_000_000, message_id="sqs-message-id")


def first_record(name: str) -> dict[str, Any]:
    record: dict[str, Any] = load_event(name)["Records"][0]
    return record


def parse_record(record: dict[str, Any]):  # type: ignore[no-untyped-def]
    return parse_body(record["body"], Delivery(int(record["attributes"]["SentTimestamp"]), record["messageId"]))


@pytest.mark.parametrize(
    ("event_name", "state", "status"),
    [
        ("elastic-transcoder-progressing", "PROGRESSING", JobStatus.RUNNING),
        ("elastic-transcoder-warning", "WARNING", JobStatus.RUNNING),
        ("elastic-transcoder-completed", "COMPLETED", JobStatus.SUCCESS),
        ("elastic-transcoder-error", "ERROR", JobStatus.ERROR),
        ("elastic-transcoder-raw-delivery", "COMPLETED", JobStatus.SUCCESS),
    ],
)
def test_elastic_transcoder_states_map_as_the_old_worker_did(event_name: str, state: str, status: JobStatus) -> None:
    notification = parse_record(first_record(event_name))
    assert notification.state == state
    assert notification.status is status
    assert notification.finished is status.terminal
    assert notification.source == Source.ELASTIC_TRANSCODER


def test_sns_envelope_gives_time_and_stable_id() -> None:
    record = first_record("elastic-transcoder-completed")
    envelope = json.loads(record["body"])
    notification = parse_record(record)
    # Ordered by the SNS Timestamp, named by the SNS MessageId (kept across SNS retries).
    assert notification.event_time_ms == 1_755_000_006_000
    assert notification.event_id == envelope["MessageId"]
    assert notification.job_id == "1502631977930-rabioh"
    assert notification.pipeline_id == "1502609200466-80khou"


def test_raw_delivery_is_ordered_by_sqs_sent_timestamp() -> None:
    record = first_record("elastic-transcoder-raw-delivery")
    notification = parse_record(record)
    assert notification.event_time_ms == int(record["attributes"]["SentTimestamp"])
    assert notification.event_id == record["messageId"]


def test_reference_completed_message_is_read_in_full() -> None:
    """The real message from the reference: pretty-printed, `Complete` status, playlists, inputCount."""
    message = (
        '{\n  "state" : "COMPLETED",\n  "version" : "2012-09-25",\n  "jobId" : "1502631977930-rabioh",\n'
        '  "pipelineId" : "1502609200466-80khou",\n  "input" : {\n    "key" : "video/97f0.mp4"\n  },\n'
        '  "inputCount" : 1,\n  "outputKeyPrefix" : "HLS/97f0",\n  "outputs" : [ {\n    "id" : "1",\n'
        '    "presetId" : "1351620000001-200055",\n    "key" : "/output/400k",\n'
        '    "segmentDuration" : 10.0,\n'
        '    "status" : "Complete",\n    "duration" : 6,\n    "width" : 400,\n    "height" : 228\n  } ],\n'
        '  "playlists" : [ {\n    "name" : "/97f0-master-playlist",\n    "format" : "HLSv4",\n'
        '    "outputKeys" : [ "/output/400k" ],\n    "status" : "Complete"\n  } ]\n}'
    )
    body = json.dumps(
        {
            "Type": "Notification",
            "MessageId": "1a6ab517-067e-5bc0-b219-e71d5c0c2754",
            "Message": message,
            "Timestamp": "2017-08-13T13:46:26.652Z",
            "TopicArn": "arn:aws:sns:us-west-2:123456789012:streamer",
        }
    )
    notification = parse_body(body, DELIVERY)
    assert notification.status is JobStatus.SUCCESS
    assert notification.event_time_ms == 1_502_631_986_652
    (output,) = notification.outputs
    assert (output.key, output.status, output.duration_ms, output.width, output.height) == (
        "/output/400k",
        "Complete",
        6000,
        400,
        228,
    )


@pytest.mark.parametrize("spelling", ["Complete", "Completed", "COMPLETE", "complete"])
def test_output_status_is_compared_case_insensitively(spelling: str) -> None:
    message = elastic_transcoder_message("1432221152421-7eunhz", "COMPLETED")
    message["outputs"][0]["status"] = spelling
    notification = parse_body(json.dumps(message), DELIVERY)
    assert notification.outputs[0].status == "Complete"


def test_error_keeps_integer_code_and_details() -> None:
    notification = parse_record(first_record("elastic-transcoder-error"))
    assert notification.error_code == "3001"
    assert notification.error_message is not None
    assert notification.error_message.startswith("3001 ")


def test_warning_keeps_output_detail() -> None:
    notification = parse_record(first_record("elastic-transcoder-warning"))
    assert notification.warnings == ("output 1: The input audio is mono; the output was upmixed to stereo.",)


def test_progressing_drops_error_fields() -> None:
    message = elastic_transcoder_message("1432221152421-7eunhz", "PROGRESSING")
    message.update(errorCode=1, messageDetails="not an error")
    notification = parse_body(json.dumps(message), DELIVERY)
    assert (notification.error_code, notification.error_message) == (None, None)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("INPUT_INFORMATION", JobStatus.RUNNING),
        ("PROGRESSING", JobStatus.RUNNING),
        ("STATUS_UPDATE", JobStatus.RUNNING),
        ("NEW_WARNING", JobStatus.RUNNING),
        ("QUEUE_HOP", JobStatus.RUNNING),
        ("COMPLETE", JobStatus.SUCCESS),
        ("ERROR", JobStatus.ERROR),
        ("CANCELED", JobStatus.CANCELED),
    ],
)
def test_mediaconvert_statuses(status: str, expected: JobStatus) -> None:
    notification = parse_record(first_record(f"mediaconvert-{status.lower().replace('_', '-')}"))
    assert notification.source == Source.MEDIACONVERT
    assert notification.state == status
    assert notification.status is expected
    assert notification.event_time_ms == 1_755_000_060_000  # detail.timestamp, not the SQS time


def test_mediaconvert_status_update_gives_progress_and_phase() -> None:
    notification = parse_record(first_record("mediaconvert-status-update"))
    assert (notification.progress, notification.phase) == (42, "TRANSCODING")
    assert notification.queue == "arn:aws:mediaconvert:us-east-1:123456789012:queues/Default"


def test_mediaconvert_complete_gives_outputs_and_warnings() -> None:
    notification = parse_record(first_record("mediaconvert-complete"))
    (output,) = notification.outputs
    assert output.key.endswith("/file.mp4")
    assert (output.duration_ms, output.width, output.height) == (30041, 1920, 1080)
    assert notification.warnings == ("230001: seen 1 time(s)",)
    assert notification.progress == 100


def test_mediaconvert_error_keeps_code_and_message() -> None:
    notification = parse_record(first_record("mediaconvert-error"))
    assert notification.error_code == "1030"
    assert notification.error_message == "Video codec [indeo4] is not a supported input video codec"


def test_mediaconvert_event_without_optional_fields_is_accepted() -> None:
    """moto's EventBridge omits `account`; real events may lack userMetadata or queue too."""
    event = mediaconvert_event("1671477617078-2886ye", "COMPLETE", 1_671_477_681_737)
    for key in ("account", "region", "resources", "time", "id"):
        del event[key]
    for key in ("accountId", "queue", "userMetadata", "outputGroupDetails", "warnings"):
        del event["detail"][key]
    notification = parse_body(json.dumps(event), DELIVERY)
    assert notification.status is JobStatus.SUCCESS
    assert notification.event_id == DELIVERY.message_id


def test_mediaconvert_through_sns_is_recognised() -> None:
    event = mediaconvert_event("1671477617078-2886ye", "ERROR", 1_671_477_681_737)
    body = json.dumps(sns_envelope(event, 1_671_477_682_000))
    assert parse_body(body, DELIVERY).status is JobStatus.ERROR


def _mc_at(timestamp: Any) -> str:
    # A fixed event ID: the body is the test's ID, which every xdist worker must collect alike.
    event = mediaconvert_event("1671477617078-2886ye", "COMPLETE", 1_755_000_000_000, event_id="e-1")
    event["detail"]["timestamp"] = timestamp
    return json.dumps(event)


def _et(**changes: Any) -> str:
    message = elastic_transcoder_message("1432221152421-7eunhz", "COMPLETED")
    message.update(changes)
    return json.dumps({k: v for k, v in message.items() if v is not None})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json at all", "not JSON"),
        ("", "not JSON"),
        ("[1, 2]", "not an object"),
        ('{"hello": "world"}', "not a known transcoder notification"),
        (_et(jobId=None), "not a known transcoder notification"),
        (_et(jobId=12345), "'jobId' must be a non-empty string"),
        (_et(jobId=""), "'jobId' must be a non-empty string"),
        (_et(state="FINISHED"), "unknown Elastic Transcoder state 'FINISHED'"),
        (_et(state=None), "not a known transcoder notification"),
        (_et(jobId="x" * 513), "'jobId' is 513 characters long; at most 512"),
        (_et(jobId="job\u0000id"), "'jobId' holds unprintable characters"),
        (_et(jobId="\ud800"), "'jobId' holds unprintable characters"),
        (
            json.dumps(
                {
                    "Type": "Notification",
                    "Message": "{oops",
                    "MessageId": "m",
                    "Timestamp": "2017-08-13T13:46:26Z",
                }
            ),
            "the SNS Message is not JSON",
        ),
        (
            json.dumps({"Type": "Notification", "Message": _et(), "MessageId": "m", "Timestamp": "yesterday"}),
            "'Timestamp' is not an ISO 8601 time",
        ),
        (
            json.dumps({"Type": "Notification", "Message": _et(), "MessageId": "m", "Timestamp": 1755000000}),
            "'Timestamp' must be an ISO 8601 time, got int",
        ),
        (json.dumps({"source": "aws.mediaconvert", "detail": "x"}), "'detail' must be a JSON object"),
        (
            json.dumps({"source": "aws.mediaconvert", "detail": {"status": "COMPLETE"}}),
            "'detail.jobId' must be a non-empty string",
        ),
        (
            json.dumps({"source": "aws.mediaconvert", "detail": {"jobId": "j", "status": "DONE"}}),
            "unknown MediaConvert status 'DONE'",
        ),
        (
            json.dumps(
                {
                    "source": "aws.mediaconvert",
                    "detail": {"jobId": "j", "status": "COMPLETE", "timestamp": "x"},
                }
            ),
            "'detail.timestamp' must be a time in epoch milliseconds",
        ),
        (_mc_at(1_755_000_000_000_000), "'detail.timestamp' is 1755000000000000, not a time between 2000 and 2100"),
        (_mc_at(1_755_000_000), "not a time between 2000 and 2100 in epoch milliseconds"),
        (_mc_at(-5), "not a time between 2000 and 2100"),
        (
            json.dumps({"Type": "Notification", "Message": _et(), "MessageId": "m", "Timestamp": "1969-12-31T00:00Z"}),
            "'Timestamp' is -86400000, not a time between 2000 and 2100",
        ),
    ],
)
def test_bad_bodies_are_refused_with_a_reason(body: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason.replace("[", r"\[").replace("(", r"\(")):
        parse_body(body, DELIVERY)


def _et_doc(state: str = "COMPLETED") -> dict[str, Any]:
    return elastic_transcoder_message("1432221152421-7eunhz", state)


@pytest.mark.parametrize(
    ("change", "dropped"),
    [
        (lambda m: m["outputs"][0].update(statusDetail=""), None),
        (lambda m: m.update(messageDetails=""), None),
        (lambda m: m["outputs"][0].update(width="400"), None),
        (lambda m: m["outputs"][0].update(width=True), "'outputs[0].width' dropped: expected a number, got a boolean"),
        (lambda m: m["outputs"][0].update(duration=float("nan")), "'outputs[0].duration' dropped"),
        (lambda m: m["outputs"][0].update(height=10**40), "'outputs[0].height' dropped"),
        (lambda m: m.update(outputs={"key": "x"}), "'outputs' dropped: expected a JSON array, got an object"),
        (lambda m: m.update(outputs=["x", *m["outputs"]]), "'outputs': 1 item(s) that are not objects"),
        (lambda m: m.update(pipelineId=["a"]), "'pipelineId' dropped: expected a string, got an array"),
        (lambda m: m.update(userMetadata={"a": {"b": 1}}), "'userMetadata.a' dropped: expected a scalar"),
        (lambda m: m.update(userMetadata="x"), "'userMetadata' dropped: expected a JSON object"),
    ],
)
def test_a_bad_optional_detail_is_dropped_never_fatal(change: Any, dropped: str | None) -> None:
    """Review finding 3: an empty or oddly typed optional field cost a job its terminal state."""
    message = _et_doc()
    change(message)
    notification = parse_body(json.dumps(message), DELIVERY)
    assert notification.status is JobStatus.SUCCESS
    if dropped is None:
        assert notification.dropped == ()
    else:
        assert any(note.startswith(dropped) for note in notification.dropped), notification.dropped


def test_numbers_sent_as_strings_are_read() -> None:
    message = _et_doc()
    message["outputs"][0].update(width="400", height=" 228 ", duration="6.5")
    (output,) = parse_body(json.dumps(message), DELIVERY).outputs
    assert (output.width, output.height, output.duration_ms) == (400, 228, 6500)


@pytest.mark.parametrize("field", ["errorMessage", "queue", "errorCode"])
def test_mediaconvert_error_with_empty_details_still_fails_the_job(field: str) -> None:
    event = mediaconvert_event("1671477617078-2886ye", "ERROR", 1_755_000_000_000)
    event["detail"][field] = ""
    notification = parse_body(json.dumps(event), DELIVERY)
    assert notification.status is JobStatus.ERROR
    assert (
        getattr(notification, {"errorMessage": "error_message", "queue": "queue", "errorCode": "error_code"}[field])
        is None
    )


def test_mediaconvert_bad_details_are_dropped() -> None:
    event = mediaconvert_event("1671477617078-2886ye", "STATUS_UPDATE", 1_755_000_000_000, percent=40)
    event["detail"]["jobProgress"]["jobPercentComplete"] = 250
    event["detail"]["outputGroupDetails"] = [{"outputDetails": [{"outputFilePaths": [1, "s3://example-bucket/k.mp4"]}]}]
    event["id"] = {"not": "a string"}
    notification = parse_body(json.dumps(event), DELIVERY)
    assert notification.progress is None
    assert [output.key for output in notification.outputs] == ["s3://example-bucket/k.mp4"]
    assert notification.event_id == DELIVERY.message_id
    assert len(notification.dropped) == 3


def test_states_are_read_whatever_their_case() -> None:
    message = _et_doc()
    message["state"] = "completed"
    notification = parse_body(json.dumps(message), DELIVERY)
    assert (notification.state, notification.status) == ("COMPLETED", JobStatus.SUCCESS)


def test_lone_surrogates_in_details_are_replaced() -> None:
    message = _et_doc("ERROR")
    message["messageDetails"] = "bad SURROGATE text"
    body = json.dumps(message).replace("SURROGATE", "\\ud800")  # valid JSON, invalid UTF-8
    notification = parse_body(body, DELIVERY)
    assert notification.error_message == "bad ? text"
    assert notification.error_message.encode("utf-8")


def test_raw_delivery_without_a_sent_time_is_refused() -> None:
    with pytest.raises(ParseError, match="no time of its own and its delivery has no SentTimestamp"):
        parse_body(json.dumps(_et_doc()), Delivery(sent_ms=None, message_id="m"))


def test_sns_envelope_with_empty_ids_falls_back_to_the_sqs_message_id() -> None:
    envelope = sns_envelope(_et_doc(), 1_755_000_000_000)
    envelope.update(MessageId="", TopicArn="", Signature="")
    assert parse_body(json.dumps(envelope), DELIVERY).event_id == DELIVERY.message_id


@pytest.mark.parametrize("timestamp", [None, ""])
def test_sns_envelope_without_a_timestamp_is_ordered_by_its_sqs_sent_time(timestamp: str | None) -> None:
    """Published fixtures (tests/corpus, reeltime and Teebox) keep only Type, Message and Subject."""
    envelope = sns_envelope(_et_doc(), 1_755_000_000_000)
    envelope["Timestamp"] = timestamp
    if timestamp is None:
        del envelope["Timestamp"]
    assert parse_body(json.dumps(envelope), DELIVERY).event_time_ms == DELIVERY.sent_ms
    with pytest.raises(ParseError, match="no SentTimestamp"):
        parse_body(json.dumps(envelope), Delivery(sent_ms=None, message_id="m"))


def test_sns_envelope_whose_message_was_decoded_already_is_read() -> None:
    """SNS sends Message as a JSON string; a published fixture (tests/corpus, Teebox) holds the object."""
    envelope = sns_envelope(_et_doc("ERROR"), 1_755_000_000_000)
    envelope["Message"] = json.loads(envelope["Message"])
    notification = parse_body(json.dumps(envelope), DELIVERY)
    assert (notification.job_id, notification.status) == ("1432221152421-7eunhz", JobStatus.ERROR)
    assert notification.event_time_ms == 1_755_000_000_000


def test_deeply_nested_json_is_refused_not_crashed() -> None:
    with pytest.raises(ParseError, match="not JSON"):
        parse_body("[" * 100_000 + "]" * 100_000, DELIVERY)


def test_empty_times_count_as_absent() -> None:
    event = mediaconvert_event("1671477617078-2886ye", "COMPLETE", 1_755_000_000_000)
    event["detail"]["timestamp"] = ""
    assert parse_body(json.dumps(event), DELIVERY).event_time_ms == 1_755_000_000_000  # from `time`
    event["time"] = ""
    assert parse_body(json.dumps(event), DELIVERY).event_time_ms == DELIVERY.sent_ms
    envelope = sns_envelope(_et_doc(), 1_755_000_000_000)
    del envelope["Timestamp"]
    assert parse_body(json.dumps(envelope), DELIVERY).event_time_ms == DELIVERY.sent_ms


def test_a_field_read_twice_is_noted_once_and_every_note_is_loggable() -> None:
    message = _et_doc()
    message["outputs"][0]["status"] = ["Complete"]  # read for the output and for its warnings
    message["userMetadata"] = {"key SURROGATE": {"nested": 1}}
    body = json.dumps(message).replace("SURROGATE", "\\udc80")
    notification = parse_body(body, DELIVERY)
    assert len([n for n in notification.dropped if "outputs[0].status" in n]) == 1
    assert all(note.encode("utf-8") for note in notification.dropped)


@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_sns_control_messages_are_told_apart_from_malformed_ones(kind: str) -> None:
    url = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:t&Token=abc"
    body = json.dumps(
        {
            "Type": kind,
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "abc",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
            "Message": "You have chosen to subscribe to the topic ...",
            "SubscribeURL": url,
            "Timestamp": "2025-08-12T12:00:00.000Z",
        }
    )
    with pytest.raises(SnsControlMessage) as raised:
        parse_body(body, DELIVERY)
    assert raised.value.kind == kind
    assert raised.value.topic_arn == "arn:aws:sns:us-east-1:123456789012:t"
    if kind == "SubscriptionConfirmation":
        assert url in str(raised.value)


@pytest.mark.parametrize("escaped", [True, False])
def test_refusal_reasons_and_dropped_notes_can_be_written_to_the_log(escaped: bool) -> None:
    """Found by fuzzing: a JSON key holding a lone surrogate (``"\\ud800"`` is valid JSON) went as it
    was into the reason of a refusal or the note of a dropped detail; Powertools writes log lines with
    ``ensure_ascii=False``, so the line could not be written as UTF-8 and was lost."""

    def with_surrogate(text: str) -> str:
        return text.replace("SURROGATE", "\\ud800" if escaped else "\ud800")

    with pytest.raises(ParseError, match="not a known transcoder notification") as refused:
        parse_body(with_surrogate('{"SURROGATE": null}'), DELIVERY)
    assert str(refused.value).encode("utf-8")

    message = _et_doc()
    message["userMetadata"] = {"SURROGATE": {"nested": 1}, "ok": "kept"}
    notification = parse_body(with_surrogate(json.dumps(message)), DELIVERY)
    assert notification.user_metadata == {"ok": "kept"}
    assert len(notification.dropped) == 1
    assert all(note.encode("utf-8") for note in notification.dropped)


def test_refusal_reasons_name_at_most_a_few_short_keys() -> None:
    with pytest.raises(ParseError) as refused:
        parse_body(json.dumps({"a" * 100_000: 1, **{f"key{i}": i for i in range(20)}}), DELIVERY)
    assert len(str(refused.value)) < 500


@pytest.mark.parametrize("kind", [["SubscriptionConfirmation"], {"a": 1}, 7, None])
def test_an_envelope_whose_type_is_not_a_string_is_refused(kind: Any) -> None:
    """Found by fuzzing: a list or an object as SNS's ``Type`` raised TypeError (unhashable) while
    telling control messages apart, instead of the parser's own ParseError."""
    envelope = sns_envelope(_et_doc(), 1_755_000_000_000)
    envelope["Type"] = kind
    with pytest.raises(ParseError, match="not a known transcoder notification"):
        parse_body(json.dumps(envelope), DELIVERY)


def test_mediaconvert_account_and_region_come_from_the_event() -> None:
    """A central stack gathers jobs of many accounts and Regions: each row says where its job ran."""
    event = mediaconvert_event("1671477617078-2886ye", "PROGRESSING", 1_755_000_000_000)
    event["account"], event["region"] = "444455556666", "eu-west-1"
    notification = parse_body(json.dumps(event), DELIVERY)
    assert (notification.account, notification.region) == ("444455556666", "eu-west-1")


@pytest.mark.parametrize(
    ("account", "region"),
    [
        ("44445555666", "eu-west-1"),
        ("444455556666", "EU-WEST-1"),
        (444455556666, "eu-west-1"),
        ("x", "../etc"),
        # Digits, but not ASCII: the finished event's schema ([0-9]) would refuse the row's account.
        ("\u0664" * 12, "eu-west-1"),
        ("444455556666", "eu-west-\u0661"),
    ],
)
def test_a_malformed_account_or_region_is_dropped_with_a_note(account: Any, region: str) -> None:
    event = mediaconvert_event("1671477617078-2886ye", "PROGRESSING", 1_755_000_000_000)
    event["account"], event["region"] = account, region
    notification = parse_body(json.dumps(event), DELIVERY)
    kept = {"account": notification.account, "region": notification.region}
    noted = {key for key in kept if any(f"'{key}' dropped" in note for note in notification.dropped)}
    assert noted == {key for key, value in kept.items() if value is None} != set()
