"""The embedded stack: provisioning from template.yaml (the poller's tests are in test_poller.py)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from transcoder_status.local.emulator import Emulator
from transcoder_status.local.provision import ProvisioningError, Stack, provision


def new_stack(**parameters: Any) -> Stack:
    return provision(stack_name=f"ts-{uuid.uuid4().hex[:8]}", parameters=parameters)


def queue_attributes(url: str) -> dict[str, str]:
    return dict(boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_stack_is_built_from_the_template(emulator: Emulator) -> None:
    stack = new_stack()
    queue = queue_attributes(stack.outputs["NotificationQueueUrl"])
    dead_letters = queue_attributes(stack.outputs["DeadLetterQueueUrl"])
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dead_letters["QueueArn"], "maxReceiveCount": 5}
    assert int(queue["VisibilityTimeout"]) >= 6 * stack.functions["StatusWriterFunction"].timeout_s
    assert dead_letters["MessageRetentionPeriod"] == str(14 * 86400)
    policy = json.loads(queue["Policy"])
    sources = {
        s["Principal"].get("Service"): s["Condition"]["ArnEquals"]["aws:SourceArn"]
        for s in policy["Statement"]
        if s["Effect"] == "Allow"
    }
    assert sources == {
        "sns.amazonaws.com": stack.outputs["NotificationTopicArn"],
        "events.amazonaws.com": stack.outputs["MediaConvertRuleArn"],
    }

    dynamodb = boto3.client("dynamodb")
    table = stack.outputs["TableName"]
    description = dynamodb.describe_table(TableName=table)["Table"]
    assert description["KeySchema"] == [{"AttributeName": "jobId", "KeyType": "HASH"}]
    assert description["DeletionProtectionEnabled"] is True  # issue 18: a stray delete_table is refused
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == ("expiresAt", "ENABLED")

    (subscription,) = boto3.client("sns").list_subscriptions_by_topic(TopicArn=stack.outputs["NotificationTopicArn"])[
        "Subscriptions"
    ]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("sqs", queue["QueueArn"])
    (trigger,) = stack.triggers
    assert (trigger.batch_size, trigger.batching_window_s, trigger.report_batch_item_failures) == (10, 1.0, True)
    assert trigger.function.environment["TABLE_NAME"] == table


def test_the_operations_resources_are_built_from_the_template(emulator: Emulator) -> None:
    """Issue 12: the status index, the stuck check's schedule, the dashboard."""
    stack = new_stack()
    (index,) = boto3.client("dynamodb").describe_table(TableName=stack.outputs["TableName"])["Table"][
        "GlobalSecondaryIndexes"
    ]
    assert index["IndexName"] == "status-updatedAt"
    assert [key["AttributeName"] for key in index["KeySchema"]] == ["statusShard", "updatedAt"]
    assert index["Projection"]["ProjectionType"] == "INCLUDE"

    (schedule,) = stack.schedules
    assert schedule.function is stack.functions["StuckCheckFunction"]
    assert schedule.function.handler == "transcoder_status.stuck_check.lambda_handler"
    assert schedule.function.environment["STUCK_AFTER_MINUTES"] == "120"

    name = stack.refs["OperationsDashboard"]
    assert stack.outputs["DashboardUrl"].endswith(f"#dashboards:name={name}")
    body = json.loads(boto3.client("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"])
    text = json.dumps(body)
    assert stack.refs["StatusWriterFunction"] in text and stack.refs["StuckCheckFunction"] in text
    assert f'"QueueName", "{stack.name}-NotificationDeadLetterQueue"' in text
    assert '"StuckJobs"' in text and "${" not in text


