"""template.yaml: the promises a reader of the stack relies on. cfn-lint runs in `make lint`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from transcoder_status.handler import CLASH_METRIC, DEADLINE_MARGIN_S, StatusWriter
from transcoder_status.local.stream_mapping import passes
from transcoder_status.local.template import load_template, translate
from transcoder_status.stuck_check import METRIC as STUCK_METRIC
from transcoder_status.table import JOB_ID, LISTING_ATTRIBUTES, STATUS_INDEX, STATUS_SHARD, UPDATED_AT


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources_of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: spec for name, spec in template["Resources"].items() if spec["Type"] == kind}


def test_queue_outlives_function_timeout_and_redrives_to_a_14_day_dlq(template: dict[str, Any]) -> None:
    function = template["Resources"]["StatusWriterFunction"]["Properties"]
    queue = template["Resources"]["NotificationQueue"]["Properties"]
    # Issue 18: Lambda's advice is 6x the timeout plus the batching window, for every window allowed.
    window = allowed(template, "MaximumBatchingWindowInSeconds")
    assert (min(window), max(window)) == (0, 60)
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"] + max(window)
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["NotificationDeadLetterQueue", "Arn"]}
    assert template["Resources"]["NotificationDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == 14 * 86400


def allowed(template: dict[str, Any], name: str) -> list[int]:
    """The whole numbers up to 10,000 a parameter takes (a pattern or bounds), and that it takes no fraction."""
    spec = template["Parameters"][name]
    pattern = spec["AllowedPattern"]
    assert not re.fullmatch(pattern, "1.5") and not re.fullmatch(pattern, "") and not re.fullmatch(pattern, "-1")
    return [n for n in range(10_001) if re.fullmatch(pattern, str(n))]


def test_function_reports_partial_batch_failures(template: dict[str, Any]) -> None:
    function = template["Resources"]["StatusWriterFunction"]["Properties"]
    assert (function["Runtime"], function["Architectures"]) == ("python3.13", ["arm64"])
    assert function["Handler"] == "transcoder_status.handler.lambda_handler"
    event = function["Events"]["Notifications"]
    assert event["Type"] == "SQS" and event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


@pytest.fixture(scope="module")
def translated(template: dict[str, Any]) -> dict[str, Any]:
    return translate(template)


def branches(value: Any, take: bool) -> Any:
    """A policy with every Fn::If resolved one way (True: every option on), AWS::NoValue dropped."""
    if isinstance(value, list):
        return [item for item in (branches(v, take) for v in value) if item is not None]
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            return branches(value["Fn::If"][1 if take else 2], take)
        if value == {"Ref": "AWS::NoValue"}:
            return None
        return {k: branches(v, take) for k, v in value.items()}
    return value


def role_statements(translated: dict[str, Any], role: str, take: bool) -> list[dict[str, Any]]:
    properties = translated["Resources"][role]["Properties"]
    return [s for policy in properties["Policies"] for s in branches(policy["PolicyDocument"], take)["Statement"]]


def test_the_function_role_grants_only_what_the_function_uses(translated: dict[str, Any]) -> None:
    """Issue 9: SAM's SQS event attached AWSLambdaSQSQueueExecutionRole (sqs on every queue)."""
    function = translated["Resources"]["StatusWriterFunction"]["Properties"]
    assert function["Role"] == {"Fn::GetAtt": ["StatusWriterRole", "Arn"]}
    roles = resources_of(translated, "AWS::IAM::Role")
    assert set(roles) == {"StatusWriterRole", "StuckCheckRole", "FinishedEventPublisherRole"}  # SAM generated none
    role = roles["StatusWriterRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    granted = {
        statement["Sid"]: (sorted(always_list(statement["Action"])), statement["Resource"])
        for statement in role_statements(translated, "StatusWriterRole", take=True)
    }
    log_group = {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${StatusWriterLogGroup}:*"
    }
    assert granted == {
        "ConsumeTheNotificationQueue": (
            ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            {"Fn::GetAtt": ["NotificationQueue", "Arn"]},
        ),
        "WriteItsOwnLogGroup": (["logs:CreateLogStream", "logs:PutLogEvents"], log_group),
        "UpdateJobRowsOnly": (["dynamodb:UpdateItem"], {"Fn::GetAtt": ["JobStatusTable", "Arn"]}),
        "SendTraces": (["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*"),
        "UseTheStackKey": (["kms:Decrypt", "kms:GenerateDataKey"], {"Ref": "KmsKeyArn"}),
    }
    # X-Ray only with tracing on, the key only when one is given.
    plain = {s["Sid"] for s in role_statements(translated, "StatusWriterRole", take=False)}
    assert plain == {"ConsumeTheNotificationQueue", "WriteItsOwnLogGroup", "UpdateJobRowsOnly"}
    conditions = {
        item["Fn::If"][1]["Sid"]: item["Fn::If"][0]
        for policy in role["Policies"]
        for item in policy["PolicyDocument"]["Statement"]
        if "Fn::If" in item
    }
    assert conditions == {"SendTraces": "TracingActive", "UseTheStackKey": "HasKmsKey"}


def always_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_policy_in_the_stack_has_a_wildcard_resource_on_data(translated: dict[str, Any]) -> None:
    documents = [
        branches(policy["PolicyDocument"], take)
        for role in resources_of(translated, "AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
        for take in (True, False)
    ] + [
        branches(policy["Properties"]["PolicyDocument"], take)
        for policy in resources_of(translated, "AWS::IAM::ManagedPolicy").values()
        for take in (True, False)
    ]
    for document in documents:
        for statement in document["Statement"]:
            if statement["Resource"] == "*":  # only actions that take no resource ARN
                actions = always_list(statement["Action"])
                no_resource = ("mediaconvert:ListJobs", "dynamodb:ListStreams")
                assert all(a.startswith("xray:") or a in no_resource for a in actions), statement
            assert not any(action.endswith(":*") for action in always_list(statement["Action"])), statement


def test_table_is_keyed_by_job_id_with_ttl_recovery_and_encryption(template: dict[str, Any]) -> None:
    table = template["Resources"]["JobStatusTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "jobId", "KeyType": "HASH"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True


def test_read_policy_grants_only_reads(translated: dict[str, Any]) -> None:
    document = translated["Resources"]["JobStatusReadPolicy"]["Properties"]["PolicyDocument"]
    actions = {a for s in branches(document, take=True)["Statement"] for a in always_list(s["Action"])}
    assert actions == {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "kms:Decrypt"}
    rows, listing = branches(document, take=False)["Statement"]
    assert sorted(rows["Action"]) == ["dynamodb:BatchGetItem", "dynamodb:GetItem"]
    # Listings query the status index only, never the table (no Query by job ID prefix, no Scan).
    assert (listing["Action"], listing["Resource"]) == ("dynamodb:Query", INDEX_ARN)


INDEX_ARN = {"Fn::Sub": f"${{JobStatusTable.Arn}}/index/{STATUS_INDEX}"}


def test_the_status_index_is_the_one_table_py_writes_and_queries(template: dict[str, Any]) -> None:
    """Issue 12: jobs by status and time by Query; the writer fills the keys, the projection the listing."""
    table = template["Resources"]["JobStatusTable"]["Properties"]
    types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    assert types == {JOB_ID: "S", STATUS_SHARD: "S", UPDATED_AT: "S"}
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == STATUS_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": STATUS_SHARD, "KeyType": "HASH"},
        {"AttributeName": UPDATED_AT, "KeyType": "RANGE"},
    ]
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    projected = set(index["Projection"]["NonKeyAttributes"])
    assert projected == set(LISTING_ATTRIBUTES) - {JOB_ID, STATUS_SHARD, UPDATED_AT}
    assert len(projected) == len(index["Projection"]["NonKeyAttributes"])


def test_the_stuck_check_runs_every_15_minutes_with_its_threshold(
    template: dict[str, Any], translated: dict[str, Any]
) -> None:
    function = template["Resources"]["StuckCheckFunction"]["Properties"]
    assert function["Handler"] == "transcoder_status.stuck_check.lambda_handler"
    assert function["Environment"]["Variables"]["STUCK_AFTER_MINUTES"] == {"Ref": "StuckAfterMinutes"}
    assert function["Environment"]["Variables"]["TABLE_NAME"] == {"Ref": "JobStatusTable"}
    assert template["Parameters"]["StuckAfterMinutes"]["Default"] == 120
    # A stuck row is still there to be counted: the threshold stays below the shortest retention.
    assert (
        template["Parameters"]["StuckAfterMinutes"]["MaxValue"]
        <= template["Parameters"]["RetentionDays"]["MinValue"] * 1440
    )
    (rule,) = [
        r for r in resources_of(translated, "AWS::Events::Rule").values() if "ScheduleExpression" in r["Properties"]
    ]
    assert rule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["StuckCheckFunction", "Arn"]}
    (permission,) = resources_of(translated, "AWS::Lambda::Permission").values()
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"
    assert permission["Properties"]["FunctionName"] == {"Ref": "StuckCheckFunction"}


def test_the_stuck_check_role_may_only_query_the_index_and_write_its_logs(translated: dict[str, Any]) -> None:
    function = translated["Resources"]["StuckCheckFunction"]["Properties"]
    assert function["Role"] == {"Fn::GetAtt": ["StuckCheckRole", "Arn"]}
    role = translated["Resources"]["StuckCheckRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    log_group = {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${StuckCheckLogGroup}:*"
    }
    granted = {
        statement["Sid"]: (sorted(always_list(statement["Action"])), statement["Resource"])
        for statement in role_statements(translated, "StuckCheckRole", take=False)
    }
    assert granted == {
        "QueryTheStatusIndexOnly": (["dynamodb:Query"], INDEX_ARN),
        "WriteItsOwnLogGroup": (["logs:CreateLogStream", "logs:PutLogEvents"], log_group),
    }
    # With tracing on and a key given: traces, and decrypting what the key encrypts.
    extra = {
        statement["Sid"]: sorted(always_list(statement["Action"]))
        for statement in role_statements(translated, "StuckCheckRole", take=True)
    }
    # With MediaConvert on (the default): repairs, one UpdateItem on the table and GetJob on the
    # account's jobs; with tracing on and a key given: traces, and the key for the table.
    assert extra.keys() - granted.keys() == {
        "RepairMediaConvertRows",
        "AskMediaConvertAboutTheAccountsJobs",
        "ListRunningMediaConvertJobs",
        "SendTraces",
        "UseTheStackKey",
        "ReadTheSourceAccountsFromTheIngestBusPolicy",
    }
    # Many accounts (issue 24): the ingest bus's policy names the source accounts; that bus only.
    assert extra["ReadTheSourceAccountsFromTheIngestBusPolicy"] == ["events:DescribeEventBus"]
    (bus,) = [s for s in role_statements(translated, "StuckCheckRole", take=True) if s["Sid"].startswith("Read")]
    assert bus["Resource"] == {"Fn::GetAtt": ["IngestEventBus", "Arn"]}
    assert extra["RepairMediaConvertRows"] == ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
    assert extra["AskMediaConvertAboutTheAccountsJobs"] == ["mediaconvert:GetJob"]
    # Discovery (issue 19): ListJobs takes no resource but "*" (it has no resource type in IAM).
    (listing,) = [s for s in role_statements(translated, "StuckCheckRole", take=True) if s["Sid"].startswith("List")]
    assert (listing["Action"], listing["Resource"]) == ("mediaconvert:ListJobs", "*")
    environment = function["Environment"]["Variables"]
    assert environment["MEDIACONVERT_QUEUE_ARN"] == {"Ref": "MediaConvertQueueArn"}
    assert environment["MEDIACONVERT_USER_METADATA"]["Fn::If"][0] == "FilterMediaConvertMetadata"
    assert extra["UseTheStackKey"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    (ask,) = [s for s in role_statements(translated, "StuckCheckRole", take=True) if s["Sid"].startswith("Ask")]
    # The account's own jobs: in any Region with other places sending (rows of this account from
    # forwarders in other Regions), else in this Region only (test_multi_account_template holds both).
    jobs = "arn:${AWS::Partition}:mediaconvert:${JobRegions}:${AWS::AccountId}:jobs/*"
    assert ask["Resource"] == {"Fn::Sub": [jobs, {"JobRegions": "*"}]}


def metrics_watched(alarm: dict[str, Any]) -> set[str]:
    properties = alarm["Properties"]
    if "Metrics" in properties:
        return {query["MetricStat"]["Metric"]["MetricName"] for query in properties["Metrics"] if "MetricStat" in query}
    return {properties["MetricName"]}


def test_alarms_watch_what_an_outage_changes(template: dict[str, Any]) -> None:
    """Review finding 9: a total write outage raised no Lambda error, so no alarm fired."""
    alarms = resources_of(template, "AWS::CloudWatch::Alarm")
    watched = {name: metrics_watched(alarm) for name, alarm in alarms.items()}
    assert set().union(*watched.values()) == {
        "ApproximateNumberOfMessagesVisible",  # of the DLQ
        "ApproximateAgeOfOldestMessage",  # of the queue: nothing consumes it
        "WriteFailed",  # the function's own metric: it fails records, not invocations
        CLASH_METRIC,  # the function's: two accounts' events for one row (issue 24)
        "Errors",
        "StuckJobs",  # the stuck check's
        "Duration",  # the stuck check's, near its timeout (issue 18)
        "FailedInvocations",  # its schedule could not invoke it (issue 18)
        "IteratorAge",  # the publisher's delay on the table's stream
    }
    # The function's metric, under the namespace and service its environment sets.
    environment = template["Resources"]["StatusWriterFunction"]["Properties"]["Environment"]["Variables"]
    stuck_environment = template["Resources"]["StuckCheckFunction"]["Properties"]["Environment"]["Variables"]
    watching = (
        ("WritesFailingAlarm", environment),
        ("AccountClashesAlarm", environment),
        ("StuckJobsAlarm", stuck_environment),
    )
    for alarm, variables in watching:
        properties = alarms[alarm]["Properties"]
        assert properties["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
        assert properties["Dimensions"] == [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]
    assert alarms["StuckJobsAlarm"]["Properties"]["MetricName"] == STUCK_METRIC
    for alarm in alarms.values():  # each returns to OK when its incident ends, so the next one notifies
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"


def test_the_dlq_alarm_fires_on_growth_so_a_second_incident_notifies_again(template: dict[str, Any]) -> None:
    alarm = template["Resources"]["DeadLetterQueueGrowingAlarm"]["Properties"]
    (expression,) = [query for query in alarm["Metrics"] if query.get("ReturnData")]
    depths = {
        query["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: query["Id"]
        for query in alarm["Metrics"]
        if "MetricStat" in query
    }
    # Both dead-letter queues; a gap after a quiet spell counts as 0.
    assert set(depths) == {"NotificationDeadLetterQueue", "UndeliveredNotificationsQueue"}
    # MAX, not +: a redrive out of one queue must not hide arrivals in the other.
    growths = ", ".join(f"DIFF(FILL({depth}, 0))" for depth in depths.values())
    assert expression["Expression"] == f"MAX([{growths}])"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_parameters_that_would_break_the_deploy_or_mislead_are_refused(template: dict[str, Any]) -> None:
    """Review finding 11: a quote in the metadata filter broke the deploy; rows could expire
    before a redriven message came back."""
    parameters = template["Parameters"]
    for name in ("MediaConvertUserMetadataKey", "MediaConvertUserMetadataValue"):
        pattern = parameters[name]["AllowedPattern"]
        assert re.fullmatch(pattern, "app") and re.fullmatch(pattern, "")
        for refused in ('a"b', "a\\b", "a\nb", "a\x00b"):
            assert not re.fullmatch(pattern, refused), refused
    queue = parameters["MediaConvertQueueArn"]["AllowedPattern"]
    assert re.fullmatch(queue, "arn:aws:mediaconvert:us-east-1:123456789012:queues/Default")
    assert not re.fullmatch(queue, 'arn:aws:mediaconvert:us-east-1:123456789012:queues/a"b')
    dlq_days = template["Resources"]["NotificationDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] / 86400
    assert parameters["RetentionDays"]["MinValue"] > dlq_days
    assert "not traced one by one" in parameters["TracingMode"]["Description"]


def test_outputs_tell_the_user_what_to_do_next(template: dict[str, Any]) -> None:
    assert set(template["Outputs"]) >= {
        "NotificationTopicArn",
        "TableName",
        "NotificationQueueUrl",
        "DeadLetterQueueUrl",
        "JobStatusReadPolicyArn",
        "DashboardUrl",
        "FinishedEventBusName",
        "FinishedEventBusArn",
    }
    assert "${OperationsDashboard}" in template["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]


def dashboard_metrics(template: dict[str, Any]) -> dict[str, set[str]]:
    """The dashboard's metrics by namespace, read from its body (placeholders filled in)."""
    text, variables = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    body = json.loads(re.sub(r"\$\{[^}]+\}", "x", text))
    found: dict[str, set[str]] = {}
    for widget in body["widgets"]:
        namespace = None
        for metric in widget["properties"].get("metrics", []):
            names = [part for part in metric if isinstance(part, str)]
            if names[0] == "...":
                continue
            namespace = names[0] if names[0] != "." else namespace
            assert namespace is not None
            found.setdefault(namespace, set()).add(names[1])
    assert variables == {"Service": "transcoder-status", "EventsService": "transcoder-status-events"}
    return found


def test_the_dashboard_shows_a_bad_day_on_one_page(template: dict[str, Any]) -> None:
    metrics = dashboard_metrics(template)
    assert metrics["TranscoderStatus"] >= {
        "Applied",
        "StaleOrDuplicate",
        "Malformed",
        "WriteFailed",
        "JobsSucceeded",
        "JobsFailed",
        "JobsCanceled",
        STUCK_METRIC,
    }
    assert metrics["AWS/SQS"] == {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}
    assert metrics["AWS/Lambda"] == {"Duration", "Errors", "Throttles", "IteratorAge"}
    text = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    for queue in ("NotificationDeadLetterQueue", "NotificationQueue"):
        assert f"${{{queue}.QueueName}}" in text
    assert "${StatusWriterFunction}" in text
    assert all(output.get("Description") for output in template["Outputs"].values())


def test_template_translates_as_sam_does(template: dict[str, Any]) -> None:
    translated = translate(template)
    mappings = resources_of(translated, "AWS::Lambda::EventSourceMapping")
    assert set(mappings) == {"StatusWriterFunctionNotifications", "FinishedEventPublisherFunctionFinishedRows"}
    mapping = mappings["StatusWriterFunctionNotifications"]
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "ScalingConfig" in mapping["Properties"]
    assert not resources_of(translated, "AWS::Serverless::Function")


def modules_loaded_by(module: str) -> set[str]:
    code = (
        "import os, sys, json; os.environ.setdefault('AWS_DEFAULT_REGION', 'us-east-1');"
        f"import {module}; print(json.dumps(sorted(sys.modules)))"
    )
    return set(
        json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
    )


HEAVY = {
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
    "transcoder_status.dead_letters",
}


def test_the_stuck_checks_import_path_is_as_lean_as_the_handlers() -> None:
    """The scheduled function loads what it queries and repairs with (MediaConvert's answers go
    through the parsing rules), not the client library or the status writer."""
    loaded = modules_loaded_by("transcoder_status.stuck_check")
    unwanted = HEAVY | {"transcoder_status.handler", "asyncio"}
    assert unwanted.isdisjoint(loaded), unwanted & loaded
    assert {"boto3", "aws_lambda_powertools", "transcoder_status.listing", "transcoder_status.reconcile"} <= loaded


@pytest.mark.parametrize("handler", ["transcoder_status.handler", "transcoder_status.publisher"])
def test_handler_import_path_loads_only_boto3_and_powertools(handler: str) -> None:
    """Cold start: importing a handler must not pull in the CLI, the local stack or their libraries."""
    loaded = modules_loaded_by(handler)
    assert HEAVY.isdisjoint(loaded), HEAVY & loaded
    assert {"boto3", "aws_lambda_powertools"} <= loaded


def test_the_functions_aws_calls_give_up_before_the_function_does(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review finding 10: botocore's 60 s timeouts outlived the 30 s function."""
    function = template["Resources"]["StatusWriterFunction"]["Properties"]
    for name, value in function["Environment"]["Variables"].items():
        if isinstance(value, str):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("TABLE_NAME", "any")
    writer = StatusWriter.from_environment()
    config = writer.table.client.meta.config
    attempts = int(function["Environment"]["Variables"]["AWS_MAX_ATTEMPTS"])
    # One call, with every retry, ends before the function does; the handler answers by its deadline
    # (the timeout less DEADLINE_MARGIN_S) whatever is still in flight, and starts no merge after it.
    worst_call = attempts * (config.connect_timeout + config.read_timeout)
    assert worst_call + DEADLINE_MARGIN_S < function["Timeout"]
    assert config.max_pool_connections >= writer.max_writers  # every writer thread gets a connection


def test_a_decimal_retention_from_cloudformation_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review of issue 8: RetentionDays is a Number, so 15.5 deploys; int("15.5") failed every batch."""
    monkeypatch.setenv("TABLE_NAME", "any")
    monkeypatch.setenv("RETENTION_DAYS", "15.5")
    assert StatusWriter.from_environment().table.retention_days == 15


def test_a_library_read_gives_up_within_seconds() -> None:
    """A wait overshoots its timeout by one read at most: bound that read."""
    from transcoder_status.client import CLIENT_CONFIG

    attempts = CLIENT_CONFIG.retries["total_max_attempts"]
    assert attempts * (CLIENT_CONFIG.connect_timeout + CLIENT_CONFIG.read_timeout) <= 10


def test_a_customer_managed_key_encrypts_everything_that_stores_data(template: dict[str, Any]) -> None:
    key = {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}
    resources = template["Resources"]
    assert resources["TranscoderNotificationTopic"]["Properties"]["KmsMasterKeyId"] == key
    for queue in ("NotificationQueue", "NotificationDeadLetterQueue", "FinishedEventsFailedQueue"):
        properties = resources[queue]["Properties"]
        assert properties["KmsMasterKeyId"] == key
        # Without a key, SQS's own encryption: never unencrypted.
        assert properties["SqsManagedSseEnabled"] == {"Fn::If": ["HasKmsKey", False, True]}
    assert resources["JobStatusTable"]["Properties"]["SSESpecification"]["KMSMasterKeyId"] == key
    for function in ("StatusWriter", "StuckCheck", "FinishedEventPublisher"):
        assert resources[f"{function}LogGroup"]["Properties"]["KmsKeyId"] == key
        assert resources[f"{function}Function"]["Properties"]["KmsKeyArn"] == key


def test_every_checkov_skip_says_why(template: dict[str, Any]) -> None:
    skips = [
        (name, skip)
        for name, spec in template["Resources"].items()
        for skip in spec.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "the function's skips are expected"
    for name, skip in skips:
        assert skip["id"].startswith("CKV_") and len(skip.get("comment", "")) > 40, (name, skip)


# -- "Transcoding Job Finished": the table's stream, the Pipes, their role --------------------------

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "transcoding-job-finished.schema.json").read_text()
)
BUS = {
    "Fn::If": [
        "CreateFinishedEventBus",
        {"Fn::GetAtt": ["JobEventBus", "Arn"]},
        {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"},
    ]
}


def stream_record(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """A stream record as Lambda gives it to the function; images in DynamoDB's JSON."""
    dynamodb: dict[str, Any] = {"Keys": {"jobId": {"S": "j"}}, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if old is not None:
        dynamodb["OldImage"] = old
    if new is not None:
        dynamodb["NewImage"] = new
    name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    return {"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": dynamodb}


def image(finished: bool | None) -> dict[str, Any]:
    item: dict[str, Any] = {"jobId": {"S": "j"}, "status": {"S": "SUCCESS" if finished else "RUNNING"}}
    if finished is not None:
        item["finished"] = {"BOOL": finished}
    return item


@pytest.fixture(scope="module")
def publisher_mapping(translated: dict[str, Any]) -> dict[str, Any]:
    mapping: dict[str, Any] = translated["Resources"]["FinishedEventPublisherFunctionFinishedRows"]["Properties"]
    return mapping


def test_the_table_streams_new_and_old_images(template: dict[str, Any]) -> None:
    table = template["Resources"]["JobStatusTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_the_publisher_reads_the_stream_as_aws_stream_consumers_should(
    translated: dict[str, Any], publisher_mapping: dict[str, Any]
) -> None:
    assert not resources_of(translated, "AWS::Pipes::Pipe")
    function = translated["Resources"]["FinishedEventPublisherFunction"]["Properties"]
    writer = translated["Resources"]["StatusWriterFunction"]["Properties"]
    assert function["Handler"] == "transcoder_status.publisher.lambda_handler"
    for same in ("Runtime", "Architectures", "Layers"):
        assert function[same] == writer[same], same
    assert function["Environment"]["Variables"]["EVENT_BUS_NAME"] == BUS
    assert publisher_mapping["EventSourceArn"] == {"Fn::GetAtt": ["JobStatusTable", "StreamArn"]}
    assert publisher_mapping["FunctionName"] == {"Ref": "FinishedEventPublisherFunction"}
    assert publisher_mapping["StartingPosition"] == "TRIM_HORIZON"  # no finish missed before it starts
    assert publisher_mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert publisher_mapping["BisectBatchOnFunctionError"] is True
    # Finite: a record that keeps failing never holds the shard for the stream's 24 hours.
    assert 0 <= publisher_mapping["MaximumRetryAttempts"] <= 100
    assert 60 <= publisher_mapping["MaximumRecordAgeInSeconds"] < 86400
    assert publisher_mapping["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": ["FinishedEventsFailedQueue", "Arn"]}}
    }
    assert translated["Resources"]["FinishedEventsFailedQueue"]["Properties"]["MessageRetentionPeriod"] == 14 * 86400


# Every kind of write the table sees, and whether the publisher must be invoked for it.
FILTER_CASES = [
    ("a row written finished", None, image(True), True),
    ("running -> finished", image(False), image(True), True),
    ("a row written running", None, image(False), False),
    ("running -> running", image(False), image(False), False),
    ("a merge into a finished row", image(True), image(True), False),
    ("the TTL deleting a finished row", image(True), None, False),
    ("the TTL deleting a running row", image(False), None, False),
    ("a key-only image (moto's first INSERT)", None, image(None), False),
]


@pytest.mark.parametrize(("case", "old", "new", "invoked"), FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
def test_exactly_the_transition_to_finished_invokes_the_publisher(
    publisher_mapping: dict[str, Any], case: str, old: Any, new: Any, invoked: bool
) -> None:
    patterns = [EventPattern.load(f["Pattern"]) for f in publisher_mapping["FilterCriteria"]["Filters"]]
    assert passes(patterns, stream_record(old, new)) is invoked, case


def test_the_publisher_role_reads_only_that_stream_and_puts_only_on_that_bus(translated: dict[str, Any]) -> None:
    role = translated["Resources"]["FinishedEventPublisherRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert translated["Resources"]["FinishedEventPublisherFunction"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["FinishedEventPublisherRole", "Arn"]
    }
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    log_group = {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
        "${FinishedEventPublisherLogGroup}:*"
    }
    for take in (True, False):  # every option on (a key, tracing, a bus of the stack's own), or none
        granted = {
            statement["Sid"]: (sorted(always_list(statement["Action"])), statement["Resource"])
            for statement in role_statements(translated, "FinishedEventPublisherRole", take)
        }
        expected = {
            "ReadTheStatusTableStream": (
                ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                {"Fn::GetAtt": ["JobStatusTable", "StreamArn"]},
            ),
            # IAM takes no resource for ListStreams: on its own, on "*".
            "ListStreams": (["dynamodb:ListStreams"], "*"),
            # Issue 20: each finished job counted once, by a conditional write on its row.
            "CountEachFinishedJobOnceOnItsRow": (["dynamodb:UpdateItem"], {"Fn::GetAtt": ["JobStatusTable", "Arn"]}),
            "PutEventsOnTheJobEventBus": (["events:PutEvents"], branches(BUS, take)),
            "DescribeFailedBatchesInTheOnFailureQueue": (
                ["sqs:SendMessage"],
                {"Fn::GetAtt": ["FinishedEventsFailedQueue", "Arn"]},
            ),
            "WriteItsOwnLogGroup": (["logs:CreateLogStream", "logs:PutLogEvents"], log_group),
        }
        if take:
            expected["SendTraces"] = (["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*")
            expected["UseTheStackKey"] = (["kms:Decrypt", "kms:GenerateDataKey"], {"Ref": "KmsKeyArn"})
        assert granted == expected


def test_the_publishers_alarms_and_dashboard(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    function = {"Ref": "FinishedEventPublisherFunction"}
    errors = resources["FinishedEventPublisherErrorsAlarm"]["Properties"]
    assert (errors["Namespace"], errors["MetricName"], errors["Dimensions"][0]["Value"]) == (
        "AWS/Lambda",
        "Errors",
        function,
    )
    late = resources["FinishedEventsLateAlarm"]["Properties"]
    assert (late["MetricName"], late["Statistic"], late["Dimensions"][0]["Value"]) == (
        "IteratorAge",
        "Maximum",
        function,
    )
    growing = resources["FinishedEventsFailedQueueGrowingAlarm"]["Properties"]
    (depth,) = [query for query in growing["Metrics"] if "MetricStat" in query]
    assert depth["MetricStat"]["Metric"]["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["FinishedEventsFailedQueue", "QueueName"]
    }
    assert "DIFF" in next(q["Expression"] for q in growing["Metrics"] if "Expression" in q)  # growth, not depth
    text = resources["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    assert "${FinishedEventPublisherFunction}" in text and "${FinishedEventsFailedQueue.QueueName}" in text
    assert '"JobsSucceeded", "service", "${EventsService}"' in text  # the publisher counts finished jobs
    assert "IteratorAge" in text


def test_the_bus_is_the_accounts_default_or_the_stacks_own(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["FinishedEventBus"]
    assert (parameter["AllowedValues"], parameter["Default"]) == (["default", "create"], "default")
    bus = template["Resources"]["JobEventBus"]
    assert (bus["Type"], bus["Condition"]) == ("AWS::Events::EventBus", "CreateFinishedEventBus")
    assert template["Outputs"]["FinishedEventBusName"]["Value"] == {
        "Fn::If": ["CreateFinishedEventBus", {"Ref": "JobEventBus"}, "default"]
    }


def test_the_errors_alarm_watches_both_functions(template: dict[str, Any]) -> None:
    """Review of issue 13: a stuck check that failed every run stopped self-healing without an alarm."""
    alarm = template["Resources"]["FunctionErrorsAlarm"]["Properties"]
    functions = {
        query["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for query in alarm["Metrics"]
        if "MetricStat" in query
    }
    assert functions == {"StatusWriterFunction", "StuckCheckFunction"}
    environment = template["Resources"]["StuckCheckFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["RETENTION_DAYS"] == {"Ref": "RetentionDays"}  # a repair keeps the row as long


# -- Issue 18: what fails at deploy time or later on real AWS ----------------------------------------


def test_the_table_outlives_the_stack(translated: dict[str, Any]) -> None:
    """A stack delete or a replacing change dropped every row; PITR kept only a system backup."""
    table = translated["Resources"]["JobStatusTable"]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_lambda_and_sqs_limits_are_parameter_bounds(template: dict[str, Any]) -> None:
    # Each reaches an integer property: whole numbers only, in the range AWS takes.
    assert allowed(template, "MaxReceiveCount") == list(range(1, 1001))  # SQS's redrive policy: 1 to 1,000
    assert allowed(template, "MaximumConcurrency") == list(range(2, 1001))  # Lambda's ScalingConfig: 2 to 1,000
    assert allowed(template, "BatchSize") == list(range(1, 1001))
    assert allowed(template, "MaximumBatchingWindowInSeconds") == list(range(61))
    assert allowed(template, "PowertoolsLayerVersion") == list(range(1, 10_001))
    # Lambda wants a window of 1 s or more above 10 records; the rule refuses the rest up front
    # (the local stack evaluates it in tests/integration/test_local_stack.py, both ways).
    (assertion,) = template["Rules"]["BatchSizeOver10NeedsAWindow"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "MaximumBatchingWindowInSeconds"}, "0"]}]}
    condition = template["Rules"]["BatchSizeOver10NeedsAWindow"]["RuleCondition"]
    assert condition == {"Fn::Not": [{"Fn::Contains": [[str(n) for n in range(1, 11)], {"Ref": "BatchSize"}]}]}


# Lambda's limit on a function's environment variables, all of them together:
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
ENVIRONMENT_LIMIT_BYTES = 4096
TABLE_NAME_MAX = 255  # DynamoDB's longest table name (CloudFormation names it within that)
EVENT_BUS_NAME_MAX = 256  # EventBridge's longest event bus name
NUMBER_TEXT_MAX = 20  # a Number parameter as text


def longest_value(template: dict[str, Any], value: Any) -> int:
    """The most characters an environment value can take, for every parameter value allowed."""
    if isinstance(value, str):
        return len(value)
    if value == {"Ref": "JobStatusTable"}:
        return TABLE_NAME_MAX
    if value == {"Ref": "IngestEventBus"}:
        return EVENT_BUS_NAME_MAX
    if value == {"Ref": "AWS::AccountId"}:
        return 12
    if "Fn::Join" in value and "Ref" in value["Fn::Join"][1]:  # a list parameter, joined
        return joined_list_longest(template, value["Fn::Join"][1]["Ref"], len(value["Fn::Join"][0]))
    if "Ref" in value:
        spec = template["Parameters"][value["Ref"]]
        if "AllowedValues" in spec:
            return max(len(str(v)) for v in spec["AllowedValues"])
        if spec["Type"] == "Number":
            return NUMBER_TEXT_MAX
        assert "MaxLength" in spec, f"{value['Ref']} is unbounded: give it a MaxLength"
        return int(spec["MaxLength"])
    if "Fn::If" in value:
        return max(longest_value(template, branch) for branch in value["Fn::If"][1:])
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):  # each ${Parameter} at its longest
        text = value["Fn::Sub"]
        names = re.findall(r"\$\{(\w+)\}", text)
        return len(re.sub(r"\$\{\w+\}", "", text)) + sum(longest_value(template, {"Ref": name}) for name in names)
    raise AssertionError(f"no bound known for {value}")


def joined_list_longest(template: dict[str, Any], name: str, separator: int) -> int:
    """A list parameter has no MaxLength: its bound is a rule holding each member to a set of
    values (Fn::EachMemberIn), each given once."""
    for rule in template.get("Rules", {}).values():
        for assertion in rule["Assertions"]:
            members = assertion["Assert"].get("Fn::EachMemberIn")
            if members and members[0] == {"Ref": name}:
                values = {str(v) for v in members[1]} - {""}
                return sum(len(v) for v in values) + separator * (len(values) - 1)
    raise AssertionError(f"{name} is unbounded: hold its members to a set of values with a rule")


@pytest.mark.parametrize("function", ["StatusWriterFunction", "StuckCheckFunction"])
def test_the_environment_stays_under_4_kb_for_every_parameter_value(template: dict[str, Any], function: str) -> None:
    """A long AcceptedPipelineIds made Lambda refuse the function halfway through a deploy."""
    variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
    worst = {name: "x" * longest_value(template, value) for name, value in variables.items()}
    assert len(json.dumps(worst).encode()) <= ENVIRONMENT_LIMIT_BYTES


def test_an_unbounded_list_parameter_is_caught(template: dict[str, Any]) -> None:
    unbounded = json.loads(json.dumps(template))
    del unbounded["Parameters"]["AcceptedPipelineIds"]["MaxLength"]
    variables = unbounded["Resources"]["StatusWriterFunction"]["Properties"]["Environment"]["Variables"]
    with pytest.raises(AssertionError, match="AcceptedPipelineIds is unbounded"):
        longest_value(unbounded, variables["ACCEPTED_PIPELINE_IDS"])


def test_an_unbounded_list_parameter_in_an_environment_is_caught(template: dict[str, Any]) -> None:
    unbounded = json.loads(json.dumps(template))
    del unbounded["Rules"]["SourceRegionsRunMediaConvert"]
    variables = unbounded["Resources"]["StuckCheckFunction"]["Properties"]["Environment"]["Variables"]
    with pytest.raises(AssertionError, match="SourceRegions is unbounded"):
        longest_value(unbounded, variables["SOURCE_REGIONS"])


# Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB:
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
MB_PER_VCPU = 1769
WRITES_PER_RECORD = 2  # the state write and, for a late progress or warning, a merge


def measured_ms_per_record() -> float:
    """The handler's cost of one more record, from `make bench`'s table (this machine: about one core,
    as botocore's CPU per request holds the GIL): a batch of 100 jobs against a batch of 1."""
    text = (Path(__file__).resolve().parents[2] / "bench" / "results.md").read_text()
    rows = dict(re.findall(r"^\| (1|100) \| ([0-9.]+) \|", text, flags=re.MULTILINE))
    return (float(rows["100"]) - float(rows["1"])) / 99


def test_the_largest_batch_finishes_within_the_writers_timeout(template: dict[str, Any]) -> None:
    """A BatchSize the writer cannot finish by its deadline sent good records to the DLQ."""
    function = template["Resources"]["StatusWriterFunction"]["Properties"]
    memory = function["MemorySize"]
    if isinstance(memory, dict):  # a parameter: its smallest value
        spec = template["Parameters"][memory["Ref"]]
        memory = min(int(value) for value in spec["AllowedValues"])
    ms_per_record = measured_ms_per_record() * MB_PER_VCPU / memory * WRITES_PER_RECORD
    budget_ms = (function["Timeout"] - DEADLINE_MARGIN_S) * 1000
    largest = max(allowed(template, "BatchSize"))
    assert largest * ms_per_record <= budget_ms, (largest, ms_per_record, budget_ms)


def test_the_powertools_layer_is_well_formed_in_every_region_of_its_partition(template: dict[str, Any]) -> None:
    """The ARN was built with ${AWS::Partition} around an account that publishes only in aws."""
    import boto3

    mapping = template["Mappings"]["PowertoolsLayer"]
    assert mapping == {"aws": {"Account": "017000801446"}}  # no other partition's account is documented
    functions = [name for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    assert len(functions) == 3
    for name in functions:
        (layer,) = template["Resources"][name]["Properties"]["Layers"]
        text, variables = layer["Fn::Sub"]
        assert variables == {"Publisher": {"Fn::FindInMap": ["PowertoolsLayer", {"Ref": "AWS::Partition"}, "Account"]}}
        regions = boto3.Session().get_available_regions("lambda", partition_name="aws")
        assert len(regions) > 10
        version = template["Parameters"]["PowertoolsLayerVersion"]["Default"]
        for region in regions:
            arn = (
                text.replace("${AWS::Partition}", "aws")
                .replace("${AWS::Region}", region)
                .replace("${Publisher}", mapping["aws"]["Account"])
                .replace("${PowertoolsLayerVersion}", str(version))
            )
            # Lambda's pattern for a layer version ARN.
            assert re.fullmatch(r"arn:aws:lambda:[a-z]{2}(-[a-z]+)+-\d:\d{12}:layer:[a-zA-Z0-9_-]+:[0-9]+", arn), arn


def test_sam_commands_share_one_region_and_sync_has_its_own_stack() -> None:
    """samconfig.toml set the region for deploy only; sync could update the deployed stack."""
    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parents[2] / "samconfig.toml").read_text())
    default = config["default"]
    assert default["global"]["parameters"]["region"]
    assert all("region" not in default[command]["parameters"] for command in default if command != "global")
    # `sam sync` in the default environment finds no stack name: it cannot reach the deployed stack.
    assert "sync" not in default and "stack_name" not in default["global"]["parameters"]
    deployed = default["deploy"]["parameters"]["stack_name"]
    assert {default[command]["parameters"].get("stack_name", deployed) for command in default} == {deployed}
    development = config["dev"]
    assert "sync" in development
    assert development["global"]["parameters"]["stack_name"] != deployed


def test_reading_the_template_leaves_yaml_safe_load_as_it_was() -> None:
    """CloudFormation's short forms are known to the template's reader alone: afterwards a plain
    ``yaml.safe_load`` in the same process still refuses an unknown tag (a fresh interpreter, since
    this one has read the template already)."""
    check = (
        "import yaml\n"
        "from transcoder_status.local.template import load_template\n"
        "assert load_template()['Resources']['StatusWriterFunction']['Properties']['Role'] == "
        "{'Fn::GetAtt': ['StatusWriterRole', 'Arn']}\n"
        "try:\n"
        "    print(yaml.safe_load('key: !Ref Other'))\n"
        "except yaml.constructor.ConstructorError:\n"
        "    print('refused')\n"
    )
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "refused"
