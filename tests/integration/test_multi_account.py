"""Many accounts and Regions, one table (issue 24): the forwarder in a second account and Region, the
central stack's ingest bus and its policy, on the local stack."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.integration.test_local_stack import new_stack, queue_attributes, wait_until
from tests.integration.test_poller import SETTLE_S, drained, poller
from transcoder_status.dead_letters import DeadLetterQueue
from transcoder_status.local.accounts import SOURCE_REGION, account_session, provision_forwarder
from transcoder_status.local.bus_delivery import DELIVERIES
from transcoder_status.local.emulator import ACCOUNT, REGION, Emulator
from transcoder_status.local.messages import mediaconvert_event
from transcoder_status.local.provision import ProvisioningError, Stack
from transcoder_status.status import JobStatus
from transcoder_status.table import StatusTable


def job_id() -> str:
    """A MediaConvert job ID: a millisecond timestamp and six base-36 characters."""
    return f"{int(time.time() * 1000)}-{uuid.uuid4().hex[:6]}"


def run_job_in(
    session: boto3.Session, job: str, status: str = "COMPLETE", metadata: dict[str, str] | None = None
) -> None:
    """MediaConvert's event for ``job`` on the default bus of the session's account and Region."""
    event = mediaconvert_event(job, status, int(time.time() * 1000), user_metadata=metadata)
    account = session.client("sts").get_caller_identity()["Account"]
    # The job's own ARNs name its account and Region, as MediaConvert's do.
    detail = json.loads(json.dumps(event["detail"]).replace(ACCOUNT, account).replace(REGION, session.region_name))
    resources = [arn.replace(ACCOUNT, account).replace(REGION, session.region_name) for arn in event["resources"]]
    response = session.client("events").put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(detail),
                "Resources": resources,
            }
        ]
    )
    assert response["FailedEntryCount"] == 0


def messages(url: str, session: boto3.Session | None = None) -> list[dict[str, Any]]:
    sqs = (session or boto3).client("sqs")
    found: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
    ).get("Messages", [])
    return found


def new_account() -> str:
    """An account of its own for each test: forwarders (and their rules) outlive a test in the emulator."""
    return f"{uuid.uuid4().int % 10**12:012d}"


@pytest.fixture
def account() -> str:
    return new_account()


@pytest.fixture
def central(emulator: Emulator, account: str) -> Stack:
    return new_stack(SourceAccountIds=account, MaximumBatchingWindowInSeconds=0)


@pytest.fixture
def source(emulator: Emulator, account: str) -> boto3.Session:
    return account_session(account, SOURCE_REGION)


def forwarder(central: Stack, account: str, **parameters: str) -> Stack:
    return provision_forwarder(central, account=account, parameters=parameters, stack_name=f"fw-{uuid.uuid4().hex[:8]}")


def test_a_second_accounts_event_reaches_the_central_queue_as_that_accounts(
    central: Stack, source: boto3.Session, account: str
) -> None:
    forwarding = forwarder(central, account)
    # The reader role the central stack may assume there: its name is the central stack's parameter.
    assert forwarding.outputs["ReaderRoleArn"] == f"arn:aws:iam::{account}:role/transcoder-status-reader"
    job = job_id()
    run_job_in(source, job)
    (message,) = messages(central.outputs["NotificationQueueUrl"])
    event = json.loads(message["Body"])
    # As EventBridge delivers between buses: the event as it was, from its own account and Region.
    assert (event["account"], event["region"], event["detail"]["jobId"]) == (account, SOURCE_REGION, job)
    assert event["resources"] == [f"arn:aws:mediaconvert:{SOURCE_REGION}:{account}:jobs/{job}"]


def test_a_job_in_the_second_account_and_region_ends_right_in_the_central_table(
    central: Stack, source: boto3.Session, account: str, tmp_path: Path
) -> None:
    forwarder(central, account)
    running, failed = job_id(), job_id()
    run_job_in(source, running, "PROGRESSING")
    run_job_in(source, failed, "ERROR")
    table = StatusTable(central.outputs["TableName"], boto3.client("dynamodb"))
    consumer = poller(central, None, tmp_path).start()  # the real status writer, in its own processes
    try:
        wait_until(lambda: drained(central) and table.get(failed) is not None, SETTLE_S)
    finally:
        consumer.stop()
    assert table.get(running).status is JobStatus.RUNNING  # type: ignore[union-attr]
    row = table.get(failed)
    assert row is not None and row.status is JobStatus.ERROR and row.finished
    assert queue_attributes(central.outputs["DeadLetterQueueUrl"])["ApproximateNumberOfMessages"] == "0"


def test_the_central_accounts_other_region_alone_reaches_the_central_queue(emulator: Emulator) -> None:
    """One account in two Regions (SourceRegions, no other account): the ingest bus, with no policy
    entry, takes the forwarder's events from the stack's own account."""
    central = new_stack(SourceRegions="us-west-2", MaximumBatchingWindowInSeconds=0)
    # Only this test's jobs: other tests' forwarders outlive them in this account and Region.
    mine = {"test": uuid.uuid4().hex}
    parameters = {
        "ReaderRoleRegion": "ap-south-1",  # IAM is global: the account's reader role is not this test's
        "MediaConvertUserMetadataKey": "test",
        "MediaConvertUserMetadataValue": mine["test"],
    }
    provision_forwarder(central, ACCOUNT, "us-west-2", parameters, stack_name=f"fw-{uuid.uuid4().hex[:8]}")
    job = job_id()
    run_job_in(boto3.Session(region_name="us-west-2"), job, metadata=mine)
    (message,) = messages(central.outputs["NotificationQueueUrl"])
    event = json.loads(message["Body"])
    assert (event["account"], event["region"], event["detail"]["jobId"]) == (ACCOUNT, "us-west-2", job)


def test_an_account_the_ingest_bus_does_not_list_is_refused(source: boto3.Session, account: str) -> None:
    central = new_stack(SourceAccountIds=f"{new_account()},{new_account()}")
    forwarding = forwarder(central, account)
    refused = DELIVERIES.refused
    run_job_in(source, job_id())
    assert DELIVERIES.refused == refused + 1
    assert messages(central.outputs["NotificationQueueUrl"]) == []
    # It waits in the forwarder's dead-letter queue, saying why, as EventBridge's would.
    (dead,) = messages(forwarding.outputs["UndeliveredToCentralQueueUrl"], source)
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NotAuthorized"
    assert account in attributes["ERROR_MESSAGE"]
    assert attributes["RULE_ARN"] == forwarding.outputs["ForwarderRuleArn"]
    assert json.loads(dead["Body"])["account"] == account


def test_an_organizations_accounts_are_let_in_and_others_refused(emulator: Emulator, account: str) -> None:
    organizations = boto3.client("organizations")
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    status = organizations.create_account(AccountName="media", Email="media@example.com")["CreateAccountStatus"]
    member = status["AccountId"]
    central = new_stack(SourceOrganizationId=organization)
    for sender in (member, account):  # a member, and an account of no organization
        forwarder(central, sender)
    delivered, refused = DELIVERIES.delivered, DELIVERIES.refused
    member_job, outsider_job = job_id(), job_id()
    run_job_in(account_session(member, SOURCE_REGION), member_job)
    run_job_in(account_session(account, SOURCE_REGION), outsider_job)
    assert (DELIVERIES.delivered, DELIVERIES.refused) == (delivered + 1, refused + 1)
    (message,) = messages(central.outputs["NotificationQueueUrl"])
    assert json.loads(message["Body"])["detail"]["jobId"] == member_job


def test_the_forwarder_and_the_ingest_rule_apply_the_metadata_filter(source: boto3.Session, account: str) -> None:
    central = new_stack(
        SourceAccountIds=account, MediaConvertUserMetadataKey="app", MediaConvertUserMetadataValue="vod"
    )
    rule = boto3.client("events").describe_rule(
        Name=central.refs["IngestMediaConvertJobStateRule"], EventBusName=central.refs["IngestEventBus"]
    )
    # The queue filter is each forwarder's: MediaConvertQueueArn names a queue of one account and Region.
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.mediaconvert"],
        "detail-type": ["MediaConvert Job State Change"],
        "detail": {"userMetadata": {"app": ["vod"]}},
    }
    forwarder(central, account, MediaConvertUserMetadataKey="app", MediaConvertUserMetadataValue="vod")
    wanted = job_id()
    delivered = DELIVERIES.delivered
    run_job_in(source, job_id(), metadata={"app": "other"})
    run_job_in(source, wanted, metadata={"app": "vod"})
    assert DELIVERIES.delivered == delivered + 1  # the other job never left its account
    (message,) = messages(central.outputs["NotificationQueueUrl"])
    assert json.loads(message["Body"])["detail"]["jobId"] == wanted


def test_the_ingest_bus_policy_names_exactly_the_listed_accounts(central: Stack, account: str) -> None:
    bus = boto3.client("events").describe_event_bus(Name=central.refs["IngestEventBus"])
    (statement,) = json.loads(bus["Policy"])["Statement"]
    assert statement["Principal"] == {"AWS": [account]}
    assert (statement["Action"], statement["Resource"]) == ("events:PutEvents", central.outputs["IngestEventBusArn"])
    # The queue takes the ingest rule's events, by that rule's ARN only.
    policy = json.loads(queue_attributes(central.outputs["NotificationQueueUrl"])["Policy"])
    sources = {
        s["Sid"]: s["Condition"]["ArnEquals"]["aws:SourceArn"] for s in policy["Statement"] if s["Effect"] == "Allow"
    }
    ingest_rule = boto3.client("events").describe_rule(
        Name=central.refs["IngestMediaConvertJobStateRule"], EventBusName=central.refs["IngestEventBus"]
    )["Arn"]
    assert sources["AllowOnlyTheIngestBusRule"] == ingest_rule


def test_a_single_account_stack_has_no_ingest_bus(emulator: Emulator) -> None:
    stack = new_stack()
    assert "IngestEventBusArn" not in stack.outputs and "IngestEventBus" not in stack.refs
    with pytest.raises(ValueError, match="SourceAccountIds"):
        forwarder(stack, new_account())


@pytest.mark.parametrize(
    ("parameters", "refusal"),
    [
        ({"SourceAccountIds": "12345"}, "must be 12-digit AWS account IDs"),
        ({"SourceAccountIds": "444455556666,abc"}, "must be 12-digit AWS account IDs"),
        ({"SourceOrganizationId": "org-1"}, "must be an organization ID"),
        (
            {"SourceAccountIds": "444455556666", "SourceOrganizationId": "o-a1b2c3d4e5"},
            "Set SourceAccountIds or SourceOrganizationId, not both",
        ),
        ({"SourceAccountIds": "444455556666", "EnableMediaConvert": "false"}, "EnableMediaConvert must be true"),
        ({"SourceRegions": "us-west-2", "EnableMediaConvert": "false"}, "EnableMediaConvert must be true"),
    ],
)
def test_source_parameters_are_checked_as_cloudformation_checks_them(
    emulator: Emulator, parameters: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(ProvisioningError, match=refusal):
        new_stack(**parameters)


def test_a_clash_keeps_the_first_accounts_row_and_takes_the_others_events_to_the_dlq(
    emulator: Emulator, source: boto3.Session, account: str, tmp_path: Path
) -> None:
    """The same job ID from the central account and then a source account (1 chance in 36^6 per pair
    of jobs of one millisecond): the row stays the first job's; the other's event goes through its
    MaxReceiveCount deliveries to the DLQ, where `dlq show` tells it from a write outage."""
    central = new_stack(SourceAccountIds=account, MaximumBatchingWindowInSeconds=0, MaxReceiveCount=2)
    forwarder(central, account)
    table = StatusTable(central.outputs["TableName"], boto3.client("dynamodb"))
    dlq = central.outputs["DeadLetterQueueUrl"]
    job = job_id()
    run_job_in(boto3.Session(region_name=REGION), job, "PROGRESSING")
    consumer = poller(central, None, tmp_path).start()  # the real status writer
    try:
        wait_until(lambda: table.get(job) is not None, SETTLE_S)
        run_job_in(source, job, "COMPLETE")
        wait_until(lambda: queue_attributes(dlq)["ApproximateNumberOfMessages"] == "1" and drained(central), SETTLE_S)
    finally:
        consumer.stop()
    row = table.get(job, attributes=None)
    assert row is not None and row.status is JobStatus.RUNNING
    assert (row.account, row.region) == (ACCOUNT, REGION)
    (letter,) = DeadLetterQueue.connect(dlq).look().letters
    assert (letter.job_id, json.loads(letter.body)["account"]) == (job, account)
    assert "two accounts' events for one row" in letter.reason and account in letter.reason