def test_sources_can_be_switched_off_and_mediaconvert_narrowed(emulator: Emulator) -> None:
    stack = new_stack(
        EnableElasticTranscoder="false",
        MediaConvertUserMetadataKey="app",
        MediaConvertUserMetadataValue="vod",
        MediaConvertQueueArn="arn:aws:mediaconvert:us-east-1:123456789012:queues/Default",
    )
    assert "NotificationTopicArn" not in stack.outputs
    rule = boto3.client("events").describe_rule(Name=stack.refs["MediaConvertJobStateRule"])
    assert json.loads(rule["EventPattern"])["detail"] == {
        "queue": ["arn:aws:mediaconvert:us-east-1:123456789012:queues/Default"],
        "userMetadata": {"app": ["vod"]},
    }
    stack = new_stack(EnableMediaConvert="false")
    assert "MediaConvertRuleArn" not in stack.outputs
    policy = json.loads(queue_attributes(stack.outputs["NotificationQueueUrl"])["Policy"])
    assert [s["Principal"]["Service"] for s in policy["Statement"] if s["Effect"] == "Allow"] == ["sns.amazonaws.com"]


@pytest.mark.parametrize(
    ("parameters", "refusal"),
    [
        ({"MediaConvertUserMetadataKey": "app"}, "MediaConvertUserMetadataValue must be too"),
        ({"MediaConvertUserMetadataValue": "vod"}, "MediaConvertUserMetadataKey must be too"),
        ({"MediaConvertUserMetadataKey": 'a"b', "MediaConvertUserMetadataValue": "v"}, "double quotes"),
        ({"MediaConvertUserMetadataKey": "a", "MediaConvertUserMetadataValue": "a\nb"}, "control characters"),
        ({"MediaConvertQueueArn": 'arn:aws:mediaconvert:us-east-1:123456789012:queues/a"b'}, "MediaConvertQueueArn"),
        ({"RetentionDays": 1}, "RetentionDays='1': must be at least 15"),
        # Issue 18: what Lambda or SQS would refuse halfway through a real deploy, refused up front.
        ({"BatchSize": 11, "MaximumBatchingWindowInSeconds": 0}, "Rule BatchSizeOver10NeedsAWindow"),
        ({"BatchSize": 1001, "MaximumBatchingWindowInSeconds": 1}, "BatchSize='1001': must be a whole number from 1"),
        ({"BatchSize": "10.5"}, "BatchSize='10.5': must be a whole number"),
        ({"MaximumBatchingWindowInSeconds": 61}, "from 0 to 60"),
        ({"MaxReceiveCount": 1001}, "MaxReceiveCount='1001': must be a whole number from 1 to 1000"),
        ({"MaximumConcurrency": 1}, "MaximumConcurrency='1': must be a whole number from 2 to 1000"),
        ({"AcceptedPipelineIds": ",".join(["1111111111111-abcde1"] * 98)}, "must be at most 2048 characters"),
    ],
)
def test_parameters_are_checked_as_cloudformation_checks_them(
    emulator: Emulator, parameters: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(ProvisioningError, match=refusal):
        new_stack(**parameters)


@pytest.mark.parametrize(
    "parameters",
    [
        {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 0},
        {"BatchSize": 11, "MaximumBatchingWindowInSeconds": 1},
        {"BatchSize": 1000, "MaximumBatchingWindowInSeconds": 60, "MaxReceiveCount": 1000},
        {"AcceptedPipelineIds": ",".join(["1111111111111-abcde1"] * 97)},
    ],
)
def test_the_limits_themselves_are_accepted(emulator: Emulator, parameters: dict[str, Any]) -> None:
    """Issue 18: each refusal above is a bound, not a ban: its edge deploys."""
    (trigger,) = new_stack(**parameters).triggers
    assert trigger.batch_size == parameters.get("BatchSize", 10)
    assert trigger.batching_window_s == parameters.get("MaximumBatchingWindowInSeconds", 1)
    assert trigger.function.environment["ACCEPTED_PIPELINE_IDS"] == parameters.get("AcceptedPipelineIds", "")


def test_alarms_are_created_as_the_template_defines_them(emulator: Emulator) -> None:
    stack = new_stack(AlarmActionArn="arn:aws:sns:us-east-1:123456789012:oncall")
    alarms = boto3.client("cloudwatch").describe_alarms(AlarmNamePrefix=stack.name)["MetricAlarms"]
    by_name = {alarm["AlarmName"].removeprefix(f"{stack.name}-"): alarm for alarm in alarms}
    assert set(by_name) == {
        "DeadLetterQueueGrowingAlarm",
        "WritesFailingAlarm",
        "NotificationsWaitingAlarm",
        "FunctionErrorsAlarm",
        "StuckJobsAlarm",
        "StuckCheckNotInvokedAlarm",
        "StuckCheckNearTimeoutAlarm",
        "FinishedEventPublisherErrorsAlarm",
        "FinishedEventsLateAlarm",
        "FinishedEventsFailedQueueGrowingAlarm",
    }
    growth = by_name["DeadLetterQueueGrowingAlarm"]
    assert [q.get("Expression") for q in growth["Metrics"] if q.get("ReturnData")] == [
        "MAX([DIFF(FILL(depth, 0)), DIFF(FILL(undelivered, 0))])"
    ]
    assert all(alarm["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:oncall"] for alarm in alarms)


def test_a_customer_managed_key_reaches_every_store(emulator: Emulator) -> None:
    key = boto3.client("kms").create_key(Description="transcoder-status test")["KeyMetadata"]["Arn"]
    stack = new_stack(KmsKeyArn=key)
    for output in ("NotificationQueueUrl", "DeadLetterQueueUrl", "FinishedEventsFailedQueueUrl"):
        attributes = queue_attributes(stack.outputs[output])
        assert attributes["KmsMasterKeyId"] == key
        assert attributes.get("SqsManagedSseEnabled", "false") == "false"
    topic = boto3.client("sns").get_topic_attributes(TopicArn=stack.outputs["NotificationTopicArn"])["Attributes"]
    assert topic["KmsMasterKeyId"] == key
    table = boto3.client("dynamodb").describe_table(TableName=stack.outputs["TableName"])["Table"]
    assert table["SSEDescription"]["KMSMasterKeyArn"] == key
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{stack.name}")["logGroups"]
    assert sorted(group["logGroupName"].rsplit("-", 2)[-2:] for group in groups) == [
        ["event", "publisher"],
        ["status", "writer"],
        ["stuck", "check"],
    ]
    assert all(group["kmsKeyId"] == key for group in groups)
    # Without a key: SQS's own encryption, never none.
    plain = queue_attributes(new_stack().outputs["NotificationQueueUrl"])
    assert plain["SqsManagedSseEnabled"] == "true" and "KmsMasterKeyId" not in plain


def test_what_sns_or_eventbridge_cannot_deliver_waits_in_the_undelivered_queue(emulator: Emulator) -> None:
    """Issue 13: events EventBridge cannot deliver vanish after 24 hours without a target DLQ, and
    messages SNS cannot deliver without a redrive policy."""
    stack = new_stack()
    undelivered = queue_attributes(stack.outputs["UndeliveredQueueUrl"])
    (target,) = boto3.client("events").list_targets_by_rule(Rule=stack.refs["MediaConvertJobStateRule"])["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": undelivered["QueueArn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    (subscription,) = boto3.client("sns").list_subscriptions_by_topic(TopicArn=stack.outputs["NotificationTopicArn"])[
        "Subscriptions"
    ]
    attributes = boto3.client("sns").get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])
    assert json.loads(attributes["Attributes"]["RedrivePolicy"]) == {"deadLetterTargetArn": undelivered["QueueArn"]}
    policy = json.loads(undelivered["Policy"])
    senders = {
        s["Principal"]["Service"]: s["Condition"]["ArnEquals"]["aws:SourceArn"]
        for s in policy["Statement"]
        if s["Effect"] == "Allow"
    }
    assert senders == {
        "sns.amazonaws.com": stack.outputs["NotificationTopicArn"],
        "events.amazonaws.com": stack.outputs["MediaConvertRuleArn"],
    }


