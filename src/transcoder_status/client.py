"""Wait for transcoding jobs: ``JobMonitor`` (one job) and ``wait_all`` (many), reading the table.

The verbs are the old SqsWorker's (start, stop, finished, job_status, process_status), so that
migrating is a rename; each read is one GetItem of only the attributes it needs. Nothing here
consumes the queue: any number of monitors, on any number of machines, can watch the same job.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from .aws_errors import NO_CREDENTIALS, NO_REGION
from .status import JobStatus, ProcessStatus
from .table import (
    ALL_ATTRIBUTES,
    PROGRESS_ATTRIBUTES,
    STATUS_ATTRIBUTES,
    JobRow,
    StatusTable,
    table_name_from_env,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

BATCH_GET_LIMIT = 100  # keys per BatchGetItem call
# A read of a client built here gives up within seconds (two attempts of 2 s connect + 2 s read at
# worst), not botocore's minute; waits themselves retry what passes, on their own schedule.
CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 2
READ_ATTEMPTS = 2
CLIENT_CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
    retries={"mode": "standard", "total_max_attempts": READ_ATTEMPTS},
)
# A wait's call started before its deadline may run this long past it (one connect timeout): so a
# last read at the deadline still gets an answer, and a silent endpoint costs the deadline plus this.
LAST_READ_S = float(CONNECT_TIMEOUT_S)


class StatusTableError(RuntimeError):
    """The status table cannot be read; the message says what to check."""


class TransientReadError(StatusTableError):
    """A read failed for a reason that may pass (throttling, a timeout, a 5xx, no connection):
    waits try again until their deadline. Every other StatusTableError ends a wait at once."""


class JobWaitTimeout(TimeoutError):
    """The jobs did not all finish in time. ``statuses`` has the last status seen of each job;
    ``read_error``, if the last read failed, why (a StatusTableError, also the ``__cause__``)."""

    def __init__(self, statuses: dict[str, JobStatus], timeout: float, read_error: StatusTableError | None = None):
        self.statuses = statuses
        self.read_error = read_error
        pending = sorted(job for job, status in statuses.items() if not status.terminal)
        shown = ", ".join(pending[:5]) + (f" and {len(pending) - 5} more" if len(pending) > 5 else "")
        reason = f" (the last read failed: {read_error})" if read_error else ""
        super().__init__(f"{len(pending)} job(s) not finished after {timeout:g} s: {shown}{reason}")


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter, for polling the table.

    The defaults keep a waiting client close behind the job: a pause is never over ``maximum``
    (2 s), so a finished job is seen at most 2 s (plus one read) after its row turns terminal,
    however long it ran, for about 40 reads a minute (a pause averages 1.5 s once at the cap).
    An ``initial`` over ``maximum`` (or not positive, or a ``factor`` under 1) is refused: ValueError.
    """

    initial: float = 0.5
    maximum: float = 2.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum or self.factor < 1:
            raise ValueError(
                f"{self!r}: a backoff needs 0 < initial <= maximum and factor >= 1, "
                "so that its pauses grow from initial and never pass maximum."
            )

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            # Equal jitter: never less than half the step, so pollers spread out but keep pace.
            # Jitter, not a secret: the standard generator is right here.
            yield delay / 2 + random.uniform(0, delay / 2)  # nosec B311
            delay = min(self.maximum, delay * self.factor)


class Deadline:
    """One deadline for a whole call, fixed when the call starts (None: no deadline)."""

    def __init__(self, timeout: float | None):
        self.timeout = timeout
        self._at = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        return None if self._at is None else self._at - time.monotonic()

    def passed(self) -> bool:
        remaining = self.remaining()
        return remaining is not None and remaining <= 0

    def bounded(self, call: Callable[[], _T]) -> _T:
        """``call()``, waited for until the deadline, or LAST_READ_S if that is later.

        The client's own timeouts cannot be changed per call, so a call still running then is
        left to its daemon thread (the client's timeouts end it) and seen as a read that failed.
        """
        remaining = self.remaining()
        if remaining is None or remaining >= threading.TIMEOUT_MAX:  # none, or too far to wait for (math.inf)
            return call()
        answered = threading.Event()
        results: list[_T] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                results.append(call())
            except BaseException as error:  # handed to the waiting caller, whatever it is
                errors.append(error)
            finally:
                answered.set()

        # In the caller's context, as a call made in place is (a tracer's current span lives there).
        threading.Thread(target=contextvars.copy_context().run, args=(run,), name="status-read", daemon=True).start()
        if not answered.wait(max(remaining, LAST_READ_S)):
            raise _Late
        if errors:
            raise errors[0]
        return results[0]

    def cut(self, pause: float) -> float | None:
        """The pause, shortened to the time left; None once the deadline has passed."""
        remaining = self.remaining()
        if remaining is None:
            return pause
        return None if remaining <= 0 else min(pause, remaining)

    def pauses(self, backoff: Backoff) -> Iterator[float]:
        """Backoff delays cut to the time left; ends when the deadline has passed."""
        for delay in backoff.delays():
            pause = self.cut(delay)
            if pause is None:
                return
            yield pause


