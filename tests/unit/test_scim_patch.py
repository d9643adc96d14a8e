"""PATCH operations applied to a user, with the deviations Okta and Entra ID send."""

from typing import Any

import pytest

from sip_provisioning.callers.scim.errors import (
    ImmutableAttribute,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    NoTarget,
    ScimError,
)
from sip_provisioning.callers.scim.patch import apply_patch
from sip_provisioning.callers.scim.resources import AsSentEmail, AsSentEnterpriseUser, ScimUser, SipUser

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def patch_op(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}


def alice(**attributes: Any) -> ScimUser:
    return ScimUser(**{"user_name": "alice@example.com", "external_id": "00u1", "active": True, **attributes})


# -- Okta --------------------------------------------------------------------------------------


def test_okta_deactivates_with_a_replace_without_path() -> None:
    # Given an active user
    user = alice()
    # When Okta's deactivation is applied
    patched = apply_patch(user, patch_op({"op": "replace", "value": {"active": False}}))
    # Then the user is inactive
    assert patched.active is False


def test_okta_reactivates_with_a_replace_without_path() -> None:
    # Given an inactive user
    user = alice(active=False)
    # When Okta's reactivation is applied
    patched = apply_patch(user, patch_op({"op": "replace", "value": {"active": True}}))
    # Then the user is active
    assert patched.active is True


# -- Entra ID ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "active"),
    [("False", False), ("True", True), ("false", False), (False, False)],
    ids=["entra-False", "entra-True", "string-false", "json-false"],
)
def test_entra_string_booleans_are_booleans(sent: Any, active: bool) -> None:
    # Given a user whose activity is the opposite of what is sent
    user = alice(active=not active)
    # When Entra's replace of active is applied
    patched = apply_patch(user, patch_op({"op": "Replace", "path": "active", "value": sent}))
    # Then active is the boolean the string says
    assert patched.active is active


def test_entra_string_booleans_are_booleans_in_an_object_without_path() -> None:
    # Given an active user
    user = alice()
    # When a replace without path carrying "False" is applied
    patched = apply_patch(user, patch_op({"op": "Replace", "value": {"active": "False"}}))
    # Then the user is inactive
    assert patched.active is False


@pytest.mark.parametrize("op", ["Replace", "REPLACE", "replace", "Add", "add"])
def test_the_operation_is_read_in_any_case(op: str) -> None:
    # Given a user
    user = alice()
    # When an operation spelt in some case sets the display name
    patched = apply_patch(user, patch_op({"op": op, "path": "displayName", "value": "Alice Smith"}))
    # Then it is set
    assert patched.display_name == "Alice Smith"


def test_remove_is_read_in_any_case() -> None:
    # Given a user with an externalId
    user = alice()
    # When Entra's "Remove" of it is applied
    patched = apply_patch(user, patch_op({"op": "Remove", "path": "externalId"}))
    # Then the user has none
    assert patched.external_id is None


def test_an_object_without_path_sets_each_of_its_attributes() -> None:
    # Given a user
    user = alice()
    # When a replace without path carries several attributes, one of them a sub-attribute
    patched = apply_patch(
        user, patch_op({"op": "Replace", "value": {"displayName": "Alice Smith", "name.givenName": "Alice"}})
    )
    # Then each of them is set
    assert (patched.display_name, patched.name and patched.name.given_name) == ("Alice Smith", "Alice")


def test_attribute_names_in_an_object_without_path_are_case_insensitive() -> None:
    # Given a user
    user = alice()
    # When a replace without path names userName in capitals
    patched = apply_patch(user, patch_op({"op": "replace", "value": {"USERNAME": "alice.smith@example.com"}}))
    # Then the userName is set
    assert patched.user_name == "alice.smith@example.com"


def test_a_path_with_the_enterprise_urn_sets_the_extension_attribute() -> None:
    # Given a user without the enterprise extension
    user = alice()
    # When Entra's replace of the department is applied
    patched = apply_patch(user, patch_op({"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Sales"}))
    # Then the department is set
    assert patched[AsSentEnterpriseUser].department == "Sales"


def test_an_object_without_path_may_carry_the_enterprise_extension() -> None:
    # Given a user
    user = alice()
    # When a replace without path carries the extension by its URN
    patched = apply_patch(user, patch_op({"op": "replace", "value": {ENTERPRISE: {"department": "Sales"}}}))
    # Then the department is set
    assert patched[AsSentEnterpriseUser].department == "Sales"


def test_an_object_without_path_may_carry_an_extension_attribute_by_its_full_name() -> None:
    # Given a user
    user = alice()
    # When a replace without path names the department with its URN
    patched = apply_patch(user, patch_op({"op": "Add", "value": {f"{ENTERPRISE}:department": "Sales"}}))
    # Then the department is set
    assert patched[AsSentEnterpriseUser].department == "Sales"


