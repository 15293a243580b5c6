"""Issue 24's templates, as translated: the central stack's multi-account block (empty by default, a
single-account stack unchanged), its roles and policies, and the forwarder's."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.unit.test_template import always_list, branches
from transcoder_status.handler import CLASH_METRIC
from transcoder_status.local.accounts import FORWARDER_TEMPLATE
from transcoder_status.local.bus_delivery import may_put_events
from transcoder_status.local.provision import _Builder
from transcoder_status.local.template import load_template, translate

# What the multi-account block adds to template.yaml: its parameters, rules, conditions; its
# resources and outputs carry one of these conditions.
PARAMETERS = {"SourceAccountIds", "SourceOrganizationId", "ReaderRoleName"}
RULES = {"AccountsOrOrganization", "SourcesNeedMediaConvert"}
CONDITIONS = {
    "HasSourceAccounts",
    "HasSourceOrganization",
    "HasSourceRegions",
    "NamesSourceAccounts",
    "CreateIngestBus",
}
LISTED = ["111122223333", "444455556666"]
# The resources a central stack that gathers other accounts adds.
GATHERING = {"IngestEventBus", "IngestMediaConvertJobStateRule", "SourceReaderAccessPolicy", "AccountClashesAlarm"}
BUS_ARN = "arn:aws:events:us-east-1:123456789012:event-bus/central-ingest"


@pytest.fixture(scope="module")
def central() -> dict[str, Any]:
    return translate(load_template())


@pytest.fixture(scope="module")
def forwarder() -> dict[str, Any]:
    return load_template(FORWARDER_TEMPLATE)


def builder(template: dict[str, Any], **parameters: Any) -> _Builder:
    """The local stack's resolver of ``template`` with these parameters (CloudFormation's checks,
    conditions and intrinsic functions), creating nothing."""
    return _Builder("central", "us-east-1", template, parameters)


def resolved(template: dict[str, Any], value: Any, **parameters: Any) -> Any:
    return builder(template, **parameters)._resolve(value)


def deployed(template: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    """The resources and outputs a deploy would create: conditions applied, Fn::If decided."""
    conditions = builder(template, **parameters).conditions

    def decide(value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (decide(v) for v in value) if item != {"Ref": "AWS::NoValue"}]
        if isinstance(value, dict):
            if set(value) == {"Fn::If"}:
                name, when_true, when_false = value["Fn::If"]
                return decide(when_true if conditions[name] else when_false)
            return {k: v for k, v in ((k, decide(v)) for k, v in value.items()) if v != {"Ref": "AWS::NoValue"}}
        return value

    return {
        part: {
            name: decide(spec)
            for name, spec in template.get(part, {}).items()
            if "Condition" not in spec or conditions[spec["Condition"]]
        }
        for part in ("Resources", "Outputs")
    }


def without_multi_account(template: dict[str, Any]) -> dict[str, Any]:
    """The template as it was before the multi-account block: its parameters, rules, conditions,
    resources and outputs gone, and every Fn::If on its conditions replaced by its other branch."""

    def strip(value: Any) -> Any:
        if isinstance(value, list):
            return [strip(v) for v in value]
        if isinstance(value, dict):
            if set(value) == {"Fn::If"} and value["Fn::If"][0] in CONDITIONS:
                return strip(value["Fn::If"][2])
            return {k: strip(v) for k, v in value.items()}
        return value

    before = copy.deepcopy(template)
    for part, names in (("Parameters", PARAMETERS), ("Rules", RULES), ("Conditions", CONDITIONS)):
        assert names <= set(before[part]), part
        before[part] = {k: v for k, v in before[part].items() if k not in names}
    for part in ("Resources", "Outputs"):
        before[part] = {k: v for k, v in before[part].items() if v.get("Condition") not in CONDITIONS}
    stripped: dict[str, Any] = strip(before)
    return stripped


def test_a_single_account_deploy_is_unchanged_with_the_parameters_empty(central: dict[str, Any]) -> None:
    before = translate(without_multi_account(load_template()))
    assert deployed(central) == deployed(before)
    # The block is there, and only behind its conditions.
    multi = {name for name, spec in central["Resources"].items() if spec.get("Condition") in CONDITIONS}
    assert multi == GATHERING
    assert central["Parameters"]["SourceAccountIds"]["Default"] == ""
    assert central["Parameters"]["SourceOrganizationId"]["Default"] == ""


def test_naming_accounts_or_an_organization_adds_the_block(central: dict[str, Any]) -> None:
    for parameters in ({"SourceAccountIds": ",".join(LISTED)}, {"SourceOrganizationId": "o-a1b2c3d4e5"}):
        added = set(deployed(central, **parameters)["Resources"]) - set(deployed(central)["Resources"])
        assert added == GATHERING


def test_the_central_accounts_other_regions_alone_get_the_ingest_bus(central: dict[str, Any]) -> None:
    """One account in several Regions: its forwarders there need the ingest bus (the bus's own
    account needs no policy entry), and no other account's role is to be assumed."""
    alone = deployed(central, SourceRegions="us-west-2")
    added = set(alone["Resources"]) - set(deployed(central)["Resources"])
    assert added == GATHERING - {"SourceReaderAccessPolicy"}
    assert "Policy" not in alone["Resources"]["IngestEventBus"]["Properties"]
    assert "IngestEventBusArn" in alone["Outputs"] and "SourceReaderAccessPolicyArn" not in alone["Outputs"]


