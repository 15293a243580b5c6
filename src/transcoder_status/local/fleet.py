"""Where the local stack's MediaConvert jobs run, for ``demo --accounts 2``: the central account's
Region, a second account's Region and the central account's own second Region, each with the
forwarder that carries its events to the central stack; and an account the central stack does not
list, whose forwarded event the ingest bus's policy refuses.

The central account's Region needs no forwarder (its default bus's rule feeds the queue); its other
Regions need one but no bus policy entry and no reader role (``bus_delivery``); another account
needs both, and ``SourceAccountIds`` names it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import boto3

from .accounts import SOURCE_ACCOUNT, SOURCE_REGION, account_session, provision_forwarder
from .emulator import ACCOUNT, REGION
from .messages import mediaconvert_event
from .provision import Stack

SECOND_REGION = "us-west-2"  # the central account's own second Region
ACCOUNT_CHOICES = (1, 2)


@dataclass(frozen=True)
class Where:
    """An account and Region that runs MediaConvert jobs."""

    account: str
    region: str

    def __str__(self) -> str:
        return f"{self.account}/{self.region}"


HOME = Where(ACCOUNT, REGION)
UNLISTED = Where("111122223333", SOURCE_REGION)  # has a forwarder, but the central stack does not list it


def places(accounts: int) -> tuple[Where, ...]:
    """Where MediaConvert jobs run with ``accounts`` accounts: the central account's Region first,
    then the other account, whose job the simulator's lost terminal event is (its repair needs the
    reader role)."""
    if accounts not in ACCOUNT_CHOICES:
        raise ValueError(f"the local stack runs 1 or 2 accounts, not {accounts}")
    if accounts == 1:
        return (HOME,)
    return (HOME, Where(SOURCE_ACCOUNT, SOURCE_REGION), Where(ACCOUNT, SECOND_REGION))


def fewest_jobs(where: Sequence[Where]) -> int:
    """The fewest simulated jobs that run a MediaConvert job in each of ``where``: the simulator's
    MediaConvert jobs are every other one and take the places in turn, and the one whose terminal
    event is lost is the second, in the second place. One place: any number of jobs."""
    return 1 if len(where) == 1 else 2 * len(where)


def central_parameters(where: Sequence[Where]) -> dict[str, str]:
    """The central stack's parameters for jobs run in ``where``: the accounts other than its own, and
    the Regions other than its own, where the stuck check discovers jobs too."""
    others = sorted({place.account for place in where} - {ACCOUNT})
    regions = sorted({place.region for place in where} - {REGION})
    return {"SourceAccountIds": ",".join(others), "SourceRegions": ",".join(regions)} if others else {}


def session_in(where: Where) -> boto3.Session:
    """A session acting in ``where``: the central account's own credentials, or an assumed role's."""
    if where.account == ACCOUNT:
        return boto3.Session(region_name=where.region)
    return account_session(where.account, where.region)


@dataclass
class Fleet:
    """The accounts and Regions provisioned around the central stack."""

    places: tuple[Where, ...]
    forwarders: dict[Where, Stack] = field(default_factory=dict)
    unlisted: Stack | None = None  # the forwarder in UNLISTED, with more than one account

    def reader_role(self, where: Where) -> str | None:
        """The reader role the central stack assumes to ask MediaConvert in ``where``, if any."""
        forwarder = self.forwarders.get(where)
        return forwarder.outputs.get("ReaderRoleArn") if forwarder is not None else None


def provision_fleet(central: Stack, where: Sequence[Where]) -> Fleet:
    """A forwarder in every place but the central stack's own; with other accounts, one more in an
    account the central stack does not list."""
    fleet = Fleet(tuple(where))
    for place in where:
        if place != HOME:
            # The reader role in the account's first Region; the central account needs none.
            role_region = REGION if place.account == ACCOUNT else place.region
            fleet.forwarders[place] = provision_forwarder(
                central, place.account, place.region, parameters={"ReaderRoleRegion": role_region}
            )
    if any(place.account != ACCOUNT for place in where):
        fleet.unlisted = provision_forwarder(central, UNLISTED.account, UNLISTED.region)
    return fleet


def send_from_unlisted(fleet: Fleet) -> str | None:
    """One MediaConvert event from the unlisted account, for the ingest bus to refuse; its job ID."""
    if fleet.unlisted is None:
        return None
    now_ms = int(time.time() * 1000)
    job_id = f"{now_ms}-unlist"
    event = mediaconvert_event(job_id, "COMPLETE", now_ms, account=UNLISTED.account, region=UNLISTED.region)
    session_in(UNLISTED).client("events").put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": event["resources"],
            }
        ]
    )
    return job_id


def refused(fleet: Fleet, job_id: str) -> bool:
    """Whether the unlisted account's event waits in its forwarder's dead-letter queue, refused by
    the ingest bus's policy (the attributes EventBridge sets say so)."""
    if fleet.unlisted is None:
        return False
    sqs = session_in(UNLISTED).client("sqs")
    # Visibility 0: looked at, left there for whoever looks next.
    found = sqs.receive_message(
        QueueUrl=fleet.unlisted.outputs["UndeliveredToCentralQueueUrl"],
        MaxNumberOfMessages=10,
        VisibilityTimeout=0,
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    for message in found:
        code = message.get("MessageAttributes", {}).get("ERROR_CODE")
        if json.loads(message["Body"]).get("detail", {}).get("jobId") == job_id and code is not None:
            return code.get("StringValue") == "NotAuthorized"
    return False


def assumed(role_arn: str) -> int:
    """How many times the emulator's STS has handed out ``role_arn``'s credentials: the stuck check
    asks another account's MediaConvert only through them."""
    from moto.sts.models import sts_backends

    account = role_arn.split(":")[4]
    return sum(role.role_arn == role_arn for role in sts_backends[account]["aws"].assumed_roles)
