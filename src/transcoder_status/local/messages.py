"""Real-shaped transcoder messages and Lambda SQS events, for events/, the simulator and the tests.

Shapes follow ../shared/reference/notifications.md: Elastic Transcoder's pretty-printed JSON inside
an SNS envelope, MediaConvert's EventBridge event, and the record Lambda's SQS event source builds.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from .emulator import ACCOUNT, REGION

TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:transcoder-status-notifications"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:transcoder-status-notifications"
MEDIACONVERT_QUEUE_ARN = f"arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/Default"


def mediaconvert_queue_arn(account: str = ACCOUNT, region: str = REGION) -> str:
    """The Default queue of ``account`` in ``region``: every account has one in every Region."""
    return f"arn:aws:mediaconvert:{region}:{account}:queues/Default"


def iso_ms(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def elastic_transcoder_message(
    job_id: str,
    state: str,
    pipeline_id: str = "1502609200466-80khou",
    *,
    output_key: str = "HLS/400k",
    warning: str | None = None,
    error_code: int = 3001,
) -> dict[str, Any]:
    """An Elastic Transcoder notification body, as the pipeline sends it for ``state``."""
    output_status = {
        "PROGRESSING": "Progressing",
        "WARNING": "Warning",
        "COMPLETED": "Complete",
        "ERROR": "Error",
    }
    output: dict[str, Any] = {
        "id": "1",
        "presetId": "1351620000001-200055",
        "key": output_key,
        "segmentDuration": 10.0,
        "status": output_status[state],
    }
    message: dict[str, Any] = {
        "state": state,
        "version": "2012-09-25",
        "jobId": job_id,
        "pipelineId": pipeline_id,
    }
    if state == "ERROR":
        message["errorCode"] = error_code
        message["messageDetails"] = (
            f"{error_code} {uuid.uuid4()}: The specified object does not exist in the specified S3 bucket."
        )
    if state == "WARNING":
        output["statusDetail"] = warning or "The input audio is mono; the output was upmixed to stereo."
    if state == "COMPLETED":
        output.update(duration=6, width=400, height=228)
    message.update(input={"key": f"video/{job_id}.mp4"}, inputCount=1, outputs=[output])
    return message


def sns_envelope(message: dict[str, Any], timestamp_ms: int, message_id: str | None = None) -> dict[str, Any]:
    """What SNS puts in the SQS body with raw delivery off: the message, pretty-printed, as a string."""
    state = message.get("state", "")
    return {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": TOPIC_ARN,
        "Subject": f"Amazon Elastic Transcoder has {state.lower()} job {message.get('jobId')}.",
        "Message": json.dumps(message, indent=2, separators=(",", " : ")),
        "Timestamp": iso_ms(timestamp_ms),
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+..",
        "SigningCertURL": f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
        "UnsubscribeURL": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC_ARN}:0",
    }


def mediaconvert_event(
    job_id: str,
    status: str,
    timestamp_ms: int,
    *,
    percent: int | None = None,
    phase: str = "TRANSCODING",
    user_metadata: dict[str, str] | None = None,
    event_id: str | None = None,
    account: str = ACCOUNT,
    region: str = REGION,
) -> dict[str, Any]:
    """A "MediaConvert Job State Change" event as EventBridge delivers it to SQS, from a job that
    ``account`` ran in ``region``."""
    detail: dict[str, Any] = {
        "timestamp": timestamp_ms,
        "accountId": account,
        "queue": mediaconvert_queue_arn(account, region),
        "jobId": job_id,
        "status": status,
        "userMetadata": user_metadata or {},
    }
    if status == "STATUS_UPDATE":
        detail["framesDecoded"] = 353
        detail["jobProgress"] = {
            "phaseProgress": {
                "PROBING": {"status": "COMPLETE", "percentComplete": 100},
                "TRANSCODING": {"status": "PROGRESSING", "percentComplete": percent or 0},
                "UPLOADING": {"status": "PENDING", "percentComplete": 0},
            },
            "jobPercentComplete": percent or 0,
            "currentPhase": phase,
            "retryCount": 0,
        }
    elif status == "COMPLETE":
        detail["warnings"] = [{"code": 230001, "count": 1}]
        detail["outputGroupDetails"] = [
            {
                "outputDetails": [
                    {
                        "outputFilePaths": [f"s3://example-output-bucket/{job_id}/file.mp4"],
                        "durationInMs": 30041,
                        "videoDetails": {"widthInPx": 1920, "heightInPx": 1080},
                    }
                ],
                "type": "FILE_GROUP",
            }
        ]
    elif status == "ERROR":
        detail["errorCode"] = 1030
        detail["errorMessage"] = "Video codec [indeo4] is not a supported input video codec"
    elif status == "NEW_WARNING":
        detail["warningCode"] = 230001
        detail["warningMessage"] = "The input audio track has a sample rate the output cannot keep."
    elif status == "INPUT_INFORMATION":
        detail["inputDetails"] = [{"id": 1, "uri": f"s3://example-input-bucket/{job_id}.mp4"}]
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "MediaConvert Job State Change",
        "source": "aws.mediaconvert",
        "account": account,
        "time": iso_ms(timestamp_ms // 1000 * 1000).replace(".000Z", "Z"),
        "region": region,
        "resources": [f"arn:aws:mediaconvert:{region}:{account}:jobs/{job_id}"],
        "detail": detail,
    }


def mediaconvert_job(
    job_id: str,
    status: str,
    *,
    submitted_ms: int,
    started_ms: int | None = None,
    finished_ms: int | None = None,
    percent: int | None = None,
    user_metadata: dict[str, str] | None = None,
    account: str = ACCOUNT,
    region: str = REGION,
) -> dict[str, Any]:
    """What MediaConvert's GetJob answers for a job, as boto3 shapes it (times are datetimes): the
    same job the events of ``mediaconvert_event`` describe, with its settings and output; its ARN
    names the ``account`` and ``region`` that ran it."""

    def at(epoch_ms: int) -> datetime:
        return datetime.fromtimestamp(epoch_ms / 1000, UTC)

    timing = {"SubmitTime": at(submitted_ms)}
    if started_ms is not None:
        timing["StartTime"] = at(started_ms)
    if finished_ms is not None:
        timing["FinishTime"] = at(finished_ms)
    job: dict[str, Any] = {
        "Id": job_id,
        "Arn": f"arn:aws:mediaconvert:{region}:{account}:jobs/{job_id}",
        "Role": f"arn:aws:iam::{account}:role/MediaConvertRole",
        "Queue": mediaconvert_queue_arn(account, region),
        "Status": status,
        "CreatedAt": at(submitted_ms),
        "Timing": timing,
        "UserMetadata": user_metadata or {},
        "Settings": {
            "Inputs": [{"FileInput": f"s3://example-input-bucket/{job_id}.mp4"}],
            "OutputGroups": [
                {
                    "OutputGroupSettings": {
                        "Type": "FILE_GROUP_SETTINGS",
                        "FileGroupSettings": {"Destination": f"s3://example-output-bucket/{job_id}/file"},
                    },
                    "Outputs": [{"ContainerSettings": {"Container": "MP4"}}],
                }
            ],
        },
    }
    if percent is not None:
        job.update(JobPercentComplete=percent, CurrentPhase="TRANSCODING")
    if status == "COMPLETE":
        job["OutputGroupDetails"] = [
            {"OutputDetails": [{"DurationInMs": 30041, "VideoDetails": {"WidthInPx": 1920, "HeightInPx": 1080}}]}
        ]
    elif status == "ERROR":
        job.update(ErrorCode=1030, ErrorMessage="Video codec [indeo4] is not a supported input video codec")
    return job


def sqs_record(
    body: str,
    *,
    sent_ms: int,
    message_id: str | None = None,
    receipt_handle: str | None = None,
    receive_count: int = 1,
    first_receive_ms: int | None = None,
    queue_arn: str = QUEUE_ARN,
    sender_id: str = "AIDAIENQZJOLO23YVJ4VO",
    message_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One record of a Lambda SQS event, shaped as Lambda's event source mapping shapes it."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": receipt_handle or f"AQEB{uuid.uuid4().hex}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(sent_ms),
            "SenderId": sender_id,
            "ApproximateFirstReceiveTimestamp": str(first_receive_ms or sent_ms),
        },
        "messageAttributes": message_attributes or {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