def test_the_ingest_bus_lets_exactly_the_listed_accounts_put_events(central: dict[str, Any]) -> None:
    policy = resolved(
        central,
        central["Resources"]["IngestEventBus"]["Properties"]["Policy"],
        SourceAccountIds=" , ".join(LISTED),  # CloudFormation trims each member
    )
    (statement,) = policy["Statement"]
    assert (statement["Principal"], statement["Action"]) == ({"AWS": LISTED}, "events:PutEvents")
    assert statement["Resource"] == BUS_ARN and "Condition" not in statement
    # What the local stack's bus delivery enforces, read from this very policy.
    assert all(may_put_events(policy, BUS_ARN, account, None) for account in LISTED)
    assert not may_put_events(policy, BUS_ARN, "333333333333", None)


def test_an_organization_lets_its_accounts_only(central: dict[str, Any]) -> None:
    policy = resolved(
        central,
        central["Resources"]["IngestEventBus"]["Properties"]["Policy"],
        SourceOrganizationId="o-a1b2c3d4e5",
    )
    (statement,) = policy["Statement"]
    assert statement["Principal"] == "*"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    assert may_put_events(policy, BUS_ARN, "333333333333", "o-a1b2c3d4e5")
    assert not may_put_events(policy, BUS_ARN, "333333333333", "o-zzzzzzzzzz")
    assert not may_put_events(policy, BUS_ARN, "333333333333", None)


def test_the_functions_may_assume_only_the_reader_role_in_the_source_accounts(central: dict[str, Any]) -> None:
    policy = central["Resources"]["SourceReaderAccessPolicy"]["Properties"]
    assert policy["Roles"] == [{"Ref": "StuckCheckRole"}]  # the stuck check; the status writer needs none
    document = policy["PolicyDocument"]
    by_accounts = resolved(central, document, SourceAccountIds=",".join(LISTED), ReaderRoleName="reader")
    assert by_accounts["Statement"] == [
        {
            "Sid": "AssumeTheReaderRoleOfTheListedAccounts",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": "arn:aws:iam::*:role/reader",
            "Condition": {"StringEquals": {"aws:ResourceAccount": LISTED}},
        }
    ]
    (by_organization,) = resolved(central, document, SourceOrganizationId="o-a1b2c3d4e5")["Statement"]
    assert (by_organization["Action"], by_organization["Resource"]) == (
        "sts:AssumeRole",
        "arn:aws:iam::*:role/transcoder-status-reader",
    )
    assert by_organization["Condition"] == {"StringEquals": {"aws:ResourceOrgID": "o-a1b2c3d4e5"}}
    # Nothing else in the stack may assume a role anywhere.
    granting = {
        name
        for name, spec in central["Resources"].items()
        for document in policy_documents(spec)
        for statement in branches(document, True)["Statement"]
        if any(action.startswith("sts:") for action in always_list(statement["Action"]))
    }
    assert granting == {"SourceReaderAccessPolicy"}


def test_getjob_in_other_regions_only_when_other_places_send(central: dict[str, Any]) -> None:
    """A single-account stack asks MediaConvert in its own Region only, as before the block; a
    central stack asks its own account's jobs in any Region (its forwarders there)."""
    for parameters, region in (({}, "us-east-1"), ({"SourceRegions": "us-west-2"}, "*")):
        resources = deployed(central, **parameters)["Resources"]
        for name in ("StuckCheckRole", "JobRepairPolicy"):
            (statement,) = [
                s
                for document in policy_documents(resources[name])
                for s in document["Statement"]
                if s.get("Sid") == "AskMediaConvertAboutTheAccountsJobs"
            ]
            arn = resolved(central, statement["Resource"], **parameters)
            assert arn == f"arn:aws:mediaconvert:{region}:123456789012:jobs/*", (name, parameters)


