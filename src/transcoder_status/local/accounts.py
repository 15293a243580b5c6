"""Other accounts and Regions on the emulator: their credentials, and the forwarder stack in them.

moto keeps accounts apart by access key: the keys STS hands out for a role belong to the role's
account, so a session that assumed a role in account B acts in account B, as on AWS. The forwarder
(forwarder/template.yaml) is deployed there as a StackSet would deploy it, through such a role;
``bus_delivery`` carries its rule's events to the central stack's ingest bus.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3

from .provision import Stack, provision
from .template import load_template

# The forwarder template, shipped as package data (a symlink here), as template.yaml is.
FORWARDER_TEMPLATE = Path(__file__).with_name("forwarder.yaml")
# A second account and Region for the local stack (the central stack runs in emulator.ACCOUNT and REGION).
SOURCE_ACCOUNT = "444455556666"
SOURCE_REGION = "eu-west-1"
# The role StackSets' service-managed permissions deploy through in each member account.
DEPLOYER_ROLE = "stacksets-exec-transcoder-status"


def account_session(account: str, region: str, role: str = DEPLOYER_ROLE) -> boto3.Session:
    """A session acting in ``account`` and ``region``: the credentials of ``role`` there."""
    credentials = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="transcoder-status-local"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def provision_forwarder(
    central: Stack,
    account: str = SOURCE_ACCOUNT,
    region: str = SOURCE_REGION,
    parameters: Mapping[str, Any] | None = None,
    stack_name: str = "transcoder-status-forwarder",
) -> Stack:
    """Deploy forwarder/template.yaml in ``account`` and ``region``, pointed at the central stack's
    ingest bus (its IngestEventBusArn output: the central stack must name ``account``)."""
    if "IngestEventBusArn" not in central.outputs:
        raise ValueError(
            f"the central stack {central.name} has no ingest bus: provision it with SourceAccountIds "
            "or SourceOrganizationId set"
        )
    central_account = central.outputs["IngestEventBusArn"].split(":")[4]
    values = {
        "CentralEventBusArn": central.outputs["IngestEventBusArn"],
        "CentralAccountId": central_account,
        "ReaderRoleRegion": region,
        **(parameters or {}),
    }
    return provision(
        stack_name,
        values,
        region=region,
        template=load_template(FORWARDER_TEMPLATE),
        session=account_session(account, region),
        account=account,
    )
