"""The SCIM documents: a user as sent and as returned, a list, an error, the discovery documents."""

from datetime import UTC, datetime
from typing import Any

import pytest

from sip_provisioning.callers.scim.errors import (
    ImmutableAttribute,
    InvalidFilter,
    InvalidSyntax,
    InvalidValue,
    ResourceNotFound,
    ScimError,
    Unauthorized,
    UserNameTaken,
)
from sip_provisioning.callers.scim.resources import (
    SIP_EXTENSION_URN,
    AsSentEnterpriseUser,
    ScimUser,
    SipUser,
    client_attributes,
    error_document,
    list_document,
    parse_user,
    resource_type_document,
    resource_types_document,
    returned_user,
    schema_document,
    schemas_document,
    service_provider_config_document,
    user_document,
    user_from_client_attributes,
)

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
BASE_URL = "https://api.example.com/scim/v2"
USER_ID = "2819c223-7f76-453a-919d-413861904646"


def created_body(**attributes: Any) -> dict[str, Any]:
    return {"schemas": [CORE_USER], "userName": "alice@example.com", "externalId": "00u1", "active": True, **attributes}


def returned(user: ScimUser, sip: SipUser | None = None) -> ScimUser:
    return returned_user(
        user,
        user_id=USER_ID,
        created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        last_modified=datetime(2026, 1, 3, 3, 4, 5, tzinfo=UTC),
        location=f"{BASE_URL}/Users/{USER_ID}",
        sip=sip or SipUser(sip_username="alice", sip_uri="sip:alice@example.sip.signalwire.com", profile="default"),
    )


# -- a user as sent ----------------------------------------------------------------------------


def test_a_created_user_keeps_what_the_identity_provider_sent() -> None:
    # Given / When an Entra creation body with the enterprise extension is read
    user = parse_user(created_body(**{"schemas": [CORE_USER, ENTERPRISE], ENTERPRISE: {"department": "Sales"}}))
    # Then its attributes are kept
    enterprise = user[AsSentEnterpriseUser]
    assert (user.user_name, user.external_id, enterprise.department) == ("alice@example.com", "00u1", "Sales")


def test_entra_string_booleans_are_booleans_in_a_created_user() -> None:
    # Given / When a creation body with active "False" is read
    user = parse_user(created_body(active="False"))
    # Then the user is inactive
    assert user.active is False


def test_a_password_sent_with_a_created_user_is_dropped() -> None:
    # Given / When a creation body with a password is read
    user = parse_user(created_body(password="correct horse battery staple"))
    # Then the user holds no password: the service generates every SIP password
    assert user.password is None


def test_a_created_user_without_user_name_is_an_invalid_value() -> None:
    # Given / When a creation body without userName is read
    # Then it is an invalid value
    with pytest.raises(InvalidValue, match="userName"):
        parse_user({"schemas": [CORE_USER], "externalId": "00u1"})


def test_an_id_sent_with_a_created_user_is_ignored() -> None:
    # Given / When a creation body with an id is read
    user = parse_user(created_body(id=USER_ID))
    # Then the user has no id yet: the service assigns ids
    assert user.id is None


def test_a_created_user_that_is_not_an_object_is_invalid_syntax() -> None:
    # Given / When a creation body that is a list is read
    # Then it is invalid syntax
    with pytest.raises(InvalidSyntax):
        parse_user([created_body()])


def enterprise_body(manager: object) -> dict[str, Any]:
    return created_body(schemas=[CORE_USER, ENTERPRISE], **{ENTERPRISE: {"manager": manager}})


def test_a_manager_sent_as_its_value_without_ref_is_kept_as_sent() -> None:
    # Given / When a creation body whose enterprise manager is `{"value": <id>}`, as Okta sends it, is read
    user = parse_user(enterprise_body({"value": "26118915-6090"}))
    # Then the manager is kept as it came, without a $ref
    assert client_attributes(user)[ENTERPRISE] == {"manager": {"value": "26118915-6090"}}


def test_a_manager_sent_as_its_id_alone_is_kept_as_its_value() -> None:
    # Given / When a creation body whose enterprise manager is the manager's id alone is read
    user = parse_user(enterprise_body("26118915-6090"))
    # Then the manager is kept as `{"value": <id>}`
    assert client_attributes(user)[ENTERPRISE] == {"manager": {"value": "26118915-6090"}}


def test_a_manager_in_microsofts_capitals_is_read_as_its_value() -> None:
    # Given / When the enterprise extension of Microsoft's validation collection ("Manager": {"Value": ...}) is read
    user = parse_user(created_body(schemas=[CORE_USER, ENTERPRISE], **{ENTERPRISE: {"Manager": {"Value": "SuzzyQ"}}}))
    # Then the manager's value is the one sent
    assert client_attributes(user)[ENTERPRISE] == {"manager": {"value": "SuzzyQ"}}


