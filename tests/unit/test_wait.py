"""The polling loop of wait_all without I/O: UnprocessedKeys, backoff, timeouts."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from transcoder_status import client
from transcoder_status.client import (
    AsyncJobMonitor,
    Backoff,
    JobMonitor,
    JobWaitTimeout,
    StatusTableError,
    TransientReadError,
    _statuses,
    watch_jobs,
)
from transcoder_status.status import JobStatus
from transcoder_status.table import JobRow, StatusTable


class FlakyTable:
    """Answers BatchGetItem like DynamoDB under load: some keys come back unprocessed."""

    name = "flaky"

    def __init__(self, rows: dict[str, JobRow], unprocessed_rounds: int):
        self.rows = rows
        self.unprocessed_rounds = unprocessed_rounds
        self.requests: list[list[str]] = []

    def get_many(self, job_ids: Sequence[str], *, consistent: bool = True, attributes: Any = None) -> Any:
        self.requests.append(list(job_ids))
        if self.unprocessed_rounds > 0:
            self.unprocessed_rounds -= 1
            half = len(job_ids) // 2
            return [self.rows[j] for j in job_ids[:half] if j in self.rows], list(job_ids[half:])
        return [self.rows[j] for j in job_ids if j in self.rows], []


def done(job_id: str, status: JobStatus = JobStatus.SUCCESS) -> JobRow:
    return JobRow(job_id=job_id, status=status, finished=True)


def test_unprocessed_keys_are_retried_with_backoff() -> None:
    jobs = [f"job-{i}" for i in range(8)]
    table = FlakyTable({job: done(job) for job in jobs}, unprocessed_rounds=2)
    pauses: list[float] = []
    rounds = list(watch_jobs(jobs, table, backoff=Backoff(initial=1, maximum=4), sleep=pauses.append))  # type: ignore[arg-type]
    assert table.requests == [jobs, jobs[4:], jobs[6:]]
    assert len(rounds) == 1 and all(row is not None and row.finished for row in rounds[-1].values())
    assert len(pauses) == 2
    assert 0.5 <= pauses[0] <= 1 and 1 <= pauses[1] <= 2  # jittered, doubling


def test_more_than_100_jobs_are_read_100_at_a_time() -> None:
    jobs = [f"job-{i}" for i in range(230)]
    table = FlakyTable({job: done(job) for job in jobs}, unprocessed_rounds=0)
    list(watch_jobs(jobs, table, sleep=lambda _: None))  # type: ignore[arg-type]
    assert [len(request) for request in table.requests] == [100, 100, 30]


def test_timeout_reports_last_statuses() -> None:
    table = FlakyTable({"a": done("a", JobStatus.ERROR)}, unprocessed_rounds=0)
    with pytest.raises(JobWaitTimeout) as raised:
        list(watch_jobs(["a", "b"], table, timeout=0, sleep=lambda _: None))  # type: ignore[arg-type]
    assert raised.value.statuses == {"a": JobStatus.ERROR, "b": JobStatus.RUNNING}


def test_backoff_is_capped_and_jittered() -> None:
    delays = Backoff(initial=1, maximum=8).delays()
    values = [next(delays) for _ in range(10)]
    assert all(4 <= value <= 8 for value in values[4:])
    assert 0.5 <= values[0] <= 1


class FakeClock:
    """time.monotonic and time.sleep for the client module: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(client.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(client.time, "sleep", fake.sleep)
    return fake


class ThrottledTable(FlakyTable):
    """Sustained throttling: every key comes back unprocessed, every time."""

    def get_many(self, job_ids: Sequence[str], *, consistent: bool = True, attributes: Any = None) -> Any:
        self.requests.append(list(job_ids))
        assert len(self.requests) < 1_000, "still retrying unprocessed keys after 1,000 calls"
        return [], list(job_ids)


def test_timeout_holds_while_unprocessed_keys_are_retried(clock: FakeClock) -> None:
    """Review finding 5: under sustained throttling wait_all never returned."""
    table = ThrottledTable({}, unprocessed_rounds=0)
    with pytest.raises(JobWaitTimeout):
        list(watch_jobs(["a", "b"], table, timeout=0.5, sleep=clock.sleep))  # type: ignore[arg-type]
    assert sum(clock.slept) == pytest.approx(0.5)


def test_the_deadline_runs_from_the_call_not_from_the_first_round(clock: FakeClock) -> None:
    table = FlakyTable({}, unprocessed_rounds=3)  # the first round spends its time on retries
    jobs = ["a", "b", "c", "d"]
    rounds = watch_jobs(jobs, table, timeout=0.6, backoff=Backoff(0.4, 0.4), sleep=clock.sleep)  # type: ignore[arg-type]
    with pytest.raises(JobWaitTimeout):
        list(rounds)
    assert sum(clock.slept) == pytest.approx(0.6)
    assert table.requests.count(jobs) == 1  # the first round's retries used up the time: no second round


def test_job_monitor_wait_keeps_one_deadline(clock: FakeClock) -> None:
    monitor = JobMonitor("a", "t", client=object())  # type: ignore[arg-type]
    reads: list[float] = []
    monitor._table = RunningTable(reads, clock)  # type: ignore[assignment]
    started = clock.now
    with pytest.raises(JobWaitTimeout):
        monitor.wait(timeout=3)
    # Reads take 0.1 s each: the wait ends with one last read at the deadline, none after.
    assert 3 <= clock.now - started <= 3.1 + 1e-9


class RunningTable:
    """A row that stays RUNNING; each read takes a little time."""

    name = "t"

    def __init__(self, reads: list[float], clock: FakeClock):
        self.reads, self.clock = reads, clock

    def get(self, job_id: str, **_: Any) -> JobRow:
        self.clock.now += 0.1
        self.reads.append(self.clock.now)
        return JobRow(job_id=job_id, status=JobStatus.RUNNING, finished=False)


class FinishingTable:
    """A row that turns terminal at ``finish_at`` on the fake clock; each read takes 10 ms."""

    name = "t"

    def __init__(self, clock: FakeClock, finish_at: float):
        self.clock, self.finish_at, self.reads = clock, finish_at, 0

    def get(self, job_id: str, **_: Any) -> JobRow:
        self.clock.now += 0.01
        self.reads += 1
        finished = self.clock.now >= self.finish_at
        return JobRow(job_id=job_id, status=JobStatus.SUCCESS if finished else JobStatus.RUNNING, finished=finished)


@pytest.mark.parametrize("job_length_s", [0.3, 10, 60, 600])
def test_with_its_defaults_a_monitor_sees_a_job_finish_within_two_seconds(
    clock: FakeClock, job_length_s: float
) -> None:
    """Issue 10: the old default backoff grew to 10 s, so a long job was seen up to 10 s late."""
    monitor = JobMonitor("a", "t", client=object())  # type: ignore[arg-type]
    table = FinishingTable(clock, clock.now + job_length_s)
    monitor._table = table  # type: ignore[assignment]
    assert monitor.wait() is JobStatus.SUCCESS
    assert clock.now - table.finish_at <= 2.0 + 0.01  # the target: 2 s, plus the read that sees it
    waiting_minutes = max(job_length_s, 60) / 60
    assert table.reads / waiting_minutes <= 60  # reads per waiting minute stay bounded


@pytest.mark.parametrize("options", [{"initial": 5, "maximum": 1}, {"initial": 0}, {"initial": -1}, {"factor": 0.5}])
def test_a_backoff_whose_pauses_could_pass_its_maximum_is_refused(options: dict[str, float]) -> None:
    """Issue 20: Backoff(initial=5, maximum=1) paused up to 5 s, though a pause is never over maximum."""
    with pytest.raises(ValueError, match="initial <= maximum"):
        Backoff(**options)


class OutageTable(FlakyTable):
    """The network is down for the first ``outage`` calls (no DNS, no route), then the rows come back."""

    def __init__(self, rows: dict[str, JobRow], outage: int):
        super().__init__(rows, unprocessed_rounds=0)
        self.outage = outage
        self.client = boto3.client("dynamodb", region_name="us-east-1")

    def _down(self) -> None:
        if self.outage > 0:
            self.outage -= 1
            raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")

    def get(self, job_id: str, **_: Any) -> JobRow | None:
        self._down()
        return self.rows.get(job_id)

    def get_many(self, job_ids: Sequence[str], *, consistent: bool = True, attributes: Any = None) -> Any:
        self._down()
        return super().get_many(job_ids)


def test_a_wait_rides_out_a_network_outage_within_its_deadline(clock: FakeClock) -> None:
    """Issue 20: one EndpointConnectionError ended a wait of an hour."""
    monitor = JobMonitor("a", "t", client=object())  # type: ignore[arg-type]
    monitor._table = OutageTable({"a": done("a")}, outage=5)  # type: ignore[assignment]
    assert monitor.wait(timeout=3600) is JobStatus.SUCCESS
    table = OutageTable({"a": done("a"), "b": done("b", JobStatus.ERROR)}, outage=5)
    rounds = list(watch_jobs(["a", "b"], table, timeout=3600, sleep=clock.sleep))  # type: ignore[arg-type]
    assert _statuses(rounds[-1]) == {"a": JobStatus.SUCCESS, "b": JobStatus.ERROR}
    assert len(rounds) == 6


def test_an_outage_past_the_deadline_times_out_with_its_reason(clock: FakeClock) -> None:
    table = OutageTable({}, outage=1_000)
    with pytest.raises(JobWaitTimeout) as raised:
        list(watch_jobs(["a"], table, timeout=5, sleep=clock.sleep))  # type: ignore[arg-type]
    assert isinstance(raised.value.read_error, TransientReadError)
    assert "Cannot reach DynamoDB" in str(raised.value)


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("AccessDeniedException", "JobStatusReadPolicyArn"),
        ("ResourceNotFoundException", "does not exist"),
        ("UnrecognizedClientException", "rejected the credentials"),
    ],
)
def test_what_will_not_pass_ends_a_wait_at_once(clock: FakeClock, code: str, says: str) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_client_error("batch_get_item", code, "refused", http_status_code=400)
        with pytest.raises(StatusTableError, match=says) as raised:
            list(watch_jobs(["a"], StatusTable("t", client), timeout=3600, sleep=clock.sleep))
    assert not isinstance(raised.value, TransientReadError)
    assert clock.slept == []


