"""Replays of what Okta and Microsoft Entra ID send over SCIM 2.0 (CONTRACT.md section 8, issue 13).

Each sequence is the identity provider's own, its request bodies quoted from its documentation
(the source's address above each): a user assigned to the app (looked up by userName, then
created), updated (the whole user PUT back by Okta; Entra's PATCHes, capitalised `op`s, value
paths, a PATCH without `path`, the enterprise `manager` as a bare id), deactivated or unassigned
(Okta's `{"active": false}` without `path`, Entra's `"False"` string), reactivated, and removed
(Entra's DELETE; Okta never deletes). Every request goes through the real SCIM handler on moto,
SignalWire is the emulator over HTTP, and the result is read where it lands: the SCIM answer, the
endpoint SignalWire holds, the inventory through the HTTP API, the secret in Secrets Manager.
"""

import copy
import json
import uuid
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from tests.integration.conftest import SECRETS_PREFIX, SIP_DOMAIN, ProvisionerApi
from tests.scim_helpers import (
    ENTERPRISE_SCHEMA,
    ERROR_SCHEMA,
    LIST_SCHEMA,
    PATCH_SCHEMA,
    SIP_SCHEMA,
    USER_SCHEMA,
    ScimAnswer,
    ScimClient,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

# -- Okta --------------------------------------------------------------------------------------
# https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20 ("Okta and SCIM Version
# 2.0"; source: okta/okta-developer-docs, docs/reference/scim/scim-20/index.md). Okta checks the
# userName before each create, POSTs the user's app profile (with a random password), reads the
# user back and PUTs the whole of it for a profile update, and PATCHes `active` without `path` to
# deactivate and reactivate. Okta never sends DELETE for a user.

OKTA_USER_NAME = "test.user@okta.local"
OKTA_SIP_USERNAME = "test.user"

# The lookup before a create, as Okta sends it: percent-encoded, with startIndex and count.
OKTA_USER_NAME_QUERY = "filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100"

# POST /scim/v2/Users ("Create the User"), as given.
OKTA_CREATE_AS_DOCUMENTED: dict[str, Any] = {
    "schemas": [USER_SCHEMA],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}
# The same, but for its email on a domain the service accepts: `okta.local` is a special-use name
# the service refuses in `emails` (see test_oktas_documented_create_with_an_email_on_a_local_domain_is_accepted).
OKTA_EMAIL = "test.user@example.com"
OKTA_CREATE: dict[str, Any] = {
    **OKTA_CREATE_AS_DOCUMENTED,
    "emails": [{"primary": True, "value": OKTA_EMAIL, "type": "work"}],
}

# PATCH /scim/v2/Users/{id} ("Update a specific User (PATCH)"): deactivation, as given; the
# reactivation of a reassigned user is the same operation with `true` ("Activating a user").
OKTA_DEACTIVATE: dict[str, Any] = {
    "schemas": [PATCH_SCHEMA],
    "Operations": [{"op": "replace", "value": {"active": False}}],
}
OKTA_REACTIVATE: dict[str, Any] = {
    "schemas": [PATCH_SCHEMA],
    "Operations": [{"op": "replace", "value": {"active": True}}],
}

# https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-11 ("Okta and SCIM Version
# 1.1"): when the integration is saved (and "Test Connector Configuration" is clicked), Okta sends
# `GET /Users?startIndex=1&count=2`, "always constant"; its imports then page with count=100.
OKTA_CONNECTOR_PROBE = "startIndex=1&count=2"

# Okta's profile editor maps the enterprise manager as `managerValue` -> `manager.value` and
# `managerDisplayName` -> `manager.displayName`: the create carries the manager without `$ref`.
OKTA_MANAGER_ID = "00ujl29u0le5T6Aj10h8"


def okta_create_with_manager() -> dict[str, Any]:
    return {
        **OKTA_CREATE,
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        ENTERPRISE_SCHEMA: {"department": "Sales", "manager": {"value": OKTA_MANAGER_ID, "displayName": "Ada Manager"}},
    }


# -- Microsoft Entra ID --------------------------------------------------------------------------
# https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
# ("Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID", section
# "User Operations"; source: MicrosoftDocs/entra-docs). Entra queries by userName, POSTs the user,
# PATCHes changes with capitalised `op`s, PATCHes `active` to disable (an unassigned or soft-deleted
# user), and DELETEs a user hard-deleted in Entra ("How provisioning works", "Deprovisioning").

ENTRA_USER_NAME = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
ENTRA_SIP_USERNAME = "test_user_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"  # no `@`: all of it, lower-cased

# GET /Users?filter=userName eq "..." ("Get User by query"), sent without startIndex or count.
ENTRA_USER_NAME_QUERY = f"filter={quote(f'userName eq "{ENTRA_USER_NAME}"')}"

# POST /Users ("Create User"), as given, with the enterprise attributes of the tutorial's mapping
# table (department, employeeId -> employeeNumber) the extension it declares carries.
ENTRA_CREATE: dict[str, Any] = {
    "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": ENTRA_USER_NAME,
    "active": True,
    "emails": [
        {"primary": True, "type": "work", "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}
    ],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
    "roles": [],
    ENTERPRISE_SCHEMA: {"department": "Sales", "employeeNumber": "100009"},
}

# PATCH ("Update User [Multi-valued properties]"), as given.
ENTRA_UPDATE_MULTI_VALUED: dict[str, Any] = {
    "schemas": [PATCH_SCHEMA],
    "Operations": [
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
    ],
}

# PATCH ("Update User [Single-valued properties]"): a userName change, as given.
ENTRA_NEW_USER_NAME = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
ENTRA_RENAME: dict[str, Any] = {
    "schemas": [PATCH_SCHEMA],
    "Operations": [{"op": "Replace", "path": "userName", "value": ENTRA_NEW_USER_NAME}],
}

# https://learn.microsoft.com/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
# ("Known issues and resolutions with SCIM 2.0 protocol compliance"): what Entra sends without
# the `aadOptscim062020` flag (the default) and with it.
ENTRA_DISABLE: dict[str, Any] = {
    "schemas": [PATCH_SCHEMA],
    "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
}
ENTRA_ENABLE: dict[str, Any] = {  # the same request, bringing the user back in scope
    "schemas": [PATCH_SCHEMA],
    "Operations": [{"op": "Replace", "path": "active", "value": "True"}],
}
ENTRA_ADD_SINGLE_VALUE: dict[str, Any] = {  # "Requests made to add a single-value string attribute"
    "schemas": [PATCH_SCHEMA],
    "Operations": [{"op": "Add", "path": "nickName", "value": "Babs"}],
}
ENTRA_REPLACE_MANY_FLAGGED: dict[str, Any] = {  # "Requests to replace multiple attributes", with the flag
    "schemas": [PATCH_SCHEMA],
    "Operations": [
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "TestMhvaes@test.microsoft.com"},
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                f"{ENTERPRISE_SCHEMA}:employeeNumber": "Aklq",
            },
        },
    ],
}

