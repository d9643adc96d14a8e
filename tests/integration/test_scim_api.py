"""`/scim/v2` through the real SCIM `lambda_handler`: every operation and every refusal.

moto holds SSM, the inventory table and Secrets Manager; SignalWire is the emulator over real
HTTP. What a request did is read where it lands: the SCIM answer, the endpoint in the emulator,
the secret in Secrets Manager, the inventory through the HTTP API.
"""

import json
from typing import Any

import boto3
import pytest

from local.signalwire_emulator import Fault, SignalWireEmulator
from tests.integration.conftest import PARAMETERS_PATH, PROFILES_DIR, SECRETS_PREFIX, ProvisionerApi
from tests.scim_helpers import (
    ENTERPRISE_SCHEMA,
    ERROR_SCHEMA,
    LIST_SCHEMA,
    PATCH_SCHEMA,
    SCIM_JSON,
    SCIM_TOKEN,
    SIP_SCHEMA,
    ScimAnswer,
    ScimClient,
    user_body,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

DEPARTMENT = f"{ENTERPRISE_SCHEMA}:department"


# -- helpers ------------------------------------------------------------------------------------


def created(scim: ScimClient, user_name: str = "Ada.Lovelace@example.com", **more: Any) -> dict[str, Any]:
    answer = scim.post_user(user_body(user_name, **more))
    assert answer.status == 201, answer.body
    document: dict[str, Any] = answer.body
    return document


def sip(document: dict[str, Any]) -> dict[str, Any]:
    extension: dict[str, Any] = document[SIP_SCHEMA]
    return extension


def endpoint_record(api: ProvisionerApi, username: str) -> dict[str, Any]:
    answer = api.request("GET", f"/endpoints/{username}")
    assert answer.status == 200, answer.body
    record: dict[str, Any] = answer.body["record"]
    return record


def secret(username: str) -> dict[str, Any]:
    value = boto3.client("secretsmanager").get_secret_value(SecretId=f"{SECRETS_PREFIX}{username}")
    document: dict[str, Any] = json.loads(value["SecretString"])
    return document


def usernames(emulator: SignalWireEmulator) -> list[object]:
    return [endpoint["username"] for endpoint in emulator.endpoints]


def is_error(answer: ScimAnswer, status: int, scim_type: str | None = None) -> bool:
    body = answer.body or {}
    return (
        answer.status == status
        and body.get("schemas") == [ERROR_SCHEMA]
        and body.get("status") == str(status)
        and body.get("scimType") == scim_type
    )


def put_settings(api: ProvisionerApi, **settings: Any) -> None:
    api.put_parameter("scim/settings", json.dumps(settings))


# -- authentication -------------------------------------------------------------------------------


def test_a_request_without_a_bearer_token_is_a_401_and_creates_nothing(
    scim: ScimClient, emulator: SignalWireEmulator
) -> None:
    # Given a client that sends no Authorization header
    # When it posts a user
    answer = scim.request("POST", "/Users", user_body("ada@example.com"), headers={"Authorization": ""})
    # Then it is refused as unauthenticated, in SCIM's words, and nothing exists
    assert is_error(answer, 401)
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert emulator.endpoints == []


def test_a_request_with_another_token_is_a_401_and_creates_nothing(
    scim: ScimClient, emulator: SignalWireEmulator
) -> None:
    # Given a client holding a token that is not the configured one
    scim.token = SCIM_TOKEN + "x"
    # When it posts a user
    answer = scim.post_user(user_body("ada@example.com"))
    # Then it is refused and nothing exists
    assert is_error(answer, 401)
    assert emulator.endpoints == []


def test_a_token_under_another_scheme_is_a_401(scim: ScimClient) -> None:
    # Given the right token sent as Basic credentials
    # When the client reads the service's configuration
    answer = scim.request("GET", "/ServiceProviderConfig", headers={"Authorization": f"Basic {SCIM_TOKEN}"})
    # Then it is refused
    assert is_error(answer, 401)


def test_without_a_configured_token_every_request_is_refused_and_creates_nothing(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given a deployment whose SSM holds no SCIM bearer token
    api.ssm.delete_parameter(Name=f"{PARAMETERS_PATH}/scim/bearer_token")
    # When a client posts a user with the token it once had
    answer = scim.post_user(user_body("ada@example.com"))
    # Then the service answers that it is not set up, and nothing exists
    assert is_error(answer, 500)
    assert emulator.endpoints == []


# -- discovery ----------------------------------------------------------------------------------


def test_the_service_provider_config_offers_patch_and_filter_and_a_bearer_token(scim: ScimClient) -> None:
    # Given / When a client reads the service provider configuration
    answer = scim.request("GET", "/ServiceProviderConfig")
    # Then PATCH and filtering are supported, bulk, sort, ETags and password changes are not
    assert answer.status == 200
    assert answer.headers["Content-Type"] == SCIM_JSON
    config = answer.body
    assert config["patch"]["supported"] is True
    assert config["filter"] == {"supported": True, "maxResults": 100}
    assert [config[name]["supported"] for name in ("bulk", "sort", "etag", "changePassword")] == [False] * 4
    assert [scheme["type"] for scheme in config["authenticationSchemes"]] == ["oauthbearertoken"]


def test_the_resource_types_are_the_user_with_the_enterprise_and_sip_extensions(scim: ScimClient) -> None:
    # Given / When a client lists the resource types
    answer = scim.request("GET", "/ResourceTypes")
    # Then there is one, User, with both extensions
    assert answer.status == 200
    assert answer.body["schemas"] == [LIST_SCHEMA]
    (user_type,) = answer.body["Resources"]
    assert user_type["id"] == "User"
    assert user_type["endpoint"] == "/Users"
    assert {extension["schema"] for extension in user_type["schemaExtensions"]} == {ENTERPRISE_SCHEMA, SIP_SCHEMA}
    assert user_type["meta"]["location"] == "http://scim.example.test/scim/v2/ResourceTypes/User"


def test_a_resource_type_is_read_by_its_name_and_an_unknown_one_is_a_404(scim: ScimClient) -> None:
    # Given / When a client reads the User resource type and one that does not exist
    known = scim.request("GET", "/ResourceTypes/User")
    unknown = scim.request("GET", "/ResourceTypes/Group")
    # Then the first is answered and the second is not found
    assert known.status == 200
    assert known.body["name"] == "User"
    assert is_error(unknown, 404)


def test_the_schemas_are_the_core_user_and_its_two_extensions(scim: ScimClient) -> None:
    # Given / When a client lists the schemas
    answer = scim.request("GET", "/Schemas")
    # Then they are the core User, the enterprise User and the SIP extension
    assert answer.status == 200
    ids = {schema["id"] for schema in answer.body["Resources"]}
    assert ids == {"urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_SCHEMA, SIP_SCHEMA}


def test_the_sip_extension_schema_says_every_attribute_is_read_only(scim: ScimClient) -> None:
    # Given / When a client reads the SIP extension's schema by its URN
    answer = scim.request("GET", f"/Schemas/{SIP_SCHEMA}")
    # Then every attribute of it is read-only
    assert answer.status == 200
    attributes = {attribute["name"]: attribute["mutability"] for attribute in answer.body["attributes"]}
    assert attributes == dict.fromkeys(
        ["sipUsername", "sipUri", "sipEndpointId", "profile", "passwordSecretArn"], "readOnly"
    )


def test_an_unknown_schema_is_a_404(scim: ScimClient) -> None:
    # Given / When a client reads a schema the service does not have
    answer = scim.request("GET", "/Schemas/urn:example:none")
    # Then it is not found
    assert is_error(answer, 404)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_the_discovery_documents_refuse_every_write_with_a_405(scim: ScimClient, method: str) -> None:
    # Given / When a client writes to each discovery document
    answers = [
        scim.request(method, path, {})
        for path in ("/ServiceProviderConfig", "/ResourceTypes", "/ResourceTypes/User", "/Schemas")
    ]
    # Then each is refused as a method the resource does not take
    assert all(is_error(answer, 405) for answer in answers)


def test_a_search_by_post_is_not_implemented(scim: ScimClient) -> None:
    # Given / When a client searches with POST /.search
    answer = scim.request("POST", "/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})
    # Then it is told the service does not offer it
    assert is_error(answer, 501)


def test_an_unknown_path_is_a_404(scim: ScimClient) -> None:
    # Given / When a client asks for a resource the service does not have
    answer = scim.request("GET", "/Groups")
    # Then it is not found, in SCIM's words
    assert is_error(answer, 404)


# -- POST /Users --------------------------------------------------------------------------------


def test_a_posted_user_gets_an_endpoint_named_for_the_local_part_of_its_user_name(
    scim: ScimClient, emulator: SignalWireEmulator
) -> None:
    # Given / When an identity provider posts a user
    answer = scim.post_user(user_body("Ada.Lovelace@example.com", external_id="00u1ada"))
    # Then the user is created with a service-assigned id, and its endpoint exists in SignalWire
    assert answer.status == 201
    assert answer.headers["Content-Type"] == SCIM_JSON
    document = answer.body
    assert answer.headers["Location"] == f"http://scim.example.test/scim/v2/Users/{document['id']}"
    assert document["meta"]["location"] == answer.headers["Location"]
    assert (document["userName"], document["externalId"], document["active"]) == (
        "Ada.Lovelace@example.com",
        "00u1ada",
        True,
    )
    assert usernames(emulator) == ["ada.lovelace"]
    assert sip(document)["sipUsername"] == "ada.lovelace"
    assert sip(document)["sipUri"] == "sip:ada.lovelace@test.sip.signalwire.com"
    assert sip(document)["sipEndpointId"] == emulator.endpoints[0]["id"]
    assert sip(document)["profile"] == "default"


def test_a_posted_users_password_is_in_secrets_manager_and_in_no_answer(
    scim: ScimClient, emulator: SignalWireEmulator
) -> None:
    # Given / When a user is posted
    answer = scim.post_user(user_body("ada@example.com"))
    # Then the endpoint's password is the secret's, which the answer names but does not hold
    stored = secret("ada")
    assert stored["password"] == emulator.stored_password("ada")
    assert sip(answer.body)["passwordSecretArn"].startswith("arn:aws:secretsmanager:")
    assert stored["password"] not in json.dumps(answer.body)


def test_a_password_the_client_sends_is_dropped_and_never_set(scim: ScimClient, emulator: SignalWireEmulator) -> None:
    # Given a user posted with a password of the client's
    sent = "Client-Chosen-Password-123"
    # When it is created
    answer = scim.post_user(user_body("ada@example.com", password=sent))
    # Then the endpoint's password is one the service generated, and no answer carries the sent one
    assert answer.status == 201
    assert emulator.stored_password("ada") != sent
    assert sent not in json.dumps(answer.body)
    assert sent not in json.dumps(scim.request("GET", f"/Users/{answer.body['id']}").body)


def test_a_user_posted_as_plain_json_is_accepted(scim: ScimClient) -> None:
    # Given / When a user is posted as application/json rather than application/scim+json
    answer = scim.request("POST", "/Users", user_body("ada@example.com"), headers={"Content-Type": "application/json"})
    # Then it is created
    assert answer.status == 201


def test_a_body_of_another_media_type_is_a_415_and_creates_nothing(
    scim: ScimClient, emulator: SignalWireEmulator
) -> None:
    # Given / When a user is posted as form data
    answer = scim.request("POST", "/Users", raw_body=b"userName=ada", headers={"Content-Type": "text/plain"})
    # Then it is refused and nothing exists
    assert is_error(answer, 415)
    assert emulator.endpoints == []


def test_a_body_that_is_not_json_is_invalid_syntax(scim: ScimClient) -> None:
    # Given / When the body is not JSON
    answer = scim.request("POST", "/Users", raw_body=b"{not json")
    # Then it is refused as invalid syntax
    assert is_error(answer, 400, "invalidSyntax")


# 5,000 levels of arrays, and of objects, each within the 64 KiB limit.
DEEP_VALUES = {
    "5000 arrays": b"[" * 5000 + b"1" + b"]" * 5000,
    "5000 objects": b'{"a":' * 5000 + b"1" + b"}" * 5000,
}


@pytest.mark.parametrize("deep_value", DEEP_VALUES.values(), ids=DEEP_VALUES.keys())
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_body_nested_thousands_deep_is_invalid_syntax_and_changes_nothing(
    scim: ScimClient, emulator: SignalWireEmulator, method: str, deep_value: bytes
) -> None:
    # Given a user, and a body for the method whose displayName nests thousands of levels deep
    user = created(scim, "ada@example.com")
    if method == "PATCH":
        opening = f'{{"schemas": ["{PATCH_SCHEMA}"], "Operations": [{{"op": "replace", "path": "displayName", "value": '
        body = opening.encode() + deep_value + b"}]}"
    else:
        body = json.dumps(user_body("grace@example.com"))[:-1].encode() + b', "displayName": ' + deep_value + b"}"
    assert len(body) <= 64 * 1024
    path = "/Users" if method == "POST" else f"/Users/{user['id']}"
    before = (emulator.endpoints, scim.request("GET", f"/Users/{user['id']}").body)
    # When it is sent
    answer = scim.request(method, path, raw_body=body)
    # Then it is refused as invalid syntax, and nothing changed
    assert is_error(answer, 400, "invalidSyntax"), answer.body
    assert "deeper than 32 levels" in answer.body["detail"]
    assert (emulator.endpoints, scim.request("GET", f"/Users/{user['id']}").body) == before
    assert scim.request("GET", "/Users").body["totalResults"] == 1


def test_a_body_over_64_kib_is_a_413(scim: ScimClient) -> None:
    # Given / When a user is posted with a huge attribute
    answer = scim.post_user(user_body("ada@example.com", displayName="x" * 70_000))
    # Then it is refused as too large
    assert is_error(answer, 413)


def test_a_user_without_a_user_name_is_an_invalid_value(scim: ScimClient, emulator: SignalWireEmulator) -> None:
    # Given / When a user is posted with no userName
    answer = scim.request("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})
    # Then it is refused and nothing exists
    assert answer.status == 400
    assert answer.body["scimType"] == "invalidValue"
    assert emulator.endpoints == []


def test_a_user_name_that_maps_to_no_sip_username_is_an_invalid_value_and_creates_nothing(
    scim: ScimClient, emulator: SignalWireEmulator
) -> None:
    # Given / When a user whose userName's local part holds a space is posted
    answer = scim.post_user(user_body("ada lovelace@example.com"))
    # Then it is refused, naming the userName, and neither the user nor an endpoint exists
    assert is_error(answer, 400, "invalidValue")
    assert "ada lovelace@example.com" in answer.body["detail"]
    assert emulator.endpoints == []
    assert scim.request("GET", "/Users").body["totalResults"] == 0


def test_a_user_name_taken_in_another_case_is_a_409_uniqueness(scim: ScimClient, emulator: SignalWireEmulator) -> None:
    # Given a user
    created(scim, "ada@example.com")
    # When another is posted with the same userName in other letters' case
    answer = scim.post_user(user_body("ADA@example.com"))
    # Then it is refused as not unique, and only the first endpoint exists
    assert is_error(answer, 409, "uniqueness")
    assert usernames(emulator) == ["ada"]


def test_a_user_name_mapping_to_the_sip_username_of_another_user_is_a_409_uniqueness(
    scim: ScimClient, emulator: SignalWireEmulator
) -> None:
    # Given a user whose SIP username is "ada"
    created(scim, "ada@example.com")
    # When a user of another domain with the same local part is posted
    answer = scim.post_user(user_body("ada@example.org"))
    # Then it is refused as not unique, and one user exists
    assert is_error(answer, 409, "uniqueness")
    assert scim.request("GET", "/Users").body["totalResults"] == 1


def test_a_user_whose_sip_username_another_caller_holds_is_a_409_and_leaves_no_user(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given an endpoint "ada" created over the HTTP API
    assert api.create({"username": "ada"}).status == 201
    # When a SCIM user mapping to "ada" is posted
    answer = scim.post_user(user_body("ada@example.com"))
    # Then it is refused as not unique, no SCIM user is left, and the endpoint is untouched
    assert is_error(answer, 409, "uniqueness")
    assert scim.request("GET", "/Users").body["totalResults"] == 0
    assert endpoint_record(api, "ada")["created_via"] == "http"


def test_a_user_posted_inactive_gets_no_endpoint(scim: ScimClient, emulator: SignalWireEmulator) -> None:
    # Given / When a user is posted with active false
    document = created(scim, "ada@example.com", active=False)
    # Then the user exists without an endpoint
    assert document["active"] is False
    assert "sipEndpointId" not in sip(document)
    assert emulator.endpoints == []


def test_the_profile_comes_from_the_configured_attribute(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given settings mapping the enterprise department "Support" to the support profile
    put_settings(api, profile_attribute=DEPARTMENT, profiles={"Support": "support"})
    # When a user of that department is posted
    document = created(scim, "ada@example.com", **{ENTERPRISE_SCHEMA: {"department": "Support"}})
    # Then its endpoint is built from that profile
    assert sip(document)["profile"] == "support"
    assert endpoint_record(api, "ada")["profile"] == "support"


def test_as_is_settings_keep_the_whole_user_name_when_it_is_a_valid_sip_username(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given settings that keep the userName as it is
    put_settings(api, username="as_is")
    # When a user without a domain is posted
    document = created(scim, "Ada_Lovelace")
    # Then the SIP username is the userName, its case kept
    assert sip(document)["sipUsername"] == "Ada_Lovelace"
    assert usernames(emulator) == ["Ada_Lovelace"]


def test_broken_settings_fail_every_user_request_naming_the_parameter_and_create_nothing(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given settings with an unknown deactivation action
    put_settings(api, on_deactivate="archive")
    # When a user is posted
    answer = scim.post_user(user_body("ada@example.com"))
    # Then the service says its own configuration is broken, naming the parameter, and creates nothing
    assert is_error(answer, 500)
    assert f"{PARAMETERS_PATH}/scim/settings" in answer.body["detail"]
    assert "archive" not in answer.body["detail"]
    assert emulator.endpoints == []


def test_a_signalwire_outage_during_a_post_is_a_503_and_the_next_request_completes_the_endpoint(
    scim: ScimClient, emulator: SignalWireEmulator
) -> None:
    # Given a create whose connection SignalWire closes without acting on it
    emulator.inject_fault(Fault.CLOSE_CONNECTION)
    # When a user is posted, and the identity provider then sends the user again
    failed = scim.post_user(user_body("ada@example.com"))
    found = scim.request("GET", "/Users", query='filter=userName+eq+"ada@example.com"').body["Resources"][0]
    again = scim.request("PUT", f"/Users/{found['id']}", user_body("ada@example.com"))
    # Then the first answer said to retry, and the retry gave the user its one endpoint
    assert is_error(failed, 503)
    assert "Retry-After" in failed.headers
    assert again.status == 200
    assert usernames(emulator) == ["ada"]
    assert sip(again.body)["sipEndpointId"] == emulator.endpoints[0]["id"]


def test_a_lost_create_answer_is_recovered_by_the_next_request_without_a_second_endpoint(
    scim: ScimClient, emulator: SignalWireEmulator
) -> None:
    # Given a create SignalWire commits but whose answer is lost, and whose lookup after it fails too
    emulator.inject_fault(Fault.COMMIT_THEN_CLOSE)
    emulator.inject_fault(Fault.SERVER_ERROR, operation="list", after=1)
    failed = scim.post_user(user_body("ada@example.com"))
    user_id = scim.request("GET", "/Users", query='filter=userName+eq+"ada@example.com"').body["Resources"][0]["id"]
    # When the identity provider sends the user again
    again = scim.request("PUT", f"/Users/{user_id}", user_body("ada@example.com"))
    # Then there is one endpoint, whose password is the one in Secrets Manager
    assert failed.status in {502, 503}
    assert again.status == 200
    assert usernames(emulator) == ["ada"]
    assert secret("ada")["password"] == emulator.stored_password("ada")


# -- GET /Users ---------------------------------------------------------------------------------


def test_a_user_is_read_by_its_id(scim: ScimClient) -> None:
    # Given a user
    document = created(scim, "ada@example.com", name={"givenName": "Ada", "familyName": "Lovelace"})
    # When it is read by its id
    answer = scim.request("GET", f"/Users/{document['id']}")
    # Then it is the user as posted, with its endpoint
    assert answer.status == 200
    assert answer.body == document


def test_an_unknown_id_is_a_404(scim: ScimClient) -> None:
    # Given / When a user that does not exist is read
    answer = scim.request("GET", "/Users/2819c223-7f76-453a-919d-413861904646")
    # Then it is not found
    assert is_error(answer, 404)


def test_the_user_list_pages_by_start_index_and_count_and_counts_them_all(scim: ScimClient) -> None:
    # Given five users
    names = {f"{name}@example.com" for name in ("ada", "bob", "cy", "dee", "eve")}
    for name in names:
        created(scim, name)
    # When the list is read in pages of two
    pages = [scim.request("GET", "/Users", query=f"startIndex={first}&count=2").body for first in (1, 3, 5)]
    # Then the pages hold every user once, and each says where it starts and that there are five
    assert [page["schemas"] for page in pages] == [[LIST_SCHEMA]] * 3
    assert [(page["totalResults"], page["startIndex"], page["itemsPerPage"]) for page in pages] == [
        (5, 1, 2),
        (5, 3, 2),
        (5, 5, 1),
    ]
    listed = [user["userName"] for page in pages for user in page["Resources"]]
    assert sorted(listed) == sorted(names)


def test_a_count_of_zero_answers_only_the_total(scim: ScimClient) -> None:
    # Given two users
    created(scim, "ada@example.com")
    created(scim, "bob@example.com")
    # When the list is probed with count 0, as Okta does
    answer = scim.request("GET", "/Users", query="startIndex=1&count=0")
    # Then it says how many there are and lists none
    assert answer.body["totalResults"] == 2
    assert answer.body.get("Resources", []) == []


def test_a_start_index_below_one_is_one_and_a_count_above_the_maximum_is_the_maximum(scim: ScimClient) -> None:
    # Given a user
    created(scim, "ada@example.com")
    # When the list is read from index 0 with a count of 1000
    answer = scim.request("GET", "/Users", query="startIndex=0&count=1000")
    # Then it is read from the first user, at most 100 per page
    assert answer.body["startIndex"] == 1
    assert answer.body["itemsPerPage"] == 1


def test_a_start_index_that_is_not_a_number_is_an_invalid_value(scim: ScimClient) -> None:
    # Given / When the list is read from index "first"
    answer = scim.request("GET", "/Users", query="startIndex=first")
    # Then it is refused
    assert is_error(answer, 400, "invalidValue")


def test_a_user_name_filter_finds_the_user_without_regard_to_case(scim: ScimClient) -> None:
    # Given two users
    ada = created(scim, "Ada@Example.com")
    created(scim, "bob@example.com")
    # When the list is filtered by Ada's userName in other letters' case
    answer = scim.request("GET", "/Users", query='filter=userName+eq+"ada@example.COM"')
    # Then it holds Ada alone
    assert answer.body["totalResults"] == 1
    assert [user["id"] for user in answer.body["Resources"]] == [ada["id"]]


def test_a_user_name_filter_of_nobody_is_an_empty_list(scim: ScimClient) -> None:
    # Given / When the list is filtered by a userName nobody has, as Okta does before a create
    answer = scim.request("GET", "/Users", query='filter=userName+eq+"ada@example.com"&startIndex=1&count=100')
    # Then the list is empty
    assert answer.status == 200
    assert answer.body["totalResults"] == 0


def test_an_external_id_filter_finds_the_users_with_exactly_that_external_id(scim: ScimClient) -> None:
    # Given two users with distinct externalIds
    ada = created(scim, "ada@example.com", external_id="00u1")
    created(scim, "bob@example.com", external_id="00u2")
    # When the list is filtered by Ada's externalId, and by it in other letters' case
    exact = scim.request("GET", "/Users", query='filter=externalId+eq+"00u1"')
    other_case = scim.request("GET", "/Users", query='filter=externalId+eq+"00U1"')
    # Then the first finds Ada and the second nobody (externalId is case-exact)
    assert [user["id"] for user in exact.body["Resources"]] == [ada["id"]]
    assert other_case.body["totalResults"] == 0


def test_an_id_filter_finds_the_user_with_that_id(scim: ScimClient) -> None:
    # Given a user
    ada = created(scim, "ada@example.com")
    # When the list is filtered by its id
    answer = scim.request("GET", "/Users", query=f'filter=id+eq+"{ada["id"]}"')
    # Then it holds that user
    assert [user["id"] for user in answer.body["Resources"]] == [ada["id"]]


@pytest.mark.parametrize(
    "filter_text", ['displayName eq "Ada"', 'userName co "ada"', 'userName eq "a" or userName eq "b"', 'userName eq "']
)
def test_a_filter_the_service_does_not_answer_is_an_invalid_filter(scim: ScimClient, filter_text: str) -> None:
    # Given / When the list is filtered in a form the service does not answer
    answer = scim.request("GET", "/Users", query=f"filter={filter_text}")
    # Then it is refused as an invalid filter
    assert is_error(answer, 400, "invalidFilter")


def test_excluded_attributes_leave_those_attributes_out(scim: ScimClient) -> None:
    # Given a user with a name
    ada = created(scim, "ada@example.com", name={"givenName": "Ada"})
    # When it is read without its name
    answer = scim.request("GET", f"/Users/{ada['id']}", query="excludedAttributes=name")
    # Then the name is left out and the rest is there
    assert "name" not in answer.body
    assert answer.body["userName"] == "ada@example.com"


def test_attributes_select_what_a_list_returns(scim: ScimClient) -> None:
    # Given a user with a name and an externalId
    created(scim, "ada@example.com", external_id="00u1", name={"givenName": "Ada"})
    # When the list is read asking for userName only
    answer = scim.request("GET", "/Users", query="attributes=userName")
    # Then each user carries its id and userName, not its name
    (user,) = answer.body["Resources"]
    assert user["userName"] == "ada@example.com"
    assert "id" in user
    assert "name" not in user


# -- PUT /Users/{id} ----------------------------------------------------------------------------


def test_a_put_replaces_every_attribute_the_client_owns(scim: ScimClient) -> None:
    # Given a user with a title and a name
    ada = created(scim, "ada@example.com", title="Engineer", name={"givenName": "Ada"})
    # When it is replaced by a body with a display name and no title
    answer = scim.request("PUT", f"/Users/{ada['id']}", user_body("ada@example.com", displayName="Ada L."))
    # Then the user has the display name, no title and no name, and keeps its id and endpoint
    assert answer.status == 200
    assert answer.body["displayName"] == "Ada L."
    assert "title" not in answer.body
    assert "name" not in answer.body
    assert answer.body["id"] == ada["id"]
    assert sip(answer.body)["sipEndpointId"] == sip(ada)["sipEndpointId"]


def test_a_renamed_user_keeps_its_sip_username_and_its_endpoint_is_owned_by_the_new_user_name(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given a user
    ada = created(scim, "ada@example.com")
    # When its userName changes
    answer = scim.request("PUT", f"/Users/{ada['id']}", user_body("ada.king@example.com"))
    # Then the user is renamed, the endpoint keeps the SIP username devices register with, and
    # its owner is the new userName
    assert answer.body["userName"] == "ada.king@example.com"
    assert sip(answer.body)["sipUsername"] == "ada"
    assert usernames(emulator) == ["ada"]
    assert endpoint_record(api, "ada")["owner"] == "ada.king@example.com"


def test_a_put_to_the_user_name_of_another_user_is_a_409_and_changes_nothing(scim: ScimClient) -> None:
    # Given two users
    ada = created(scim, "ada@example.com")
    created(scim, "bob@example.com")
    # When Ada is renamed to Bob's userName
    answer = scim.request("PUT", f"/Users/{ada['id']}", user_body("BOB@example.com"))
    # Then it is refused and Ada keeps her userName
    assert is_error(answer, 409, "uniqueness")
    assert scim.request("GET", f"/Users/{ada['id']}").body["userName"] == "ada@example.com"


def test_a_put_ignores_the_id_meta_and_sip_extension_it_carries(scim: ScimClient) -> None:
    # Given a user, read back as a client would echo it
    ada = created(scim, "ada@example.com")
    echoed = {**ada, "id": "another", SIP_SCHEMA: {**sip(ada), "sipUsername": "mallory"}}
    # When the echoed document is put
    answer = scim.request("PUT", f"/Users/{ada['id']}", echoed)
    # Then nothing the service owns changed
    assert answer.status == 200
    assert answer.body["id"] == ada["id"]
    assert sip(answer.body) == sip(ada)


# How users come to be as the service keeps them: posted with every kind of attribute, given a
# manager as Okta and Entra send one, changed by PATCH, deactivated.
EVERY_CORE_ATTRIBUTE: dict[str, Any] = {
    "externalId": "00u1core",
    "name": {"formatted": "Ms. Ada King", "familyName": "King", "givenName": "Ada", "honorificPrefix": "Ms."},
    "displayName": "Ada King",
    "nickName": "Ada",
    "profileUrl": "https://login.example.com/ada",
    "title": "Engineer",
    "userType": "Employee",
    "preferredLanguage": "en-GB",
    "locale": "en-GB",
    "timezone": "Europe/London",
    "emails": [
        {"value": "ada@example.com", "type": "work", "primary": True},
        {"value": "ada@home.example.org", "type": "home"},
    ],
    "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "work", "primary": True}, {"value": "tel:+44-7700-900000"}],
    "ims": [{"value": "ada.king", "type": "xmpp"}],
    "photos": [{"value": "https://photos.example.com/ada.jpg", "type": "photo"}],
    "addresses": [
        {
            "type": "work",
            "streetAddress": "12 Analytical Row",
            "locality": "London",
            "region": "Greater London",
            "postalCode": "NW1 2DB",
            "country": "GB",
            "formatted": "12 Analytical Row\nLondon NW1 2DB\nGB",
            "primary": True,
        },
        {"type": "other", "formatted": "Somewhere else"},
    ],
    "entitlements": [{"value": "sip"}],
    "roles": [{"value": "engineer", "display": "Engineer", "primary": True}],
    "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"}],
}
EVERY_ENTERPRISE_ATTRIBUTE: dict[str, Any] = {
    "employeeNumber": "701984",
    "costCenter": "4130",
    "organization": "Universal Studios",
    "division": "Theme Park",
    "department": "Tour Operations",
}
MANAGER_ID = "26118915-6090-4610-87e4-49d8ca9f808d"
ROUND_TRIPS: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "a minimal user": ({}, []),
    "a user with every core attribute": (EVERY_CORE_ATTRIBUTE, []),
    "an enterprise user whose manager has a $ref": (
        {
            ENTERPRISE_SCHEMA: {
                **EVERY_ENTERPRISE_ATTRIBUTE,
                "manager": {"value": MANAGER_ID, "$ref": f"../Users/{MANAGER_ID}"},
            }
        },
        [],
    ),
    "an enterprise user whose manager Okta sent without $ref": (
        {ENTERPRISE_SCHEMA: {**EVERY_ENTERPRISE_ATTRIBUTE, "manager": {"value": MANAGER_ID}}},
        [],
    ),
    "a user Entra gave a manager by its id alone": (
        EVERY_CORE_ATTRIBUTE,
        [{"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": MANAGER_ID}],
    ),
    "a user whose work email and phone Entra's PATCH added": (
        {},
        [
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "ada@example.com"},
            {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+44 7700 900000"},
        ],
    ),
    "a deactivated user": (EVERY_CORE_ATTRIBUTE, [{"op": "replace", "value": {"active": False}}]),
}


@pytest.mark.parametrize(("sent", "operations"), ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_a_put_of_a_user_exactly_as_get_returned_it_succeeds_and_changes_nothing(
    scim: ScimClient, sent: dict[str, Any], operations: list[dict[str, Any]]
) -> None:
    # Given a user as the service keeps it, read by GET
    ada = created(scim, "ada@example.com", **sent)
    if operations:
        assert scim.patch_user(ada["id"], *operations).status == 200
    read = scim.request("GET", f"/Users/{ada['id']}")
    # When the identity provider puts back exactly what it read
    answer = scim.request("PUT", f"/Users/{ada['id']}", read.body)
    # Then it succeeds, and the user is as it was
    assert answer.status == 200, answer.body
    assert answer.body == read.body
    assert scim.request("GET", f"/Users/{ada['id']}").body == read.body


def test_a_put_of_an_unknown_user_is_a_404(scim: ScimClient) -> None:
    # Given / When a user that does not exist is replaced
    answer = scim.request("PUT", "/Users/2819c223-7f76-453a-919d-413861904646", user_body("ada@example.com"))
    # Then it is not found
    assert is_error(answer, 404)


def test_a_department_change_moves_the_endpoint_to_the_mapped_profile(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given a user of Sales (no mapped profile) under settings mapping Support to the support profile
    put_settings(api, profile_attribute=DEPARTMENT, profiles={"Support": "support"})
    ada = created(scim, "ada@example.com", **{ENTERPRISE_SCHEMA: {"department": "Sales"}})
    # When the user moves to Support
    moved = {**user_body("ada@example.com"), ENTERPRISE_SCHEMA: {"department": "Support"}}
    answer = scim.request("PUT", f"/Users/{ada['id']}", moved)
    # Then the endpoint is rebuilt from the support profile, still the same endpoint
    assert sip(ada)["profile"] == "default"
    assert sip(answer.body)["profile"] == "support"
    assert endpoint_record(api, "ada")["profile"] == "support"
    assert len(emulator.endpoints) == 1


# -- PATCH /Users/{id} --------------------------------------------------------------------------


def test_a_patch_setting_active_false_disables_the_endpoint(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given a user with an endpoint
    ada = created(scim, "ada@example.com")
    password = emulator.stored_password("ada")
    # When the identity provider deactivates the user
    answer = scim.patch_user(ada["id"], {"op": "replace", "path": "active", "value": False})
    # Then the user is inactive and its endpoint, still there, is disabled with another password
    assert answer.status == 200
    assert answer.body["active"] is False
    assert endpoint_record(api, "ada")["status"] == "disabled"
    assert emulator.stored_password("ada") != password
    assert sip(answer.body)["sipEndpointId"] == sip(ada)["sipEndpointId"]


def test_a_patch_setting_active_true_again_resets_the_password_into_secrets_manager(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given a deactivated user
    ada = created(scim, "ada@example.com")
    first = secret("ada")["password"]
    scim.patch_user(ada["id"], {"op": "replace", "path": "active", "value": False})
    # When it is activated again
    answer = scim.patch_user(ada["id"], {"op": "replace", "path": "active", "value": True})
    # Then the endpoint is active with a new password, the one the secret now holds
    assert answer.body["active"] is True
    assert endpoint_record(api, "ada")["status"] == "active"
    assert secret("ada")["password"] == emulator.stored_password("ada")
    assert secret("ada")["password"] != first


def test_a_patch_that_changes_nothing_the_endpoint_follows_sends_signalwire_nothing(
    scim: ScimClient, emulator: SignalWireEmulator
) -> None:
    # Given a user
    ada = created(scim, "ada@example.com")
    updates = emulator.updates_committed
    # When its title is patched
    answer = scim.patch_user(ada["id"], {"op": "add", "path": "title", "value": "Countess"})
    # Then the user has the title and SignalWire was not asked to change anything
    assert answer.body["title"] == "Countess"
    assert emulator.updates_committed == updates


def test_a_patch_is_all_or_nothing(scim: ScimClient) -> None:
    # Given a user
    ada = created(scim, "ada@example.com")
    # When a patch sets a title and then changes the id
    answer = scim.patch_user(
        ada["id"], {"op": "add", "path": "title", "value": "Countess"}, {"op": "replace", "path": "id", "value": "x"}
    )
    # Then it is refused as a change to what the client may not change, and the title is not set
    assert is_error(answer, 400, "mutability")
    assert "title" not in scim.request("GET", f"/Users/{ada['id']}").body


def test_a_patch_of_the_sip_extension_is_refused_as_read_only(scim: ScimClient) -> None:
    # Given a user
    ada = created(scim, "ada@example.com")
    # When a patch changes its SIP username
    answer = scim.patch_user(ada["id"], {"op": "replace", "path": f"{SIP_SCHEMA}:sipUsername", "value": "mallory"})
    # Then it is refused as read-only
    assert is_error(answer, 400, "mutability")


def test_a_patch_removing_without_a_path_is_no_target(scim: ScimClient) -> None:
    # Given a user
    ada = created(scim, "ada@example.com")
    # When a patch removes without saying what
    answer = scim.patch_user(ada["id"], {"op": "remove"})
    # Then it is refused as selecting nothing (RFC 7644 §3.5.2.2)
    assert is_error(answer, 400, "noTarget")


def test_a_patch_naming_an_attribute_the_user_does_not_have_is_an_invalid_path(scim: ScimClient) -> None:
    # Given a user
    ada = created(scim, "ada@example.com")
    # When a patch replaces an attribute the User schema does not define
    answer = scim.patch_user(ada["id"], {"op": "replace", "path": "favouriteColour", "value": "green"})
    # Then it is refused as an invalid path
    assert is_error(answer, 400, "invalidPath")


def test_a_patch_whose_body_is_not_a_patch_op_is_refused(scim: ScimClient) -> None:
    # Given a user
    ada = created(scim, "ada@example.com")
    # When a patch body is a plain user rather than a PatchOp
    answer = scim.request("PATCH", f"/Users/{ada['id']}", user_body("ada@example.com"))
    # Then it is refused and nothing changed
    assert answer.status == 400
    assert scim.request("GET", f"/Users/{ada['id']}").body == ada


def test_a_patch_of_an_unknown_user_is_a_404(scim: ScimClient) -> None:
    # Given / When a user that does not exist is patched
    answer = scim.patch_user(
        "2819c223-7f76-453a-919d-413861904646", {"op": "replace", "path": "active", "value": False}
    )
    # Then it is not found
    assert is_error(answer, 404)


def test_a_user_name_patch_renames_the_user(scim: ScimClient) -> None:
    # Given a user
    ada = created(scim, "ada@example.com")
    # When its userName is patched
    answer = scim.patch_user(ada["id"], {"op": "replace", "path": "userName", "value": "countess@example.com"})
    # Then the user is found under the new userName, with the same SIP username
    assert answer.body["userName"] == "countess@example.com"
    found = scim.request("GET", "/Users", query='filter=userName+eq+"countess@example.com"')
    assert [user["id"] for user in found.body["Resources"]] == [ada["id"]]
    assert sip(answer.body)["sipUsername"] == "ada"


def test_removing_active_leaves_it_absent_and_the_endpoint_active(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given a user
    ada = created(scim, "ada@example.com")
    # When its `active` is removed
    answer = scim.patch_user(ada["id"], {"op": "remove", "path": "active"})
    # Then the user has no `active`, and the endpoint stays active (unset is not deactivated)
    assert "active" not in answer.body
    assert endpoint_record(api, "ada")["status"] == "active"


# -- on_deactivate: delete ----------------------------------------------------------------------


def test_with_delete_on_deactivate_a_deactivated_user_stays_readable_without_an_endpoint(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given settings deleting the endpoint of a deactivated user, and a user
    put_settings(api, on_deactivate="delete")
    ada = created(scim, "ada@example.com")
    # When the user is deactivated
    answer = scim.patch_user(ada["id"], {"op": "replace", "path": "active", "value": False})
    # Then the endpoint is gone and the user is still there, inactive, without an endpoint id
    assert emulator.endpoints == []
    read = scim.request("GET", f"/Users/{ada['id']}").body
    assert read["active"] is False
    assert "sipEndpointId" not in sip(read)
    assert "passwordSecretArn" not in sip(answer.body)


def test_with_delete_on_deactivate_reactivating_creates_a_new_endpoint_for_the_same_user(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given a user deactivated under delete-on-deactivate
    put_settings(api, on_deactivate="delete")
    ada = created(scim, "ada@example.com")
    scim.patch_user(ada["id"], {"op": "replace", "path": "active", "value": False})
    # When it is activated again
    answer = scim.patch_user(ada["id"], {"op": "replace", "path": "active", "value": True})
    # Then a new endpoint exists under the same SIP username, for the same SCIM id, its password in
    # Secrets Manager again
    assert answer.body["id"] == ada["id"]
    assert usernames(emulator) == ["ada"]
    assert sip(answer.body)["sipEndpointId"] == emulator.endpoints[0]["id"] != sip(ada)["sipEndpointId"]
    assert secret("ada")["password"] == emulator.stored_password("ada")


# -- DELETE /Users/{id} -------------------------------------------------------------------------


def test_a_deleted_user_is_gone_with_its_endpoint_and_its_record_is_kept(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given a user
    ada = created(scim, "ada@example.com")
    # When it is deleted
    answer = scim.request("DELETE", f"/Users/{ada['id']}")
    # Then the endpoint is gone from SignalWire, the user cannot be read, and the inventory keeps
    # the endpoint's record as deleted by scim
    assert answer.status == 204
    assert emulator.endpoints == []
    assert is_error(scim.request("GET", f"/Users/{ada['id']}"), 404)
    listed = api.request("GET", "/endpoints", query="status=deleted").body["endpoints"]
    assert [(record["username"], record["created_by"]) for record in listed] == [("ada", "scim")]


def test_deleting_a_user_schedules_its_secret_for_deletion(scim: ScimClient) -> None:
    # Given a user
    ada = created(scim, "ada@example.com")
    # When it is deleted
    scim.request("DELETE", f"/Users/{ada['id']}")
    # Then its password's secret is scheduled for deletion
    described = boto3.client("secretsmanager").describe_secret(SecretId=f"{SECRETS_PREFIX}ada")
    assert "DeletedDate" in described


def test_deleting_a_user_twice_is_a_404_the_second_time(scim: ScimClient) -> None:
    # Given a deleted user
    ada = created(scim, "ada@example.com")
    scim.request("DELETE", f"/Users/{ada['id']}")
    # When it is deleted again
    answer = scim.request("DELETE", f"/Users/{ada['id']}")
    # Then it is not found
    assert is_error(answer, 404)


def test_a_user_posted_again_after_its_deletion_gets_a_new_id_and_a_new_endpoint(
    scim: ScimClient, emulator: SignalWireEmulator
) -> None:
    # Given a deleted user
    ada = created(scim, "ada@example.com")
    scim.request("DELETE", f"/Users/{ada['id']}")
    # When the same userName is posted again
    again = created(scim, "ada@example.com")
    # Then it is a new user with a new endpoint
    assert again["id"] != ada["id"]
    assert usernames(emulator) == ["ada"]
    assert sip(again)["sipEndpointId"] != sip(ada)["sipEndpointId"]


def test_a_signalwire_failure_during_a_delete_keeps_the_user_for_the_retry(
    scim: ScimClient, emulator: SignalWireEmulator
) -> None:
    # Given a user, and SignalWire failing its next deletes
    ada = created(scim, "ada@example.com")
    emulator.inject_fault(Fault.SERVER_ERROR, operation="delete")
    # When the user is deleted, and the identity provider retries
    failed = scim.request("DELETE", f"/Users/{ada['id']}")
    still_there = scim.request("GET", f"/Users/{ada['id']}")
    retried = scim.request("DELETE", f"/Users/{ada['id']}")
    # Then the first delete failed leaving the user, and the retry removed both
    assert failed.status >= 500
    assert still_there.status == 200
    assert retried.status == 204
    assert emulator.endpoints == []


# -- secrets ------------------------------------------------------------------------------------


def test_no_password_or_bearer_token_reaches_a_log_line_an_answer_or_a_table_item(
    scim: ScimClient,
    api: ProvisionerApi,
    emulator: SignalWireEmulator,
    service_log: Any,
) -> None:
    # Given a user's whole life, and a refused request carrying a guessed token
    answers = [scim.post_user(user_body("ada@example.com", password="Client-Chosen-Password-123"))]
    user_id = answers[0].body["id"]
    first_password = emulator.stored_password("ada")
    answers.append(scim.patch_user(user_id, {"op": "replace", "value": {"active": "False"}}))
    answers.append(scim.patch_user(user_id, {"op": "replace", "value": {"active": "True"}}))
    second_password = emulator.stored_password("ada")
    answers.append(scim.request("DELETE", f"/Users/{user_id}"))
    scim.token = "guessed-token-0000"
    answers.append(scim.request("GET", "/Users"))
    # When everything the service wrote is gathered
    items = boto3.client("dynamodb").scan(TableName="sip-provisioning-test-inventory")["Items"]
    written = json.dumps([answer.body for answer in answers]) + json.dumps(service_log()) + json.dumps(items)
    # Then no password, the bearer token or the guessed token is in it
    for secret_text in (
        first_password,
        second_password,
        "Client-Chosen-Password-123",
        SCIM_TOKEN,
        "guessed-token-0000",
    ):
        assert secret_text
        assert secret_text not in written


def test_entras_tenant_url_flag_on_every_request_is_ignored(scim: ScimClient) -> None:
    # Given a tenant URL ending in ?aadOptscim062020, which Entra keeps on every request
    # When a user is looked up and then created through it
    looked_up = scim.request("GET", "/Users", query='aadOptscim062020&filter=userName+eq+"ada@example.com"')
    posted = scim.request("POST", "/Users", user_body("ada@example.com"), query="aadOptscim062020")
    # Then both are answered as without it
    assert looked_up.body["totalResults"] == 0
    assert posted.status == 201


def test_a_move_to_a_profile_the_policy_forbids_scim_is_a_403_and_changes_nothing(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given a user of Sales, and Support's profile open to onboarding roles only
    office = json.loads((PROFILES_DIR / "office.json").read_text())
    restricted = {**office, "policy": {"callers": ["arn:aws:sts::123456789012:assumed-role/onboarding-*"]}}
    api.put_parameter("profiles/restricted", json.dumps(restricted))
    put_settings(api, profile_attribute=DEPARTMENT, profiles={"Support": "restricted"})
    ada = created(scim, "ada@example.com", **{ENTERPRISE_SCHEMA: {"department": "Sales"}})
    # When the identity provider moves the user to Support
    moved = {**user_body("ada@example.com"), ENTERPRISE_SCHEMA: {"department": "Support"}}
    answer = scim.request("PUT", f"/Users/{ada['id']}", moved)
    # Then it is refused, and the user and its endpoint are as they were
    assert is_error(answer, 403)
    assert scim.request("GET", f"/Users/{ada['id']}").body[ENTERPRISE_SCHEMA] == {"department": "Sales"}
    assert endpoint_record(api, "ada")["profile"] == "default"
