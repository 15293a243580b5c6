"""JobMonitor's promises when the table fails, against botocore's Stubber: no emulator, no network."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from transcoder_status.client import JobMonitor
from transcoder_status.status import JobStatus, ProcessStatus


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def throttle(stubber: Stubber) -> None:
    stubber.add_client_error("get_item", "ThrottlingException", "Rate exceeded", http_status_code=400)


def test_stop_never_raises_on_a_throttled_read_and_ends_aborted(stubbed: tuple[Any, Stubber]) -> None:
    """Issue 20: stop() raised TransientReadError and left the monitor IN_PROGRESS."""
    client, stubber = stubbed
    monitor = JobMonitor("1502631977930-rabioh", "t", client=client)
    monitor.start()
    throttle(stubber)
    monitor.stop()
    assert (monitor.process_status(), monitor.job_status()) == (ProcessStatus.ABORTED, JobStatus.UNKNOWN)
    assert monitor.finished()


def test_leaving_a_with_block_never_raises_on_a_failed_read(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    throttle(stubber)
    with JobMonitor("1502631977930-rabioh", "t", client=client) as monitor:
        pass
    assert monitor.process_status() is ProcessStatus.ABORTED


def test_stop_still_sees_a_job_that_finished(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    monitor = JobMonitor("1502631977930-rabioh", "t", client=client)
    monitor.start()
    item = {"jobId": {"S": monitor.job_id}, "status": {"S": "SUCCESS"}, "finished": {"BOOL": True}}
    stubber.add_response("get_item", {"Item": item})
    monitor.stop()
    assert (monitor.process_status(), monitor.job_status()) == (ProcessStatus.FINISHED, JobStatus.SUCCESS)
