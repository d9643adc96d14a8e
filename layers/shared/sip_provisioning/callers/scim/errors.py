"""SCIM's refusals (RFC 7644 §3.12): one class per answer, and the one table of their statuses and
`scimType`s. scim2-models' own refusals are translated here too, so nothing above this module
sees the library's exceptions."""

from enum import StrEnum

from pydantic import ValidationError
from scim2_models import Error, SCIMException


class ScimType(StrEnum):
    """The RFC 7644 §3.12 keywords this service answers with."""

    UNIQUENESS = "uniqueness"
    INVALID_FILTER = "invalidFilter"
    INVALID_SYNTAX = "invalidSyntax"
    INVALID_PATH = "invalidPath"
    INVALID_VALUE = "invalidValue"
    MUTABILITY = "mutability"
    NO_TARGET = "noTarget"


class ScimError(Exception):
    """A request SCIM answers with an Error document; `detail` is told to the identity provider."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Unauthorized(ScimError):
    """No bearer token, or not the configured one."""


class ResourceNotFound(ScimError):
    """No user, resource type or schema with that id."""


class UserNameTaken(ScimError):
    """Another user already has that userName."""


class InvalidFilter(ScimError):
    """A `filter` that is not one of the forms the service answers."""


class InvalidSyntax(ScimError):
    """A body that is not the SCIM message the route takes (not an object, a list where an object goes)."""


class InvalidPath(ScimError):
    """A PATCH `path` that is malformed or names an attribute the User schema does not have."""


class InvalidValue(ScimError):
    """A value its attribute cannot take, including a userName that maps to no SIP username."""


class ImmutableAttribute(ScimError):
    """A change to an attribute the client may not change (`id`, `meta`, the SIP extension)."""


class NoTarget(ScimError):
    """A PATCH `path` that selects nothing where something must be selected (a remove, a filter)."""


STATUS_AND_SCIM_TYPE: dict[type[ScimError], tuple[int, ScimType | None]] = {
    Unauthorized: (401, None),
    ResourceNotFound: (404, None),
    UserNameTaken: (409, ScimType.UNIQUENESS),
    InvalidFilter: (400, ScimType.INVALID_FILTER),
    InvalidSyntax: (400, ScimType.INVALID_SYNTAX),
    InvalidPath: (400, ScimType.INVALID_PATH),
    InvalidValue: (400, ScimType.INVALID_VALUE),
    ImmutableAttribute: (400, ScimType.MUTABILITY),
    NoTarget: (400, ScimType.NO_TARGET),
}

_ERROR_OF_SCIM_TYPE: dict[str, type[ScimError]] = {
    scim_type: error for error, (_, scim_type) in STATUS_AND_SCIM_TYPE.items() if scim_type is not None
}


def status_and_scim_type(error: ScimError) -> tuple[int, ScimType | None]:
    """The HTTP status and the `scimType` (None where RFC 7644 has none) `error` is answered with."""
    return STATUS_AND_SCIM_TYPE[type(error)]


def scim_error_from(refusal: SCIMException | ValidationError) -> ScimError:
    """Ours for a refusal of scim2-models: by its `scimType`; one with a `scimType` we do not answer
    with (or none) is `invalidValue`, since scim2-models refuses requests only for their content."""
    scim_type: str | None
    if isinstance(refusal, SCIMException):
        scim_type, detail = refusal.scim_type, refusal.detail
    else:
        errors = Error.from_validation_errors(refusal)
        scim_type = errors[0].scim_type
        detail = "; ".join(error.detail or "" for error in errors)
    return _ERROR_OF_SCIM_TYPE.get(scim_type or "", InvalidValue)(detail)