def policy_documents(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The permission policies of a role or a managed policy (not trust policies)."""
    properties = spec.get("Properties", {})
    if spec["Type"] == "AWS::IAM::Role":
        return [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
    if spec["Type"] == "AWS::IAM::ManagedPolicy":
        return [properties["PolicyDocument"]]
    return []


def test_the_notification_queues_take_the_ingest_rule_by_its_arn(central: dict[str, Any]) -> None:
    for queue in ("NotificationQueuePolicy", "UndeliveredNotificationsQueuePolicy"):
        statements = central["Resources"][queue]["Properties"]["PolicyDocument"]["Statement"]
        (ingest,) = [s["Fn::If"] for s in statements if "Fn::If" in s and s["Fn::If"][0] == "CreateIngestBus"]
        assert ingest[1]["Principal"] == {"Service": "events.amazonaws.com"}
        assert ingest[1]["Condition"] == {
            "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["IngestMediaConvertJobStateRule", "Arn"]}}
        }
        assert ingest[2] == {"Ref": "AWS::NoValue"}
    target = central["Resources"]["IngestMediaConvertJobStateRule"]["Properties"]["Targets"][0]
    assert target["Arn"] == {"Fn::GetAtt": ["NotificationQueue", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["UndeliveredNotificationsQueue", "Arn"]}


# -- the forwarder --------------------------------------------------------------------------------


def test_the_forwarder_matches_what_the_central_stack_matches(forwarder: dict[str, Any]) -> None:
    central = load_template()
    mine = forwarder["Resources"]["ForwardMediaConvertJobStateRule"]["Properties"]["EventPattern"]
    assert mine == central["Resources"]["MediaConvertJobStateRule"]["Properties"]["EventPattern"]
    for name in ("MediaConvertQueueArn", "MediaConvertUserMetadataKey", "MediaConvertUserMetadataValue"):
        assert forwarder["Parameters"][name]["AllowedPattern"] == central["Parameters"][name]["AllowedPattern"]
    assert forwarder["Rules"] == {k: v for k, v in central["Rules"].items() if k.startswith("Metadata")}


def test_the_forwarder_puts_only_on_the_central_bus_with_retries_and_a_dead_letter_queue(
    forwarder: dict[str, Any],
) -> None:
    resources = forwarder["Resources"]
    (target,) = resources["ForwardMediaConvertJobStateRule"]["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "CentralEventBusArn"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["PutToCentralBusRole", "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["UndeliveredToCentralQueue", "Arn"]}}
    role = resources["PutToCentralBusRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (statement,) = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert (statement["Action"], statement["Resource"]) == ("events:PutEvents", {"Ref": "CentralEventBusArn"})
    # The dead-letter queue: encrypted, and only that rule may send to it.
    queue = resources["UndeliveredToCentralQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] == {"Fn::If": ["HasKmsKey", False, True]}
    allow, deny = resources["UndeliveredToCentralQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (allow["Principal"], allow["Action"]) == ({"Service": "events.amazonaws.com"}, "sqs:SendMessage")
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ForwardMediaConvertJobStateRule", "Arn"]}}
    }
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_reader_role_reads_this_accounts_jobs_only_for_the_central_account(forwarder: dict[str, Any]) -> None:
    spec = forwarder["Resources"]["SourceReaderRole"]
    assert spec["Condition"] == "CreateReaderRole"  # IAM is global: one role per account, not per Region
    role = spec["Properties"]
    assert role["RoleName"] == {"Ref": "ReaderRoleName"}
    granted = {
        s["Sid"]: (s["Action"], s["Resource"]) for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]
    }
    assert granted == {
        "GetThisAccountsJobsInAnyRegion": (
            "mediaconvert:GetJob",
            {"Fn::Sub": "arn:${AWS::Partition}:mediaconvert:*:${AWS::AccountId}:jobs/*"},
        ),
        "ListThisAccountsJobs": ("mediaconvert:ListJobs", "*"),  # ListJobs names no resource type
    }
    parameters = {
        "CentralEventBusArn": BUS_ARN,
        "CentralAccountId": "123456789012",
        "ReaderRoleRegion": "us-east-1",
    }
    trust = role["AssumeRolePolicyDocument"]
    (anyone_central,) = resolved(forwarder, trust, **parameters)["Statement"]
    assert anyone_central["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert "Condition" not in anyone_central
    arns = "arn:aws:iam::123456789012:role/central-StuckCheckRole-*,arn:aws:iam::123456789012:role/operators"
    (named,) = resolved(forwarder, trust, TrustedPrincipalArns=arns, **parameters)["Statement"]
    assert named["Condition"] == {"ArnLike": {"aws:PrincipalArn": arns.split(",")}}
    # Only the Region named creates it.
    assert not builder(forwarder, **{**parameters, "ReaderRoleRegion": "eu-west-1"}).conditions["CreateReaderRole"]


def test_no_forwarder_policy_has_a_wildcard_on_data(forwarder: dict[str, Any]) -> None:
    for spec in forwarder["Resources"].values():
        for document in policy_documents(spec):
            for statement in document["Statement"]:
                actions = always_list(statement["Action"])
                assert not any(action.endswith(":*") for action in actions), statement
                if statement["Resource"] == "*":
                    assert actions == ["mediaconvert:ListJobs"], statement


# -- the bus policy as the local stack's delivery reads it ---------------------------------------


def test_a_deny_wins_and_an_unknown_condition_refuses() -> None:
    allow = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "events:PutEvents"}
    assert may_put_events({"Statement": [allow]}, BUS_ARN, "111122223333", None)
    deny = {**allow, "Effect": "Deny"}
    assert not may_put_events({"Statement": [allow, deny]}, BUS_ARN, "111122223333", None)
    unknown = {**allow, "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}}
    assert not may_put_events({"Statement": [unknown]}, BUS_ARN, "111122223333", None)
    other_bus = {**allow, "Resource": BUS_ARN.replace("central", "other")}
    assert not may_put_events({"Statement": [other_bus]}, BUS_ARN, "111122223333", None)
    assert not may_put_events(None, BUS_ARN, "111122223333", None)


def test_the_stuck_check_is_told_where_to_ask(central: dict[str, Any]) -> None:
    """Issue 24: the reader role's name, its own account, the ingest bus (whose policy names the
    source accounts) and the Regions besides its own; none of it without the multi-account block."""
    variables = central["Resources"]["StuckCheckFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["INGEST_EVENT_BUS_NAME"] == {"Fn::If": ["CreateIngestBus", {"Ref": "IngestEventBus"}, ""]}
    listed = {
        name: resolved(
            central,
            variables[name],
            SourceAccountIds=",".join(LISTED),
            SourceRegions="eu-west-1,ap-south-1",
            ReaderRoleName="reader",
        )
        for name in ("READER_ROLE_NAME", "HOME_ACCOUNT_ID", "SOURCE_REGIONS")
    }
    assert listed == {
        "READER_ROLE_NAME": "reader",
        "HOME_ACCOUNT_ID": resolved(central, {"Ref": "AWS::AccountId"}),
        "SOURCE_REGIONS": "eu-west-1,ap-south-1",
    }
    assert resolved(central, variables["SOURCE_REGIONS"]) == ""  # empty: this Region only


def test_source_regions_must_be_regions_that_run_mediaconvert(central: dict[str, Any]) -> None:
    import botocore.session

    (assertion,) = central["Rules"]["SourceRegionsRunMediaConvert"]["Assertions"]
    listed, allowed = assertion["Assert"]["Fn::EachMemberIn"]
    assert listed == {"Ref": "SourceRegions"}
    session = botocore.session.get_session()
    regions = {r for p in session.get_available_partitions() for r in session.get_available_regions("mediaconvert", p)}
    assert set(allowed) - {""} <= regions  # botocore's endpoint data: a typo fails here


def test_a_clash_alarm_watches_the_writers_own_metric_when_accounts_are_gathered(central: dict[str, Any]) -> None:
    resources = deployed(central, SourceAccountIds=",".join(LISTED))["Resources"]
    alarm = resources["AccountClashesAlarm"]["Properties"]
    variables = resources["StatusWriterFunction"]["Properties"]["Environment"]["Variables"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (variables["POWERTOOLS_METRICS_NAMESPACE"], CLASH_METRIC)
    assert alarm["Dimensions"] == [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]
    # One clash fires it: any is worth a look, and it returns to OK once they stop.
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == ("Sum", "GreaterThanThreshold", 0)


def test_the_stuck_check_reads_the_source_accounts_from_the_ingest_bus_policy(central: dict[str, Any]) -> None:
    from transcoder_status.stuck_check import accounts_allowed

    policy = central["Resources"]["IngestEventBus"]["Properties"]["Policy"]
    assert accounts_allowed(resolved(central, policy, SourceAccountIds=",".join(LISTED))) == tuple(LISTED)
    # An organization's policy names no account: discovery covers the stack's own account only.
    assert accounts_allowed(resolved(central, policy, SourceOrganizationId="o-a1b2c3d4e5")) == ()
    # EventBridge may answer with account root ARNs for the principals it was given as IDs.
    as_arns = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{LISTED[0]}:root"}}]}
    assert accounts_allowed(as_arns) == (LISTED[0],)
