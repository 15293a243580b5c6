"""MediaConvert clients per account and Region: cached, the home's without a role, another
account's through its reader role with credentials that refresh before they expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from transcoder_status.mediaconvert_clients import MediaConvertClients, Place, RoleRefused, role_session_name

HOME, OTHER = "123456789012", "444455556666"


class Session(botocore.session.Session):
    """A botocore session whose STS client answers from a stub, and counts the AssumeRole calls."""

    def __init__(self, expires_in: timedelta = timedelta(hours=1), refuse: bool = False):
        super().__init__()
        self.set_credentials("home-key", "home-secret")
        self.assumed: list[dict[str, Any]] = []
        self.sts_configs: list[Any] = []  # each STS client's botocore config
        self.expires_in, self.refuse = expires_in, refuse

    def create_client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        client = super().create_client(service_name, *args, **kwargs)
        if service_name == "sts":
            self.sts_configs.append(client.meta.config)
            stubber = Stubber(client)
            client.meta.events.register("provide-client-params.sts.AssumeRole", self._answer(stubber))
            stubber.activate()
        return client

    def _answer(self, stubber: Stubber) -> Any:
        def answer(params: dict[str, Any], **kwargs: Any) -> None:
            self.assumed.append(params)
            if self.refuse:
                stubber.add_client_error("assume_role", "AccessDenied", "not authorized to perform: sts:AssumeRole")
                return
            stubber.add_response(
                "assume_role",
                {
                    "Credentials": {
                        "AccessKeyId": f"ASIA{len(self.assumed):016d}",
                        "SecretAccessKey": "role-secret",
                        "SessionToken": "role-token",
                        "Expiration": datetime.now(UTC) + self.expires_in,
                    }
                },
            )

        return answer


def access_key(client: Any) -> str:
    key: str = client._request_signer._credentials.get_frozen_credentials().access_key
    return key


def clients(session: Session, **options: Any) -> MediaConvertClients:
    return MediaConvertClients("us-east-1", HOME, session=session, session_name="stuck-check", **options)


def test_the_home_place_uses_the_default_credentials_and_no_role() -> None:
    session = Session()
    mediaconvert = clients(session)
    home = mediaconvert.place(HOME, "us-east-1")
    assert home == mediaconvert.place(None, None) == Place(None, "us-east-1")
    client = mediaconvert.client(home)
    assert client is mediaconvert.client(home)  # cached
    assert access_key(client) == "home-key" and client.meta.region_name == "us-east-1"
    elsewhere = mediaconvert.client(mediaconvert.place(HOME, "eu-west-1"))  # the home account, another Region
    assert access_key(elsewhere) == "home-key" and elsewhere.meta.region_name == "eu-west-1"
    assert session.assumed == []


def test_another_account_goes_through_its_reader_role_once_per_account() -> None:
    session = Session()
    mediaconvert = clients(session, reader_role="reader")
    ireland, frankfurt = Place(OTHER, "eu-west-1"), Place(OTHER, "eu-central-1")
    client = mediaconvert.client(ireland)
    assert client is mediaconvert.client(ireland)
    assert client.meta.region_name == "eu-west-1" and access_key(client) == f"ASIA{1:016d}"
    assert mediaconvert.client(frankfurt).meta.region_name == "eu-central-1"
    mediaconvert.client(ireland, timeout_s=2.0)  # a bounded client: the same role session
    assert session.assumed == [
        {"RoleArn": f"arn:aws:iam::{OTHER}:role/reader", "RoleSessionName": "stuck-check"},
    ]


def test_the_roles_credentials_are_fetched_again_before_they_expire() -> None:
    session = Session(expires_in=timedelta(minutes=5))  # inside botocore's 10-minute mandatory window
    client = clients(session).client(Place(OTHER, "eu-west-1"))
    # Each request signs with the credentials of the moment: these expire soon, so each fetches anew.
    assert [access_key(client), access_key(client)] == [f"ASIA{2:016d}", f"ASIA{3:016d}"]
    lasting = Session(expires_in=timedelta(hours=1))
    client = clients(lasting).client(Place(OTHER, "eu-west-1"))
    assert [access_key(client), access_key(client)] == [f"ASIA{1:016d}"] * 2
    assert len(session.assumed) == 3 and len(lasting.assumed) == 1


def test_a_refused_role_names_the_account_region_and_role() -> None:
    mediaconvert = clients(Session(refuse=True))
    with pytest.raises(RoleRefused) as refused:
        mediaconvert.client(Place(OTHER, "eu-west-1"))
    message = str(refused.value)
    assert f"account {OTHER} in eu-west-1" in message
    assert f"arn:aws:iam::{OTHER}:role/transcoder-status-reader" in message
    assert "Deploy forwarder/template.yaml there" in message and "SourceAccountIds" in message


def test_the_home_account_is_looked_up_once_and_only_when_a_place_names_an_account() -> None:
    calls: list[int] = []

    def caller_identity() -> str:
        calls.append(1)
        return HOME

    mediaconvert = MediaConvertClients("us-east-1", caller_identity, session=Session())
    assert mediaconvert.place(None, "eu-west-1") == Place(None, "eu-west-1") and calls == []
    assert mediaconvert.home_account(resolve=False) is None and calls == []
    assert mediaconvert.place(HOME, "eu-west-1") == Place(None, "eu-west-1")
    assert mediaconvert.place(OTHER, None) == Place(OTHER, "us-east-1")
    assert calls == [1]


def test_role_session_names_keep_to_what_sts_takes() -> None:
    assert role_session_name("my stack/stuck:check") == "my-stack-stuck-check"
    assert len(role_session_name("x" * 100)) == 64 and role_session_name("x") == "x-"


def test_the_assume_role_is_bounded_and_shares_a_calls_time() -> None:
    session = Session()
    mediaconvert = clients(session)
    mediaconvert.client(Place(OTHER, "eu-west-1"))  # no deadline: STS's own bounds, not botocore's 60 s
    (unbounded,) = session.sts_configs
    assert (unbounded.connect_timeout, unbounded.read_timeout) == (2, 3)
    assert unbounded.retries["total_max_attempts"] == 2
    session = Session()
    mediaconvert = clients(session, bounded=lambda seconds: Config(read_timeout=seconds))
    client = mediaconvert.client(Place(OTHER, "eu-west-1"), timeout_s=4.0)  # the AssumeRole is due: half each
    (bounded,) = session.sts_configs
    assert bounded.connect_timeout + bounded.read_timeout <= 2 and bounded.retries["total_max_attempts"] == 1
    assert client.meta.config.read_timeout == 2
    again = mediaconvert.client(Place(OTHER, "eu-central-1"), timeout_s=4.0)  # none due: the call has it all
    assert again.meta.config.read_timeout == 4 and len(session.sts_configs) == 1


def test_the_role_sessions_share_the_home_sessions_loaded_models() -> None:
    session = Session()
    mediaconvert = clients(session)
    mediaconvert.client(Place(OTHER, "eu-west-1"))
    role_session, _ = mediaconvert._roles[OTHER]
    assert role_session.get_component("data_loader") is session.get_component("data_loader")
