"""MediaConvert's own answers -> Notification, with GetJob answers checked against botocore's
service model by its Stubber (a shape the SDK would refuse fails the test)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from transcoder_status.notification import Source
from transcoder_status.sources.base import ParseError
from transcoder_status.sources.mediaconvert_api import notification_from_job
from transcoder_status.status import JobStatus

JOB = "1671477617078-2886ye"
QUEUE = "arn:aws:mediaconvert:us-east-1:123456789012:queues/Default"
SUBMITTED = datetime(2025, 8, 12, 12, 0, 0, tzinfo=UTC)
STARTED = datetime(2025, 8, 12, 12, 0, 5, tzinfo=UTC)
FINISHED = datetime(2025, 8, 12, 12, 1, 40, tzinfo=UTC)
OBSERVED_MS = 1_755_000_500_000


def file_group(destination: str, *outputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "OutputGroupSettings": {"Type": "FILE_GROUP_SETTINGS", "FileGroupSettings": {"Destination": destination}},
        "Outputs": list(outputs),
    }


def mp4(name_modifier: str | None = None, **extra: Any) -> dict[str, Any]:
    output: dict[str, Any] = {"ContainerSettings": {"Container": "MP4"}, **extra}
    if name_modifier:
        output["NameModifier"] = name_modifier
    return output


def job(status: str, **changes: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "Id": JOB,
        "Arn": f"arn:aws:mediaconvert:us-east-1:123456789012:jobs/{JOB}",
        "Role": "arn:aws:iam::123456789012:role/MediaConvertRole",
        "Queue": QUEUE,
        "Status": status,
        "Timing": {"SubmitTime": SUBMITTED, "StartTime": STARTED},
        "UserMetadata": {"asset": "trailer-42"},
        "Settings": {
            "Inputs": [{"FileInput": "s3://example-input-bucket/video/trailer.mov"}],
            "OutputGroups": [
                file_group("s3://example-output-bucket/out/", mp4("_1080p"), mp4("_720p")),
                {
                    "OutputGroupSettings": {
                        "Type": "HLS_GROUP_SETTINGS",
                        "HlsGroupSettings": {"Destination": "s3://example-output-bucket/hls/", "SegmentLength": 6},
                    },
                    "Outputs": [{"NameModifier": "_hls", "ContainerSettings": {"Container": "M3U8"}}],
                },
            ],
        },
    }
    if status == "COMPLETE":
        answer["Timing"]["FinishTime"] = FINISHED
        answer["JobPercentComplete"] = 100
        answer["OutputGroupDetails"] = [
            {
                "OutputDetails": [
                    {"DurationInMs": 30041, "VideoDetails": {"WidthInPx": 1920, "HeightInPx": 1080}},
                    {"DurationInMs": 30041, "VideoDetails": {"WidthInPx": 1280, "HeightInPx": 720}},
                ]
            },
            {"OutputDetails": [{"DurationInMs": 30041}]},
        ]
        answer["Warnings"] = [{"Code": 230001, "Count": 2}]
    if status == "ERROR":
        answer["Timing"]["FinishTime"] = FINISHED
        answer.update(ErrorCode=1030, ErrorMessage="Video codec [indeo4] is not a supported input video codec")
    if status == "CANCELED":
        answer["Timing"]["FinishTime"] = FINISHED
    if status == "PROGRESSING":
        answer.update(JobPercentComplete=42, CurrentPhase="TRANSCODING")
    answer.update(changes)
    return answer


def through_the_sdk(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer as a real client returns it, after botocore's Stubber checked it against the model."""
    client = boto3.client("mediaconvert", region_name="us-east-1", endpoint_url="https://mediaconvert.invalid")
    with Stubber(client) as stubber:
        stubber.add_response("get_job", {"Job": answer}, {"Id": answer["Id"]})
        returned: dict[str, Any] = client.get_job(Id=answer["Id"])["Job"]
    return returned


@pytest.mark.parametrize(
    ("status", "expected", "time"),
    [
        ("SUBMITTED", JobStatus.RUNNING, STARTED),
        ("PROGRESSING", JobStatus.RUNNING, STARTED),
        ("COMPLETE", JobStatus.SUCCESS, FINISHED),
        ("ERROR", JobStatus.ERROR, FINISHED),
        ("CANCELED", JobStatus.CANCELED, FINISHED),
    ],
)
def test_every_job_status(status: str, expected: JobStatus, time: datetime) -> None:
    notification = notification_from_job(through_the_sdk(job(status)), OBSERVED_MS)
    assert (notification.job_id, notification.source, notification.state) == (JOB, Source.MEDIACONVERT, status)
    assert notification.status is expected
    assert notification.event_time_ms == round(time.timestamp() * 1000)
    assert notification.repaired
    assert notification.queue == QUEUE
    assert notification.user_metadata == {"asset": "trailer-42"}
    assert notification.event_id == f"mediaconvert-api:{status}"  # asking twice is a duplicate