def test_entra_adds_a_work_email_the_user_does_not_have_yet() -> None:
    # Given a user without emails
    user = alice()
    # When Entra's add of the work email is applied
    patched = apply_patch(
        user, patch_op({"op": "Add", "path": 'emails[type eq "work"].value', "value": "alice@example.com"})
    )
    # Then the user has that work email
    assert patched.emails == [AsSentEmail(type="work", value="alice@example.com")]


def test_entra_replaces_the_work_email_the_user_has() -> None:
    # Given a user with a work email
    user = alice(emails=[AsSentEmail(type="work", value="alice@old.example.com")])
    # When Entra's replace of the work email is applied
    patched = apply_patch(
        user, patch_op({"op": "Replace", "path": 'emails[type eq "work"].value', "value": "alice@example.com"})
    )
    # Then the work email is replaced, not added beside
    assert patched.emails == [AsSentEmail(type="work", value="alice@example.com")]


def test_entra_sends_the_manager_as_its_id_alone() -> None:
    # Given a user
    user = alice()
    # When Entra's add of the manager's id is applied
    patched = apply_patch(user, patch_op({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "26118915-6090"}))
    # Then the manager is that id
    manager = patched[AsSentEnterpriseUser].manager
    assert manager is not None
    assert manager.value == "26118915-6090"


def test_a_manager_id_alone_in_an_object_without_path_is_the_managers_value() -> None:
    # Given a user
    user = alice()
    # When a replace without path sets the enterprise manager to the manager's id alone
    patched = apply_patch(user, patch_op({"op": "Replace", "value": {f"{ENTERPRISE}:manager": "26118915-6090"}}))
    # Then the manager is that id
    manager = patched[AsSentEnterpriseUser].manager
    assert manager is not None
    assert manager.value == "26118915-6090"


# -- all or nothing ----------------------------------------------------------------------------


def test_the_user_given_is_left_as_it_was() -> None:
    # Given an active user
    user = alice()
    # When a deactivation is applied
    apply_patch(user, patch_op({"op": "replace", "path": "active", "value": False}))
    # Then the user given is still active: the patched user is a copy
    assert user.active is True


def test_operations_apply_in_order() -> None:
    # Given an active user
    user = alice()
    # When a deactivation then a reactivation are applied
    patched = apply_patch(
        user,
        patch_op(
            {"op": "replace", "path": "active", "value": False}, {"op": "replace", "path": "active", "value": True}
        ),
    )
    # Then the last one wins
    assert patched.active is True


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "error"),
    [
        ({"op": "replace", "path": "id", "value": "another"}, ImmutableAttribute),
        ({"op": "replace", "value": {"id": "another"}}, ImmutableAttribute),
        ({"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}, ImmutableAttribute),
        ({"op": "replace", "path": f"{SipUser.__schema__}:sipUsername", "value": "bob"}, ImmutableAttribute),
        ({"op": "remove", "path": "userName"}, ImmutableAttribute),
        ({"op": "replace", "path": "active", "value": "maybe"}, InvalidValue),
        ({"op": "add", "path": "userName", "value": 5}, InvalidValue),
        ({"op": "move", "path": "userName", "value": "bob"}, InvalidValue),
        ({"op": "replace", "value": {"favouriteColour": "blue"}}, InvalidValue),
        ({"op": "replace", "path": "favouriteColour", "value": "blue"}, InvalidPath),
        ({"op": "remove"}, NoTarget),
        ({"op": "replace", "path": 'emails[type eq "work"]', "value": {"value": "a@example.com"}}, NoTarget),
    ],
    ids=[
        "id",
        "id-without-path",
        "meta",
        "sip-extension",
        "required-userName",
        "not-a-boolean",
        "not-a-string",
        "unknown-op",
        "unknown-attribute-without-path",
        "unknown-path",
        "remove-without-path",
        "selection-matching-nothing",
    ],
)
def test_an_operation_the_user_cannot_take_is_refused_with_its_scim_type(
    operation: dict[str, Any], error: type[ScimError]
) -> None:
    # Given a user
    user = alice()
    # When an operation it cannot take is applied
    # Then it is refused with the error RFC 7644 names
    with pytest.raises(error):
        apply_patch(user, patch_op(operation))


@pytest.mark.parametrize("body", [[], "replace", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}])
def test_a_body_that_is_no_patch_op_is_refused(body: Any) -> None:
    # Given a user
    user = alice()
    # When a body that is not a PatchOp with operations is applied
    # Then it is refused
    with pytest.raises((InvalidSyntax, InvalidValue)):
        apply_patch(user, body)


def test_a_refused_operation_refuses_the_whole_patch() -> None:
    # Given an active user
    user = alice()
    # When a deactivation is followed by a change of id
    # Then the patch is refused, and the user given is unchanged
    with pytest.raises(ImmutableAttribute):
        apply_patch(
            user,
            patch_op(
                {"op": "replace", "path": "active", "value": False}, {"op": "replace", "path": "id", "value": "x"}
            ),
        )
    assert user.active is True
