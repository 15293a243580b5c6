"""The stand-in for EventBridge's delivery from a rule to an event bus of another account or Region.

moto matches a rule's pattern (its own matcher, ``Rule.send_to_targets``) but its delivery to a bus
elsewhere is not EventBridge's: it puts a new event stamped with the target's account and Region
(the source account and Region lost), and it never reads the target bus's resource policy. So, in
the emulator, a rule's targets that are a bus of another account or Region come here instead:

- the target bus's resource policy must let a source account other than the bus's own put events
  (its Principal, or ``aws:PrincipalOrgID`` for the source account's organization), as EventBridge
  requires (the bus's own account needs only the rule's role, unless the policy denies it):
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html; a target in
  another Region also needs the rule's role:
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-region.html
- a refused event is counted, logged, and sent to the target's dead-letter queue with the error as
  message attributes, without retries (a permission error is not retried):
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
- an accepted event reaches the target bus's rules as it was matched: its id, account, Region,
  time, resources and detail are the source's, as in
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html

It runs inside the emulator's EventBridge request, under the same lock as moto's own deliveries.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moto.events.models import Rule
    from moto.events.utils import EventMessageType

logger = logging.getLogger(__name__)


@dataclass
class Deliveries:
    """What the stand-in did since the emulator started: events delivered and refused."""

    delivered: int = 0
    refused: int = 0


DELIVERIES = Deliveries()
_count = threading.Lock()


def may_put_events(policy: dict[str, Any] | None, bus_arn: str, account: str, organization: str | None) -> bool:
    """Whether a bus policy lets ``account`` (in ``organization``, if any) put events on the bus.

    An explicit Deny wins; then an Allow whose principal is the account (its ID or root ARN) or
    anyone, and whose conditions, if any, hold. A condition this function does not know fails
    closed: an Allow's grants no one, a Deny's refuses everyone the Deny names, so an unknown policy
    refuses rather than lets through. The bus's own account (its other
    Regions' rules) needs no Allow: within one account the rule role's identity policy is enough,
    either the sender's role or the receiver's policy granting it
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-bus-to-bus.html,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html). The
    role's own policy is not evaluated here: a role without events:PutEvents on the bus would pass.
    """
    allowed = account == bus_arn.split(":")[4]
    if policy is None:
        return allowed
    for statement in _listed(policy.get("Statement", [])):
        deny = statement.get("Effect") == "Deny"
        if not _covers(statement, bus_arn, account, organization, unknown_holds=deny):
            continue
        if deny:
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _covers(
    statement: dict[str, Any], bus_arn: str, account: str, organization: str | None, *, unknown_holds: bool
) -> bool:
    """Whether the statement applies to ``account`` putting events on the bus; a condition this
    function does not know counts as ``unknown_holds``."""
    actions = _listed(statement.get("Action", []))
    if not any(action in ("events:PutEvents", "events:*", "*") for action in actions):
        return False
    if "Resource" in statement and not any(r in (bus_arn, "*") for r in _listed(statement["Resource"])):
        return False
    principal = statement.get("Principal")
    if principal != "*":
        named = _listed(principal.get("AWS", [])) if isinstance(principal, dict) else []
        partition = bus_arn.split(":")[1]
        if not {account, f"arn:{partition}:iam::{account}:root", "*"} & set(named):
            return False
    for operator, keys in statement.get("Condition", {}).items():
        for key, values in keys.items():
            if operator != "StringEquals" or key not in ("aws:PrincipalOrgID", "aws:PrincipalAccount"):
                if unknown_holds:
                    continue
                return False
            actual = organization if key == "aws:PrincipalOrgID" else account
            if actual is None or actual not in _listed(values):
                return False
    return True


def organization_of(account: str) -> str | None:
    """The AWS Organizations organization the emulator has the account in, if any."""
    from moto.organizations.models import organizations_backends

    management = organizations_backends.master_accounts.get(account)
    owner, partition = management if management else (account, "aws")
    backend = organizations_backends[owner][partition]
    return backend.org.id if backend.org is not None else None


def deliver(rule: Rule, target: dict[str, Any], event: EventMessageType) -> None:
    """Put ``event``, matched by ``rule`` (a moto Rule), on the bus that ``target`` names."""
    from moto.events.models import events_backends
    from moto.utilities.arns import parse_arn

    arn = parse_arn(target["Arn"])
    bus = events_backends[arn.account][arn.region].event_buses.get(arn.resource_id)
    if bus is None:
        _refuse(rule, target, event, "ResourceNotFoundException", f"Event bus {target['Arn']} does not exist.")
        return
    if arn.region != rule.region_name and "RoleArn" not in target:
        _refuse(rule, target, event, "NoRole", "A target event bus in another Region needs the rule's RoleArn.")
        return
    policy = json.loads(bus.policy) if bus.policy else None
    if not may_put_events(policy, bus.arn, rule.account_id, organization_of(rule.account_id)):
        message = f"Account {rule.account_id} may not put events on {bus.arn} (its policy)."
        _refuse(rule, target, event, "NotAuthorized", message)
        return
    with _count:
        DELIVERIES.delivered += 1
    for receiver in list(bus.rules.values()):
        receiver.send_to_targets(copy.deepcopy(event))


def _refuse(rule: Rule, target: dict[str, Any], event: EventMessageType, code: str, message: str) -> None:
    """Counted, logged, and put in the target's dead-letter queue with the attributes EventBridge sets."""
    from moto.sqs.models import sqs_backends
    from moto.utilities.arns import parse_arn

    with _count:
        DELIVERIES.refused += 1
    source = f"{rule.account_id}/{rule.region_name}"
    logger.warning("refused %s event %s -> %s: %s", source, event.get("id"), target["Arn"], message)
    queue = target.get("DeadLetterConfig", {}).get("Arn")
    if not queue:
        return
    arn = parse_arn(queue)
    attributes = {"ERROR_CODE": code, "ERROR_MESSAGE": message, "RULE_ARN": rule.arn, "TARGET_ARN": target["Arn"]}
    body: dict[str, Any] = dict(copy.deepcopy(event))
    body["time"] = _iso(body.get("time"))
    sqs_backends[arn.account][arn.region].send_message(
        queue_name=arn.resource_id,
        message_body=json.dumps(body),
        message_attributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    )


