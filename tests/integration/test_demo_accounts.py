"""The local stack with two accounts and Regions, as ``demo --accounts 2`` runs it (issue 24): the
central account's own second Region, and the simulator's jobs in every account and Region."""

from __future__ import annotations

import json
import uuid

import boto3

from tests.integration.test_local_stack import new_stack
from tests.integration.test_multi_account import job_id, messages, new_account, run_job_in
from transcoder_status.local.accounts import provision_forwarder
from transcoder_status.local.bus_delivery import DELIVERIES
from transcoder_status.local.emulator import ACCOUNT, REGION, Emulator

SECOND_REGION = "us-west-2"


def test_the_central_accounts_second_region_needs_no_bus_policy_entry(emulator: Emulator) -> None:
    # Only another account is listed: the central account's own Regions need no entry, as on AWS.
    central = new_stack(SourceAccountIds=new_account(), MaximumBatchingWindowInSeconds=0)
    provision_forwarder(
        central,
        account=ACCOUNT,
        region=SECOND_REGION,
        parameters={"ReaderRoleRegion": REGION},  # the central account reads its own jobs with no role
        stack_name=f"fw-{uuid.uuid4().hex[:8]}",
    )
    refused = DELIVERIES.refused
    job = job_id()
    run_job_in(boto3.Session(region_name=SECOND_REGION), job)
    assert DELIVERIES.refused == refused
    (message,) = messages(central.outputs["NotificationQueueUrl"])
    event = json.loads(message["Body"])
    assert (event["account"], event["region"], event["detail"]["jobId"]) == (ACCOUNT, SECOND_REGION, job)
