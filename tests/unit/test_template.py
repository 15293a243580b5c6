"""template.yaml: the promises a reader of the stack relies on. cfn-lint runs in `make lint`."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from transcoder_status.local.template import load_template, translate


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources_of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: spec for name, spec in template["Resources"].items() if spec["Type"] == kind}


def test_queue_outlives_function_timeout_and_redrives_to_a_14_day_dlq(template: dict[str, Any]) -> None:
    function = template["Resources"]["StatusWriterFunction"]["Properties"]
    queue = template["Resources"]["NotificationQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["NotificationDeadLetterQueue", "Arn"]}
    assert template["Resources"]["NotificationDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == 14 * 86400


def test_function_reports_partial_batch_failures_and_may_only_update_its_table(template: dict[str, Any]) -> None:
    function = template["Resources"]["StatusWriterFunction"]["Properties"]
    assert (function["Runtime"], function["Architectures"]) == ("python3.13", ["arm64"])
    assert function["Handler"] == "transcoder_status.handler.lambda_handler"
    event = function["Events"]["Notifications"]
    assert event["Type"] == "SQS" and event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    (policy,) = function["Policies"]
    (statement,) = policy["Statement"]
    assert statement["Action"] == "dynamodb:UpdateItem"
    assert statement["Resource"] == {"Fn::GetAtt": ["JobStatusTable", "Arn"]}


def test_table_is_keyed_by_job_id_with_ttl_recovery_and_encryption(template: dict[str, Any]) -> None:
    table = template["Resources"]["JobStatusTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "jobId", "KeyType": "HASH"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True


def test_read_policy_grants_only_reads(template: dict[str, Any]) -> None:
    (statement,) = template["Resources"]["JobStatusReadPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["dynamodb:BatchGetItem", "dynamodb:GetItem"]


def test_alarms_watch_the_dlq_and_function_errors(template: dict[str, Any]) -> None:
    alarms = {spec["Properties"]["MetricName"] for spec in resources_of(template, "AWS::CloudWatch::Alarm").values()}
    assert alarms == {"ApproximateNumberOfMessagesVisible", "Errors"}


def test_outputs_tell_the_user_what_to_do_next(template: dict[str, Any]) -> None:
    assert set(template["Outputs"]) >= {
        "NotificationTopicArn",
        "TableName",
        "NotificationQueueUrl",
        "DeadLetterQueueUrl",
        "JobStatusReadPolicyArn",
    }
    assert all(output.get("Description") for output in template["Outputs"].values())


def test_template_translates_as_sam_does(template: dict[str, Any]) -> None:
    translated = translate(template)
    (mapping,) = resources_of(translated, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "ScalingConfig" in mapping["Properties"]
    assert not resources_of(translated, "AWS::Serverless::Function")


def test_handler_import_path_loads_only_boto3_and_powertools() -> None:
    """Cold start: importing the handler must not pull in the CLI, the local stack or their libraries."""
    code = (
        "import os, sys, json; os.environ.setdefault('AWS_DEFAULT_REGION', 'us-east-1');"
        "import transcoder_status.handler; print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
    unwanted = {
        "typer",
        "rich",
        "click",
        "moto",
        "samtranslator",
        "yaml",
        "pydantic",
        "transcoder_status.client",
        "transcoder_status.cli",
        "transcoder_status.local",
    }
    assert unwanted.isdisjoint(loaded), unwanted & set(loaded)
    assert {"boto3", "aws_lambda_powertools"} <= set(loaded)