class SlowTable(FlakyTable):
    """Each BatchGetItem takes ``seconds`` on the fake clock; no row is ever finished."""

    def __init__(self, clock: FakeClock, seconds: float):
        super().__init__({}, unprocessed_rounds=0)
        self.clock, self.seconds = clock, seconds

    def get_many(self, job_ids: Sequence[str], *, consistent: bool = True, attributes: Any = None) -> Any:
        self.clock.now += self.seconds
        return super().get_many(job_ids)


def test_the_deadline_is_checked_before_each_chunk_of_a_round(clock: FakeClock) -> None:
    """Issue 20: the deadline was checked between rounds only, so one round over 300 jobs ran on."""
    table = SlowTable(clock, seconds=0.6)
    started = clock.now
    with pytest.raises(JobWaitTimeout):
        list(watch_jobs([f"job-{i}" for i in range(1_000)], table, timeout=1, sleep=clock.sleep))  # type: ignore[arg-type]
    assert len(table.requests) == 2  # at 0 s and 0.6 s; at 1.2 s the deadline had passed
    assert clock.now - started == pytest.approx(1.2)


def test_a_round_that_starts_at_the_deadline_still_reads(clock: FakeClock) -> None:
    """The last pause is cut to end at the deadline: the read after it is the wait's last look."""
    table = SlowTable(clock, seconds=0.1)
    jobs = [f"job-{i}" for i in range(150)]
    with pytest.raises(JobWaitTimeout):
        list(watch_jobs(jobs, table, timeout=1, backoff=Backoff(2, 2), sleep=clock.sleep))  # type: ignore[arg-type]
    # Two chunks from 0 s; a pause of 1-2 s cut to the 0.8 s left; at 1 s, the first chunk only.
    assert [len(request) for request in table.requests] == [100, 50, 100]


