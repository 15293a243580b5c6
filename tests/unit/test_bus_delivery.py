"""The bus policy as the local stack's delivery between buses reads it, for the bus's own account."""

from __future__ import annotations

from transcoder_status.local.bus_delivery import may_put_events

BUS_ARN = "arn:aws:events:us-east-1:123456789012:event-bus/central-ingest"
OWN = "123456789012"
OTHERS = {"Effect": "Allow", "Principal": {"AWS": ["444455556666"]}, "Action": "events:PutEvents", "Resource": BUS_ARN}


def test_the_buses_own_account_needs_no_policy_entry() -> None:
    # Within one account the rule's role (an identity policy) is enough: a bus policy that names only
    # other accounts, or none at all, does not keep the account's own other Regions out.
    assert may_put_events({"Statement": [OTHERS]}, BUS_ARN, OWN, None)
    assert may_put_events(None, BUS_ARN, OWN, None)
    # Other accounts still need theirs.
    assert not may_put_events(None, BUS_ARN, "444455556666", None)
    assert not may_put_events({"Statement": [OTHERS]}, BUS_ARN, "111122223333", None)


def test_an_explicit_deny_refuses_the_buses_own_account_too() -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "events:PutEvents", "Resource": BUS_ARN}
    assert not may_put_events({"Statement": [OTHERS, deny]}, BUS_ARN, OWN, None)


def test_a_deny_whose_condition_is_not_understood_refuses() -> None:
    # Unknown conditions fail closed: an Allow's grants no one, a Deny's refuses everyone it names.
    # The bus's own account needs no Allow, so a Deny skipped for its condition let it through.
    unless_listed = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "events:PutEvents",
        "Resource": BUS_ARN,
        "Condition": {"StringNotEquals": {"aws:PrincipalAccount": ["444455556666"]}},
    }
    assert not may_put_events({"Statement": [OTHERS, unless_listed]}, BUS_ARN, OWN, None)
    # Even the account it spares: not knowing the operator, the stand-in cannot tell, and refuses.
    assert not may_put_events({"Statement": [OTHERS, unless_listed]}, BUS_ARN, "444455556666", None)
