"""The local stack with two accounts and Regions, as ``demo --accounts 2`` runs it (issue 24): the
central account's own second Region, and the simulator's jobs in every account and Region."""

from __future__ import annotations

import json
import re
import uuid

import boto3

from tests.docs_blocks import ROOT
from tests.integration.test_local_stack import new_stack
from tests.integration.test_multi_account import job_id, messages, new_account, run_job_in
from transcoder_status.local.accounts import SOURCE_ACCOUNT, SOURCE_REGION, provision_forwarder
from transcoder_status.local.bus_delivery import DELIVERIES
from transcoder_status.local.demo import run_demo
from transcoder_status.local.emulator import ACCOUNT, REGION, Emulator
from transcoder_status.local.fleet import HOME, SECOND_REGION, Where, central_parameters, places
from transcoder_status.local.mediaconvert import MediaConvertStandIn
from transcoder_status.local.provision import Stack, provision
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


def test_the_two_account_demo_sample_holds_the_code_figures(emulator: Emulator) -> None:
    """docs/samples/demo-accounts.txt is a real run: its stack is the one --accounts 2 provisions, and
    it passed, with every place's jobs right."""
    sample = " ".join((ROOT / "docs/samples/demo-accounts.txt").read_text().split())  # it folds at 80
    resources = int(re.search(r"provisioned from template\.yaml: (\d+) resources", sample)[1])  # type: ignore[index]
    central = provision(f"docs-{uuid.uuid4().hex[:8]}", central_parameters(places(2)))
    assert resources == len(central.refs)
    jobs = run_demo.__defaults__[0]  # type: ignore[index]
    assert re.search(rf"PASS in [\d.]+ s: {jobs}/{jobs} jobs", sample), "run `make samples`"
    ran = re.search(r"where they ran: (.*?) Account", sample)[1]  # type: ignore[index]
    assert [place.split()[0] for place in ran.split(", ")] == [str(place) for place in places(2)]
    assert all(right == total for right, total in re.findall(r"(\d+)/(\d+)", ran))
