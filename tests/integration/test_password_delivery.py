"""Password delivery to Secrets Manager (CONTRACT.md section 5, issue 10 item 2), through moto.

Every step of a secret's life, through the deployed handlers: written on create from a
`secrets_manager` profile, a deployment default or the request's own choice; replayed under an
Idempotency-Key; a new version on reset; scheduled for deletion on delete; restored for a
username created again; always used by the workflow entry. And a scan: the password of a
`secrets_manager` endpoint is in no answer, no log line and no DynamoDB item, only in the
secret (and in SignalWire, the emulator here).
"""

import json
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from local.gateway import IamCaller
from tests.integration.conftest import (
    CALLER,
    IDEMPOTENCY_TABLE,
    INVENTORY_TABLE,
    SECRETS_PREFIX,
    SIP_DOMAIN,
    Answer,
    ProvisionerApi,
    invoke_workflow,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

VAULT_PROFILE: dict[str, Any] = {
    "description": "Passwords go to Secrets Manager",
    "call_handler": "laml_webhooks",
    "call_request_url": "https://voice.example.com/laml/vault",
    "policy": {"password_delivery": "secrets_manager"},
}
ONBOARDING = IamCaller(user_arn="arn:aws:sts::123456789012:assumed-role/onboarding-provisioner/session-7")


# -- helpers ------------------------------------------------------------------------------------


@pytest.fixture
def vault(api: ProvisionerApi) -> ProvisionerApi:
    """The api with a `vault` profile whose policy delivers passwords to Secrets Manager."""
    api.put_parameter("profiles/vault", json.dumps(VAULT_PROFILE))
    return api


def put_profile(api: ProvisionerApi, name: str, policy: dict[str, Any]) -> None:
    api.put_parameter(f"profiles/{name}", json.dumps({**VAULT_PROFILE, "policy": policy}))


def secrets() -> Any:
    return boto3.client("secretsmanager")


def secret_name(username: str) -> str:
    return f"{SECRETS_PREFIX}{username}"


def secret_value(username: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(secrets().get_secret_value(SecretId=secret_name(username))["SecretString"])
    return value


def secret_tags(username: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in secrets().describe_secret(SecretId=secret_name(username))["Tags"]}


def all_secret_names() -> list[str]:
    return [secret["Name"] for secret in secrets().list_secrets(IncludePlannedDeletion=True)["SecretList"]]


def version_ids(username: str) -> list[str]:
    versions = secrets().list_secret_version_ids(SecretId=secret_name(username), IncludeDeprecated=True)
    return [version["VersionId"] for version in versions["Versions"]]


def patch(api: ProvisionerApi, username: str, changes: dict[str, Any]) -> Answer:
    return api.request("PATCH", f"/endpoints/{username}", changes)


def obeys_secrets_managers_rules(name: str, tags: dict[str, str]) -> bool:
    """Secrets Manager's documented limits, which moto does not enforce: a name of at most 512
    ASCII letters, digits and /_+=.@-; tag values of at most 256 Unicode letters, separators,
    numbers and _.:/=+-@, none starting with "aws:" in any case."""

    def tag_character(character: str) -> bool:
        return character in "_.:/=+-@" or unicodedata.category(character)[0] in "LZN"

    name_fits = len(name) <= 512 and re.fullmatch(r"[A-Za-z0-9/_+=.@-]+", name) is not None
    tags_fit = all(
        len(value) <= 256 and all(map(tag_character, value)) and not value.lower().startswith("aws:")
        for value in tags.values()
    )
    return name_fits and tags_fit


def assert_refused_and_nothing_created(api: ProvisionerApi, answer: Answer, field: str, username: str) -> None:
    assert answer.status == 422, answer.body
    assert answer.body["type"] == "validation-error"
    assert field in [error["field"] for error in answer.body["errors"]]
    assert api.emulator.create_requests_received() == 0
    assert all_secret_names() == []
    current = {"username": {"S": username}, "record": {"S": "current"}}
    assert "Item" not in boto3.client("dynamodb").get_item(TableName=INVENTORY_TABLE, Key=current)


def keyed(key: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Idempotency-Key": key}


def reset(api: ProvisionerApi, username: str, body: dict[str, Any] | None = None, **kwargs: Any) -> Answer:
    return api.request("POST", f"/endpoints/{username}/password", body or {}, **kwargs)


def dynamodb_items() -> str:
    """Every item of the inventory and idempotency tables, as text."""
    client = boto3.client("dynamodb")
    items = [item for table in (INVENTORY_TABLE, IDEMPOTENCY_TABLE) for item in client.scan(TableName=table)["Items"]]
    return json.dumps(items, default=lambda data: bytes(data).decode("utf-8", "replace"))


# -- where the password goes ----------------------------------------------------------------------


def test_a_secrets_manager_profile_answers_the_secrets_arn_and_no_password(vault: ProvisionerApi) -> None:
    # Given a profile whose policy delivers passwords to Secrets Manager
    # When an endpoint is created from it with a generated password
    answer = vault.create({"username": "ada.lovelace", "profile": "vault"})
    # Then the 201 carries the secret's ARN and no password
    assert answer.status == 201, answer.body
    assert "password" not in answer.body
    described = secrets().describe_secret(SecretId=secret_name("ada.lovelace"))
    assert answer.body["password_secret_arn"] == described["ARN"]


def test_the_secret_is_named_for_the_username_under_the_prefix(vault: ProvisionerApi) -> None:
    # Given a secrets_manager profile
    # When an endpoint is created from it
    assert vault.create({"username": "ada.lovelace", "profile": "vault"}).status == 201
    # Then the one secret written is `<SECRETS_PREFIX><username>`
    assert all_secret_names() == [f"{SECRETS_PREFIX}ada.lovelace"]


def test_the_secrets_value_holds_the_username_the_password_signalwire_holds_and_the_sip_uri(
    vault: ProvisionerApi,
) -> None:
    # Given a secrets_manager profile
    # When an endpoint is created from it
    answer = vault.create({"username": "ada.lovelace", "profile": "vault"})
    # Then the secret's value is exactly the username, SignalWire's password and the SIP URI
    assert secret_value("ada.lovelace") == {
        "username": "ada.lovelace",
        "password": vault.emulator.stored_password("ada.lovelace"),
        "sip_uri": f"sip:ada.lovelace@{SIP_DOMAIN}",
    }
    assert answer.body["sip_uri"] == f"sip:ada.lovelace@{SIP_DOMAIN}"


def test_the_secret_is_tagged_with_the_username_profile_creator_and_owner(vault: ProvisionerApi) -> None:
    # Given a secrets_manager profile
    # When an onboarding role creates an endpoint from it for an owner
    body = {"username": "ada.lovelace", "profile": "vault", "owner": "ada@example.com"}
    assert vault.create(body, caller=ONBOARDING).status == 201
    # Then the secret carries the four tags, each with its value as is
    assert secret_tags("ada.lovelace") == {
        "sip:username": "ada.lovelace",
        "sip:profile": "vault",
        "sip:created-by": ONBOARDING.user_arn,
        "sip:owner": "ada@example.com",
    }


def test_the_secret_has_no_owner_tag_when_the_request_names_no_owner(vault: ProvisionerApi) -> None:
    # Given a secrets_manager profile
    # When an endpoint is created from it without an owner
    assert vault.create({"username": "ada.lovelace", "profile": "vault"}).status == 201
    # Then the secret has no sip:owner tag
    assert set(secret_tags("ada.lovelace")) == {"sip:username", "sip:profile", "sip:created-by"}


def test_the_deployments_default_delivers_to_secrets_manager_for_a_profile_without_one(api: ProvisionerApi) -> None:
    # Given a deployment policy defaulting to secrets_manager, and a profile with no policy
    api.put_parameter("policy", json.dumps({"admins": [CALLER.user_arn], "password_delivery": "secrets_manager"}))
    # When an endpoint is created from that profile
    answer = api.create({"username": "grace.hopper", "profile": "office"})
    # Then its password went to the secret, not into the answer
    assert answer.status == 201, answer.body
    assert "password" not in answer.body
    assert answer.body["password_secret_arn"].split(":")[6].startswith(secret_name("grace.hopper"))
    assert secret_value("grace.hopper")["password"] == api.emulator.stored_password("grace.hopper")


def test_a_profiles_response_delivery_wins_over_the_deployments_default(api: ProvisionerApi) -> None:
    # Given a deployment defaulting to secrets_manager and a profile that answers passwords
    api.put_parameter("policy", json.dumps({"admins": [CALLER.user_arn], "password_delivery": "secrets_manager"}))
    put_profile(api, "answers", {"password_delivery": "response"})
    # When an endpoint is created from that profile
    answer = api.create({"username": "grace.hopper", "profile": "answers"})
    # Then the password is in the answer and no secret was written
    assert answer.status == 201, answer.body
    assert answer.body["password"] == api.emulator.stored_password("grace.hopper")
    assert answer.body.get("password_secret_arn") is None
    assert all_secret_names() == []


def test_a_requests_own_delivery_is_used_where_the_profile_lets_it_choose(api: ProvisionerApi) -> None:
    # Given a profile with no policy (every field overridable) and no deployment policy
    # When a request asks for secrets_manager delivery
    answer = api.create({"username": "ada.lovelace", "profile": "office", "password_delivery": "secrets_manager"})
    # Then the password went to the secret
    assert answer.status == 201, answer.body
    assert "password" not in answer.body
    assert secret_value("ada.lovelace")["password"] == api.emulator.stored_password("ada.lovelace")


def test_a_requests_response_delivery_wins_over_the_profiles_where_password_delivery_is_overridable(
    api: ProvisionerApi,
) -> None:
    # Given a secrets_manager profile that lists password_delivery as overridable
    put_profile(api, "choice", {"overridable": ["password_delivery"], "password_delivery": "secrets_manager"})
    # When a request asks for the password in the answer
    answer = api.create({"username": "ada.lovelace", "profile": "choice", "password_delivery": "response"})
    # Then it gets it there, and no secret was written
    assert answer.status == 201, answer.body
    assert answer.body["password"] == api.emulator.stored_password("ada.lovelace")
    assert all_secret_names() == []


def test_a_requests_delivery_is_forbidden_where_the_profile_does_not_let_it_choose(api: ProvisionerApi) -> None:
    # Given a secrets_manager profile whose overridable fields leave out password_delivery
    put_profile(api, "vault-locked", {"overridable": ["owner"], "password_delivery": "secrets_manager"})
    # When a request asks for the password in the answer
    answer = api.create({"username": "ada.lovelace", "profile": "vault-locked", "password_delivery": "response"})
    # Then it is a 403 naming policy.overridable, nothing was created and no password was answered
    assert answer.status == 403, answer.body
    assert answer.body["type"] == "forbidden"
    assert "policy.overridable" in answer.body["detail"]
    assert "password_delivery" in answer.body["detail"]
    assert api.emulator.create_requests_received() == 0
    assert all_secret_names() == []


def test_a_caller_given_password_is_never_written_to_a_secret(api: ProvisionerApi) -> None:
    # Given a secrets_manager profile that lets a request set its password
    put_profile(api, "vault-own", {"overridable": ["password"], "password_delivery": "secrets_manager"})
    # When a request brings its own password
    answer = api.create({"username": "ada.lovelace", "profile": "vault-own", "password": "callers-own-Passw0rd-XYZ"})
    # Then the endpoint has it, the answer neither echoes it nor names a secret, and no secret exists
    assert answer.status == 201, answer.body
    assert api.emulator.stored_password("ada.lovelace") == "callers-own-Passw0rd-XYZ"
    assert "callers-own-Passw0rd-XYZ" not in json.dumps(answer.body)
    assert answer.body.get("password_secret_arn") is None
    assert all_secret_names() == []


# -- the secret's life ----------------------------------------------------------------------------


def test_a_keyed_replay_answers_the_same_secrets_arn_and_no_password(vault: ProvisionerApi) -> None:
    # Given an endpoint created from a secrets_manager profile under an Idempotency-Key
    body = {"username": "ada.lovelace", "profile": "vault"}
    first = vault.create(body, headers=keyed("vault-create-1"))
    # When the same request is sent again under that key
    replayed = vault.create(body, headers=keyed("vault-create-1"))
    # Then it answers the same 201, the same ARN and no password, and nothing was created twice
    assert (first.status, replayed.status) == (201, 201)
    assert replayed.body == first.body
    assert "password" not in replayed.body
    assert vault.emulator.creates_committed() == 1
    assert len(version_ids("ada.lovelace")) == 1


def test_a_reset_writes_a_new_version_of_the_secret_holding_signalwires_new_password(vault: ProvisionerApi) -> None:
    # Given an endpoint of a secrets_manager profile
    created = vault.create({"username": "ada.lovelace", "profile": "vault"})
    first_password = vault.emulator.stored_password("ada.lovelace")
    # When its password is reset
    answer = reset(vault, "ada.lovelace")
    # Then the answer names the same secret and holds no password
    assert answer.status == 200, answer.body
    assert "password" not in answer.body
    assert answer.body["password_secret_arn"] == created.body["password_secret_arn"]
    # And the secret has a second version holding the password SignalWire now holds
    new_password = vault.emulator.stored_password("ada.lovelace")
    assert new_password != first_password
    assert len(version_ids("ada.lovelace")) == 2
    assert secret_value("ada.lovelace") == {
        "username": "ada.lovelace",
        "password": new_password,
        "sip_uri": f"sip:ada.lovelace@{SIP_DOMAIN}",
    }


def test_the_previous_version_keeps_the_old_password(vault: ProvisionerApi) -> None:
    # Given an endpoint of a secrets_manager profile whose password was reset once
    assert vault.create({"username": "ada.lovelace", "profile": "vault"}).status == 201
    first_password = vault.emulator.stored_password("ada.lovelace")
    assert reset(vault, "ada.lovelace").status == 200
    # When the secret's previous version is read
    previous = secrets().get_secret_value(SecretId=secret_name("ada.lovelace"), VersionStage="AWSPREVIOUS")
    # Then it holds the first password
    assert json.loads(previous["SecretString"])["password"] == first_password


def test_a_keyed_reset_replayed_answers_the_same_arn_and_writes_no_further_version(vault: ProvisionerApi) -> None:
    # Given an endpoint of a secrets_manager profile reset under an Idempotency-Key
    assert vault.create({"username": "ada.lovelace", "profile": "vault"}).status == 201
    first = reset(vault, "ada.lovelace", headers=keyed("vault-reset-1"))
    # When the reset is sent again under that key
    replayed = reset(vault, "ada.lovelace", headers=keyed("vault-reset-1"))
    # Then it answers the same, still without a password, and the secret has still two versions
    assert (first.status, replayed.status) == (200, 200)
    assert replayed.body == first.body
    assert "password" not in replayed.body
    assert len(version_ids("ada.lovelace")) == 2


def test_a_reset_of_a_disabled_endpoint_writes_the_new_password_to_its_secret(vault: ProvisionerApi) -> None:
    # Given a disabled endpoint of a secrets_manager profile
    assert vault.create({"username": "ada.lovelace", "profile": "vault"}).status == 201
    assert vault.request("POST", "/endpoints/ada.lovelace/disable").status == 200
    # When its password is reset
    answer = reset(vault, "ada.lovelace")
    # Then the secret holds the password that SignalWire now holds
    assert answer.status == 200, answer.body
    assert secret_value("ada.lovelace")["password"] == vault.emulator.stored_password("ada.lovelace")


def test_a_reset_to_a_given_password_writes_it_to_the_secret_that_held_the_endpoints_password(
    api: ProvisionerApi,
) -> None:
    # Given an endpoint whose generated password went to its secret, of a profile that lets a
    # request give a password
    put_profile(api, "vault-own", {"overridable": ["password"], "password_delivery": "secrets_manager"})
    assert api.create({"username": "ada.lovelace", "profile": "vault-own"}).status == 201
    # When its password is reset to one the caller gives
    answer = reset(api, "ada.lovelace", {"password": "callers-own-Passw0rd-XYZ"})
    # Then SignalWire has it, and so has a new version of the same secret: never the old one
    assert answer.status == 200, answer.body
    assert api.emulator.stored_password("ada.lovelace") == "callers-own-Passw0rd-XYZ"
    assert secret_value("ada.lovelace")["password"] == "callers-own-Passw0rd-XYZ"
    assert len(version_ids("ada.lovelace")) == 2
    # And the answer, as for any given password, holds neither it nor where it went
    assert "callers-own-Passw0rd-XYZ" not in json.dumps(answer.body)
    assert answer.body.get("password_secret_arn") is None


def test_a_reset_delivery_is_forbidden_where_the_profile_does_not_let_a_request_choose_it(
    api: ProvisionerApi,
) -> None:
    # Given an endpoint of a secrets_manager profile that does not let requests choose the delivery
    put_profile(api, "vault-locked", {"overridable": ["owner"], "password_delivery": "secrets_manager"})
    assert api.create({"username": "ada.lovelace", "profile": "vault-locked"}).status == 201
    password_before = api.emulator.stored_password("ada.lovelace")
    # When a reset asks for the new password in the answer
    answer = reset(api, "ada.lovelace", {"password_delivery": "response"})
    # Then it is a 403 naming policy.overridable, and SignalWire's password did not change
    assert answer.status == 403, answer.body
    assert "policy.overridable" in answer.body["detail"]
    assert api.emulator.stored_password("ada.lovelace") == password_before
    assert len(version_ids("ada.lovelace")) == 1


def test_a_delete_schedules_the_secret_for_deletion(vault: ProvisionerApi) -> None:
    # Given an endpoint of a secrets_manager profile
    assert vault.create({"username": "ada.lovelace", "profile": "vault"}).status == 201
    # When it is deleted
    answer = vault.request("DELETE", "/endpoints/ada.lovelace")
    # Then its secret is scheduled for deletion, not gone
    assert answer.status == 204, answer.body
    described = secrets().describe_secret(SecretId=secret_name("ada.lovelace"))
    assert described.get("DeletedDate") is not None


def test_a_repeated_delete_answers_204_and_the_secret_stays_scheduled(vault: ProvisionerApi) -> None:
    # Given a deleted endpoint of a secrets_manager profile
    assert vault.create({"username": "ada.lovelace", "profile": "vault"}).status == 201
    assert vault.request("DELETE", "/endpoints/ada.lovelace").status == 204
    # When it is deleted again
    answer = vault.request("DELETE", "/endpoints/ada.lovelace")
    # Then the answer is 204 again and the secret is still scheduled for deletion
    assert answer.status == 204, answer.body
    assert secrets().describe_secret(SecretId=secret_name("ada.lovelace")).get("DeletedDate") is not None


def test_a_username_created_again_gets_its_secret_back_restored_with_the_new_password(vault: ProvisionerApi) -> None:
    # Given a deleted endpoint of a secrets_manager profile, its secret scheduled for deletion
    first = vault.create({"username": "ada.lovelace", "profile": "vault"})
    first_password = vault.emulator.stored_password("ada.lovelace")
    assert vault.request("DELETE", "/endpoints/ada.lovelace").status == 204
    # When the username is created again
    again = vault.create({"username": "ada.lovelace", "profile": "vault"})
    # Then the same secret is answered, no longer scheduled for deletion, holding the new password
    assert again.status == 201, again.body
    assert "password" not in again.body
    assert again.body["password_secret_arn"] == first.body["password_secret_arn"]
    described = secrets().describe_secret(SecretId=secret_name("ada.lovelace"))
    assert described.get("DeletedDate") is None
    new_password = vault.emulator.stored_password("ada.lovelace")
    assert new_password != first_password
    assert secret_value("ada.lovelace")["password"] == new_password


def test_a_username_created_again_by_someone_else_has_its_tags_brought_up_to_date(vault: ProvisionerApi) -> None:
    # Given a deleted endpoint of a secrets_manager profile created with an owner
    body = {"username": "ada.lovelace", "profile": "vault", "owner": "ada@example.com"}
    assert vault.create(body).status == 201
    assert vault.request("DELETE", "/endpoints/ada.lovelace").status == 204
    # When an onboarding role creates the username again for a new owner
    again = {"username": "ada.lovelace", "profile": "vault", "owner": "ada.king@example.com"}
    assert vault.create(again, caller=ONBOARDING).status == 201
    # Then the secret's tags name the new creator and owner
    tags = secret_tags("ada.lovelace")
    assert tags["sip:created-by"] == ONBOARDING.user_arn
    assert tags["sip:owner"] == "ada.king@example.com"


# -- the tags follow the endpoint --------------------------------------------------------------


def test_a_username_created_again_without_an_owner_carries_no_owner_tag_from_its_earlier_life(
    vault: ProvisionerApi,
) -> None:
    # Given a deleted endpoint of a secrets_manager profile that had an owner
    assert vault.create({"username": "ada.lovelace", "profile": "vault", "owner": "ada@example.com"}).status == 201
    assert vault.request("DELETE", "/endpoints/ada.lovelace").status == 204
    # When the username is created again without an owner
    assert vault.create({"username": "ada.lovelace", "profile": "vault"}).status == 201
    # Then its secret has no owner tag: nothing of the earlier holder stays
    assert secret_tags("ada.lovelace") == {
        "sip:username": "ada.lovelace",
        "sip:profile": "vault",
        "sip:created-by": CALLER.user_arn,
    }


def test_a_patch_of_the_owner_retags_the_secret(vault: ProvisionerApi) -> None:
    # Given an endpoint of a secrets_manager profile owned by ada
    assert vault.create({"username": "ada.lovelace", "profile": "vault", "owner": "ada@example.com"}).status == 201
    # When its owner changes
    assert patch(vault, "ada.lovelace", {"owner": "grace@example.com"}).status == 200
    # Then the secret's owner tag names the new owner
    assert secret_tags("ada.lovelace")["sip:owner"] == "grace@example.com"


def test_a_patch_removing_the_owner_removes_the_secrets_owner_tag(vault: ProvisionerApi) -> None:
    # Given an endpoint of a secrets_manager profile owned by ada
    assert vault.create({"username": "ada.lovelace", "profile": "vault", "owner": "ada@example.com"}).status == 201
    # When its owner is removed
    assert patch(vault, "ada.lovelace", {"owner": None}).status == 200
    # Then the secret has no owner tag any more
    assert set(secret_tags("ada.lovelace")) == {"sip:username", "sip:profile", "sip:created-by"}


def test_a_patch_of_the_profile_retags_the_secret(vault: ProvisionerApi) -> None:
    # Given an endpoint of a secrets_manager profile, and another such profile
    put_profile(vault, "vault-two", {"password_delivery": "secrets_manager"})
    assert vault.create({"username": "ada.lovelace", "profile": "vault", "owner": "ada@example.com"}).status == 201
    # When it moves to the other profile
    answer = patch(vault, "ada.lovelace", {"profile": "vault-two"})
    # Then the secret's profile tag names it, and the other tags stay
    assert answer.status == 200, answer.body
    assert secret_tags("ada.lovelace") == {
        "sip:username": "ada.lovelace",
        "sip:profile": "vault-two",
        "sip:created-by": CALLER.user_arn,
        "sip:owner": "ada@example.com",
    }


# -- Secrets Manager's limits, checked before anything is created ---------------------------------


def test_an_owner_too_long_for_a_tag_once_encoded_is_a_422_naming_owner_and_nothing_is_created(
    vault: ProvisionerApi,
) -> None:
    # Given a secrets_manager profile
    # When a request names an owner within the 256 characters an owner may have, but whose
    # commas a tag value cannot hold as they are
    owner = "Lovelace, Ada" * 19  # 247 characters, 19 of them commas
    answer = vault.create({"username": "ada.lovelace", "profile": "vault", "owner": owner})
    # Then it is a 422 naming owner, and nothing was created or stored
    assert_refused_and_nothing_created(vault, answer, "owner", "ada.lovelace")


def test_a_dry_run_of_a_create_whose_owner_no_tag_could_hold_is_the_same_422_naming_owner(
    vault: ProvisionerApi,
) -> None:
    # Given a secrets_manager profile
    # When a dry run names an owner whose commas a tag value cannot hold as they are
    answer = vault.create(
        {"username": "ada.lovelace", "profile": "vault", "owner": "Lovelace, Ada" * 19}, query="dry_run=true"
    )
    # Then the dry run says what the create would: a 422 naming owner, and nothing was created or stored
    assert_refused_and_nothing_created(vault, answer, "owner", "ada.lovelace")


def test_the_same_owner_is_created_where_its_password_goes_in_the_answer(api: ProvisionerApi) -> None:
    # Given a profile that answers passwords
    # When a request names an owner too long for a secret's tag
    owner = "Lovelace, Ada" * 19
    answer = api.create({"username": "ada.lovelace", "profile": "office", "owner": owner})
    # Then the endpoint is created: no secret, no tag, no limit
    assert answer.status == 201, answer.body
    assert all_secret_names() == []


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("ü" * 128, id="the secret's name would pass 512 characters"),
        pytest.param("!" * 100, id="the username tag would pass 256 characters"),
    ],
)
def test_a_username_secrets_manager_could_not_name_or_tag_is_a_422_naming_it_and_nothing_is_created(
    vault: ProvisionerApi, username: str
) -> None:
    # Given a secrets_manager profile
    # When a request names a username within the 128 characters a username may have, whose
    # characters a secret name or tag cannot hold as they are
    answer = vault.create({"username": username, "profile": "vault"})
    # Then it is a 422 naming username, and nothing was created or stored
    assert_refused_and_nothing_created(vault, answer, "username", username)


def test_a_caller_identity_too_long_for_a_tag_is_a_422_naming_created_by_and_nothing_is_created(
    vault: ProvisionerApi,
) -> None:
    # Given a secrets_manager profile and an IAM user whose ARN's path makes it 284 characters long
    caller = IamCaller(user_arn="arn:aws:iam::123456789012:user/" + "team/" * 50 + "bob")
    # When that user creates an endpoint from the profile
    answer = vault.create({"username": "ada.lovelace", "profile": "vault"}, caller=caller)
    # Then it is a 422 naming created_by, and nothing was created or stored
    assert_refused_and_nothing_created(vault, answer, "created_by", "ada.lovelace")


def test_a_name_and_tags_outside_secrets_managers_characters_are_written_within_its_rules(
    vault: ProvisionerApi,
) -> None:
    # Given a secrets_manager profile
    # When a username and an owner hold characters Secrets Manager does not take as they are,
    # the owner starting with the reserved "aws:"
    username = "zoë/o'brien#1"
    owner = "AWS:O'Brien, Zoë (EU) + ops"
    answer = vault.create({"username": username, "profile": "vault", "owner": owner})
    # Then it is created, and its secret's name and tags obey Secrets Manager's rules
    assert answer.status == 201, answer.body
    [secret] = secrets().list_secrets()["SecretList"]
    tags = {tag["Key"]: tag["Value"] for tag in secret["Tags"]}
    assert obeys_secrets_managers_rules(secret["Name"], tags), (secret["Name"], tags)
    # And a letter, a space or a digit stays as it is
    assert "Zoë" in tags["sip:owner"]
    assert tags["sip:username"].startswith("zoë/o")


def test_a_patch_to_an_owner_too_long_for_a_tag_is_a_422_naming_owner_and_changes_nothing(
    vault: ProvisionerApi,
) -> None:
    # Given an endpoint of a secrets_manager profile owned by ada
    assert vault.create({"username": "ada.lovelace", "profile": "vault", "owner": "ada@example.com"}).status == 201
    # When a PATCH names an owner too long for the secret's tag
    answer = patch(vault, "ada.lovelace", {"owner": "Lovelace, Ada" * 19})
    # Then it is a 422 naming owner, and the record and the tags still name ada
    assert answer.status == 422, answer.body
    assert "owner" in [error["field"] for error in answer.body["errors"]]
    assert vault.request("GET", "/endpoints/ada.lovelace").body["record"]["owner"] == "ada@example.com"
    assert secret_tags("ada.lovelace")["sip:owner"] == "ada@example.com"


# -- the workflow entry ---------------------------------------------------------------------------


def test_the_workflow_entry_always_delivers_to_secrets_manager_even_for_a_profile_without_a_policy(
    api: ProvisionerApi, workflow_module: Any
) -> None:
    # Given a profile with no policy and no deployment policy
    # When a state machine asks for an endpoint from it
    body = invoke_workflow(workflow_module, {"username": "w.hire", "profile": "office"}, "exec-w-hire")
    # Then its answer names the secret and holds no password, and the secret holds SignalWire's
    assert "password" not in body
    assert body["password_secret_arn"] == secrets().describe_secret(SecretId=secret_name("w.hire"))["ARN"]
    assert secret_value("w.hire")["password"] == api.emulator.stored_password("w.hire")
    assert secret_tags("w.hire")["sip:created-by"] == "workflow"


def test_the_workflow_entry_delivers_to_secrets_manager_even_when_the_request_asks_for_the_answer(
    api: ProvisionerApi, workflow_module: Any
) -> None:
    # Given a profile with no policy
    # When a state machine's request asks for the password in the answer
    request = {"username": "w.asks", "profile": "office", "password_delivery": "response"}
    body = invoke_workflow(workflow_module, request, "exec-w-asks")
    # Then the password still went to the secret, never into the answer
    password = api.emulator.stored_password("w.asks")
    assert password is not None
    assert "password" not in body
    assert secret_value("w.asks")["password"] == password
    assert password not in json.dumps(body)


def test_a_replayed_workflow_invocation_answers_the_same_arn_and_no_password(
    api: ProvisionerApi, workflow_module: Any
) -> None:
    # Given an endpoint a state machine created
    request = {"username": "w.again", "profile": "office"}
    first = invoke_workflow(workflow_module, request, "exec-w-again")
    # When the same invocation runs again under its key
    replayed = invoke_workflow(workflow_module, request, "exec-w-again")
    # Then it answers the same, still without a password
    assert replayed == first
    assert "password" not in replayed
    assert api.emulator.creates_committed() == 1


# -- the scan -------------------------------------------------------------------------------------


def test_no_answer_log_line_or_dynamodb_item_of_a_secrets_manager_endpoint_holds_its_password(
    vault: ProvisionerApi, service_log: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given a secrets_manager profile
    create_body = {"username": "ada.lovelace", "profile": "vault"}
    answers: list[Answer] = []
    passwords: list[str] = []

    def remember_password() -> None:
        password = vault.emulator.stored_password("ada.lovelace")
        assert password is not None
        passwords.append(password)

    # When an endpoint is created, replayed, looked up, listed, reset and its reset replayed
    answers.append(vault.create(create_body, headers=keyed("scan-create")))
    remember_password()
    answers.append(vault.create(create_body, headers=keyed("scan-create")))
    answers.append(vault.request("GET", "/endpoints/ada.lovelace"))
    answers.append(vault.request("GET", "/endpoints"))
    answers.append(reset(vault, "ada.lovelace", headers=keyed("scan-reset")))
    remember_password()
    answers.append(reset(vault, "ada.lovelace", headers=keyed("scan-reset")))
    answers.append(reset(vault, "ada.lovelace"))
    remember_password()
    # Then every request succeeded, each generated a different password
    assert [answer.status for answer in answers] == [201, 201, 200, 200, 200, 200, 200]
    assert len(set(passwords)) == 3
    # And none of those passwords is in any answer, any log line, or any DynamoDB item
    answer_text = json.dumps([(answer.headers, answer.body) for answer in answers])
    log_text = json.dumps(service_log())
    items = dynamodb_items()
    for password in passwords:
        assert password not in answer_text
        assert password not in log_text
        assert password not in items
    # But the last one is in the secret
    assert secret_value("ada.lovelace")["password"] == passwords[-1]