NO_DEADLINE = Deadline(None)


class _Late(Exception):
    """A wait's call that had not answered by the wait's deadline (explained_errors says so)."""


class _Waiting:
    """The pacing of one wait, shared by the blocking and the asyncio loops: after each read, the
    pause before the next, or None when the job finished; JobWaitTimeout once time is up."""

    def __init__(self, job_id: str, timeout: float | None, backoff: Backoff):
        self.job_id, self.timeout = job_id, timeout
        self.deadline = Deadline(timeout)
        self._pauses = self.deadline.pauses(backoff)
        self._failing = False

    def after(self, status: JobStatus, failure: TransientReadError | None) -> float | None:
        if status is not JobStatus.RUNNING:
            return None
        pause = next(self._pauses, None)
        if pause is None:
            raise JobWaitTimeout({self.job_id: status}, self.timeout or 0, failure) from failure
        self._failing = _say_retrying(failure, self._failing, self.deadline)
        return pause


def _say_retrying(failure: TransientReadError | None, failing: bool, deadline: Deadline) -> bool:
    """Log the first failed read of an outage, once: a wait retries quietly after that, until its
    deadline or, with none, until the table answers (a wrong endpoint looks like an outage, so
    this line is all a user sees of it). Returns whether reads are failing now."""
    if failure is not None and not failing:
        until = "until the table answers (no timeout)" if deadline.timeout is None else "until the wait's deadline"
        logger.warning("A read failed, retrying %s: %s", until, failure)
    return failure is not None


def connect(
    table_name: str | None = None,
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    session: boto3.Session | None = None,
    client: DynamoDBClient | None = None,
) -> StatusTable:
    """The status table through a DynamoDB client built as boto3 users expect.

    ``table_name`` defaults to TABLE_NAME; region, endpoint (AWS_ENDPOINT_URL) and credentials come
    from ``session`` or boto3's usual chain unless given. A client built here gives up on a
    silent endpoint after seconds, not botocore's minute, and retries once: waits retry on their
    own schedule, within their deadline.
    """
    name = table_name_from_env(table_name)
    if client is None:
        try:
            client = (session or boto3.Session()).client(
                "dynamodb", region_name=region_name, endpoint_url=endpoint_url, config=CLIENT_CONFIG
            )
        except NoRegionError:
            raise StatusTableError(NO_REGION) from None
    return StatusTable(name, client)