def test_a_partition_without_the_layers_publisher_is_refused_before_anything_is_created(emulator: Emulator) -> None:
    """Issue 18: the mapping names the layer's publisher for the aws partition only; Fn::FindInMap refuses the rest."""
    from transcoder_status.local.template import load_template

    template = load_template()
    template["Mappings"]["PowertoolsLayer"] = {"aws-us-gov": {"Account": "123456789012"}}
    tables = boto3.client("dynamodb").list_tables()["TableNames"]
    with pytest.raises(ProvisioningError, match=r"mapping PowertoolsLayer has no aws\.Account"):
        provision(stack_name=f"ts-{uuid.uuid4().hex[:8]}", template=template)
    assert boto3.client("dynamodb").list_tables()["TableNames"] == tables


def test_a_lookup_in_an_output_is_refused_before_anything_is_created(emulator: Emulator) -> None:
    """The template's lookups are checked up front wherever they are, not only in Resources."""
    from transcoder_status.local.template import load_template

    template = load_template()
    template["Outputs"]["LayerPublisher"] = {"Value": {"Fn::FindInMap": ["PowertoolsLayer", "aws", "Missing"]}}
    tables = boto3.client("dynamodb").list_tables()["TableNames"]
    with pytest.raises(ProvisioningError, match=r"mapping PowertoolsLayer has no aws\.Missing"):
        provision(stack_name=f"ts-{uuid.uuid4().hex[:8]}", template=template)
    assert boto3.client("dynamodb").list_tables()["TableNames"] == tables


