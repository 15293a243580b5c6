"""Self-healing across accounts (issue 24): the stuck check, reconcile and backfill ask each job's
own account and Region, through that account's reader role, on the local stack (the central
stack and a forwarder provisioned from the templates, the MediaConvert stand-in answering each
caller from its own account and Region)."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from rich.console import Console
from typer.testing import CliRunner

from tests.integration.conftest import invoke
from tests.integration.test_local_stack import new_stack
from tests.integration.test_multi_account import new_account
from transcoder_status import cli, stuck_check
from transcoder_status.cli.signals import Interrupted
from transcoder_status.handler import StatusWriter
from transcoder_status.local.accounts import SOURCE_REGION, account_session, provision_forwarder
from transcoder_status.local.context import LocalContext
from transcoder_status.local.emulator import ACCOUNT, REGION, Emulator
from transcoder_status.local.mediaconvert import MediaConvertStandIn, hanging
from transcoder_status.local.messages import mediaconvert_event, mediaconvert_job, sqs_record
from transcoder_status.local.provision import ProvisioningError, Stack
from transcoder_status.mediaconvert_clients import Place
from transcoder_status.reconcile import Reconciler, Verdict, mediaconvert_client, mediaconvert_clients
from transcoder_status.status import JobStatus
from transcoder_status.table import StatusTable

READER = "transcoder-status-reader"
runner = CliRunner()


def job_id() -> str:
    return f"{int(time.time() * 1000)}-{uuid.uuid4().hex[:6]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def running_in(writer: StatusWriter, job: str, account: str = ACCOUNT, region: str = REGION) -> None:
    """A row for ``job``, running, from its PROGRESSING event (the terminal one is lost)."""
    event = mediaconvert_event(job, "PROGRESSING", now_ms() - 60_000, account=account, region=region)
    assert invoke(writer, {"Records": [sqs_record(json.dumps(event), sent_ms=now_ms())]}) == {"batchItemFailures": []}


def ended_in(stand_in: MediaConvertStandIn, job: str, account: str = ACCOUNT, region: str = REGION) -> None:
    """What MediaConvert in ``account`` and ``region`` knows: the job completed."""
    started = now_ms() - 120_000
    stand_in.put(
        mediaconvert_job(
            job,
            "COMPLETE",
            submitted_ms=started,
            started_ms=started + 1_000,
            finished_ms=now_ms() - 30_000,
            account=account,
            region=region,
        )
    )


def reader_roles_assumed(account: str, session_name: str | None = None) -> int:
    """AssumeRole calls of the reader role in ``account``, as the emulator's STS recorded them."""
    from moto.sts.models import sts_backends

    return sum(
        1
        for role in sts_backends[account]["aws"].assumed_roles
        if role.role_arn.endswith(f":role/{READER}") and session_name in (None, role.session_name)
    )


def stuck_check_environment(stack: Stack, monkeypatch: pytest.MonkeyPatch, function_name: str) -> None:
    """The stuck check's environment as the template gives it to the local function."""
    for name, value in stack.functions["StuckCheckFunction"].environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STUCK_AFTER_MINUTES", "0")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", function_name)


def run_stuck_check(function_name: str) -> dict[str, Any]:
    check = stuck_check.StuckCheck.from_environment()
    response: dict[str, Any] = stuck_check.lambda_handler({}, LocalContext(function_name, 60), check)
    return response


@pytest.fixture
def account(emulator: Emulator) -> str:
    return new_account()


@pytest.fixture
def central(emulator: Emulator, account: str) -> Stack:
    return new_stack(SourceAccountIds=account, SourceRegions=SOURCE_REGION)