_CREDENTIAL_ERRORS = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidSignatureException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
    }
)
_THROTTLING_ERRORS = frozenset(
    {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded", "Throttling"}
)


@contextmanager
def explained_errors(table: StatusTable) -> Iterator[None]:
    """Turn what can go wrong when reading the table into a StatusTableError that says what to do."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        if code == "ResourceNotFoundException":
            region = table.client.meta.region_name
            raise StatusTableError(
                f"Table {table.name!r} does not exist in {region}: check TABLE_NAME (or --table) against "
                "the stack's TableName output, and that the region is the stack's."
            ) from error
        if code == "AccessDeniedException":
            raise StatusTableError(
                f"Not allowed to read table {table.name!r} ({code}): attach the stack's "
                "JobStatusReadPolicyArn output to the role or user running this code."
            ) from error
        if code in _CREDENTIAL_ERRORS:
            raise StatusTableError(
                f"AWS rejected the credentials ({code}: {message}): refresh them (for example "
                "`aws sso login`) or check the profile and keys in use."
            ) from error
        if code in _THROTTLING_ERRORS:
            raise TransientReadError(
                f"Reads of table {table.name!r} are throttled ({code}) even after retries: try again "
                "shortly, or poll less often (a larger Backoff)."
            ) from error
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        kind = TransientReadError if status >= 500 else StatusTableError
        raise kind(f"Cannot read table {table.name!r}: {code}: {message}") from error
    except NoCredentialsError as error:
        raise StatusTableError(NO_CREDENTIALS) from error
    except (ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError) as error:
        raise TransientReadError(
            f"DynamoDB at {table.client.meta.endpoint_url} did not answer in time ({type(error).__name__})."
        ) from error
    except EndpointConnectionError as error:
        # Refused, unresolvable, unreachable: a wrong setting, or a network outage that passes (DNS,
        # ENETUNREACH). A wait cannot tell them apart, so it retries within its deadline.
        raise TransientReadError(
            f"Cannot reach DynamoDB at {table.client.meta.endpoint_url} ({type(error).__name__}): check the "
            "network, the region, and AWS_ENDPOINT_URL or --endpoint-url."
        ) from error
    except BotoCoreError as error:
        raise StatusTableError(f"Cannot read table {table.name!r}: {error}") from error
    except _Late:
        raise TransientReadError(
            f"DynamoDB at {table.client.meta.endpoint_url} did not answer before the wait's deadline."
        ) from None


class JobMonitor:
    """Monitors one transcoding job through its row in the status table.

    Thread-safe: ``stop()`` from one thread and ``wait()`` in another agree on one outcome (a job
    seen finished stays FINISHED; a monitor stopped first reports UNKNOWN).

    >>> monitor = JobMonitor("1502631977930-rabioh")   # TABLE_NAME from the environment
    >>> monitor.start()
    >>> monitor.wait(timeout=600)
    <JobStatus.SUCCESS: 'SUCCESS'>
    """

    def __init__(
        self,
        job_id: str,
        table_name: str | None = None,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        session: boto3.Session | None = None,
        client: DynamoDBClient | None = None,
        consistent_read: bool = True,
        backoff: Backoff = Backoff(),
    ):
        self.job_id = job_id
        self.consistent_read = consistent_read
        self.backoff = backoff
        self._table = connect(
            table_name, region_name=region_name, endpoint_url=endpoint_url, session=session, client=client
        )
        self._lock = threading.Lock()  # guards the two fields below
        self._process_status = ProcessStatus.READY
        self._final: JobStatus | None = None  # the job's terminal status, once seen

    # -- the old worker's verbs ------------------------------------------------------------

    def start(self) -> None:
        """Begin monitoring. Raises RuntimeError if this monitor was started before."""
        with self._lock:
            if self._process_status is not ProcessStatus.READY:
                raise RuntimeError(f"JobMonitor for {self.job_id} already started.")
            self._process_status = ProcessStatus.IN_PROGRESS

    def stop(self) -> None:
        """End monitoring. Before the job finished, this monitor reports ABORTED and UNKNOWN.

        Local to this monitor: the table keeps recording the job, and other monitors still see its
        real outcome. Raises RuntimeError if the monitor was never started, and nothing else: as
        the old worker's could not, stop() never fails on the table. If its last read fails
        (throttled, unreachable, denied), the job was not seen finished: ABORTED and UNKNOWN.
        """
        with self._lock:
            if self._process_status is ProcessStatus.READY:
                raise RuntimeError(f"JobMonitor for {self.job_id} not started.")
            if self._process_status is not ProcessStatus.IN_PROGRESS or self._final is not None:
                self._settle()
                return
        try:
            row = self._read()
        except StatusTableError as error:
            logger.warning("JobMonitor for %s stopped without its last read (%s): ABORTED", self.job_id, error)
            row = None
        with self._lock:
            self._observe(row)
            self._settle(abort=True)

    def finished(self) -> bool:
        """True once the job succeeded or failed, or this monitor was stopped before that."""
        return self._status() is not JobStatus.RUNNING

    def job_status(self) -> JobStatus:
        """RUNNING until the job's row is terminal; UNKNOWN if this monitor was stopped first."""
        return self._status()

    def process_status(self) -> ProcessStatus:
        """READY, IN_PROGRESS, FINISHED (the job reached a terminal state) or ABORTED."""
        if self._process_status is ProcessStatus.IN_PROGRESS:
            self._status()
        return self._process_status

    # -- beyond the old worker ---------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> JobStatus:
        """Poll until the job finishes; return its status. Raises JobWaitTimeout ``timeout`` s
        after the call (one last read at the deadline, waited for LAST_READ_S at most)."""
        waiting = _Waiting(self.job_id, timeout, self.backoff)
        while True:
            status, failure = self._try_status(waiting.deadline)
            pause = waiting.after(status, failure)
            if pause is None:
                return status
            time.sleep(pause)

    def details(self) -> JobRow | None:
        """The job's whole row (outputs, error, warnings, times), or None before any notification."""
        return self._read(ALL_ATTRIBUTES)

    def progress(self) -> int | None:
        """The last percent complete reported (MediaConvert STATUS_UPDATE), or None."""
        row = self._read(PROGRESS_ATTRIBUTES)
        return None if row is None else row.progress

    def __enter__(self) -> JobMonitor:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: object) -> None:
        if error is None:
            self.stop()  # never raises on the table: see stop()
            return
        # The body's exception is what the caller must see, at once: stop without reading.
        with self._lock:
            self._settle(abort=True)

    def __repr__(self) -> str:
        return f"JobMonitor(job_id={self.job_id!r}, table={self._table.name!r}, status={self._process_status.name})"

    # -- state: one read per verb, every change under the lock ---------------------------------

    def _read(
        self, attributes: Sequence[str] | None = STATUS_ATTRIBUTES, deadline: Deadline = NO_DEADLINE
    ) -> JobRow | None:
        with explained_errors(self._table):
            return deadline.bounded(
                partial(self._table.get, self.job_id, consistent=self.consistent_read, attributes=attributes)
            )

    def _observe(self, row: JobRow | None) -> None:
        if self._final is None and row is not None and row.finished:
            self._final = row.status

    def _settle(self, *, abort: bool = False) -> None:
        """An IN_PROGRESS monitor becomes FINISHED once the job's outcome is known, else (abort) ABORTED."""
        if self._process_status is ProcessStatus.IN_PROGRESS:
            if self._final is not None:
                self._process_status = ProcessStatus.FINISHED
            elif abort:
                self._process_status = ProcessStatus.ABORTED

    def _try_status(self, deadline: Deadline) -> tuple[JobStatus, TransientReadError | None]:
        """The status, or RUNNING and the error when a read fails for a passing reason."""
        try:
            return self._status(deadline), None
        except TransientReadError as error:
            return JobStatus.RUNNING, error

    def _status(self, deadline: Deadline = NO_DEADLINE) -> JobStatus:
        with self._lock:
            known = self._process_status is ProcessStatus.ABORTED or self._final is not None
        # Terminal states never change: once seen, no need to read again.
        row = None if known else self._read(deadline=deadline)
        with self._lock:
            if self._process_status is ProcessStatus.ABORTED:
                return JobStatus.UNKNOWN
            self._observe(row)
            self._settle()
            return JobStatus.RUNNING if self._final is None else self._final


