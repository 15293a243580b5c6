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
            f"the central stack {central.name} has no ingest bus: provision it with SourceAccountIds, "
            "SourceOrganizationId or SourceRegions set"
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


def roles_must_exist() -> None:
    """moto's STS lets anyone assume any role ARN, existing or not; STS refuses a role that does not
    exist or does not trust the caller (AccessDenied,
    https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html). The emulator refuses
    a role that does not exist in its account, so that a reader role whose forwarder is not
    deployed is refused as on AWS. The StackSets execution role is taken to exist in every account,
    as service-managed StackSets create it. (Trust policies and identity policies are not evaluated.)"""
    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import STSBackend

    assume_role = STSBackend.assume_role
    if getattr(assume_role, "roles_must_exist", False):
        return

    def assume_existing_role(self: STSBackend, **request: Any) -> Any:
        role_arn = str(request["role_arn"])
        parts = role_arn.split(":")
        if len(parts) == 6 and not role_arn.endswith(f":role/{DEPLOYER_ROLE}"):
            try:
                iam_backends[parts[4]][parts[1]].get_role_by_arn(role_arn)
            except Exception:  # moto's IAMNotFoundException: the role does not exist there
                raise STSClientError(
                    "AccessDenied", f"Not authorized to perform: sts:AssumeRole on resource: {role_arn}"
                ) from None
        return assume_role(self, **request)

    assume_existing_role.roles_must_exist = True  # type: ignore[attr-defined]
    STSBackend.assume_role = assume_existing_role  # type: ignore[method-assign,assignment]
