"""SCIM's refusals: one table of statuses and scimTypes, and scim2-models' refusals in its terms."""

import pytest
from pydantic import ValidationError
from scim2_models import (
    Context,
    InvalidFilterException,
    MutabilityException,
    SCIMException,
    TooManyException,
    UniquenessException,
    User,
)

from sip_provisioning.callers.scim.errors import (
    STATUS_AND_SCIM_TYPE,
    ImmutableAttribute,
    InvalidFilter,
    InvalidSyntax,
    InvalidValue,
    ScimError,
    ScimType,
    UserNameTaken,
    scim_error_from,
    status_and_scim_type,
)


def test_every_error_has_a_status_and_scim_type() -> None:
    # Given every error the module defines
    errors = set(ScimError.__subclasses__())
    # When the table is read
    tabled = set(STATUS_AND_SCIM_TYPE)
    # Then it has each of them
    assert tabled == errors


@pytest.mark.parametrize(
    ("error", "answer"),
    [
        (UserNameTaken("taken"), (409, ScimType.UNIQUENESS)),
        (InvalidFilter("bad"), (400, ScimType.INVALID_FILTER)),
        (InvalidValue("bad"), (400, ScimType.INVALID_VALUE)),
        (ImmutableAttribute("bad"), (400, ScimType.MUTABILITY)),
    ],
)
def test_an_error_is_answered_with_the_contract_status_and_scim_type(
    error: ScimError, answer: tuple[int, ScimType]
) -> None:
    # Given / When the answer to an error is looked up
    found = status_and_scim_type(error)
    # Then it is the contract's
    assert found == answer


@pytest.mark.parametrize(
    ("refusal", "error"),
    [
        (UniquenessException(detail="taken"), UserNameTaken),
        (InvalidFilterException(detail="bad filter"), InvalidFilter),
        (MutabilityException(detail="read-only"), ImmutableAttribute),
    ],
)
def test_a_library_refusal_becomes_the_error_of_its_scim_type(refusal: SCIMException, error: type[ScimError]) -> None:
    # Given / When a scim2-models refusal is translated
    translated = scim_error_from(refusal)
    # Then it is ours of the same scimType, with its detail
    assert (type(translated), translated.detail) == (error, refusal.detail)


def test_a_library_refusal_of_a_scim_type_we_do_not_answer_with_is_an_invalid_value() -> None:
    # Given / When a scim2-models refusal of another scimType is translated
    translated = scim_error_from(TooManyException(detail="too many"))
    # Then it is an invalid value
    assert type(translated) is InvalidValue


def test_a_validation_error_on_the_structure_is_invalid_syntax() -> None:
    # Given a body that is not an object
    with pytest.raises(ValidationError) as raised:
        User.model_validate(["not", "an", "object"], scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    # When the refusal is translated
    translated = scim_error_from(raised.value)
    # Then it is invalid syntax
    assert type(translated) is InvalidSyntax


def test_a_validation_error_on_values_names_each_of_them() -> None:
    # Given a body with two values their attributes cannot take
    with pytest.raises(ValidationError) as raised:
        User.model_validate({"userName": 5, "active": "maybe"}, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    # When the refusal is translated
    translated = scim_error_from(raised.value)
    # Then it is an invalid value naming both attributes
    assert type(translated) is InvalidValue
    assert "userName" in translated.detail
    assert "active" in translated.detail