# Rule functions work only in Rules, and a rule takes only them (and Ref to a parameter):
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-rules.html
CONTAINS_ONE = {"Fn::Contains": [["1"], {"Ref": "BatchSize"}]}
LAYER_ACCOUNT = {"Fn::FindInMap": ["PowertoolsLayer", "aws", "Account"]}


@pytest.mark.parametrize(
    ("section", "value", "refusal"),
    [
        ("Conditions", CONTAINS_ONE, "Conditions: Fn::Contains works only in Rules"),
        ("Rules", {"Assertions": [{"Assert": {"Fn::Equals": [LAYER_ACCOUNT, "017000801446"]}}]}, "Fn::FindInMap"),
        ("Rules", {"Assertions": [{"Assert": {"Fn::Equals": [{"Fn::Sub": "${BatchSize}"}, "10"]}}]}, "Fn::Sub"),
        # One the local stack does not evaluate is refused, never taken as true (this one is false).
        (
            "Rules",
            {
                "Assertions": [
                    {"Assert": {"Fn::EachMemberEquals": [{"Fn::ValueOfAll": ["AWS::EC2::VPC::Id", "Tags"]}, "a"]}}
                ]
            },
            "does not evaluate",
        ),
    ],
)
def test_rule_functions_only_in_rules_and_only_rule_functions_there(
    emulator: Emulator, section: str, value: dict[str, Any], refusal: str
) -> None:
    """Issue 18: the local stack refuses what CloudFormation refuses, before anything is created."""
    from transcoder_status.local.template import load_template

    template = load_template()
    template[section]["Odd"] = value
    with pytest.raises(ProvisioningError, match=refusal):
        provision(stack_name=f"ts-{uuid.uuid4().hex[:8]}", template=template)


def test_a_rule_may_choose_by_a_condition(emulator: Emulator) -> None:
    """Fn::If is one of the rule functions: evaluated, here to false, not refused as foreign."""
    from transcoder_status.local.template import load_template

    template = load_template()
    template["Rules"]["Odd"] = {"Assertions": [{"Assert": {"Fn::If": ["HasKmsKey", {"Fn::Equals": ["a", "b"]}, True]}}]}
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    with pytest.raises(ProvisioningError, match="Rule Odd: assertion failed"):
        provision(stack_name=f"ts-{uuid.uuid4().hex[:8]}", template=template, parameters={"KmsKeyArn": key})
