"""`<prefix>/scim/settings`: a userName becomes a SIP username, a user's attribute a profile."""

import pytest
from pydantic import ValidationError

from sip_provisioning.callers.scim.errors import InvalidValue
from sip_provisioning.callers.scim.resources import AsSentEnterpriseUser, ScimUser
from sip_provisioning.callers.scim.settings import (
    ScimSettings,
    UsernameRule,
    profile_for,
    sip_username_for,
)
from sip_provisioning.domain.scim_users import DeactivationAction

DEPARTMENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"


def test_settings_without_keys_take_the_contract_defaults() -> None:
    # Given / When an empty settings document is read
    settings = ScimSettings.model_validate_json("{}")
    # Then the SIP username is the local part, the profile the default one, deactivation disables
    assert settings.username is UsernameRule.LOCAL_PART
    assert settings.default_profile == "default"
    assert settings.profile_attribute is None
    assert settings.on_deactivate is DeactivationAction.DISABLE


def test_an_unknown_settings_key_is_refused() -> None:
    # Given / When a settings document with a misspelt key is read
    # Then it is refused
    with pytest.raises(ValidationError, match="on_deactivation"):
        ScimSettings.model_validate({"on_deactivation": "delete"})


@pytest.mark.parametrize("attribute", ["nickname_of_the_cat", "emails", "active", "DEPARTMENT", 'title eq "x"'])
def test_a_profile_attribute_that_is_not_a_single_valued_string_attribute_is_refused(attribute: str) -> None:
    # Given / When settings name an attribute a profile cannot come from
    # Then they are refused
    with pytest.raises(ValidationError, match="profile_attribute"):
        ScimSettings(profile_attribute=attribute)


@pytest.mark.parametrize(
    ("user_name", "sip_username"),
    [("Alice.Smith@Example.com", "alice.smith"), ("bob", "bob"), ("Carol+Sales@example.com", "carol+sales")],
)
def test_local_part_is_the_user_name_before_the_at_sign_lower_cased(user_name: str, sip_username: str) -> None:
    # Given the default settings
    settings = ScimSettings()
    # When a userName is mapped
    mapped = sip_username_for(user_name, settings)
    # Then it is its local part, lower-cased
    assert mapped == sip_username


def test_as_is_keeps_the_user_name_whole() -> None:
    # Given settings that keep userNames as they are
    settings = ScimSettings(username=UsernameRule.AS_IS)
    # When a userName without "@" is mapped
    mapped = sip_username_for("Alice.Smith", settings)
    # Then it is the userName, case included
    assert mapped == "Alice.Smith"


def test_as_is_refuses_a_user_name_with_an_at_sign() -> None:
    # Given settings that keep userNames as they are
    settings = ScimSettings(username=UsernameRule.AS_IS)
    # When an email-like userName is mapped
    # Then it is an invalid value: no SIP username holds "@"
    with pytest.raises(InvalidValue, match=r"alice@example\.com"):
        sip_username_for("alice@example.com", settings)


@pytest.mark.parametrize(
    "user_name",
    [
        "@example.com",
        "alice@corp@example.com",
        "alice smith@example.com",
        "alice\tsmith",
        "alice\u00a0smith",
        "alice\x07",
        "alice\u200b",
        "a" * 129,
    ],
    ids=["empty", "two-at-signs", "space", "tab", "no-break-space", "control", "zero-width-space", "129-characters"],
)
def test_a_user_name_that_maps_to_no_valid_sip_username_is_an_invalid_value(user_name: str) -> None:
    # Given the default settings
    settings = ScimSettings()
    # When a userName whose local part is no SIP username is mapped
    # Then it is an invalid value
    with pytest.raises(InvalidValue, match="maps to no valid SIP username"):
        sip_username_for(user_name, settings)


def test_the_longest_valid_sip_username_is_128_characters() -> None:
    # Given the default settings
    settings = ScimSettings()
    # When a userName whose local part is 128 characters long is mapped
    mapped = sip_username_for("a" * 128 + "@example.com", settings)
    # Then it is kept
    assert mapped == "a" * 128


def test_without_a_profile_attribute_every_user_gets_the_default_profile() -> None:
    # Given settings with profiles but no attribute to read them from
    settings = ScimSettings(default_profile="desk", profiles={"Sales": "sales"})
    # When a user's profile is chosen
    profile = profile_for(ScimUser(user_name="alice", title="Sales"), settings)
    # Then it is the default profile
    assert profile == "desk"


def test_the_profile_comes_from_a_core_attribute() -> None:
    # Given settings reading profiles from the title
    settings = ScimSettings(profile_attribute="title", profiles={"Receptionist": "front-desk"})
    # When a receptionist's profile is chosen
    profile = profile_for(ScimUser(user_name="alice", title="Receptionist"), settings)
    # Then it is the receptionist's profile
    assert profile == "front-desk"


def test_the_profile_comes_from_the_enterprise_extension() -> None:
    # Given settings reading profiles from the enterprise department
    settings = ScimSettings(profile_attribute=DEPARTMENT, profiles={"Sales": "sales"})
    user = ScimUser(user_name="alice")
    user[AsSentEnterpriseUser] = AsSentEnterpriseUser(department="Sales")
    # When a sales user's profile is chosen
    profile = profile_for(user, settings)
    # Then it is the sales profile
    assert profile == "sales"


def test_a_value_without_a_profile_gets_the_default_profile() -> None:
    # Given settings reading profiles from the title
    settings = ScimSettings(profile_attribute="title", profiles={"Sales": "sales"})
    # When the profile of a user whose title has none is chosen
    profile = profile_for(ScimUser(user_name="alice", title="Engineer"), settings)
    # Then it is the default profile
    assert profile == "default"


def test_profile_values_are_matched_exactly() -> None:
    # Given settings with a profile for "Sales"
    settings = ScimSettings(profile_attribute="title", profiles={"Sales": "sales"})
    # When the profile of a user whose title is "sales" is chosen
    profile = profile_for(ScimUser(user_name="alice", title="sales"), settings)
    # Then it is the default profile
    assert profile == "default"


def test_a_user_without_the_attribute_gets_the_default_profile() -> None:
    # Given settings reading profiles from the enterprise department
    settings = ScimSettings(profile_attribute=DEPARTMENT, profiles={"Sales": "sales"})
    # When the profile of a user without the enterprise extension is chosen
    profile = profile_for(ScimUser(user_name="alice"), settings)
    # Then it is the default profile
    assert profile == "default"