def watch_jobs(
    job_ids: Sequence[str],
    table: StatusTable,
    *,
    timeout: float | None = None,
    consistent_read: bool = True,
    backoff: Backoff = Backoff(),
    sleep: Callable[[float], None] = time.sleep,
    attributes: Sequence[str] = STATUS_ATTRIBUTES,
) -> Iterator[dict[str, JobRow | None]]:
    """Poll many jobs with BatchGetItem; yield every job's latest row (None: no row yet) per round.

    Only unfinished jobs are read again. Ends when all have finished; raises JobWaitTimeout
    ``timeout`` seconds after this call (LAST_READ_S more at most, for a call under way), also while
    retrying unprocessed keys: the one deadline is checked before each 100-key call and bounds it.
    """
    # The deadline is fixed now, not when the caller first iterates.
    return _Poll(table, Deadline(timeout), consistent_read, backoff, sleep, attributes).rounds(job_ids)


@dataclass(frozen=True)
class _Poll:
    table: StatusTable
    deadline: Deadline
    consistent: bool
    backoff: Backoff
    sleep: Callable[[float], None]
    attributes: Sequence[str]

    def rounds(self, job_ids: Sequence[str]) -> Iterator[dict[str, JobRow | None]]:
        rows: dict[str, JobRow | None] = dict.fromkeys(job_ids)
        pauses, failing = self.deadline.pauses(self.backoff), False
        while True:
            pending = [job for job, row in rows.items() if row is None or not row.finished]
            failure: TransientReadError | None = None
            for start in range(0, len(pending), BATCH_GET_LIMIT):
                # A round starts within the deadline (pauses are cut to it); its later chunks only
                # while time is left, so that a slow table cannot stretch the last round.
                if start and self.deadline.passed():
                    break
                try:
                    rows.update(self._batch_get(pending[start : start + BATCH_GET_LIMIT]))
                except TransientReadError as error:  # these jobs are not read this round
                    failure = error
            yield dict(rows)
            if all(row is not None and row.finished for row in rows.values()):
                return
            pause = next(pauses, None)
            if pause is None:
                raise JobWaitTimeout(_statuses(rows), self.deadline.timeout or 0, failure) from failure
            failing = _say_retrying(failure, failing, self.deadline)
            self.sleep(pause)

    def _batch_get(self, job_ids: list[str]) -> dict[str, JobRow]:
        """Rows for up to 100 jobs, retrying UnprocessedKeys with backoff until the deadline."""
        found: dict[str, JobRow] = {}
        keys, pauses = job_ids, self.deadline.pauses(self.backoff)
        while keys:
            with explained_errors(self.table):
                rows, keys = self.deadline.bounded(
                    partial(self.table.get_many, keys, consistent=self.consistent, attributes=self.attributes)
                )
            found.update((row.job_id, row) for row in rows)
            pause = next(pauses, None) if keys else None
            if pause is None:
                break  # done, or out of time: the caller sees these jobs as not read this round
            self.sleep(pause)
        return found