# https://learn.microsoft.com/en-us/answers/questions/188003/scim-user-provisioning-setup-with-manager-attribut
# (Microsoft Q&A, answered by Microsoft): Entra sends the enterprise manager as the manager's id
# alone, `"urn:...:enterprise:2.0:User:manager": "user-id"`, in the update that links it after the
# create ("How provisioning works", reference attributes), and reads it back as `manager.value`.


def entra_add_manager(manager_id: str) -> dict[str, Any]:
    return {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": manager_id}],
    }


# -- helpers ------------------------------------------------------------------------------------


def secrets() -> Any:
    return boto3.client("secretsmanager")


def secret_password(sip_username: str) -> str:
    value = secrets().get_secret_value(SecretId=f"{SECRETS_PREFIX}{sip_username}")["SecretString"]
    password: str = json.loads(value)["password"]
    return password


def sip_of(user: dict[str, Any]) -> dict[str, Any]:
    extension: dict[str, Any] = user[SIP_SCHEMA]
    return extension


def signalwire_endpoints(api: ProvisionerApi, sip_username: str) -> list[dict[str, Any]]:
    return [endpoint for endpoint in api.emulator.endpoints if endpoint["username"] == sip_username]


def record_of(api: ProvisionerApi, sip_username: str) -> dict[str, Any]:
    answer = api.request("GET", f"/endpoints/{quote(sip_username, safe='')}")
    assert answer.status == 200, answer.body
    record: dict[str, Any] = answer.body["record"]
    return record


def put_settings(api: ProvisionerApi, **settings: Any) -> None:
    api.put_parameter("scim/settings", json.dumps(settings))


def assert_ok(answer: ScimAnswer, status: int = 200) -> dict[str, Any]:
    assert answer.status == status, answer.body
    body: dict[str, Any] = answer.body
    return body


def okta_assigns(scim: ScimClient) -> dict[str, Any]:
    """Okta's assignment: the userName lookup (nobody), then the create."""
    looked_up = assert_ok(scim.request("GET", "/Users", query=OKTA_USER_NAME_QUERY))
    assert looked_up["totalResults"] == 0
    return assert_ok(scim.request("POST", "/Users", OKTA_CREATE), 201)


def entra_assigns(scim: ScimClient, body: dict[str, Any] = ENTRA_CREATE) -> dict[str, Any]:
    """Entra's assignment: the userName query (zero results), then the create."""
    looked_up = assert_ok(scim.request("GET", "/Users", query=f"filter={quote(f'userName eq "{body["userName"]}"')}"))
    assert looked_up["totalResults"] == 0
    return assert_ok(scim.request("POST", "/Users", body), 201)


