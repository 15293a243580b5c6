"""Provision the emulator from template.yaml: the translated template's own resources, by API.

There is no second list of resources here. The SAM template is translated (``template.translate``),
its intrinsic functions resolved (Ref, GetAtt, Sub, If, Join, Select, conditions) and each resource
created from its own properties in dependency order. moto cannot run Lambda code without Docker and
its CloudFormation lacks some of these types, so the functions and their SQS trigger are not created:
they are returned as ``LocalFunction``s, a ``LocalTrigger`` for the event-source poller (SQS) and
a ``LocalStreamTrigger`` for ``local.stream_mapping`` (a DynamoDB stream). A scheduled rule is
created in EventBridge and recorded as a ``LocalSchedule``, for ``local.scheduler`` to run on a
timer (moto runs no function).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.events.models import EventPattern

from .emulator import ACCOUNT, REGION
from .template import load_template, translate

Resolved = dict[str, Any]


class ProvisioningError(RuntimeError):
    """The template asks for something the local stack cannot build; the message says what."""


@dataclass(frozen=True)
class LocalFunction:
    """A Lambda function the local stack runs in-process: its handler path and environment."""

    name: str
    handler: str
    environment: dict[str, str]
    timeout_s: int


@dataclass(frozen=True)
class LocalTrigger:
    """An SQS event source mapping, as the template configures it."""

    function: LocalFunction
    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window_s: float
    report_batch_item_failures: bool
    maximum_concurrency: int | None


@dataclass(frozen=True)
class LocalStreamTrigger:
    """A DynamoDB stream event source mapping, as the template configures it."""

    function: LocalFunction
    function_arn: str
    stream_arn: str
    starting_position: str
    batch_size: int
    batching_window_s: float
    report_batch_item_failures: bool
    bisect_on_error: bool
    maximum_retry_attempts: int  # -1: until the record leaves the stream
    on_failure_queue_url: str | None
    filters: tuple[str, ...]  # the FilterCriteria patterns, as written


@dataclass(frozen=True)
class LocalSchedule:
    """An EventBridge schedule rule and the function it invokes."""

    rule_name: str
    expression: str
    function: LocalFunction


@dataclass
class Stack:
    """What was provisioned: physical IDs, attributes, outputs, and the parts the poller runs."""

    name: str
    region: str
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    triggers: list[LocalTrigger] = field(default_factory=list)
    schedules: list[LocalSchedule] = field(default_factory=list)
    stream_triggers: list[LocalStreamTrigger] = field(default_factory=list)


def provision(
    stack_name: str = "transcoder-status-local",
    parameters: Mapping[str, Any] | None = None,
    region: str = REGION,
    template: dict[str, Any] | None = None,
    *,
    session: boto3.Session | None = None,
    account: str = ACCOUNT,
) -> Stack:
    """Create every resource of the (translated) template in the emulator the environment points at.

    ``session`` (its credentials and Region) and ``account`` deploy it in another account and Region
    of the emulator, as the account's own deployer would (moto keeps accounts apart by access key).
    A template without the SAM transform is plain CloudFormation, used as it is.
    """
    source = template or load_template()
    translated = translate(source, dict(parameters or {}), region) if "Transform" in source else source
    return _Builder(stack_name, region, translated, dict(parameters or {}), session=session, account=account).build()


class _Builder:
    def __init__(
        self,
        stack_name: str,
        region: str,
        template: dict[str, Any],
        overrides: dict[str, Any],
        *,
        session: boto3.Session | None = None,
        account: str = ACCOUNT,
    ):
        self.stack = Stack(stack_name, region)
        self.template = template
        # The account and Region the stack is deployed in: the environment's, or the session's.
        self.aws = session or boto3.Session()
        self.account = account
        self.parameters: dict[str, Any] = {
            name: overrides.get(name, spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()
        }
        self.parameters.update(
            {
                "AWS::Region": region,
                "AWS::AccountId": account,
                "AWS::Partition": "aws",
                "AWS::StackName": stack_name,
                "AWS::URLSuffix": "amazonaws.com",
            }
        )
        self._check_parameters(template.get("Parameters", {}))
        _check_rule_functions(template)
        # A list parameter's Ref is its list (CloudFormation trims each member's spaces).
        for name, spec in template.get("Parameters", {}).items():
            if spec.get("Type") == "CommaDelimitedList" and isinstance(self.parameters[name], str):
                self.parameters[name] = [member.strip() for member in self.parameters[name].split(",")]
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self._condition(name)
        self._check_rules(template.get("Rules", {}))
        self._check_mappings([template.get("Resources", {}), template.get("Outputs", {})])
        self.creators: dict[str, Callable[[str, Resolved], None]] = {
            "AWS::SNS::Topic": self._topic,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::SQS::Queue": self._queue,
            "AWS::SQS::QueuePolicy": self._queue_policy,
            "AWS::Events::Rule": self._rule,
            "AWS::DynamoDB::Table": self._table,
            "AWS::IAM::ManagedPolicy": self._managed_policy,
            "AWS::IAM::Role": self._role,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::CloudWatch::Dashboard": self._dashboard,
            "AWS::Lambda::Function": self._function,
            "AWS::Lambda::EventSourceMapping": self._event_source_mapping,
            "AWS::Lambda::Permission": self._permission,
            "AWS::Events::EventBus": self._event_bus,
        }

    # -- what CloudFormation checks before it creates anything ---------------------------------

    def _check_parameters(self, specs: dict[str, Any]) -> None:
        for name, spec in specs.items():
            given = self.parameters[name]
            value = ",".join(given) if isinstance(given, list) else str(given)
            problem = None
            if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
                problem = f"must be one of {spec['AllowedValues']}"
            elif "AllowedPattern" in spec and not all(
                re.fullmatch(spec["AllowedPattern"], member.strip())
                # A list's pattern applies to each of its members.
                for member in (value.split(",") if spec.get("Type") == "CommaDelimitedList" else [value])
            ):
                problem = spec.get("ConstraintDescription", f"must match {spec['AllowedPattern']}")
            elif "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
                problem = f"must be at most {spec['MaxLength']} characters"
            elif spec.get("Type") == "Number":
                number = float(value)
                if "MinValue" in spec and number < float(spec["MinValue"]):
                    problem = f"must be at least {spec['MinValue']}"
                elif "MaxValue" in spec and number > float(spec["MaxValue"]):
                    problem = f"must be at most {spec['MaxValue']}"
            if problem:
                raise ProvisioningError(f"Parameter {name}={value!r}: {problem}")

    def _check_rules(self, rules: dict[str, Any]) -> None:
        for name, rule in rules.items():
            if "RuleCondition" in rule and not self._resolve(rule["RuleCondition"]):
                continue
            for assertion in rule["Assertions"]:
                if not self._resolve(assertion["Assert"]):
                    raise ProvisioningError(f"Rule {name}: {assertion.get('AssertDescription', 'assertion failed')}")

    def _check_mappings(self, value: Any) -> None:
        """Every Fn::FindInMap found, as CloudFormation looks them up before it creates anything."""
        if isinstance(value, list):
            for item in value:
                self._check_mappings(item)
        elif isinstance(value, dict):
            if set(value) == {"Fn::FindInMap"}:
                self._resolve(value)
            for item in value.values():
                self._check_mappings(item)

    # -- resolution --------------------------------------------------------------------------

    def _condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self._resolve(self.template["Conditions"][name]))
        return self.conditions[name]

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self._resolve(v) for v in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = _INTRINSICS.get(key)
            if function is not None:
                return function(self, argument)
        resolved = {k: self._resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.stack.refs:
            return self.stack.refs[name]
        raise ProvisioningError(f"Ref to {name!r}, which is neither a parameter nor a created resource")

    def _get_att(self, argument: Any) -> str:
        logical, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        try:
            return self.stack.attributes[logical][attribute]
        except KeyError:
            raise ProvisioningError(f"GetAtt {logical}.{attribute} is not known to the local stack") from None

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        values = {name: self._resolve(v) for name, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                return self._get_att(name.split(".", 1))
            return str(self._ref(name))

        return re.sub(r"\$\{([^!}][^}]*)\}", replace, text)

    # -- building ------------------------------------------------------------------------------

    def build(self) -> Stack:
        resources = self.template["Resources"]
        wanted = {
            name: spec
            for name, spec in resources.items()
            if "Condition" not in spec or self._condition(spec["Condition"])
        }
        for name in _dependency_order(wanted):
            spec = wanted[name]
            creator = self.creators.get(spec["Type"])
            if creator is None:
                raise ProvisioningError(
                    f"{name} is a {spec['Type']}, which the local stack cannot create: add a creator "
                    "to transcoder_status.local.provision or leave the resource out of template.yaml"
                )
            creator(name, self._resolve(spec.get("Properties", {})))
        for name, output in self.template.get("Outputs", {}).items():
            if "Condition" not in output or self._condition(output["Condition"]):
                self.stack.outputs[name] = str(self._resolve(output["Value"]))
        return self.stack

    def _physical_name(self, logical: str) -> str:
        return f"{self.stack.name}-{logical}"

    def _arn(self, service: str, resource: str, region: str | None = None) -> str:
        return f"arn:aws:{service}:{self.stack.region if region is None else region}:{self.account}:{resource}"

    def _topic(self, logical: str, props: Resolved) -> None:
        attributes: dict[str, str] = {k: str(props[k]) for k in ("DisplayName", "KmsMasterKeyId") if k in props}
        arn = self.aws.client("sns").create_topic(
            Name=props.get("TopicName", self._physical_name(logical)), Attributes=attributes
        )["TopicArn"]
        self.stack.refs[logical] = arn
        self.stack.attributes[logical] = {"TopicArn": arn, "TopicName": arn.rsplit(":", 1)[1]}

    def _subscription(self, logical: str, props: Resolved) -> None:
        attributes = {
            key: json.dumps(value) if isinstance(value, dict) else str(value).lower()
            for key, value in props.items()
            if key in ("RawMessageDelivery", "FilterPolicy", "RedrivePolicy")
        }
        arn = self.aws.client("sns").subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self.stack.refs[logical] = arn

    def _queue(self, logical: str, props: Resolved) -> None:
        name = props.get("QueueName", self._physical_name(logical))
        attributes = {
            key: json.dumps(value)
            if isinstance(value, dict)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
            for key, value in props.items()
            if key
            in (
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "RedrivePolicy",
                "DelaySeconds",
                "ReceiveMessageWaitTimeSeconds",
                "SqsManagedSseEnabled",
                "KmsMasterKeyId",
                "KmsDataKeyReusePeriodSeconds",
                "MaximumMessageSize",
            )
        }
        sqs = self.aws.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.stack.refs[logical] = url
        self.stack.attributes[logical] = {"Arn": arn, "QueueName": name, "QueueUrl": url}

    def _queue_policy(self, logical: str, props: Resolved) -> None:
        for url in props["Queues"]:
            self.aws.client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
            )
        self.stack.refs[logical] = self._physical_name(logical)

    def _rule(self, logical: str, props: Resolved) -> None:
        events = self.aws.client("events")
        name = props.get("Name", self._physical_name(logical))
        request: dict[str, Any] = {
            "Name": name,
            "State": props.get("State", "ENABLED"),
            "Description": props.get("Description", ""),
        }
        bus = {"EventBusName": props["EventBusName"]} if "EventBusName" in props else {}
        request.update(bus)
        if "EventPattern" in props:
            pattern = props["EventPattern"]
            request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if "ScheduleExpression" in props:
            request["ScheduleExpression"] = props["ScheduleExpression"]
        arn = events.put_rule(**request)["RuleArn"]
        targets = [
            {
                key: _numbers(value)
                for key, value in target.items()
                if key in ("Id", "Arn", "RoleArn", "RetryPolicy", "DeadLetterConfig")
            }
            for target in props.get("Targets", [])
        ]
        if "ScheduleExpression" in props:
            # Recorded for the local stack, not registered: moto matches every event put on the bus
            # against a rule without a pattern (schedules too) and cannot deliver to a function.
            functions = {self.stack.attributes[key]["Arn"]: function for key, function in self.stack.functions.items()}
            self.stack.schedules.extend(
                LocalSchedule(name, props["ScheduleExpression"], functions[target["Arn"]])
                for target in targets
                if target["Arn"] in functions
            )
            targets = [target for target in targets if target["Arn"] not in functions]
        if targets:
            events.put_targets(Rule=name, Targets=targets, **bus)  # type: ignore[arg-type]
        self.stack.refs[logical] = name
        self.stack.attributes[logical] = {"Arn": arn}

    def _table(self, logical: str, props: Resolved) -> None:
        dynamodb = self.aws.client("dynamodb")
        name = props.get("TableName", self._physical_name(logical))
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if "GlobalSecondaryIndexes" in props:
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if "DeletionProtectionEnabled" in props:
            request["DeletionProtectionEnabled"] = _text(props["DeletionProtectionEnabled"]) == "true"
        sse = props.get("SSESpecification")
        if sse:
            request["SSESpecification"] = {
                "Enabled": bool(sse.get("SSEEnabled")),
                **{key: sse[key] for key in ("SSEType", "KMSMasterKeyId") if key in sse},
            }
        stream = props.get("StreamSpecification")
        if stream:
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        description = dynamodb.create_table(**request)["TableDescription"]
        arn = description["TableArn"]
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        recovery = props.get("PointInTimeRecoverySpecification")
        if recovery:
            dynamodb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification=recovery,
            )
        self.stack.refs[logical] = name
        self.stack.attributes[logical] = {"Arn": arn}
        if stream:
            self.stack.attributes[logical]["StreamArn"] = description["LatestStreamArn"]

    def _managed_policy(self, logical: str, props: Resolved) -> None:
        arn = self.aws.client("iam").create_policy(
            PolicyName=props.get("ManagedPolicyName", self._physical_name(logical)),
            PolicyDocument=json.dumps(props["PolicyDocument"]),
            Description=props.get("Description", ""),
        )["Policy"]["Arn"]
        self.stack.refs[logical] = arn

    def _role(self, logical: str, props: Resolved) -> None:
        # The local poller runs with the caller's credentials; the role is named, not enforced. It
        # exists in the account's IAM, so that it can be assumed there (accounts.roles_must_exist).
        name = props.get("RoleName", self._physical_name(logical))
        iam = self.aws.client("iam")
        try:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]))
        except iam.exceptions.EntityAlreadyExistsException:  # provisioned again in the same emulator
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]))
        self.stack.refs[logical] = name
        self.stack.attributes[logical] = {"Arn": self._arn("iam", f"role/{name}", region="")}

    def _log_group(self, logical: str, props: Resolved) -> None:
        name = props["LogGroupName"]
        logs = self.aws.client("logs")
        if "KmsKeyId" in props:
            logs.create_log_group(logGroupName=name, kmsKeyId=props["KmsKeyId"])
        else:
            logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in props:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        self.stack.refs[logical] = name

    def _alarm(self, logical: str, props: Resolved) -> None:
        name = props.get("AlarmName", self._physical_name(logical))
        request: dict[str, Any] = {
            "AlarmName": name,
            "AlarmDescription": props.get("AlarmDescription", ""),
            "EvaluationPeriods": int(props["EvaluationPeriods"]),
            "Threshold": float(props["Threshold"]),
            "ComparisonOperator": props["ComparisonOperator"],
            "TreatMissingData": props.get("TreatMissingData", "missing"),
            "AlarmActions": props.get("AlarmActions", []),
        }
        if "DatapointsToAlarm" in props:
            request["DatapointsToAlarm"] = int(props["DatapointsToAlarm"])
        if "Metrics" in props:  # a metric math alarm
            request["Metrics"] = [
                {**query, "MetricStat": {**query["MetricStat"], "Period": int(query["MetricStat"]["Period"])}}
                if "MetricStat" in query
                else query
                for query in props["Metrics"]
            ]
        else:
            request.update(
                Namespace=props["Namespace"],
                MetricName=props["MetricName"],
                Dimensions=props.get("Dimensions", []),
                Statistic=props["Statistic"],
                Period=int(props["Period"]),
            )
        self.aws.client("cloudwatch").put_metric_alarm(**request)
        self.stack.refs[logical] = name

    def _dashboard(self, logical: str, props: Resolved) -> None:
        name = props.get("DashboardName", self._physical_name(logical))
        body = props["DashboardBody"]
        self.aws.client("cloudwatch").put_dashboard(
            DashboardName=name, DashboardBody=body if isinstance(body, str) else json.dumps(body)
        )
        self.stack.refs[logical] = name

    def _permission(self, logical: str, props: Resolved) -> None:
        # Who may invoke a function: recorded, not enforced (the local stack invokes its functions itself).
        self.stack.refs[logical] = f"{self.stack.name}-{logical}"

    def _function(self, logical: str, props: Resolved) -> None:
        name = props.get("FunctionName", self._physical_name(logical))
        variables = props.get("Environment", {}).get("Variables", {})
        self.stack.functions[logical] = LocalFunction(
            name=name,
            handler=props["Handler"],
            environment={key: str(value) for key, value in variables.items()},
            timeout_s=int(props.get("Timeout", 3)),
        )
        self.stack.refs[logical] = name
        self.stack.attributes[logical] = {"Arn": self._arn("lambda", f"function:{name}")}

    def _event_source_mapping(self, logical: str, props: Resolved) -> None:
        function = next(f for f in self.stack.functions.values() if f.name == props["FunctionName"])
        if ":dynamodb:" in props["EventSourceArn"]:
            self._stream_mapping(logical, function, props)
            return
        queue_arn = props["EventSourceArn"]
        queue = next(a for a in self.stack.attributes.values() if a.get("Arn") == queue_arn)
        scaling = props.get("ScalingConfig", {})
        self.stack.triggers.append(
            LocalTrigger(
                function=function,
                queue_arn=queue_arn,
                queue_url=queue["QueueUrl"],
                batch_size=int(props.get("BatchSize", 10)),
                batching_window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                maximum_concurrency=int(scaling["MaximumConcurrency"]) if "MaximumConcurrency" in scaling else None,
            )
        )
        self.stack.refs[logical] = f"{self.stack.name}-{logical}"

    def _event_bus(self, logical: str, props: Resolved) -> None:
        unknown = set(props) - {"Name", "Description", "Policy"}
        if unknown:
            raise ProvisioningError(f"{logical}: the local stack cannot create an event bus with {sorted(unknown)}")
        request = {key: props[key] for key in ("Name", "Description") if key in props}
        events = self.aws.client("events")
        arn = events.create_event_bus(**request)["EventBusArn"]
        if "Policy" in props:  # moto stores it; local.bus_delivery enforces it
            events.put_permission(EventBusName=props["Name"], Policy=json.dumps(props["Policy"]))
        self.stack.refs[logical] = props["Name"]
        self.stack.attributes[logical] = {"Arn": arn, "Name": props["Name"]}

    def _stream_mapping(self, logical: str, function: LocalFunction, props: Resolved) -> None:
        """A DynamoDB stream's mapping, for ``local.stream_mapping`` to run, with only the settings it
        applies; anything else is refused here rather than ignored there."""
        applied = {
            "FunctionName",
            "EventSourceArn",
            "StartingPosition",
            "BatchSize",
            "MaximumBatchingWindowInSeconds",
            "FunctionResponseTypes",
            "BisectBatchOnFunctionError",
            "MaximumRetryAttempts",
            "DestinationConfig",
            "FilterCriteria",
        }
        # Accepted, as they change nothing here: the age limit (moto keeps every record) and a
        # ParallelizationFactor of 1 (one batch of a shard at a time).
        unknown = set(props) - applied - {"MaximumRecordAgeInSeconds", "ParallelizationFactor"}
        if unknown or int(props.get("ParallelizationFactor", 1)) != 1:
            raise ProvisioningError(f"{logical}: the local stream mapping does not run {sorted(unknown)}")
        streams = {a["StreamArn"] for a in self.stack.attributes.values() if "StreamArn" in a}
        if props["EventSourceArn"] not in streams:
            raise ProvisioningError(f"{logical}: the local stream mapping reads only a DynamoDB stream of this stack")
        position = props.get("StartingPosition", "TRIM_HORIZON")
        if position not in ("TRIM_HORIZON", "LATEST"):
            raise ProvisioningError(f"{logical}: a DynamoDB stream starts at TRIM_HORIZON or LATEST, not {position}")
        filters = tuple(str(f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", []))
        for pattern in filters:
            try:
                EventPattern.load(pattern)  # moto's parser: what EventBridge refuses, it refuses
            except Exception as error:
                raise ProvisioningError(f"{logical}: filter {pattern!r}: {error}") from None
        on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        queue_url = None
        if on_failure is not None:
            queues = [a for a in self.stack.attributes.values() if a.get("Arn") == on_failure and "QueueUrl" in a]
            if not queues:
                raise ProvisioningError(f"{logical}: the local stream mapping's on-failure destination must be a queue")
            queue_url = queues[0]["QueueUrl"]
        logical_function = next(k for k, f in self.stack.functions.items() if f is function)
        self.stack.stream_triggers.append(
            LocalStreamTrigger(
                function=function,
                function_arn=self.stack.attributes[logical_function]["Arn"],
                stream_arn=props["EventSourceArn"],
                starting_position=position,
                batch_size=int(props.get("BatchSize", 100)),
                batching_window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                on_failure_queue_url=queue_url,
                filters=filters,
            )
        )
        self.stack.refs[logical] = f"{self.stack.name}-{logical}"


def _numbers(value: Any) -> Any:
    """Template numbers as the API's integers (a parameter may have made them strings)."""
    if isinstance(value, dict):
        return {key: int(item) if key.startswith("Maximum") else item for key, item in value.items()}
    return value


