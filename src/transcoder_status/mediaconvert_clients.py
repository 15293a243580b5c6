"""MediaConvert clients per account and Region: the home place with the caller's own credentials,
another account's through its reader role (I/O).

MediaConvert is regional: a job is known only to the endpoint of the Region that ran it, in the
account that ran it (https://docs.aws.amazon.com/general/latest/gr/mediaconvert.html). So a repair
asks the job's own account and Region. The caller's own account needs no role: a client for the
Region with the default credentials, as before (IAM decides which Regions). Another account's client goes through STS
AssumeRole of ``arn:PARTITION:iam::ACCOUNT:role/READER_ROLE_NAME`` (the role forwarder/template.yaml
creates; https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html), with botocore's
refreshable credentials: they are fetched on first use and fetched again before they expire
(botocore refreshes within 15 minutes of the expiry, and must within 10), so a warm function never
calls with expired keys. One role session per account, one client per (account, Region), cached:
a sweep makes at most one AssumeRole per account. The role sessions share the home session's
loaded service models (MediaConvert's is megabytes: loaded once, not once per account).

AssumeRole is bounded as the call it precedes: at most ASSUME_ROLE_WORST_S, and with a call's
``timeout_s`` the AssumeRole (when one is due: first use, or near expiry) and the call share it,
half each, so that a hanging or throttling STS cannot outlast a deadline.

An AssumeRole refused (AccessDenied: no forwarder deployed there, or the account not listed in the
stack's SourceAccountIds) raises ``RoleRefused``, whose message names the account, Region and role
and says what to do. The refusal is not cached: the next sweep asks again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import botocore.session
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_mediaconvert.client import MediaConvertClient

DEFAULT_READER_ROLE_NAME = "transcoder-status-reader"  # template.yaml's ReaderRoleName default
ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")  # IAM's role names
# STS's answers that mean the role may not be assumed: missing, not trusting us, or not allowed to us.
REFUSED = frozenset({"AccessDenied", "AccessDeniedException"})
_SESSION_NAME = re.compile(r"[^\w+=,.@-]")
# STS (AssumeRole, GetCallerIdentity): two attempts of at most 2 + 3 s; botocore's standard mode
# waits at most 1 s before the retry, 5 s more when STS asks for it (x-amz-retry-after).
STS_CONNECT_S, STS_READ_S, STS_ATTEMPTS = 2.0, 3.0, 2
STS_CONFIG = Config(
    connect_timeout=STS_CONNECT_S,
    read_timeout=STS_READ_S,
    retries={"mode": "standard", "total_max_attempts": STS_ATTEMPTS},
)
ASSUME_ROLE_WORST_S = STS_ATTEMPTS * (STS_CONNECT_S + STS_READ_S) + (STS_ATTEMPTS - 1) * 6


@dataclass(frozen=True, order=True)
class Place:
    """Where a MediaConvert job ran. ``account`` None: the caller's own account."""

    account: str | None
    region: str

    def __str__(self) -> str:
        return f"{self.account or 'this account'}/{self.region}"


class RoleRefused(RuntimeError):
    """STS refused the reader role of ``place``: its jobs cannot be asked about."""

    def __init__(self, place: Place, role_arn: str, error: str):
        super().__init__(
            f"account {place.account} in {place.region}: AssumeRole of {role_arn} refused ({error}). Deploy "
            "forwarder/template.yaml there (its ReaderRoleName must match), and list the account in the "
            "stack's SourceAccountIds or its organization in SourceOrganizationId"
        )
        self.place, self.role_arn = place, role_arn


def role_session_name(name: str) -> str:
    """An STS role session name (2 to 64 of [\\w+=,.@-]) naming the caller, as CloudTrail shows it."""
    return _SESSION_NAME.sub("-", name)[:64].ljust(2, "-")


class _AssumedRole(CredentialProvider):
    """A credential provider that hands botocore the role's refreshable credentials."""

    METHOD = CANONICAL_NAME = "transcoder-status-reader-role"

    def __init__(self, credentials: Credentials):
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


