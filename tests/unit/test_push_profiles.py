"""The profiles and the example deployment policy in config/ are checked before they reach SSM."""

import json
from pathlib import Path

import pytest

from config.push_profiles import load_policy, load_profiles
from sip_provisioning.domain.policy import PasswordDelivery
from sip_provisioning.domain.profile import Profile

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_every_profile_in_config_is_valid_and_pushed_as_compact_json() -> None:
    # Given / When the repository's profiles are loaded
    profiles = load_profiles(CONFIG / "profiles")
    # Then every file is there, each the same document in compact form
    assert set(profiles) == {path.stem for path in (CONFIG / "profiles").glob("*.json")}
    assert all(
        json.loads(value) == json.loads((CONFIG / "profiles" / f"{name}.json").read_text())
        for name, value in profiles.items()
    )


def test_the_onboarding_profile_shows_a_realistic_policy() -> None:
    # Given / When the onboarding profile is read with the function's own model
    profile = Profile.model_validate_json((CONFIG / "profiles" / "onboarding.json").read_text())
    # Then it names its callers, its overridable fields, company hosts and Secrets Manager delivery
    assert profile.policy is not None
    assert "workflow" in (profile.policy.callers or ())
    assert profile.policy.url_hosts == ("*.example.com",)
    assert profile.policy.password_delivery is PasswordDelivery.SECRETS_MANAGER


def test_the_example_deployment_policy_is_valid() -> None:
    # Given / When the example policy is loaded
    policy = json.loads(load_policy(CONFIG / "policy.example.json"))
    # Then it has admins and company hosts
    assert policy["admins"]
    assert policy["url_hosts"] == ["*.example.com"]


def test_a_broken_policy_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    # Given a policy with a key the policy does not know
    broken = tmp_path / "policy.json"
    broken.write_text(json.dumps({"admins": [], "superusers": ["*"]}))
    # When / Then loading it fails, naming the file
    with pytest.raises(ValueError, match=r"policy\.json"):
        load_policy(broken)


def test_a_profile_with_a_broken_policy_is_refused_naming_the_file(tmp_path: Path) -> None:
    # Given a default profile whose policy names an unknown handler type
    (tmp_path / "default.json").write_text(json.dumps({"policy": {"handler_types": ["fax"]}}))
    # When / Then loading the profiles fails, naming the file
    with pytest.raises(ValueError, match=r"default\.json"):
        load_profiles(tmp_path)