class _NoValue:
    """AWS::NoValue: the property or list item is dropped."""


_NO_VALUE = _NoValue()


def _fn_if(builder: _Builder, argument: list[Any]) -> Any:
    condition, when_true, when_false = argument
    return builder._resolve(when_true if builder._condition(condition) else when_false)


def _text(value: Any) -> Any:
    """A scalar as CloudFormation compares it: parameter values and template literals are strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


def _find_in_map(builder: _Builder, argument: list[Any]) -> Any:
    name, top, second = (str(builder._resolve(part)) for part in argument)
    try:
        return builder.template["Mappings"][name][top][second]
    except KeyError:
        # CloudFormation refuses the template so, before it creates anything.
        raise ProvisioningError(f"Fn::FindInMap: mapping {name} has no {top}.{second}") from None


# CloudFormation's rule functions: only they (and Ref to a parameter) may be used in Rules, and those
# of them that are not condition functions work nowhere else. It refuses the template otherwise:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-rules.html
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html
_RULES_ONLY = frozenset(
    {"Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn", "Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll"}
)
_RULE_FUNCTIONS = _RULES_ONLY | {"Ref", "Fn::And", "Fn::Equals", "Fn::If", "Fn::Not", "Fn::Or"}


def _functions(value: Any) -> set[str]:
    """The intrinsic functions (and Condition references) a template value calls."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _functions(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            (key,) = value
            if key in ("Ref", "Condition") or key.startswith("Fn::"):
                found.add(key)
        for item in value.values():
            found |= _functions(item)
    return found


