"""deploy/kms-key-policy.json and deploy/deployer-kms-policy.json held to template.yaml (issue 18).

With KmsKeyArn set, every resource that stores data is encrypted with the one key. Whoever writes into
such a resource, or reads from it, must be allowed by the key's policy (AWS services) or by the
deployer's policy (what CloudFormation does in the deployer's name): else the deploy fails with
AccessDenied halfway, or deliveries fail later without an error anyone sees. Each encrypted resource
names its writers here, from the template itself where it can (a queue's policy says who sends).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from transcoder_status.local.template import load_template, translate

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_ROOT = "arn:aws:iam::111122223333:root"
REGION = "us-east-1"

# Who needs the key, and for what, by what they use it for.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
SEND_TO_QUEUE = {"kms:GenerateDataKey", "kms:Decrypt"}
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
LOGS = {"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"}
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html
DYNAMODB_SERVICE = {"kms:Describe*", "kms:Get*", "kms:List*"}
DYNAMODB_CALLERS = {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"}
DEPLOY_TABLE = {"kms:CreateGrant", "kms:DescribeKey"}
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html
DEPLOY_FUNCTION_ENVIRONMENT = {"kms:CreateGrant", "kms:Encrypt"}

# Resources that name the key to grant it, not to store data with it.
IAM_TYPES = {"AWS::IAM::Role", "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"}


def read_policy(name: str) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads((ROOT / "deploy" / name).read_text())
    return policy


def uses_the_key(value: Any) -> bool:
    """Whether the key is named anywhere in the value, whatever the property is called."""
    if isinstance(value, list):
        return any(uses_the_key(item) for item in value)
    return isinstance(value, dict) and (value == {"Ref": "KmsKeyArn"} or any(map(uses_the_key, value.values())))


def encrypted_resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: spec
        for name, spec in template["Resources"].items()
        if spec["Type"] not in IAM_TYPES and uses_the_key(spec.get("Properties", {}))
    }


def points_at(value: Any, resource: str) -> bool:
    return value in ({"Ref": resource}, {"Fn::GetAtt": [resource, "Arn"]})


def queue_writers(template: dict[str, Any], queue: str) -> set[tuple[str, str]]:
    """(principal, why) pairs that send to or receive from the queue, read from the template."""
    writers: set[tuple[str, str]] = set()
    for spec in template["Resources"].values():
        properties = spec.get("Properties", {})
        if spec["Type"] == "AWS::SQS::QueuePolicy" and any(points_at(q, queue) for q in properties["Queues"]):
            for item in properties["PolicyDocument"]["Statement"]:
                statement = item["Fn::If"][1] if "Fn::If" in item else item  # each option on
                if statement.get("Effect") == "Allow":
                    writers.add((statement["Principal"]["Service"], "send"))
        if spec["Type"] == "AWS::Lambda::EventSourceMapping":
            if points_at(properties.get("EventSourceArn"), queue):
                writers.add(("lambda", "receive"))
            on_failure = properties.get("DestinationConfig", {}).get("OnFailure", {})
            if points_at(on_failure.get("Destination"), queue):
                writers.add(("lambda", "send"))
        if spec["Type"] == "AWS::Lambda::EventInvokeConfig":
            on_failure = properties.get("DestinationConfig", {}).get("OnFailure", {})
            if points_at(on_failure.get("Destination"), queue):
                writers.add(("lambda", "send"))
    return writers


def statements_for(policy: dict[str, Any], principal: dict[str, str], via: str | None = None) -> set[str]:
    """The actions the key policy allows this principal (through this service, if given)."""
    actions: set[str] = set()
    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow" or statement["Principal"] != principal:
            continue
        condition = statement.get("Condition", {}).get("StringEquals", {})
        if via is not None and condition.get("kms:ViaService") != f"{via}.{REGION}.amazonaws.com":
            continue
        listed = statement["Action"]
        actions |= set(listed if isinstance(listed, list) else [listed])
    return actions


def deployer_grants(deployer: dict[str, Any], via: str) -> set[str]:
    """The deployer's actions on the key when a call comes through this service."""
    actions: set[str] = set()
    for statement in deployer["Statement"]:
        service = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
        if service in (None, f"{via}.{REGION}.amazonaws.com"):
            listed = statement["Action"]
            actions |= set(listed if isinstance(listed, list) else [listed])
    return actions


