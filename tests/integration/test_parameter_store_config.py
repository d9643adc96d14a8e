"""Profiles and SignalWire settings read from SSM (moto) through Powertools' SSM provider."""

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SSMProvider
from moto import mock_aws

from sip_provisioning.configuration import ParameterStoreConfig
from sip_provisioning.errors import ConfigurationError

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


class CountingSSMProvider(SSMProvider):
    """Powertools' provider, counting the GetParametersByPath pages it really requests."""

    def __init__(self, client: Any) -> None:
        super().__init__(boto3_client=client)
        self.calls = 0
        client.meta.events.register("before-call.ssm.GetParametersByPath", self._count)

    def _count(self, **_: Any) -> None:
        self.calls += 1


def test_settings_and_profiles_are_read_with_the_secure_token_decrypted(ssm: Any) -> None:
    # Given parameters under the prefix
    config = ParameterStoreConfig(SSMProvider(boto3_client=ssm), PREFIX, max_age=300)
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
    loaded = ParameterStoreConfig(SSMProvider(boto3_client=ssm), PREFIX, max_age=300).load()
    # Then it is used
    assert loaded.signalwire.sip_domain == "sip.example.com"


def test_a_warm_load_within_the_cache_age_makes_no_ssm_call(ssm: Any) -> None:
    # Given a config loaded once
    provider = CountingSSMProvider(ssm)
    config = ParameterStoreConfig(provider, PREFIX, max_age=300)
    first = config.load()
    # When it is loaded again within the cache age
    second = config.load()
    # Then SSM was called once and the parsed config is the same object
    assert provider.calls == 1
    assert second is first


def test_parameters_are_read_in_pages_of_ten(ssm: Any) -> None:
    # Given 4 settings and 17 profiles: 21 parameters
    for index in range(16):
        put(ssm, f"profiles/team-{index:02d}", json.dumps({"caller_id": f"Team {index}"}))
    provider = CountingSSMProvider(ssm)
    # When they are loaded
    loaded = ParameterStoreConfig(provider, PREFIX, max_age=300).load()
    # Then three pages were read, and every profile arrived
    assert provider.calls == 3
    assert len(loaded.profiles) == 17


def test_an_expired_cache_reads_ssm_again_and_sees_changes(ssm: Any) -> None:
    # Given a config with no caching
    provider = CountingSSMProvider(ssm)
    config = ParameterStoreConfig(provider, PREFIX, max_age=0)
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
        ParameterStoreConfig(SSMProvider(boto3_client=ssm), PREFIX, max_age=300).load().profiles_for("default")
    # Then the error names the parameter and why, and never holds the value
    assert raised.value.parameter == f"{PREFIX}/{name}"
    assert reason in str(raised.value)
    assert "from-profile-secret" not in str(raised.value)


def test_a_missing_default_profile_is_a_configuration_error(ssm: Any) -> None:
    # Given no default profile
    ssm.delete_parameter(Name=f"{PREFIX}/profiles/default")
    # When the config is loaded
    with pytest.raises(ConfigurationError) as raised:
        ParameterStoreConfig(SSMProvider(boto3_client=ssm), PREFIX, max_age=300).load()
    # Then the missing parameter is named
    assert raised.value.parameter == f"{PREFIX}/profiles/default"


def test_a_missing_api_token_is_a_configuration_error_naming_it(ssm: Any) -> None:
    # Given no API token
    ssm.delete_parameter(Name=f"{PREFIX}/signalwire/api_token")
    # When the config is loaded
    with pytest.raises(ConfigurationError) as raised:
        ParameterStoreConfig(SSMProvider(boto3_client=ssm), PREFIX, max_age=300).load()
    # Then the error names the token parameter
    assert raised.value.parameter == f"{PREFIX}/signalwire/api_token"


def test_http_is_accepted_for_a_loopback_space_url(ssm: Any) -> None:
    # Given a loopback emulator URL
    put(ssm, "signalwire/space_url", "http://127.0.0.1:8080")
    # When the config is loaded
    loaded = ParameterStoreConfig(SSMProvider(boto3_client=ssm), PREFIX, max_age=300).load()
    # Then it is accepted
    assert loaded.signalwire.space_url == "http://127.0.0.1:8080"


def test_without_slack_parameters_the_slack_settings_are_absent(ssm: Any) -> None:
    # Given no slack/ parameters
    # When the config is loaded
    loaded = ParameterStoreConfig(SSMProvider(boto3_client=ssm), PREFIX, max_age=300).load()
    # Then there are no Slack settings
    assert loaded.slack is None


def test_slack_settings_are_read_with_the_secret_decrypted_and_the_team_list_split(ssm: Any) -> None:
    # Given the Slack signing secret and a StringList of teams
    put(ssm, "slack/signing_secret", "slack-signing-secret-value", kind="SecureString")
    put(ssm, "slack/allowed_team_ids", "T0001, T0002", kind="StringList")
    # When the config is loaded
    loaded = ParameterStoreConfig(SSMProvider(boto3_client=ssm), PREFIX, max_age=300).load()
    # Then both are there
    assert loaded.slack is not None
    assert loaded.slack.signing_secret.get_secret_value() == "slack-signing-secret-value"
    assert loaded.slack.allowed_team_ids == {"T0001", "T0002"}


def test_a_slack_secret_without_allowed_teams_is_a_configuration_error(ssm: Any) -> None:
    # Given a signing secret alone
    put(ssm, "slack/signing_secret", "slack-signing-secret-value", kind="SecureString")
    # When the config is loaded
    with pytest.raises(ConfigurationError) as raised:
        ParameterStoreConfig(SSMProvider(boto3_client=ssm), PREFIX, max_age=300).load()
    # Then the missing list is named, and the secret is not shown
    assert raised.value.parameter == f"{PREFIX}/slack/allowed_team_ids"
    assert "slack-signing-secret-value" not in str(raised.value)