def _check_rule_functions(template: dict[str, Any]) -> None:
    """Rule functions in Rules only, only rule functions there, and each one evaluated here: a rule
    function this stand-in does not know would otherwise resolve to a dict, taken as true."""
    for name, rule in template.get("Rules", {}).items():
        used = _functions(rule)
        if used - _RULE_FUNCTIONS:
            raise ProvisioningError(
                f"Rule {name}: {', '.join(sorted(used - _RULE_FUNCTIONS))} cannot be used in a rule"
            )
        if used - set(_INTRINSICS):
            unknown = ", ".join(sorted(used - set(_INTRINSICS)))
            raise ProvisioningError(
                f"Rule {name}: the local stack does not evaluate {unknown}: add it to transcoder_status.local.provision"
            )
    for section in ("Conditions", "Resources", "Outputs"):
        misplaced = _functions(template.get(section, {})) & _RULES_ONLY
        if misplaced:
            raise ProvisioningError(f"{section}: {', '.join(sorted(misplaced))} works only in Rules")


_INTRINSICS: dict[str, Callable[[_Builder, Any], Any]] = {
    "Ref": lambda b, a: b._ref(a),
    "Fn::GetAtt": lambda b, a: b._get_att(a),
    "Fn::Sub": lambda b, a: b._sub(a),
    "Fn::If": _fn_if,
    "Fn::Equals": lambda b, a: _text(b._resolve(a[0])) == _text(b._resolve(a[1])),
    # Rules only (_check_rule_functions): whether the list holds the value.
    "Fn::Contains": lambda b, a: _text(b._resolve(a[1])) in [_text(item) for item in b._resolve(a[0])],
    "Fn::FindInMap": _find_in_map,
    "Fn::And": lambda b, a: all(b._resolve(x) for x in a),
    "Fn::Or": lambda b, a: any(b._resolve(x) for x in a),
    "Fn::Not": lambda b, a: not b._resolve(a[0]),
    "Condition": lambda b, a: b._condition(a),
    "Fn::Join": lambda b, a: a[0].join(str(x) for x in b._resolve(a[1])),
    "Fn::Select": lambda b, a: b._resolve(a[1])[int(b._resolve(a[0]))],
    "Fn::Split": lambda b, a: str(b._resolve(a[1])).split(a[0]),
    # Rules only: whether every member of the list is the value.
    "Fn::EachMemberEquals": lambda b, a: all(_text(item) == _text(b._resolve(a[1])) for item in b._resolve(a[0])),
    # Rules only: whether every member of the list is one of the values.
    "Fn::EachMemberIn": lambda b, a: (
        {_text(item) for item in b._resolve(a[0])} <= {_text(item) for item in b._resolve(a[1])}
    ),
}


def _references(value: Any) -> set[str]:
    """Logical IDs a property tree refers to (Ref, GetAtt, and ${...} in Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else item.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found |= {name.split(".", 1)[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)}
                if not isinstance(item, str):
                    found |= _references(item[1])
            else:
                found |= _references(item)
    return found


def _dependency_order(resources: Mapping[str, Any]) -> list[str]:
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ProvisioningError(f"circular reference through {name}")
        visiting.add(name)
        spec = resources[name]
        depends = spec.get("DependsOn", [])
        for dependency in sorted(
            (_references(spec.get("Properties", {})) | set([depends] if isinstance(depends, str) else depends))
            & set(resources)
        ):
            visit(dependency)
        visiting.discard(name)
        order.append(name)

    for name in resources:
        visit(name)
    return order
