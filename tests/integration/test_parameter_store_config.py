"""Profiles and SignalWire settings read from SSM (moto): the settings and `default` in one call,
any other profile by its name, every profile only where a use case needs them all."""

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from reliability.aws_faults import FailingCalls, in_every_new_session
from sip_provisioning.adapters.parameter_store import ParameterStoreConfig
from sip_provisioning.domain.errors import ConfigurationError
from tests.integration.conftest import ProvisionerApi

PREFIX = "/sip-provisioning/test"
TOKEN = "PTtoken-never-in-messages"


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("ssm", region_name="us-east-1")
        put(client, "signalwire/space_url", "https://example.signalwire.com")
        put(client, "signalwire/project_id", "project-1")
        put(client, "signalwire/api_token", TOKEN, kind="SecureString")
        put(client, "profiles/default", json.dumps({"description": "baseline", "encryption": "optional"}))
        yield client


def put(client: Any, name: str, value: str, kind: str = "String") -> None:
    client.put_parameter(Name=f"{PREFIX}/{name}", Value=value, Type=kind, Overwrite=True)


class SSMCalls:
    """The SSM reads a client really makes, by operation (the test's own writes left out)."""

    def __init__(self, client: Any) -> None:
        self.operations: list[str] = []
        client.meta.events.register("before-call.ssm", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        if model.name.startswith("Get"):
            self.operations.append(model.name)

    @property
    def calls(self) -> int:
        return len(self.operations)


def test_settings_and_profiles_are_read_with_the_secure_token_decrypted(ssm: Any) -> None:
    # Given parameters under the prefix
    config = ParameterStoreConfig(ssm, PREFIX, max_age=300)
    # When they are loaded
    loaded = config.load()
    # Then the token is decrypted, the SIP domain derived from the space, and the profile parsed
    assert loaded.signalwire.api_token.get_secret_value() == TOKEN
    assert loaded.signalwire.sip_domain == "example.sip.signalwire.com"
    assert loaded.profiles["default"].encryption == "optional"


def test_an_explicit_sip_domain_wins_over_the_derived_one(ssm: Any) -> None:
    # Given a sip_domain parameter
    put(ssm, "signalwire/sip_domain", "sip.example.com")
    # When the settings are loaded
    loaded = ParameterStoreConfig(ssm, PREFIX, max_age=300).load()
    # Then it is used
    assert loaded.signalwire.sip_domain == "sip.example.com"


def test_a_warm_load_within_the_cache_age_makes_no_ssm_call(ssm: Any) -> None:
    # Given a config loaded once
    provider = SSMCalls(ssm)
    config = ParameterStoreConfig(ssm, PREFIX, max_age=300)
    first = config.load()
    # When it is loaded again within the cache age
    second = config.load()
    # Then SSM was called once and the parsed config is the same object
    assert provider.calls == 1
    assert second is first


def add_profiles(ssm: Any, count: int) -> None:
    for index in range(count):
        put(ssm, f"profiles/team-{index:03d}", json.dumps({"caller_id": f"Team {index}"}))


@pytest.mark.parametrize("profiles", [5, 60])
def test_the_settings_and_the_default_profile_are_read_in_one_call_whatever_the_number_of_profiles(
    ssm: Any, profiles: int
) -> None:
    # Given many profiles besides `default`
    add_profiles(ssm, profiles)
    calls = SSMCalls(ssm)
    # When the config is loaded and a request builds on `default`
    loaded = ParameterStoreConfig(ssm, PREFIX, max_age=300).load()
    loaded.profiles_for("default")
    # Then one GetParameters call read it all
    assert calls.operations == ["GetParameters"]


def test_a_named_profile_is_read_alone_once_per_snapshot(ssm: Any) -> None:
    # Given many profiles and a loaded config
    add_profiles(ssm, 30)
    calls = SSMCalls(ssm)
    loaded = ParameterStoreConfig(ssm, PREFIX, max_age=300).load()
    # When two requests name the same profile
    first = loaded.profiles_for("team-007")["team-007"]
    again = loaded.profiles_for("team-007")["team-007"]
    # Then it was read by its name once, with the settings' call before it
    assert first.caller_id == again.caller_id == "Team 7"
    assert calls.operations == ["GetParameters", "GetParameters"]


def test_every_profile_is_read_in_pages_of_ten_only_when_all_are_needed(ssm: Any) -> None:
    # Given 16 profiles besides `default`: 17
    add_profiles(ssm, 16)
    calls = SSMCalls(ssm)
    loaded = ParameterStoreConfig(ssm, PREFIX, max_age=300).load()
    # When every profile is listed
    names = sorted(loaded.profiles)
    # Then two pages under profiles/ were read after the settings, and every profile arrived
    assert calls.operations == ["GetParameters", "GetParametersByPath", "GetParametersByPath"]
    assert len(names) == 17


def test_an_unknown_profile_is_absent_without_an_error(ssm: Any) -> None:
    # Given a loaded config
    loaded = ParameterStoreConfig(ssm, PREFIX, max_age=300).load()
    # When a request names a profile that does not exist
    # Then it is absent, and `default` still there
    assert "no-such-profile" not in loaded.profiles_for("no-such-profile")
    assert "default" in loaded.profiles


def test_a_broken_named_profile_fails_only_the_requests_naming_it(ssm: Any) -> None:
    # Given a profile that breaks the rules beside a valid default
    put(ssm, "profiles/broken", json.dumps({"encryption": "always"}))
    loaded = ParameterStoreConfig(ssm, PREFIX, max_age=300).load()
    # When requests name it, and others name default
    with pytest.raises(ConfigurationError) as raised:
        loaded.profiles_for("broken")
    # Then only those naming it fail, naming the parameter
    assert raised.value.parameter == f"{PREFIX}/profiles/broken"
    assert loaded.profiles_for("default")["default"].encryption == "optional"


def test_an_expired_cache_reads_ssm_again_and_sees_changes(ssm: Any) -> None:
    # Given a config with no caching
    provider = SSMCalls(ssm)
    config = ParameterStoreConfig(ssm, PREFIX, max_age=0)
    config.load()
    # When a profile changes and the config is loaded again
    put(ssm, "profiles/default", json.dumps({"encryption": "required"}))
    loaded = config.load()
    # Then the change is seen
    assert provider.calls == 2
    assert loaded.profiles["default"].encryption == "required"


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("profiles/default", "{not json", "is not valid JSON"),
        ("profiles/default", "[1, 2]", "must be a JSON object"),
        ("profiles/default", json.dumps({"password": "from-profile-secret"}), "breaks the profile rules in: password"),
        ("profiles/default", json.dumps({"encryption": "always"}), "breaks the profile rules in: encryption"),
        (
            "profiles/default",
            json.dumps({"call_fallback_url": "https://hooks.example.com:99999/fallback"}),
            "breaks the profile rules in: call_fallback_url",
        ),
        ("signalwire/space_url", "http://example.signalwire.com", "must use https"),
        ("signalwire/project_id", " ", "is missing or empty"),
    ],
)
def test_a_broken_parameter_is_a_configuration_error_naming_it_but_not_its_value(
    ssm: Any, name: str, value: str, reason: str
) -> None:
    # Given a broken parameter
    put(ssm, name, value)
    # When the config is loaded and the default profile asked for (a broken profile fails only its requests)
    with pytest.raises(ConfigurationError) as raised:
        ParameterStoreConfig(ssm, PREFIX, max_age=300).load().profiles_for("default")
    # Then the error names the parameter and why, and never holds the value
    assert raised.value.parameter == f"{PREFIX}/{name}"
    assert reason in str(raised.value)
    assert "from-profile-secret" not in str(raised.value)


