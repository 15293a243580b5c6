"""Faults for the integration tests, on the local stack's fault proxy (bench.soak.faults)."""

from __future__ import annotations

from bench.soak.faults import AwsError, Call, Fault, FaultProxy

__all__ = ["Fault", "FaultProxy", "always", "deny", "throttle_jobs"]


def throttle_jobs(job_ids: set[str], operation: str = "UpdateItem") -> Fault:
    def fault(call: Call) -> AwsError | None:
        if call.operation == operation and call.body.get("Key", {}).get("jobId", {}).get("S") in job_ids:
            return AwsError(400, "ProvisionedThroughputExceededException", "Throughput exceeds the table's limit.")
        return None

    return fault


def always(operations: str | tuple[str, ...], status: int, error_type: str, message: str) -> Fault:
    operations = (operations,) if isinstance(operations, str) else operations

    def fault(call: Call) -> AwsError | None:
        return AwsError(status, error_type, message) if call.operation in operations else None

    return fault


def deny(operation: str) -> Fault:
    return always(operation, 400, "AccessDeniedException", f"User is not authorized to perform: dynamodb:{operation}")