def patch(scim: ScimClient, user_id: str, body: dict[str, Any]) -> ScimAnswer:
    return scim.request("PATCH", f"/Users/{user_id}", body)


# -- Okta: assign ---------------------------------------------------------------------------------


def test_oktas_connector_probe_of_start_index_1_and_count_2_is_answered_with_an_empty_list(
    scim: ScimClient,
) -> None:
    # Given a service nobody has been provisioned to yet
    # When Okta tests the connector
    answer = scim.request("GET", "/Users", query=OKTA_CONNECTOR_PROBE)
    # Then it is a ListResponse of no users, its paging numbers integers
    body = assert_ok(answer)
    assert body["schemas"] == [LIST_SCHEMA]
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (0, 1, 0)
    assert body.get("Resources", []) == []


def test_oktas_probe_and_import_pages_count_every_user_and_page_with_start_index(
    scim: ScimClient,
) -> None:
    # Given three users Okta assigned
    for name in ("ada@okta.local", "grace@okta.local", "linus@okta.local"):
        assert_ok(scim.request("POST", "/Users", {**OKTA_CREATE, "userName": name, "externalId": name}), 201)
    # When Okta probes with count=2, then pages on from startIndex=3 as an import does
    first = assert_ok(scim.request("GET", "/Users", query=OKTA_CONNECTOR_PROBE))
    rest = assert_ok(scim.request("GET", "/Users", query="startIndex=3&count=100"))
    # Then the two pages hold every user once, each page says all three exist
    assert (first["totalResults"], first["itemsPerPage"], len(first["Resources"])) == (3, 2, 2)
    assert (rest["totalResults"], rest["startIndex"], rest["itemsPerPage"]) == (3, 3, 1)
    names = [user["userName"] for user in first["Resources"] + rest["Resources"]]
    assert sorted(names) == ["ada@okta.local", "grace@okta.local", "linus@okta.local"]


def test_oktas_assignment_creates_the_user_with_everything_it_sent_but_the_password(scim: ScimClient) -> None:
    # Given Okta found no user with the userName
    # When it creates the user
    created = okta_assigns(scim)
    # Then the 201 is the user as sent, under a new UUID, with no password anywhere
    assert str(uuid.UUID(created["id"])) == created["id"]
    for attribute in ("userName", "name", "emails", "displayName", "locale", "externalId", "active"):
        assert created[attribute] == OKTA_CREATE[attribute], attribute
    assert created["meta"]["resourceType"] == "User"
    assert created["meta"]["location"].endswith(f"/scim/v2/Users/{created['id']}")
    assert "password" not in created
    assert OKTA_CREATE["password"] not in json.dumps(created)