class MediaConvertClients:
    """One MediaConvert client per place, cached; the home account's with the default credentials.

    ``home_account``: the caller's own account ID, or a callable that finds it (called once, only
    when a place names an account: the CLI's sts GetCallerIdentity). ``config``: the clients'
    botocore Config; ``bounded(timeout_s)``: a Config whose one call fits in that many seconds.
    """

    def __init__(
        self,
        home_region: str,
        home_account: str | Callable[[], str] | None = None,
        *,
        reader_role: str = DEFAULT_READER_ROLE_NAME,
        session_name: str = "transcoder-status",
        config: Config | None = None,
        bounded: Callable[[float], Config] | None = None,
        endpoint_url: str | None = None,
        session: botocore.session.Session | None = None,
    ):
        self.home = Place(None, home_region)
        self.reader_role, self.session_name = reader_role, role_session_name(session_name)
        self._home_account = home_account
        self._config, self._bounded, self._endpoint_url = config, bounded, endpoint_url
        self._session = session or botocore.session.get_session()
        self._partition = self._session.get_partition_for_region(home_region)
        # account -> its role session
        self._roles: dict[str, tuple[botocore.session.Session, DeferredRefreshableCredentials]] = {}
        self._clients: dict[Place, MediaConvertClient] = {}
        self._assume_s: float | None = None  # the AssumeRole under way: its time, if bounded
        self._lock = Lock()

    def home_account(self, *, resolve: bool = True) -> str | None:
        """The caller's own account ID: found once, on first need (without ``resolve``: only if known)."""
        if callable(self._home_account):
            if not resolve:
                return None
            self._home_account = self._home_account()
        return self._home_account

    def place(self, account: str | None, region: str | None) -> Place:
        """The place of a job: None parts are the home's; the home account is ``Place.account`` None."""
        if account is not None and account == self.home_account():
            account = None
        return Place(account, region or self.home.region)

    def role_arn(self, account: str) -> str:
        return f"arn:{self._partition}:iam::{account}:role/{self.reader_role}"

    def client(self, place: Place, timeout_s: float | None = None) -> MediaConvertClient:
        """The client for ``place``; with ``timeout_s`` a new one whose one call fits in it (the
        role session, and so its credentials, are the cached ones). Raises RoleRefused."""
        if timeout_s is None:
            with self._lock:
                cached = self._clients.get(place)
            if cached is not None:
                return cached
        session = self._session
        if place.account is not None:
            session, timeout_s = self._role_session(place.account, place, timeout_s)
        config = self._config if timeout_s is None or self._bounded is None else self._bounded(timeout_s)
        client: MediaConvertClient = session.create_client(  # type: ignore[assignment]
            "mediaconvert", region_name=place.region, config=config, endpoint_url=self._endpoint_url
        )
        if timeout_s is None:
            with self._lock:
                client = self._clients.setdefault(place, client)
        return client

    def _role_session(
        self, account: str, place: Place, timeout_s: float | None
    ) -> tuple[botocore.session.Session, float | None]:
        """The account's role session, its credentials fetched if due (within half of ``timeout_s``);
        and the time left for the call."""
        with self._lock:
            if account not in self._roles:
                self._roles[account] = self._new_role_session(account)
            session, credentials = self._roles[account]
            assume_s = None
            if timeout_s is not None and credentials.refresh_needed():
                assume_s = timeout_s = timeout_s / 2
            try:
                self._assume_s = assume_s
                credentials.get_frozen_credentials()  # the AssumeRole, on first use and before expiry
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code in REFUSED:
                    raise RoleRefused(place, self.role_arn(account), f"{code}: {error}") from error
                raise
            finally:
                self._assume_s = None
        return session, timeout_s

    def _new_role_session(self, account: str) -> tuple[botocore.session.Session, DeferredRefreshableCredentials]:
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=self._sts,
            source_credentials=self._session.get_credentials(),
            role_arn=self.role_arn(account),
            extra_args={"RoleSessionName": self.session_name},
        )
        credentials = DeferredRefreshableCredentials(refresh_using=fetcher.fetch_credentials, method="assume-role")
        session = botocore.session.Session()
        session.register_component("data_loader", self._session.get_component("data_loader"))
        session.register_component("credential_provider", CredentialResolver([_AssumedRole(credentials)]))
        return session, credentials

    def _sts(self, service_name: str, **options: Any) -> Any:
        """STS in the home Region (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_region-endpoints.html),
        bounded: STS_CONFIG, or one attempt within the AssumeRole's share of a call's time."""
        config = STS_CONFIG if self._assume_s is None else within(STS_CONFIG, STS_CONNECT_S, STS_READ_S, self._assume_s)
        return self._session.create_client(service_name, region_name=self.home.region, config=config, **options)


def within(config: Config, connect_s: float, read_s: float, timeout_s: float) -> Config:
    """``config`` (whose timeouts are ``connect_s`` and ``read_s``) for one attempt whose connect
    and read fit in ``timeout_s`` seconds."""
    seconds = max(timeout_s, 0.1)
    return config.merge(
        Config(
            connect_timeout=min(connect_s, seconds / 2),
            read_timeout=min(read_s, seconds / 2),
            retries={"mode": "standard", "total_max_attempts": 1},
        )
    )


@runtime_checkable
class PlaceClients(Protocol):
    """What the reconciler asks of its clients: the home place, a job's place, a place's client."""

    home: Place

    def home_account(self, *, resolve: bool = True) -> str | None: ...

    def place(self, account: str | None, region: str | None) -> Place: ...

    def client(self, place: Place, timeout_s: float | None = None) -> MediaConvertClient: ...


class OneClient:
    """The same client for every place (a caller that asks one endpoint: a single-account stack,
    the tests); ``bounded(timeout_s)`` builds one whose one call fits in that many seconds."""

    def __init__(
        self,
        client: MediaConvertClient,
        bounded: Callable[[float], MediaConvertClient] | None = None,
        home_region: str | None = None,
    ):
        self.home = Place(None, home_region or str(getattr(getattr(client, "meta", None), "region_name", "")))
        self._client, self._bounded = client, bounded

    def home_account(self, *, resolve: bool = True) -> str | None:
        return None

    def place(self, account: str | None, region: str | None) -> Place:
        return Place(account, region or self.home.region)

    def client(self, place: Place, timeout_s: float | None = None) -> MediaConvertClient:
        if timeout_s is not None and self._bounded is not None:
            return self._bounded(timeout_s)
        return self._client