def test_a_returned_user_whose_manager_has_no_ref_reads_back_as_a_replacement() -> None:
    # Given a user returned with a manager that has no $ref
    document = user_document(returned(parse_user(enterprise_body({"value": "26118915-6090"}))))
    # When the document is read as a PUT body
    replacement = parse_user(document)
    # Then it is the same user
    assert client_attributes(replacement) == client_attributes(parse_user(enterprise_body({"value": "26118915-6090"})))


def test_a_replacement_ignores_the_read_only_attributes_it_echoes() -> None:
    # Given / When a PUT body echoing the id, the meta and the SIP extension is read
    body = created_body(
        id=USER_ID,
        meta={"resourceType": "User"},
        schemas=[CORE_USER, SIP_EXTENSION_URN],
        **{SIP_EXTENSION_URN: {"sipUsername": "bob"}},
    )
    replacement = parse_user(body)
    # Then the replacement holds the client's attributes only
    assert (replacement.id, replacement.meta, replacement[SipUser]) == (None, None, None)


def test_client_attributes_round_trip_without_what_the_service_writes() -> None:
    # Given a returned user with the enterprise extension
    user = parse_user(created_body(**{"schemas": [CORE_USER, ENTERPRISE], ENTERPRISE: {"department": "Sales"}}))
    # When its client attributes are stored and read back
    stored = client_attributes(returned(user))
    # Then they are what the client sent, without id, meta or the SIP extension
    assert stored == {
        "schemas": [CORE_USER, ENTERPRISE],
        "userName": "alice@example.com",
        "externalId": "00u1",
        "active": True,
        ENTERPRISE: {"department": "Sales"},
    }
    assert user_from_client_attributes(stored).model_dump() == user.model_dump()


# -- a user as returned ------------------------------------------------------------------------


def test_a_returned_user_carries_its_id_meta_and_sip_extension() -> None:
    # Given a created user
    user = parse_user(created_body())
    # When it is returned with an endpoint
    sip = SipUser(
        sip_username="alice",
        sip_uri="sip:alice@example.sip.signalwire.com",
        sip_endpoint_id="e4b1d2a0",
        profile="sales",
        password_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:sip/alice-AbCdEf",
    )
    document = user_document(returned(user, sip))
    # Then the document is the contract's
    assert document == {
        "schemas": [CORE_USER, SIP_EXTENSION_URN],
        "id": USER_ID,
        "externalId": "00u1",
        "meta": {
            "resourceType": "User",
            "created": "2026-01-02T03:04:05Z",
            "lastModified": "2026-01-03T03:04:05Z",
            "location": f"{BASE_URL}/Users/{USER_ID}",
        },
        "userName": "alice@example.com",
        "active": True,
        SIP_EXTENSION_URN: {
            "sipUsername": "alice",
            "sipUri": "sip:alice@example.sip.signalwire.com",
            "sipEndpointId": "e4b1d2a0",
            "profile": "sales",
            "passwordSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sip/alice-AbCdEf",
        },
    }


def test_a_returned_user_without_an_endpoint_has_no_sip_endpoint_id() -> None:
    # Given a created user whose endpoint was deleted on deactivation
    user = parse_user(created_body(active=False))
    # When it is returned
    document = user_document(returned(user))
    # Then its SIP extension has no endpoint id
    assert "sipEndpointId" not in document[SIP_EXTENSION_URN]


def test_a_list_is_a_list_response_of_returned_users() -> None:
    # Given a page of one returned user out of three
    users = [returned(parse_user(created_body()))]
    # When it is listed
    document = list_document(users, total_results=3, start_index=2)
    # Then it is a ListResponse of the page
    assert {key: value for key, value in document.items() if key != "Resources"} == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 3,
        "startIndex": 2,
        "itemsPerPage": 1,
    }
    assert [user["id"] for user in document["Resources"]] == [USER_ID]


def test_an_empty_list_is_a_list_response_of_no_users() -> None:
    # Given / When Okta's lookup before a create finds nobody
    document = list_document([], total_results=0, start_index=1)
    # Then the ListResponse says so
    assert (document["totalResults"], document["itemsPerPage"], document.get("Resources", [])) == (0, 0, [])


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "scim_type"),
    [
        (UserNameTaken("taken"), "409", "uniqueness"),
        (InvalidFilter("bad filter"), "400", "invalidFilter"),
        (InvalidValue("bad value"), "400", "invalidValue"),
        (ImmutableAttribute("read-only"), "400", "mutability"),
    ],
)
def test_an_error_document_carries_the_status_as_a_string_and_the_scim_type(
    error: ScimError, status: str, scim_type: str
) -> None:
    # Given / When an error is written
    document = error_document(error)
    # Then it is the SCIM Error message
    assert document == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": status,
        "scimType": scim_type,
        "detail": error.detail,
    }


@pytest.mark.parametrize(("error", "status"), [(ResourceNotFound("no user"), "404"), (Unauthorized("no token"), "401")])
def test_an_error_without_a_scim_type_has_none_in_its_document(error: ScimError, status: str) -> None:
    # Given / When an error RFC 7644 gives no scimType is written
    document = error_document(error)
    # Then its document has the status only
    assert (document["status"], "scimType" in document) == (status, False)