def missing(template: dict[str, Any], key_policy: dict[str, Any], deployer: dict[str, Any]) -> list[str]:
    """What each encrypted resource's writers lack; empty when the policies cover the template."""
    problems = []

    def need(resource: str, granted: set[str], wanted: set[str], who: str) -> None:
        if not wanted <= granted:
            problems.append(f"{resource}: {who} lacks {sorted(wanted - granted)}")

    for name, spec in encrypted_resources(template).items():
        kind = spec["Type"]
        if kind == "AWS::SQS::Queue":
            for principal, _why in queue_writers(template, name):
                if principal == "lambda":  # through the function's execution role, by way of SQS
                    need(name, statements_for(key_policy, {"AWS": ACCOUNT_ROOT}, "sqs"), SEND_TO_QUEUE, "Lambda")
                else:
                    need(name, statements_for(key_policy, {"Service": principal}), SEND_TO_QUEUE, principal)
            # A dead-letter queue that only its source queue's redrive policy fills needs no one.
        elif kind == "AWS::Logs::LogGroup":
            logs_service = {"Service": f"logs.{REGION}.amazonaws.com"}
            need(name, statements_for(key_policy, logs_service), LOGS, "logs")
            (logs,) = [s for s in key_policy["Statement"] if s["Principal"] == logs_service]
            pattern = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
            group = spec["Properties"]["LogGroupName"]["Fn::Sub"].replace("${AWS::StackName}", "transcoder-status")
            if not group.startswith(pattern.split(":log-group:")[1].rstrip("*")):
                problems.append(f"{name}: the logs statement's condition does not cover {group}")
        elif kind == "AWS::DynamoDB::Table":
            need(name, statements_for(key_policy, {"Service": "dynamodb.amazonaws.com"}), DYNAMODB_SERVICE, "DynamoDB")
            callers = statements_for(key_policy, {"AWS": ACCOUNT_ROOT}, "dynamodb")
            need(name, callers, DYNAMODB_CALLERS, "the account through DynamoDB")
            need(name, deployer_grants(deployer, "dynamodb"), DEPLOY_TABLE, "the deployer")
        elif kind == "AWS::Lambda::Function":
            need(name, deployer_grants(deployer, "lambda"), DEPLOY_FUNCTION_ENVIRONMENT, "the deployer")
        elif kind == "AWS::SNS::Topic":
            # Its publishers are IAM principals (Elastic Transcoder's pipeline role): the account's
            # statement lets their IAM policies grant the key.
            need(name, statements_for(key_policy, {"AWS": ACCOUNT_ROOT}), {"kms:*"}, "the account's IAM policies")
        else:
            problems.append(f"{name}: a {kind} encrypted with the key, whose writers neither policy names")
    return problems


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate(load_template())


def test_the_key_policy_and_the_deployers_cover_every_encrypted_resource(translated: dict[str, Any]) -> None:
    encrypted = encrypted_resources(translated)
    assert {spec["Type"] for spec in encrypted.values()} == {
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
        "AWS::DynamoDB::Table",
        "AWS::Logs::LogGroup",
        "AWS::Lambda::Function",
    }
    # The notification queue: SNS and EventBridge send, the status writer's trigger receives.
    assert queue_writers(translated, "NotificationQueue") == {
        ("sns.amazonaws.com", "send"),
        ("events.amazonaws.com", "send"),
        ("lambda", "receive"),
    }
    assert missing(translated, read_policy("kms-key-policy.json"), read_policy("deployer-kms-policy.json")) == []


def test_a_new_encrypted_resource_without_its_writer_fails(translated: dict[str, Any]) -> None:
    key_policy = read_policy("kms-key-policy.json")
    deployer = read_policy("deployer-kms-policy.json")
    changed = copy.deepcopy(translated)
    key = {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}
    # A queue S3 sends to: the key policy lets no S3 in.
    changed["Resources"]["UploadsQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {"KmsMasterKeyId": key}}
    changed["Resources"]["UploadsQueuePolicy"] = {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [{"Ref": "UploadsQueue"}],
            "PolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}}]},
        },
    }
    # A Kinesis stream: a kind of resource whose writers nobody has named.
    changed["Resources"]["Stream"] = {"Type": "AWS::Kinesis::Stream", "Properties": {"KmsKeyId": key}}
    # The finished events' bus encrypted with the key: a property name of its own (KmsKeyIdentifier),
    # and a key given by Ref, not by Fn::If, inside a nested property.
    changed["Resources"]["JobEventBus"]["Properties"]["KmsKeyIdentifier"] = key
    changed["Resources"]["Archive"] = {
        "Type": "AWS::Kinesis::Stream",
        "Properties": {"StreamEncryption": {"EncryptionType": "KMS", "KeyId": {"Ref": "KmsKeyArn"}}},
    }
    problems = missing(changed, key_policy, deployer)
    assert any(p.startswith("UploadsQueue: s3.amazonaws.com lacks") for p in problems), problems
    assert any(p.startswith("Stream: a AWS::Kinesis::Stream") for p in problems), problems
    assert any(p.startswith("JobEventBus: a AWS::Events::EventBus") for p in problems), problems
    assert any(p.startswith("Archive: a AWS::Kinesis::Stream") for p in problems), problems