def test_complete_names_its_file_outputs_from_the_settings() -> None:
    notification = notification_from_job(through_the_sdk(job("COMPLETE")), OBSERVED_MS)
    assert [(o.key, o.duration_ms, o.width, o.height) for o in notification.outputs] == [
        ("s3://example-output-bucket/out/trailer_1080p.mp4", 30041, 1920, 1080),
        ("s3://example-output-bucket/out/trailer_720p.mp4", 30041, 1280, 720),
    ]  # the HLS group's files cannot be named for sure: left out
    assert notification.warnings == ("230001: seen 2 time(s)",)
    assert notification.progress == 100


def test_a_destination_with_a_base_name_and_an_explicit_extension() -> None:
    answer = job("COMPLETE")
    answer["Settings"]["OutputGroups"] = [
        file_group("s3://example-output-bucket/out/movie", mp4("_a"), mp4(Extension="m4v")),
        file_group("s3://example-output-bucket/raw/", {"ContainerSettings": {"Container": "RAW"}}),
    ]
    outputs = notification_from_job(through_the_sdk(answer), OBSERVED_MS).outputs
    assert [o.key for o in outputs] == [
        "s3://example-output-bucket/out/movie_a.mp4",
        "s3://example-output-bucket/out/movie.m4v",
    ]


def test_error_keeps_code_and_message() -> None:
    notification = notification_from_job(through_the_sdk(job("ERROR")), OBSERVED_MS)
    assert (notification.error_code, notification.error_message) == (
        "1030",
        "Video codec [indeo4] is not a supported input video codec",
    )


def test_progressing_gives_progress_and_phase() -> None:
    notification = notification_from_job(through_the_sdk(job("PROGRESSING")), OBSERVED_MS)
    assert (notification.progress, notification.phase) == (42, "TRANSCODING")


def test_a_job_without_finish_time_or_outputs() -> None:
    answer = job("COMPLETE", Timing={"SubmitTime": SUBMITTED}, Settings={"OutputGroups": []})
    del answer["OutputGroupDetails"]
    notification = notification_from_job(through_the_sdk(answer), OBSERVED_MS)
    assert notification.status is JobStatus.SUCCESS
    assert notification.event_time_ms == OBSERVED_MS  # no FinishTime: when MediaConvert was asked
    assert notification.outputs == ()


def test_a_job_without_any_timing_still_orders() -> None:
    answer = job("PROGRESSING")
    del answer["Timing"]
    assert notification_from_job(through_the_sdk(answer), OBSERVED_MS).event_time_ms == OBSERVED_MS


def test_an_answer_without_an_id_or_status_is_refused() -> None:
    with pytest.raises(ParseError, match="'Id'"):
        notification_from_job({"Status": "COMPLETE"}, OBSERVED_MS)
    with pytest.raises(ParseError, match="unknown MediaConvert job status"):
        notification_from_job({"Id": JOB, "Status": "PAUSED"}, OBSERVED_MS)


@pytest.mark.parametrize("status", ["SUBMITTED", "PROGRESSING", "ERROR", "CANCELED"])
def test_only_a_complete_job_names_its_files(status: str) -> None:
    """Review of issue 13: a repaired ERROR job told consumers of files that were never written."""
    assert notification_from_job(through_the_sdk(job(status)), OBSERVED_MS).outputs == ()


def test_the_job_arn_says_which_account_and_region_ran_it() -> None:
    repaired = notification_from_job(
        job("COMPLETE", Arn=f"arn:aws:mediaconvert:eu-west-1:444455556666:jobs/{JOB}"), OBSERVED_MS
    )
    assert (repaired.account, repaired.region) == ("444455556666", "eu-west-1")


@pytest.mark.parametrize(
    "arn", [None, "", "arn:aws:s3:::bucket/key", f"arn:aws:mediaconvert:eu-west-1:4444:jobs/{JOB}"]
)
def test_no_account_or_region_is_made_up_from_a_missing_or_foreign_arn(arn: str | None) -> None:
    answer = job("COMPLETE")
    if arn is None:
        del answer["Arn"]
    else:
        answer["Arn"] = arn
    repaired = notification_from_job(answer, OBSERVED_MS)
    assert repaired.account is None