# -- discovery ---------------------------------------------------------------------------------


def test_the_service_provider_config_says_what_is_supported() -> None:
    # Given / When the ServiceProviderConfig is written
    document = service_provider_config_document()
    # Then PATCH and filters are supported, bulk, sort, ETags and changePassword not
    supported = {
        feature: document[feature]["supported"]
        for feature in ("patch", "filter", "bulk", "sort", "etag", "changePassword")
    }
    assert supported == {
        "patch": True,
        "filter": True,
        "bulk": False,
        "sort": False,
        "etag": False,
        "changePassword": False,
    }
    assert document["filter"]["maxResults"] == 100


def test_the_service_provider_config_names_the_bearer_token() -> None:
    # Given / When the ServiceProviderConfig is written
    document = service_provider_config_document()
    # Then the one authentication scheme is the bearer token
    assert [scheme["type"] for scheme in document["authenticationSchemes"]] == ["oauthbearertoken"]


def test_the_user_resource_type_names_both_extensions() -> None:
    # Given / When the ResourceTypes are listed
    document = resource_types_document(BASE_URL)
    # Then the one type is User, at /Users, with both extensions optional
    (user_type,) = document["Resources"]
    assert (user_type["id"], user_type["endpoint"], user_type["schema"]) == ("User", "/Users", CORE_USER)
    assert user_type["schemaExtensions"] == [
        {"schema": ENTERPRISE, "required": False},
        {"schema": SIP_EXTENSION_URN, "required": False},
    ]
    assert user_type["meta"]["location"] == f"{BASE_URL}/ResourceTypes/User"


def test_the_user_resource_type_is_found_by_name() -> None:
    # Given / When the User resource type is asked for
    document = resource_type_document("User", BASE_URL)
    # Then it is the one the list holds
    assert document == resource_types_document(BASE_URL)["Resources"][0]


def test_an_unknown_resource_type_is_not_found() -> None:
    # Given / When a resource type the service does not have is asked for
    # Then it is not found
    with pytest.raises(ResourceNotFound):
        resource_type_document("Group", BASE_URL)


def test_the_schemas_are_the_core_user_and_its_two_extensions() -> None:
    # Given / When the Schemas are listed
    document = schemas_document(BASE_URL)
    # Then they are the core User schema, the enterprise extension and the SIP extension
    assert [schema["id"] for schema in document["Resources"]] == [CORE_USER, ENTERPRISE, SIP_EXTENSION_URN]


def test_the_sip_extension_schema_is_read_only() -> None:
    # Given / When the SIP extension's schema is asked for, its URN in another case
    document = schema_document(SIP_EXTENSION_URN.upper(), BASE_URL)
    # Then its attributes are the contract's, every one read-only
    attributes = {attribute["name"]: attribute["mutability"] for attribute in document["attributes"]}
    assert attributes == dict.fromkeys(
        ["sipUsername", "sipUri", "sipEndpointId", "profile", "passwordSecretArn"], "readOnly"
    )
    assert document["meta"]["location"] == f"{BASE_URL}/Schemas/{SIP_EXTENSION_URN}"


def test_the_enterprise_schema_has_its_rfc_name_and_description() -> None:
    # Given / When the enterprise extension's schema is asked for
    document = schema_document(ENTERPRISE, BASE_URL)
    # Then it is named as RFC 7643 section 8.7.1 names it
    assert (document["name"], document["description"]) == ("EnterpriseUser", "Enterprise User")


def test_the_enterprise_schema_requires_neither_the_managers_value_nor_its_ref() -> None:
    # Given / When the enterprise extension's schema is asked for
    document = schema_document(ENTERPRISE, BASE_URL)
    # Then the manager's sub-attributes are all optional, as RFC 7643 section 4.3 has them
    [manager] = [attribute for attribute in document["attributes"] if attribute["name"] == "manager"]
    assert {sub["name"]: sub["required"] for sub in manager["subAttributes"]} == {
        "value": False,
        "$ref": False,
        "displayName": False,
    }


def test_an_unknown_schema_is_not_found() -> None:
    # Given / When a schema the service does not have is asked for
    # Then it is not found
    with pytest.raises(ResourceNotFound):
        schema_document("urn:ietf:params:scim:schemas:core:2.0:Group", BASE_URL)


def test_an_email_on_a_reserved_domain_is_kept_as_sent() -> None:
    # Given a user whose work email is on an internal domain, its capitals as the directory has them
    body = {"schemas": [str(ScimUser.__schema__)], "userName": "ada", "emails": [{"value": "Ada@Corp.LOCAL"}]}
    # When it is read as a POST body
    user = parse_user(body)
    # Then the email is the text sent, not refused and not normalised
    assert user.emails is not None
    assert user.emails[0].value == "Ada@Corp.LOCAL"