class UnhurriedTable(FlakyTable):
    """Every job finished; each call takes a moment of real time, as a call over the network does."""

    def get(self, job_id: str, **_: Any) -> JobRow | None:
        time.sleep(0.01)
        return self.rows.get(job_id)

    def get_many(self, job_ids: Sequence[str], *, consistent: bool = True, attributes: Any = None) -> Any:
        time.sleep(0.01)
        return super().get_many(job_ids)


@pytest.mark.parametrize("timeout", [math.inf, 1e12])
def test_a_timeout_too_far_to_wait_for_means_no_deadline(timeout: float) -> None:
    """wait(timeout=math.inf) raised OverflowError: a read was waited for with the whole timeout left."""
    monitor = JobMonitor("a", "t", client=object())  # type: ignore[arg-type]
    monitor._table = UnhurriedTable({"a": done("a")}, unprocessed_rounds=0)  # type: ignore[assignment]
    assert monitor.wait(timeout=timeout) is JobStatus.SUCCESS
    table = UnhurriedTable({"a": done("a")}, unprocessed_rounds=0)
    assert _statuses(list(watch_jobs(["a"], table, timeout=timeout))[-1]) == {"a": JobStatus.SUCCESS}  # type: ignore[arg-type]


def test_a_wait_says_once_per_outage_that_it_is_retrying(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    """A wrong endpoint is retried like an outage: with no timeout, for ever. It was retried without a
    word (``transcoder-status watch JOB`` with a mistyped --endpoint-url hung, printing nothing)."""
    monitor = JobMonitor("a", "t", client=object())  # type: ignore[arg-type]
    monitor._table = OutageTable({"a": done("a")}, outage=5)  # type: ignore[assignment]
    table = OutageTable({"a": done("a")}, outage=5)
    with caplog.at_level(logging.WARNING, logger=client.__name__):
        assert monitor.wait() is JobStatus.SUCCESS
        assert len(list(watch_jobs(["a"], table, sleep=clock.sleep))) == 6  # type: ignore[arg-type]
    said = [record.getMessage() for record in caplog.records]
    assert len(said) == 2, said  # one line per outage (five failed reads each), not per read
    assert all("Cannot reach DynamoDB" in line and "retrying" in line for line in said), said


TRACE = contextvars.ContextVar[str]("TRACE")


class TracedTable(UnhurriedTable):
    """Records the caller's context each call runs in (a tracer's current span lives in one)."""

    def __init__(self, rows: dict[str, JobRow]):
        super().__init__(rows, unprocessed_rounds=0)
        self.seen: list[str | None] = []

    def get(self, job_id: str, **options: Any) -> JobRow | None:
        self.seen.append(TRACE.get(None))
        return super().get(job_id, **options)

    def get_many(self, job_ids: Sequence[str], *, consistent: bool = True, attributes: Any = None) -> Any:
        self.seen.append(TRACE.get(None))
        return super().get_many(job_ids)


def test_a_waits_reads_run_in_the_callers_context() -> None:
    """A read bounded by a deadline runs in a thread of its own: it lost the caller's context
    variables, so a tracer's DynamoDB spans (OpenTelemetry keeps the current span in one) lost
    their parent."""
    table = TracedTable({"a": done("a")})
    monitor = JobMonitor("a", "t", client=object())  # type: ignore[arg-type]
    monitor._table = table  # type: ignore[assignment]
    asyncer = AsyncJobMonitor("a", "t", client=object())  # type: ignore[arg-type]
    asyncer._monitor._table = table  # type: ignore[assignment]

    def waits() -> None:
        TRACE.set("span-1")
        monitor.wait(timeout=60)
        asyncio.run(asyncer.wait(timeout=60))
        list(watch_jobs(["a"], table, timeout=60))  # type: ignore[arg-type]

    contextvars.copy_context().run(waits)  # the variable is set for this test only
    assert table.seen == ["span-1"] * 3


def test_a_wait_that_times_out_logs_no_retry_it_will_not_make(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    table = OutageTable({}, outage=1_000)
    with caplog.at_level(logging.WARNING, logger=client.__name__), pytest.raises(JobWaitTimeout):
        list(watch_jobs(["a"], table, timeout=0, sleep=clock.sleep))  # type: ignore[arg-type]
    assert caplog.records == []  # the last read failed, and nothing is retried