@pytest.fixture
def forwarded(central: Stack, account: str) -> Stack:
    """The forwarder in ``account`` and the second Region: the reader role there."""
    return provision_forwarder(central, account=account, stack_name=f"fw-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def writer(central: Stack) -> StatusWriter:
    return StatusWriter(StatusTable(central.outputs["TableName"], boto3.client("dynamodb")))


def test_the_stack_gives_the_stuck_check_the_places_to_ask(central: Stack, account: str) -> None:
    environment = central.functions["StuckCheckFunction"].environment
    assert environment["READER_ROLE_NAME"] == READER
    assert environment["INGEST_EVENT_BUS_NAME"] == central.refs["IngestEventBus"]
    assert environment["SOURCE_REGIONS"] == SOURCE_REGION
    assert environment["HOME_ACCOUNT_ID"] == ACCOUNT
    # The local schedule runs the function with that environment, as Lambda would.
    (schedule,) = [s for s in central.schedules if s.function.name == central.functions["StuckCheckFunction"].name]
    assert schedule.function.environment == environment


@pytest.mark.usefixtures("forwarded")
def test_a_stuck_job_of_another_account_and_region_is_repaired_through_its_reader_role(
    central: Stack,
    account: str,
    writer: StatusWriter,
    stand_in: MediaConvertStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    theirs, theirs_too, ours = job_id(), job_id(), job_id()
    for job in (theirs, theirs_too):
        running_in(writer, job, account, SOURCE_REGION)
        ended_in(stand_in, job, account, SOURCE_REGION)
    running_in(writer, ours)
    ended_in(stand_in, ours)
    unrecorded = job_id()  # running there, its events all lost: no row
    stand_in.put(
        mediaconvert_job(
            unrecorded, "PROGRESSING", submitted_ms=now_ms() - 60_000, account=account, region=SOURCE_REGION
        )
    )
    function = f"stuck-check-{uuid.uuid4().hex[:8]}"
    stuck_check_environment(central, monkeypatch, function)

    response = run_stuck_check(function)

    assert sorted(response["reconciled"]["repaired"]) == sorted([theirs, theirs_too, ours])
    assert response["discovered"] == [unrecorded]
    for job in (theirs, theirs_too):
        row = writer.table.get(job, attributes=None)
        assert (
            row is not None
            and row.status is JobStatus.SUCCESS
            and (row.account, row.region)
            == (
                account,
                SOURCE_REGION,
            )
        )
    found = writer.table.get(unrecorded, attributes=None)
    assert found is not None and found.discovered_at is not None
    assert (found.account, found.region) == (account, SOURCE_REGION)
    # One AssumeRole for that account in the run (its two rows, its discovery, two Regions); none at home.
    assert reader_roles_assumed(account, function) == 1
    assert reader_roles_assumed(ACCOUNT, function) == 0


def test_a_refused_reader_role_fails_its_rows_and_the_others_are_still_repaired(
    emulator: Emulator, stand_in: MediaConvertStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    unready = new_account()  # listed, but no forwarder deployed there: no reader role
    central = new_stack(SourceAccountIds=unready)
    writer = StatusWriter(StatusTable(central.outputs["TableName"], boto3.client("dynamodb")))
    theirs, ours = job_id(), job_id()
    running_in(writer, theirs, unready, REGION)
    ended_in(stand_in, theirs, unready, REGION)
    running_in(writer, ours)
    ended_in(stand_in, ours)
    function = f"stuck-check-{uuid.uuid4().hex[:8]}"
    stuck_check_environment(central, monkeypatch, function)

    response = run_stuck_check(function)

    assert response["reconciled"]["repaired"] == [ours]
    assert response["reconciled"]["failed"] == [theirs]
    assert theirs in response["jobIds"]  # still stuck, still counted
    (stopped,) = [reason for reason in response["stopped"] if "discovery" in reason]
    assert f"account {unready} in {REGION}" in stopped and f"arn:aws:iam::{unready}:role/{READER}" in stopped
    assert "Deploy forwarder/template.yaml there" in stopped
    row = writer.table.get(theirs)
    assert row is not None and row.status is JobStatus.RUNNING


def test_the_stand_in_shows_a_job_only_to_its_own_account_and_region(
    account: str, stand_in: MediaConvertStandIn
) -> None:
    job = job_id()
    ended_in(stand_in, job, account, SOURCE_REGION)
    there = account_session(account, SOURCE_REGION)
    assert there.client("mediaconvert").get_job(Id=job)["Job"]["Arn"].split(":")[3:5] == [SOURCE_REGION, account]
    for client in (
        boto3.client("mediaconvert", region_name=SOURCE_REGION),  # the home account, that Region
        account_session(account, REGION).client("mediaconvert"),  # that account, the home Region
    ):
        with pytest.raises(ClientError, match="NotFoundException"):
            client.get_job(Id=job)
        assert all(listed["Id"] != job for listed in client.list_jobs()["Jobs"])


@pytest.mark.usefixtures("forwarded")
def test_reconcile_and_backfill_ask_the_accounts_and_regions_named(
    account: str, writer: StatusWriter, stand_in: MediaConvertStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABLE_NAME", writer.table.name)
    monkeypatch.setattr(cli.output, "console", Console(width=250))
    stuck, missing, ours_missing = job_id(), job_id(), job_id()
    running_in(writer, stuck, account, SOURCE_REGION)
    ended_in(stand_in, stuck, account, SOURCE_REGION)
    ended_in(stand_in, missing, account, SOURCE_REGION)  # no row at all
    ended_in(stand_in, ours_missing)

    reconciled = runner.invoke(cli.app, ["reconcile", "--stuck", "0s", "--json", "--reader-role", READER])
    assert reconciled.exit_code == 0, reconciled.output
    assert {c["jobId"]: c["verdict"] for c in json.loads(reconciled.stdout)["checked"]} == {stuck: "repaired"}

    backfilled = runner.invoke(
        cli.app, ["backfill", "--since", "1h", "--account", account, "--job-region", SOURCE_REGION]
    )
    assert backfilled.exit_code == 0, backfilled.output
    assert missing in backfilled.stdout and ours_missing not in backfilled.stdout
    row = writer.table.get(missing, attributes=None)
    assert row is not None and (row.status, row.account, row.region) == (JobStatus.SUCCESS, account, SOURCE_REGION)
    assert writer.table.get(ours_missing) is None

    places = ["--account", account, "--account", ACCOUNT, "--job-region", SOURCE_REGION, "--job-region", REGION]
    both = runner.invoke(cli.app, ["backfill", "--since", "1h", "--json", *places])
    assert both.exit_code == 0, both.output  # each account in each Region: the home's has no role to assume
    assert {c["jobId"] for c in json.loads(both.stdout)["checked"]} == {stuck, missing, ours_missing}


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_reconcile_interrupted_says_what_it_repaired_and_exits_128_plus_the_signal(
    signum: int,
    code: int,
    writer: StatusWriter,
    stand_in: MediaConvertStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TABLE_NAME", writer.table.name)
    monkeypatch.setattr(cli.output, "console", Console(width=250))
    jobs = [job_id() for _ in range(3)]
    for job in jobs:
        running_in(writer, job)
        ended_in(stand_in, job)
    write = Reconciler._write
    written: list[str] = []

    def write_then_stop(self: Reconciler, job: str, *args: Any, **kwargs: Any) -> Any:
        if written:  # the second job: the signal arrives (Ctrl-C, or SIGTERM made an interrupt)
            raise KeyboardInterrupt if signum == signal.SIGINT else Interrupted(signum)
        written.append(job)
        return write(self, job, *args, **kwargs)

    monkeypatch.setattr(Reconciler, "_write", write_then_stop)
    result = runner.invoke(cli.app, ["reconcile", "--stuck", "0s"])
    assert result.exit_code == code, result.output
    (repaired,) = written
    assert repaired in result.stdout and "repaired" in result.stdout  # what was done is said
    assert "Interrupted" in result.stderr and "Run it again" in result.stderr


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        (["--account", "12345"], "--account: '12345' is not an AWS account ID"),
        (["--job-region", "Ireland"], "--job-region: 'Ireland' is not a Region name"),
        (["--reader-role", "no/slashes"], "--reader-role: 'no/slashes' is not an IAM role name"),
    ],
)
def test_backfill_refuses_a_wrong_account_region_or_role_in_one_line(
    emulator: Emulator, options: list[str], refusal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABLE_NAME", "not-asked")
    result = runner.invoke(cli.app, ["backfill", *options])
    assert result.exit_code == 2 and refusal in result.output, result.output


class SplitClients:
    """Clients per place where one account's MediaConvert hangs and the home's answers."""

    def __init__(self, hanging_account: str, hanging_url: str, answering_url: str):
        self.home = Place(None, REGION)
        self.urls = {hanging_account: hanging_url, None: answering_url}

    def home_account(self, *, resolve: bool = True) -> str | None:
        return ACCOUNT

    def place(self, account: str | None, region: str | None) -> Place:
        return Place(None if account == ACCOUNT else account, region or REGION)

    def client(self, place: Place, timeout_s: float | None = None) -> Any:
        return mediaconvert_client(timeout_s=timeout_s, endpoint_url=self.urls[place.account], region_name=place.region)


@pytest.mark.parametrize("hung_service", ["mediaconvert", "sts"])
def test_a_hanging_account_does_not_keep_the_others_from_being_asked(
    hung_service: str, table: StatusTable, stand_in: MediaConvertStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reconciler is given its clients per place: a status table is all it needs of a stack.
    writer = StatusWriter(table)
    stuck_there = new_account()
    theirs = [job_id() for _ in range(8)]  # more than a failure run: the whole sweep used to stop
    for job in theirs:
        running_in(writer, job, stuck_there, SOURCE_REGION)
    ours = job_id()
    running_in(writer, ours)
    ended_in(stand_in, ours)
    rows = [writer.table.get(job, attributes=None) for job in [*theirs, ours]]  # the hanging place first
    with hanging() as hung:
        clients: Any = SplitClients(stuck_there, hung, os.environ["AWS_ENDPOINT_URL_MEDIACONVERT"])
        if hung_service == "sts":  # STS takes the AssumeRole of the reader role there and never answers
            monkeypatch.setenv("AWS_ENDPOINT_URL_STS", hung)
            clients = mediaconvert_clients(REGION, ACCOUNT)
        reconciler = Reconciler(writer.table, clients, rate_per_second=1_000)
        started = time.monotonic()
        report = reconciler.reconcile([row for row in rows if row is not None], deadline=started + 8)
        elapsed = time.monotonic() - started
    assert elapsed < 8 + 1, elapsed
    verdicts = {checked.job_id: checked.verdict for checked in report.checked}
    assert verdicts.get(ours) is Verdict.REPAIRED  # asked in its share, after the hanging place used its own
    assert not any(verdicts.get(job) is Verdict.REPAIRED for job in theirs)
    assert report.stopped is not None and f"{stuck_there}/{SOURCE_REGION}: " in report.stopped


class VirtualClock:
    """Time that passes only when the reconciler waits (its pacing): a run's calls counted in seconds."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class ManyPlaces:
    """Clients for any place, answering at once: no job running anywhere, and each stuck row's job ended."""

    def __init__(self, stand_in: MediaConvertStandIn):
        self.home, self.stand_in = Place(None, REGION), stand_in
        self.listed: dict[Place, set[str]] = {}  # the statuses listed in each place

    def home_account(self, *, resolve: bool = True) -> str | None:
        return ACCOUNT

    def place(self, account: str | None, region: str | None) -> Place:
        return Place(None if account == ACCOUNT else account, region or REGION)

    def client(self, place: Place, timeout_s: float | None = None) -> Any:
        clients = self

        class Client:
            def list_jobs(self, **request: Any) -> dict[str, Any]:
                clients.listed.setdefault(place, set()).add(request["Status"])
                return {"Jobs": []}

            def get_job(self, Id: str) -> dict[str, Any]:
                return {"Job": clients.stand_in.get(Id)}

        return Client()


def test_discovery_over_many_places_leaves_the_repairs_their_time(
    writer: StatusWriter, stand_in: MediaConvertStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = job_id()
    running_in(writer, ours)
    ended_in(stand_in, ours)
    clock = VirtualClock()
    places = ManyPlaces(stand_in)
    reconciler = Reconciler(writer.table, places, clock=lambda: clock.now, sleep=clock.sleep)
    check = stuck_check.StuckCheck(
        writer.table, 0, reconciler, source_regions=("eu-west-1", "ap-southeast-2"), ingest_bus="ingest"
    )
    accounts = tuple(f"{n:012d}" for n in range(60))  # 181 places: 2 ListJobs each, at 2 calls a second
    monkeypatch.setattr(stuck_check.StuckCheck, "source_accounts", lambda self, stopped: accounts)
    report = check.run(deadline=clock.now + 105)  # the function's 120 s less its margin
    assert report.reconciled is not None and report.reconciled[Verdict.REPAIRED] == [ours]
    # The places asked were asked whole (no share too short for both statuses); the rest, next run.
    assert places.listed and all(statuses == {"SUBMITTED", "PROGRESSING"} for statuses in places.listed.values())
    assert any("discovery" in reason and "out of time" in reason for reason in report.stopped)


def test_a_source_region_that_runs_no_mediaconvert_is_refused_before_anything_is_created(emulator: Emulator) -> None:
    with pytest.raises(ProvisioningError, match="SourceRegions must be Regions where MediaConvert runs"):
        new_stack(SourceAccountIds=new_account(), SourceRegions="eu-west-1,eu-wets-1")