def _iso(time: Any) -> Any:
    """moto keeps an event's time as epoch seconds until it sends it; EventBridge sends ISO 8601."""
    from moto.core.utils import iso_8601_datetime_without_milliseconds, utcfromtimestamp

    return iso_8601_datetime_without_milliseconds(utcfromtimestamp(int(float(time)))) if time is not None else None


def _elsewhere(rule: Rule, targets: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The targets that are an event bus in another account or Region than the rule's."""
    from moto.utilities.arns import parse_arn

    found = []
    for target in targets:
        arn = parse_arn(target["Arn"])
        if (
            arn.service == "events"
            and arn.resource_type == "event-bus"
            and (arn.account, arn.region) != (rule.account_id, rule.region_name)
        ):
            found.append(target)
    return found


def deliver_between_buses() -> None:
    """Route moto's rules' targets in another account or Region through ``deliver`` (idempotent)."""
    from moto.events.models import Rule

    original = Rule.send_to_targets
    if getattr(original, "_bus_delivery", False):
        return

    def send_to_targets(self: Rule, original_event: EventMessageType, transform_input: bool = True) -> None:
        elsewhere = _elsewhere(self, self.targets)
        if not elsewhere:
            return original(self, original_event, transform_input)
        local = copy.copy(self)
        local.targets = [target for target in self.targets if target not in elsewhere]
        original(local, original_event, transform_input)
        if self.event_pattern.matches_event(original_event):  # moto's own matcher
            for target in elsewhere:
                deliver(self, target, copy.deepcopy(original_event))

    send_to_targets._bus_delivery = True  # type: ignore[attr-defined]
    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]  # moto's, replaced