def test_roles_and_policies_that_name_the_key_are_not_encrypted_resources(translated: dict[str, Any]) -> None:
    """An IAM statement's Resource is the key: it grants the key, it stores nothing with it."""
    encrypted = encrypted_resources(translated)
    assert "StatusWriterRole" not in encrypted and "JobStatusReadPolicy" not in encrypted
    assert {"JobStatusTable", "NotificationQueue", "StatusWriterFunction", "StatusWriterLogGroup"} <= set(encrypted)


@pytest.mark.parametrize(
    ("policy", "sid", "action"),
    [
        ("kms-key-policy.json", "SnsDeliversToTheEncryptedQueues", "kms:GenerateDataKey"),
        ("kms-key-policy.json", "LambdaConsumesAndFillsTheEncryptedQueues", "kms:Decrypt"),
        ("kms-key-policy.json", "DynamoDBDescribesTheKey", "kms:Describe*"),
        ("deployer-kms-policy.json", "DynamoDBEncryptsTheTableWithTheKey", "kms:DescribeKey"),
        ("deployer-kms-policy.json", "LambdaGrantsItselfTheKeyForTheFunctions", "kms:CreateGrant"),
        ("deployer-kms-policy.json", "LambdaEncryptsTheFunctionsEnvironmentWithTheKey", "kms:Encrypt"),
    ],
)
def test_a_policy_short_of_one_action_fails(translated: dict[str, Any], policy: str, sid: str, action: str) -> None:
    policies = {name: read_policy(name) for name in ("kms-key-policy.json", "deployer-kms-policy.json")}
    (statement,) = [s for s in policies[policy]["Statement"] if s["Sid"] == sid]
    statement["Action"] = [a for a in statement["Action"] if a != action]
    assert missing(translated, policies["kms-key-policy.json"], policies["deployer-kms-policy.json"])


def test_the_deployer_creates_grants_only_through_the_services() -> None:
    """A grant is a key policy of its own: a CreateGrant the deployer may call directly lets it grant
    itself (or anyone) Decrypt on every queue, the table and the logs. Each CreateGrant is limited to
    the requests an integrated service (DynamoDB, Lambda) makes for a resource:
    https://docs.aws.amazon.com/kms/latest/developerguide/grant-authorization.html"""
    for statement in read_policy("deployer-kms-policy.json")["Statement"]:
        listed = statement["Action"]
        if "kms:CreateGrant" not in (listed if isinstance(listed, list) else [listed]):
            continue
        condition = statement.get("Condition", {})
        through_a_service = "kms:ViaService" in condition.get("StringEquals", {})
        for_a_resource = condition.get("Bool", {}).get("kms:GrantIsForAWSResource") == "true"
        assert through_a_service or for_a_resource, statement["Sid"]


# Each file's step in docs/deploy.md, and the example values it must tell the deployer to replace.
PLACEHOLDERS = {"account": "111122223333", "region": REGION, "stack name": "transcoder-status"}


@pytest.mark.parametrize(
    ("policy", "step", "next_step"),
    [("kms-key-policy.json", "1. **The key policy.**", "\n2. "), ("deployer-kms-policy.json", "2. **", "\n3. ")],
)
def test_the_deploy_guide_names_every_example_value_of_each_file(policy: str, step: str, next_step: str) -> None:
    """A deployer in eu-west-1 who replaced only the key's ARN in the deployer's policy kept
    kms:ViaService dynamodb.us-east-1: DynamoDB's CreateGrant was refused halfway through the deploy."""
    guide = (ROOT / "docs" / "deploy.md").read_text()
    start = guide.index(step)
    text = guide[start : guide.index(next_step, start)]
    assert f"`deploy/{policy}`" in text
    content = (ROOT / "deploy" / policy).read_text()
    for what, example in PLACEHOLDERS.items():
        if example in content:
            assert f"`{example}`" in text, f"docs/deploy.md's step for {policy} does not say to replace the {what}"