def test_oktas_assignment_gives_the_user_an_endpoint_whose_password_is_only_in_secrets_manager(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given Okta found no user with the userName
    # When it creates the user
    created = okta_assigns(scim)
    # Then SignalWire holds an endpoint named for the userName's local part, its password (not the
    # one Okta sent) in the secret the answer points to
    sip = sip_of(created)
    [endpoint] = signalwire_endpoints(api, OKTA_SIP_USERNAME)
    assert sip["sipUsername"] == OKTA_SIP_USERNAME
    assert sip["sipUri"] == f"sip:{OKTA_SIP_USERNAME}@{SIP_DOMAIN}"
    assert sip["sipEndpointId"] == endpoint["id"]
    assert sip["passwordSecretArn"] == secrets().describe_secret(SecretId=f"{SECRETS_PREFIX}{OKTA_SIP_USERNAME}")["ARN"]
    assert secret_password(OKTA_SIP_USERNAME) == endpoint["password"]
    assert endpoint["password"] != OKTA_CREATE["password"]
    record = record_of(api, OKTA_SIP_USERNAME)
    assert (record["status"], record["owner"], record["created_via"]) == ("active", OKTA_USER_NAME, "scim")


def test_oktas_create_with_the_enterprise_manager_without_ref_creates_the_user_and_its_endpoint(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given Okta found no user with the userName
    # When it creates the user with the enterprise manager as its mapping sends it, without `$ref`
    answer = scim.request("POST", "/Users", okta_create_with_manager())
    # Then the user is created with that manager (its read-only displayName left out), and has its endpoint
    created = assert_ok(answer, 201)
    assert created[ENTERPRISE_SCHEMA] == {"department": "Sales", "manager": {"value": OKTA_MANAGER_ID}}
    [endpoint] = signalwire_endpoints(api, OKTA_SIP_USERNAME)
    assert sip_of(created)["sipEndpointId"] == endpoint["id"]


def test_after_oktas_create_its_user_name_lookup_finds_the_user(scim: ScimClient) -> None:
    # Given a user Okta created
    created = okta_assigns(scim)
    # When Okta looks the userName up again (an assignment of the same person, an import)
    answer = scim.request("GET", "/Users", query=OKTA_USER_NAME_QUERY)
    # Then that one user is found, the same as the create answered
    body = assert_ok(answer)
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (1, 1, 1)
    [found] = body["Resources"]
    assert found["id"] == created["id"]
    assert sip_of(found) == sip_of(created)


def test_oktas_documented_create_with_an_email_on_a_local_domain_is_accepted(scim: ScimClient) -> None:
    # Given Okta found no user with the userName
    # When it creates the user with the body its reference gives, email `test.user@okta.local`
    answer = scim.request("POST", "/Users", OKTA_CREATE_AS_DOCUMENTED)
    # Then the user is created, the email returned as sent
    created = assert_ok(answer, 201)
    assert created["emails"] == OKTA_CREATE_AS_DOCUMENTED["emails"]


def test_oktas_create_of_a_user_name_that_exists_is_a_409_uniqueness_error(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given a user Okta created
    okta_assigns(scim)
    # When Okta's create is sent again for the same userName
    answer = scim.request("POST", "/Users", OKTA_CREATE)
    # Then it is refused with the SCIM error Okta stops on, and no second endpoint exists
    assert answer.status == 409
    assert (answer.body["schemas"], answer.body["status"], answer.body["scimType"]) == (
        [ERROR_SCHEMA],
        "409",
        "uniqueness",
    )
    assert len(signalwire_endpoints(api, OKTA_SIP_USERNAME)) == 1


# -- Okta: update -------------------------------------------------------------------------------


def test_oktas_profile_update_puts_back_the_user_it_read_with_the_change_and_keeps_the_endpoint(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given a user Okta created, which it reads back before an update
    created = okta_assigns(scim)
    endpoint_before = signalwire_endpoints(api, OKTA_SIP_USERNAME)
    read = assert_ok(scim.request("GET", f"/Users/{created['id']}"))
    # When it PUTs the user it read with the changed attribute (id, meta, extension and all)
    changed = copy.deepcopy(read)
    changed["name"]["middleName"] = "Excited"
    answer = scim.request("PUT", f"/Users/{created['id']}", changed)
    # Then the user holds the change, and the endpoint is the one it was
    updated = assert_ok(answer)
    assert updated["name"] == {"givenName": "Test", "middleName": "Excited", "familyName": "User"}
    assert (updated["id"], updated["userName"], updated["active"]) == (created["id"], OKTA_USER_NAME, True)
    assert sip_of(updated) == sip_of(created)
    assert signalwire_endpoints(api, OKTA_SIP_USERNAME) == endpoint_before


def test_oktas_put_of_a_new_title_moves_the_endpoint_to_the_profile_the_title_maps_to(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given titles mapped to profiles, and a user Okta created without one
    put_settings(api, profile_attribute="title", profiles={"Support Engineer": "support"})
    created = okta_assigns(scim)
    assert sip_of(created)["profile"] == "default"
    # When Okta PUTs the user with a title
    read = assert_ok(scim.request("GET", f"/Users/{created['id']}"))
    answer = scim.request("PUT", f"/Users/{created['id']}", {**read, "title": "Support Engineer"})
    # Then the endpoint is built from the support profile, in SignalWire and in the inventory
    updated = assert_ok(answer)
    assert updated["title"] == "Support Engineer"
    assert sip_of(updated)["profile"] == "support"
    [endpoint] = signalwire_endpoints(api, OKTA_SIP_USERNAME)
    assert (endpoint["id"], endpoint["caller_id"], endpoint["call_handler"]) == (
        sip_of(created)["sipEndpointId"],
        "Example Support",
        "ai_agent",
    )
    assert record_of(api, OKTA_SIP_USERNAME)["profile"] == "support"


# -- Okta: deactivate, reactivate ---------------------------------------------------------------


def test_oktas_deactivation_disables_the_endpoint_so_the_delivered_password_no_longer_registers(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given a user Okta created (on_deactivate: disable, the default)
    created = okta_assigns(scim)
    # When Okta deactivates the user (unassigned, suspended or deactivated in Okta)
    answer = patch(scim, created["id"], OKTA_DEACTIVATE)
    # Then the user is inactive, its endpoint still exists but disabled: SignalWire no longer holds
    # the password in the secret
    deactivated = assert_ok(answer)
    assert deactivated["active"] is False
    [endpoint] = signalwire_endpoints(api, OKTA_SIP_USERNAME)
    assert sip_of(deactivated)["sipEndpointId"] == endpoint["id"] == sip_of(created)["sipEndpointId"]
    assert record_of(api, OKTA_SIP_USERNAME)["status"] == "disabled"
    assert endpoint["password"] != secret_password(OKTA_SIP_USERNAME)


def test_oktas_reactivation_enables_the_endpoint_with_a_new_password_in_a_new_secret_version(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given a user Okta created and then deactivated
    created = okta_assigns(scim)
    first_password = secret_password(OKTA_SIP_USERNAME)
    assert_ok(patch(scim, created["id"], OKTA_DEACTIVATE))
    # When the app is assigned to the person again
    answer = patch(scim, created["id"], OKTA_REACTIVATE)
    # Then the same endpoint is active with a new password, which the secret now holds
    reactivated = assert_ok(answer)
    assert reactivated["active"] is True
    [endpoint] = signalwire_endpoints(api, OKTA_SIP_USERNAME)
    assert endpoint["id"] == sip_of(created)["sipEndpointId"]
    assert record_of(api, OKTA_SIP_USERNAME)["status"] == "active"
    assert secret_password(OKTA_SIP_USERNAME) == endpoint["password"] != first_password


def test_oktas_custom_app_deactivation_by_put_of_the_user_with_active_false_disables_the_endpoint(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given a user created by an Okta custom (AIW) app, which sends every update as a PUT
    created = okta_assigns(scim)
    read = assert_ok(scim.request("GET", f"/Users/{created['id']}"))
    # When Okta deactivates the user: the whole user PUT back with `active: false`
    answer = scim.request("PUT", f"/Users/{created['id']}", {**read, "active": False})
    # Then the user is inactive and its endpoint disabled, as with the PATCH
    assert assert_ok(answer)["active"] is False
    assert record_of(api, OKTA_SIP_USERNAME)["status"] == "disabled"
    [endpoint] = signalwire_endpoints(api, OKTA_SIP_USERNAME)
    assert endpoint["password"] != secret_password(OKTA_SIP_USERNAME)


def test_with_on_deactivate_delete_oktas_deactivation_removes_the_endpoint_and_keeps_the_user_readable(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given deactivation set to delete endpoints, and a user Okta created
    put_settings(api, on_deactivate="delete")
    created = okta_assigns(scim)
    # When Okta deactivates the user
    deactivated = assert_ok(patch(scim, created["id"], OKTA_DEACTIVATE))
    # Then SignalWire no longer holds the endpoint; the user is still there, inactive, endpointless
    assert signalwire_endpoints(api, OKTA_SIP_USERNAME) == []
    read = assert_ok(scim.request("GET", f"/Users/{created['id']}"))
    for user in (deactivated, read):
        assert (user["id"], user["active"]) == (created["id"], False)
        assert "sipEndpointId" not in sip_of(user)
        assert sip_of(user)["sipUsername"] == OKTA_SIP_USERNAME
    found = assert_ok(scim.request("GET", "/Users", query=OKTA_USER_NAME_QUERY))
    assert [user["id"] for user in found["Resources"]] == [created["id"]]


def test_with_on_deactivate_delete_oktas_reactivation_creates_a_new_endpoint_for_the_same_user(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given deactivation set to delete endpoints, and a user Okta created and deactivated
    put_settings(api, on_deactivate="delete")
    created = okta_assigns(scim)
    assert_ok(patch(scim, created["id"], OKTA_DEACTIVATE))
    # When Okta reactivates the user
    reactivated = assert_ok(patch(scim, created["id"], OKTA_REACTIVATE))
    # Then a new endpoint exists for the same SCIM user, its password in the secret
    [endpoint] = signalwire_endpoints(api, OKTA_SIP_USERNAME)
    assert (reactivated["id"], reactivated["active"]) == (created["id"], True)
    assert sip_of(reactivated)["sipEndpointId"] == endpoint["id"] != sip_of(created)["sipEndpointId"]
    assert secret_password(OKTA_SIP_USERNAME) == endpoint["password"]
    assert record_of(api, OKTA_SIP_USERNAME)["status"] == "active"


def test_oktas_whole_life_of_a_user_replays_from_connector_test_to_unassignment(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given an Okta integration saved against the service (its connector probe answered)
    assert assert_ok(scim.request("GET", "/Users", query=OKTA_CONNECTOR_PROBE))["totalResults"] == 0
    # When Okta sends a user's whole life, one request after another, the endpoint follows each step
    created = okta_assigns(scim)
    endpoint_id = sip_of(created)["sipEndpointId"]
    assert record_of(api, OKTA_SIP_USERNAME)["status"] == "active"

    read = assert_ok(scim.request("GET", f"/Users/{created['id']}"))
    updated = assert_ok(scim.request("PUT", f"/Users/{created['id']}", {**read, "displayName": "Test Q. User"}))
    assert (updated["displayName"], sip_of(updated)["sipEndpointId"]) == ("Test Q. User", endpoint_id)

    assert assert_ok(patch(scim, created["id"], OKTA_DEACTIVATE))["active"] is False
    assert record_of(api, OKTA_SIP_USERNAME)["status"] == "disabled"

    assert assert_ok(patch(scim, created["id"], OKTA_REACTIVATE))["active"] is True
    assert record_of(api, OKTA_SIP_USERNAME)["status"] == "active"
    assert secret_password(OKTA_SIP_USERNAME) == signalwire_endpoints(api, OKTA_SIP_USERNAME)[0]["password"]

    final = assert_ok(patch(scim, created["id"], OKTA_DEACTIVATE))
    # Then Okta's last word (it never DELETEs) leaves the user readable and its endpoint disabled
    assert (final["active"], sip_of(final)["sipEndpointId"]) == (False, endpoint_id)
    assert record_of(api, OKTA_SIP_USERNAME)["status"] == "disabled"
    assert assert_ok(scim.request("GET", f"/Users/{created['id']}"))["active"] is False


# -- Entra: assign --------------------------------------------------------------------------------


def test_entras_query_then_create_provisions_the_user_with_its_enterprise_attributes_and_an_endpoint(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given Entra's query found no user with the userName
    # When Entra creates the user
    created = entra_assigns(scim)
    # Then the user is as sent, enterprise extension included, under a new UUID; its endpoint is
    # named for the whole userName (it has no `@`), lower-cased, its password in the secret
    assert str(uuid.UUID(created["id"])) == created["id"]
    for attribute in ("externalId", "userName", "active", "emails", "name", ENTERPRISE_SCHEMA):
        assert created[attribute] == ENTRA_CREATE[attribute], attribute
    assert set(ENTRA_CREATE["schemas"]) <= set(created["schemas"])
    [endpoint] = signalwire_endpoints(api, ENTRA_SIP_USERNAME)
    assert (sip_of(created)["sipUsername"], sip_of(created)["sipEndpointId"]) == (ENTRA_SIP_USERNAME, endpoint["id"])
    assert secret_password(ENTRA_SIP_USERNAME) == endpoint["password"]
    found = assert_ok(scim.request("GET", "/Users", query=ENTRA_USER_NAME_QUERY))
    assert [user["id"] for user in found["Resources"]] == [created["id"]]


def test_entras_work_email_is_returned_as_sent_capitals_in_its_domain_included(scim: ScimClient) -> None:
    # Given Entra found no user with the userName
    emails = [{"primary": True, "type": "work", "value": "Ada.Lovelace@Contoso.com"}]
    # When it creates the user with the mail Entra holds, as Entra holds it
    created = entra_assigns(scim, {**ENTRA_CREATE, "emails": emails})
    # Then the email is stored and returned in the format it was sent
    assert created["emails"] == emails
    assert scim.request("GET", f"/Users/{created['id']}").body["emails"] == emails


def test_entras_department_maps_the_endpoint_to_a_profile_and_a_department_change_moves_it(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given departments mapped to profiles, and a user Entra created in Sales
    put_settings(
        api,
        profile_attribute=f"{ENTERPRISE_SCHEMA}:department",
        profiles={"Sales": "office", "Customer Support": "support"},
    )
    created = entra_assigns(scim)
    assert sip_of(created)["profile"] == "office"
    assert signalwire_endpoints(api, ENTRA_SIP_USERNAME)[0]["caller_id"] == "Example HQ"
    # When Entra sends the person's move to Customer Support
    moved = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "Replace", "path": f"{ENTERPRISE_SCHEMA}:department", "value": "Customer Support"}],
    }
    answer = patch(scim, created["id"], moved)
    # Then the same endpoint is now built from the support profile
    updated = assert_ok(answer)
    assert updated[ENTERPRISE_SCHEMA] == {"department": "Customer Support", "employeeNumber": "100009"}
    assert sip_of(updated)["profile"] == "support"
    [endpoint] = signalwire_endpoints(api, ENTRA_SIP_USERNAME)
    assert (endpoint["id"], endpoint["caller_id"], endpoint["call_handler"]) == (
        sip_of(created)["sipEndpointId"],
        "Example Support",
        "ai_agent",
    )
    assert record_of(api, ENTRA_SIP_USERNAME)["profile"] == "support"


# -- Entra: update -------------------------------------------------------------------------------


def test_entras_multi_valued_update_replaces_the_work_email_and_the_family_name(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given a user Entra created
    created = entra_assigns(scim)
    updates_before = api.emulator.updates_committed
    # When Entra sends the changed work email and family name
    answer = patch(scim, created["id"], ENTRA_UPDATE_MULTI_VALUED)
    # Then both are changed, nothing else, and SignalWire was not touched
    updated = assert_ok(answer)
    assert updated["emails"] == [{"primary": True, "type": "work", "value": "updatedEmail@microsoft.com"}]
    assert updated["name"] == {
        "formatted": "givenName familyName",
        "familyName": "updatedFamilyName",
        "givenName": "givenName",
    }
    assert (updated["userName"], updated[ENTERPRISE_SCHEMA]) == (ENTRA_USER_NAME, ENTRA_CREATE[ENTERPRISE_SCHEMA])
    assert sip_of(updated) == sip_of(created)
    assert api.emulator.updates_committed == updates_before
    assert scim.request("GET", f"/Users/{created['id']}").body == updated


def test_entras_flagged_replace_of_many_attributes_in_an_operation_without_path_applies_each(
    scim: ScimClient,
) -> None:
    # Given a user Entra created
    created = entra_assigns(scim)
    # When Entra (aadOptscim062020) replaces a work email by path and four attributes in one object
    answer = patch(scim, created["id"], ENTRA_REPLACE_MANY_FLAGGED)
    # Then each attribute named in the object, dotted and URN-prefixed names included, is replaced
    updated = assert_ok(answer)
    assert updated["emails"][0]["value"] == "TestMhvaes@test.microsoft.com"
    assert updated["displayName"] == "Bjfe"
    assert (updated["name"]["givenName"], updated["name"]["familyName"]) == ("Kkom", "Unua")
    assert updated[ENTERPRISE_SCHEMA] == {"department": "Sales", "employeeNumber": "Aklq"}


def test_entras_capitalised_add_of_a_single_value_attribute_sets_it(scim: ScimClient) -> None:
    # Given a user Entra created without a nickName
    created = entra_assigns(scim)
    # When Entra adds one, `"op": "Add"` as it sends it without the flag
    answer = patch(scim, created["id"], ENTRA_ADD_SINGLE_VALUE)
    # Then the user has it
    assert assert_ok(answer)["nickName"] == "Babs"


def test_entras_manager_sent_as_a_bare_id_is_kept_as_the_managers_value(scim: ScimClient) -> None:
    # Given a manager and their report, both created by Entra
    manager = entra_assigns(
        scim, {**ENTRA_CREATE, "userName": "Manager_User@testuser.com", "externalId": "c3d4e5f6-manager"}
    )
    report = entra_assigns(scim)
    # When Entra links the report to the manager, the manager's id alone as the value
    answer = patch(scim, report["id"], entra_add_manager(manager["id"]))
    # Then the report's enterprise manager is the manager, read back as `manager.value`
    updated = assert_ok(answer)
    assert updated[ENTERPRISE_SCHEMA]["manager"]["value"] == manager["id"]
    read = assert_ok(scim.request("GET", f"/Users/{report['id']}"))
    assert read[ENTERPRISE_SCHEMA]["manager"]["value"] == manager["id"]


def test_entras_create_with_the_manager_as_a_bare_id_keeps_it_as_the_managers_value(scim: ScimClient) -> None:
    # Given Entra found no user with the userName
    # When it creates the user with the enterprise manager as the manager's id alone
    body = {**ENTRA_CREATE, ENTERPRISE_SCHEMA: {**ENTRA_CREATE[ENTERPRISE_SCHEMA], "manager": "26118915-6090"}}
    created = entra_assigns(scim, body)
    # Then the user is created, its manager `{"value": <id>}`
    assert created[ENTERPRISE_SCHEMA]["manager"] == {"value": "26118915-6090"}


def test_after_entra_links_a_manager_a_put_of_the_user_as_read_with_active_false_disables_the_endpoint(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given a user whose manager Entra linked by the manager's id alone
    manager = entra_assigns(
        scim, {**ENTRA_CREATE, "userName": "Manager_User@testuser.com", "externalId": "c3d4e5f6-manager"}
    )
    report = entra_assigns(scim)
    assert_ok(patch(scim, report["id"], entra_add_manager(manager["id"])))
    read = assert_ok(scim.request("GET", f"/Users/{report['id']}"))
    # When an app that deactivates by PUT puts the user back as read, with `active: false`
    answer = scim.request("PUT", f"/Users/{report['id']}", {**read, "active": False})
    # Then the user is inactive with its manager kept, and its endpoint is disabled
    replaced = assert_ok(answer)
    assert (replaced["active"], replaced[ENTERPRISE_SCHEMA]["manager"]) == (False, {"value": manager["id"]})
    assert record_of(api, ENTRA_SIP_USERNAME)["status"] == "disabled"


def test_entras_user_name_change_renames_the_user_and_the_endpoints_owner_but_not_its_sip_username(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given a user Entra created
    created = entra_assigns(scim)
    # When Entra sends the user's new userName
    answer = patch(scim, created["id"], ENTRA_RENAME)
    # Then the user is renamed and found by the new name only; devices keep registering as before
    renamed = assert_ok(answer)
    assert (renamed["id"], renamed["userName"]) == (created["id"], ENTRA_NEW_USER_NAME)
    assert sip_of(renamed)["sipUsername"] == ENTRA_SIP_USERNAME
    assert sip_of(renamed)["sipEndpointId"] == sip_of(created)["sipEndpointId"]
    assert record_of(api, ENTRA_SIP_USERNAME)["owner"] == ENTRA_NEW_USER_NAME
    new_query = f"filter={quote(f'userName eq "{ENTRA_NEW_USER_NAME}"')}"
    assert [user["id"] for user in assert_ok(scim.request("GET", "/Users", query=new_query))["Resources"]] == [
        created["id"]
    ]
    assert assert_ok(scim.request("GET", "/Users", query=ENTRA_USER_NAME_QUERY))["totalResults"] == 0
    assert signalwire_endpoints(api, "5b50642d-79fc-4410-9e90-4c077cdd1a59") == []


# -- Entra: disable, enable, delete ---------------------------------------------------------------


def test_entras_disable_with_the_string_false_disables_the_endpoint(scim: ScimClient, api: ProvisionerApi) -> None:
    # Given a user Entra created
    created = entra_assigns(scim)
    # When Entra disables the user, `"value": "False"` as it sends it without the flag
    answer = patch(scim, created["id"], ENTRA_DISABLE)
    # Then the user is inactive (a boolean), the endpoint kept but disabled
    disabled = assert_ok(answer)
    assert disabled["active"] is False
    assert sip_of(disabled)["sipEndpointId"] == sip_of(created)["sipEndpointId"]
    assert record_of(api, ENTRA_SIP_USERNAME)["status"] == "disabled"
    [endpoint] = signalwire_endpoints(api, ENTRA_SIP_USERNAME)
    assert endpoint["password"] != secret_password(ENTRA_SIP_USERNAME)


def test_entras_enable_with_the_string_true_resets_the_password_in_the_secret(
    scim: ScimClient, api: ProvisionerApi
) -> None:
    # Given a user Entra created and disabled
    created = entra_assigns(scim)
    first_password = secret_password(ENTRA_SIP_USERNAME)
    assert_ok(patch(scim, created["id"], ENTRA_DISABLE))
    # When the user is back in scope, `"value": "True"`
    enabled = assert_ok(patch(scim, created["id"], ENTRA_ENABLE))
    # Then the endpoint is active again with a new password, which the secret holds
    assert enabled["active"] is True
    assert record_of(api, ENTRA_SIP_USERNAME)["status"] == "active"
    [endpoint] = signalwire_endpoints(api, ENTRA_SIP_USERNAME)
    assert secret_password(ENTRA_SIP_USERNAME) == endpoint["password"] != first_password


@pytest.mark.parametrize("on_deactivate", ["disable", "delete"])
def test_entras_delete_of_a_disabled_user_removes_the_endpoint_and_the_user(
    scim: ScimClient, api: ProvisionerApi, on_deactivate: str
) -> None:
    # Given a user Entra created, then disabled (unassigned, soft-deleted) before its hard delete
    put_settings(api, on_deactivate=on_deactivate)
    created = entra_assigns(scim)
    assert_ok(patch(scim, created["id"], ENTRA_DISABLE))
    # When Entra deletes the user
    answer = scim.request("DELETE", f"/Users/{created['id']}")
    # Then 204; no endpoint is left in SignalWire, and the user is in no read
    assert (answer.status, answer.body) == (204, None)
    assert signalwire_endpoints(api, ENTRA_SIP_USERNAME) == []
    gone = scim.request("GET", f"/Users/{created['id']}")
    assert gone.status == 404
    assert (gone.body["schemas"], gone.body["status"]) == ([ERROR_SCHEMA], "404")
    assert assert_ok(scim.request("GET", "/Users", query=ENTRA_USER_NAME_QUERY))["totalResults"] == 0
    assert api.request("GET", f"/endpoints/{ENTRA_SIP_USERNAME}").status == 404


def test_entras_whole_life_of_a_user_replays_from_assignment_to_deletion(scim: ScimClient, api: ProvisionerApi) -> None:
    # Given nothing provisioned
    # When Entra sends a user's whole life, one request after another, the endpoint follows each step
    created = entra_assigns(scim)
    endpoint_id = sip_of(created)["sipEndpointId"]
    for request, active, status in [
        (ENTRA_UPDATE_MULTI_VALUED, True, "active"),
        (ENTRA_RENAME, True, "active"),
        (ENTRA_DISABLE, False, "disabled"),
        (ENTRA_ENABLE, True, "active"),
    ]:
        answer = assert_ok(patch(scim, created["id"], request))
        assert (answer["id"], answer["active"], sip_of(answer)["sipEndpointId"]) == (created["id"], active, endpoint_id)
        assert record_of(api, ENTRA_SIP_USERNAME)["status"] == status
    assert secret_password(ENTRA_SIP_USERNAME) == signalwire_endpoints(api, ENTRA_SIP_USERNAME)[0]["password"]
    deleted = scim.request("DELETE", f"/Users/{created['id']}")
    # Then the final DELETE removes both the endpoint and the user
    assert deleted.status == 204
    assert signalwire_endpoints(api, ENTRA_SIP_USERNAME) == []
    assert scim.request("GET", f"/Users/{created['id']}").status == 404
