"""The stuck check's source accounts, read from the ingest bus's policy: any policy shape IAM's
grammar allows, or a policy hand-edited into something else, gives accounts or none, never a crash
(a crash would lose the run's StuckJobs metric)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from transcoder_status import stuck_check
from transcoder_status.mediaconvert_clients import MediaConvertClients, Place
from transcoder_status.stuck_check import StuckCheck, accounts_allowed
from transcoder_status.table import StatusTable

ONE, TWO = "111122223333", "444455556666"
ALLOW_TWO = {"Effect": "Allow", "Principal": {"AWS": TWO}}


@pytest.mark.parametrize(
    ("policy", "accounts"),
    [
        # IAM's grammar: Statement is one statement or a list of them, AWS one principal or a list.
        ({"Statement": {"Effect": "Allow", "Principal": {"AWS": ONE}}}, (ONE,)),
        ({"Statement": [{"Effect": "Allow", "Principal": {"AWS": [ONE, f"arn:aws:iam::{TWO}:root"]}}]}, (ONE, TWO)),
        ({"Statement": [{"Effect": "Allow", "Principal": "*"}]}, ()),  # anyone (an organization's condition)
        ({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}}]}, ()),
        ({"Statement": [{"Effect": "Deny", "Principal": {"AWS": ONE}}]}, ()),
        # Not policies: nothing to name.
        ({"Statement": None}, ()),
        ({"Statement": ["oops", {"Effect": "Allow", "Principal": {"AWS": ONE}}]}, (ONE,)),
        ({"Statement": [{"Effect": "Allow", "Principal": {"AWS": {"nested": ONE}}}]}, ()),
        ([], ()),
        ("a string", ()),
    ],
)
def test_every_policy_shape_gives_its_accounts_or_none(policy: Any, accounts: tuple[str, ...]) -> None:
    assert accounts_allowed(policy) == accounts


class Events:
    def __init__(self, policy: str):
        self.policy = policy

    def describe_event_bus(self, Name: str) -> dict[str, Any]:
        return {"Name": Name, "Policy": self.policy}


def test_a_policy_that_is_not_json_is_said_and_the_check_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    check = StuckCheck(StatusTable("t", client=None), ingest_bus="ingest")  # type: ignore[arg-type]
    stopped: list[str] = []
    monkeypatch.setattr(stuck_check, "_events_client", lambda: Events("{not json"))
    assert check.source_accounts(stopped) == ()
    (reason,) = stopped
    assert "the source accounts are unknown" in reason and "ingest" in reason
    monkeypatch.setattr(
        stuck_check,
        "_events_client",
        lambda: Events(json.dumps({"Statement": {"Effect": "Allow", "Principal": {"AWS": ONE}}})),
    )
    assert check.source_accounts([]) == (ONE,)


def test_discovery_lists_the_stacks_own_account_in_the_source_regions_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The central account's other Regions send through a forwarder too (docs/multi-account.md):
    their running jobs with no row are found as the source accounts' are."""
    clients = MediaConvertClients("us-east-1", ONE)
    monkeypatch.setattr(stuck_check, "_events_client", lambda: Events(json.dumps({"Statement": [ALLOW_TWO]})))
    check = StuckCheck(StatusTable("t", client=None), source_regions=("eu-west-1", "us-east-1"), ingest_bus="b")  # type: ignore[arg-type]
    assert check.discovery_places(clients, []) == [
        Place(None, "us-east-1"),
        Place(None, "eu-west-1"),
        Place(TWO, "us-east-1"),
        Place(TWO, "eu-west-1"),
    ]
