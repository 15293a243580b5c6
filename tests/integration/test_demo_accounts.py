"""The local stack with two accounts and Regions, as ``demo --accounts 2`` runs it (issue 24): the
central account's own second Region, and the simulator's jobs in every account and Region."""

from __future__ import annotations

import json
import uuid

import boto3

from tests.integration.test_local_stack import new_stack
from tests.integration.test_multi_account import job_id, messages, new_account, run_job_in
from transcoder_status.local.accounts import SOURCE_ACCOUNT, SOURCE_REGION, provision_forwarder
from transcoder_status.local.bus_delivery import DELIVERIES
from transcoder_status.local.emulator import ACCOUNT, REGION, Emulator
from transcoder_status.local.fleet import HOME, SECOND_REGION, Where, places
from transcoder_status.local.mediaconvert import MediaConvertStandIn
from transcoder_status.local.provision import Stack
from transcoder_status.local.simulator import TranscoderSimulator
from transcoder_status.notification import Source


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


def test_the_simulator_runs_mediaconvert_jobs_in_each_place_and_loses_one_in_the_second_account(
    emulator: Emulator,
) -> None:
    mediaconvert = MediaConvertStandIn()
    simulator = TranscoderSimulator(
        Stack("unused", REGION), jobs=6, seed=5, mediaconvert=mediaconvert, places=places(2)
    )
    ran = [(job.where, job.lost_terminal) for job in simulator.jobs if job.source == Source.MEDIACONVERT]
    assert ran == [(HOME, False), (Where(SOURCE_ACCOUNT, SOURCE_REGION), True), (Where(ACCOUNT, SECOND_REGION), False)]
    # One account: the loss stays where it was, the last MediaConvert job to succeed.
    alone = TranscoderSimulator(Stack("unused", REGION), jobs=6, seed=5, mediaconvert=mediaconvert)
    assert {job.where for job in alone.jobs} == {HOME}
    assert [job.job_id for job in alone.jobs if job.lost_terminal] == [alone.jobs[3].job_id]
