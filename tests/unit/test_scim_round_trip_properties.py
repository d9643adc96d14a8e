"""The service never refuses its own representation of a user (CONTRACT.md section 8): over generated
users, as posted and then patched the ways identity providers patch them, what a GET returns is
accepted back by a PUT as the very same user."""

from datetime import UTC, datetime
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sip_provisioning.callers.scim.errors import ScimError
from sip_provisioning.callers.scim.patch import apply_patch
from sip_provisioning.callers.scim.resources import (
    SipUser,
    client_attributes,
    parse_user,
    returned_user,
    user_document,
    user_from_client_attributes,
)

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_ID = "2819c223-7f76-453a-919d-413861904646"
MOMENT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20)
kinds = st.sampled_from(["work", "home", "other", "mobile", "fax"])
identifiers = st.uuids().map(str)
managers = st.one_of(
    identifiers,  # Entra: the id alone
    st.builds(lambda value: {"value": value}, identifiers),  # Okta, Microsoft's collection
    st.builds(lambda value: {"value": value, "$ref": f"../Users/{value}"}, identifiers),
)
multi_valued = st.lists(
    st.fixed_dictionaries({"value": text}, optional={"type": kinds}),
    min_size=1,
    max_size=3,
    unique_by=lambda e: e["value"],
)
core_attributes = st.fixed_dictionaries(
    {},
    optional={
        "externalId": text,
        "active": st.sampled_from([True, False, "True", "False"]),
        "displayName": text,
        "nickName": text,
        "title": text,
        "userType": text,
        "preferredLanguage": st.sampled_from(["en-US", "fr", "de-CH"]),
        "locale": st.sampled_from(["en-US", "fr-FR"]),
        "timezone": st.sampled_from(["Europe/London", "America/New_York"]),
        "name": st.fixed_dictionaries({}, optional={"givenName": text, "familyName": text, "formatted": text}),
        "emails": multi_valued,
        "phoneNumbers": multi_valued,
        "ims": multi_valued,
        "addresses": st.lists(
            st.fixed_dictionaries({}, optional={"type": kinds, "locality": text, "country": text, "formatted": text}),
            max_size=2,
        ),
        "roles": multi_valued,
        "entitlements": multi_valued,
    },
)
enterprise_attributes = st.fixed_dictionaries(
    {},
    optional={
        "employeeNumber": text,
        "costCenter": text,
        "organization": text,
        "division": text,
        "department": text,
        "manager": managers,
    },
)
operations = st.one_of(
    st.builds(lambda manager: {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager}, managers),
    st.builds(lambda manager: {"op": "Replace", "value": {f"{ENTERPRISE}:manager": manager}}, managers),
    st.builds(lambda active: {"op": "replace", "value": {"active": active}}, st.sampled_from([True, "False"])),
    st.builds(
        lambda kind, value: {"op": "Replace", "path": f'emails[type eq "{kind}"].value', "value": value}, kinds, text
    ),
    st.builds(lambda value: {"op": "Add", "path": "nickName", "value": value}, text),
    st.builds(lambda department: {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": department}, text),
    st.just({"op": "Remove", "path": f"{ENTERPRISE}:manager"}),
    st.just({"op": "Remove", "path": "title"}),
)


def as_get_returns(attributes: dict[str, Any]) -> dict[str, Any]:
    """The stored client attributes as `GET /Users/{id}` answers them."""
    user = returned_user(
        user_from_client_attributes(attributes),
        user_id=USER_ID,
        created=MOMENT,
        last_modified=MOMENT,
        location=f"https://scim.example.com/scim/v2/Users/{USER_ID}",
        sip=SipUser(sip_username="ada", sip_uri="sip:ada@example.sip.signalwire.com", profile="default"),
    )
    return user_document(user)


@settings(max_examples=200, deadline=None)
@given(
    core=core_attributes,
    enterprise=st.none() | enterprise_attributes,
    patch=st.lists(operations, min_size=1, max_size=4),
)
def test_a_user_as_get_returns_it_is_accepted_back_by_a_put_as_the_same_user(
    core: dict[str, Any], enterprise: dict[str, Any] | None, patch: list[dict[str, Any]]
) -> None:
    # Given a user the service accepted from a POST and then from PATCHes, as it stores it
    body = {"schemas": [CORE_USER], "userName": "ada@example.com", **core}
    if enterprise is not None:
        body = {**body, "schemas": [CORE_USER, ENTERPRISE], ENTERPRISE: enterprise}
    try:
        user = apply_patch(parse_user(body), {"schemas": [PATCH_OP], "Operations": patch})
    except ScimError:
        assume(False)  # not a user the service keeps: only what it accepted is at stake
    stored = client_attributes(user)
    # When a PUT sends back exactly what a GET returns
    replacement = parse_user(as_get_returns(stored))
    # Then it is accepted, as the same user
    assert client_attributes(replacement) == stored