def test_a_missing_default_profile_is_a_configuration_error(ssm: Any) -> None:
    # Given no default profile
    ssm.delete_parameter(Name=f"{PREFIX}/profiles/default")
    # When the config is loaded
    with pytest.raises(ConfigurationError) as raised:
        ParameterStoreConfig(ssm, PREFIX, max_age=300).load()
    # Then the missing parameter is named
    assert raised.value.parameter == f"{PREFIX}/profiles/default"


def test_a_missing_api_token_is_a_configuration_error_naming_it(ssm: Any) -> None:
    # Given no API token
    ssm.delete_parameter(Name=f"{PREFIX}/signalwire/api_token")
    # When the config is loaded
    with pytest.raises(ConfigurationError) as raised:
        ParameterStoreConfig(ssm, PREFIX, max_age=300).load()
    # Then the error names the token parameter
    assert raised.value.parameter == f"{PREFIX}/signalwire/api_token"


def test_http_is_accepted_for_a_loopback_space_url(ssm: Any) -> None:
    # Given a loopback emulator URL
    put(ssm, "signalwire/space_url", "http://127.0.0.1:8080")
    # When the config is loaded
    loaded = ParameterStoreConfig(ssm, PREFIX, max_age=300).load()
    # Then it is accepted
    assert loaded.signalwire.space_url == "http://127.0.0.1:8080"


def test_without_slack_parameters_the_slack_settings_are_absent(ssm: Any) -> None:
    # Given no slack/ parameters
    # When the config is loaded
    loaded = ParameterStoreConfig(ssm, PREFIX, max_age=300).load()
    # Then there are no Slack settings
    assert loaded.slack is None


def test_slack_settings_are_read_with_the_secret_decrypted_and_the_team_list_split(ssm: Any) -> None:
    # Given the Slack signing secret and a StringList of teams
    put(ssm, "slack/signing_secret", "slack-signing-secret-value", kind="SecureString")
    put(ssm, "slack/allowed_team_ids", "T0001, T0002", kind="StringList")
    # When the config is loaded
    loaded = ParameterStoreConfig(ssm, PREFIX, max_age=300).load()
    # Then both are there
    assert loaded.slack is not None
    assert loaded.slack.signing_secret.get_secret_value() == "slack-signing-secret-value"
    assert loaded.slack.allowed_team_ids == {"T0001", "T0002"}


def test_a_slack_secret_without_allowed_teams_is_a_configuration_error(ssm: Any) -> None:
    # Given a signing secret alone
    put(ssm, "slack/signing_secret", "slack-signing-secret-value", kind="SecureString")
    # When the config is loaded
    with pytest.raises(ConfigurationError) as raised:
        ParameterStoreConfig(ssm, PREFIX, max_age=300).load()
    # Then the missing list is named, and the secret is not shown
    assert raised.value.parameter == f"{PREFIX}/slack/allowed_team_ids"
    assert "slack-signing-secret-value" not in str(raised.value)


def test_an_admins_listing_reads_no_profile_from_ssm_whatever_their_number(api: ProvisionerApi) -> None:
    # Given many profiles, and a container whose settings are read
    for index in range(30):
        api.put_parameter(f"profiles/team-{index:03d}", json.dumps({"caller_id": f"Team {index}"}))
    reads = FailingCalls("never", 500)  # never told to fail: it counts
    with in_every_new_session("before-send.ssm", reads):
        api.module.wiring.cache_clear()
        api.module.wiring().warm_up()
        before = reads.calls
        # When an admin lists the endpoints (an admin sees every profile's)
        answer = api.request("GET", "/endpoints")
    # Then no profile was read for it: only the settings, as the container's settings expired (max age 0)
    assert answer.status == 200
    assert reads.calls - before == 1