def _statuses(rows: dict[str, JobRow | None]) -> dict[str, JobStatus]:
    return {job: JobStatus.RUNNING if row is None else row.status for job, row in rows.items()}


def wait_all(
    job_ids: Sequence[str],
    table_name: str | None = None,
    timeout: float | None = None,
    **connection: Any,
) -> dict[str, JobStatus]:
    """Wait for many jobs at once; return each job's final status.

    Reads 100 jobs per BatchGetItem and re-reads only the unfinished ones. Raises JobWaitTimeout
    (with ``statuses``) ``timeout`` seconds after the call, as watch_jobs does. ``connection`` takes
    region_name, endpoint_url, session or client, as JobMonitor does.
    """
    deadline = Deadline(timeout)
    poll = _Poll(connect(table_name, **connection), deadline, True, Backoff(), time.sleep, STATUS_ATTRIBUTES)
    (last_round,) = deque(poll.rounds(list(dict.fromkeys(job_ids))), maxlen=1)
    return _statuses(last_round)


class AsyncJobMonitor:
    """JobMonitor for asyncio applications: the same verbs, every one awaitable (``await
    monitor.start()`` too); reads run in a thread, so the event loop keeps running."""

    def __init__(self, job_id: str, table_name: str | None = None, **options: Any):
        self._monitor = JobMonitor(job_id, table_name, **options)
        self.job_id = job_id

    async def start(self) -> None:
        self._monitor.start()  # reads nothing: awaitable so that every verb is used alike

    async def stop(self) -> None:
        await asyncio.to_thread(self._monitor.stop)

    async def finished(self) -> bool:
        return await asyncio.to_thread(self._monitor.finished)

    async def job_status(self) -> JobStatus:
        return await asyncio.to_thread(self._monitor.job_status)

    async def process_status(self) -> ProcessStatus:
        return await asyncio.to_thread(self._monitor.process_status)

    async def details(self) -> JobRow | None:
        return await asyncio.to_thread(self._monitor.details)

    async def progress(self) -> int | None:
        return await asyncio.to_thread(self._monitor.progress)

    async def wait(self, timeout: float | None = None) -> JobStatus:
        """Like JobMonitor.wait, sleeping with asyncio so the event loop keeps running."""
        waiting = _Waiting(self.job_id, timeout, self._monitor.backoff)
        while True:
            status, failure = await asyncio.to_thread(self._monitor._try_status, waiting.deadline)
            pause = waiting.after(status, failure)
            if pause is None:
                return status
            await asyncio.sleep(pause)
