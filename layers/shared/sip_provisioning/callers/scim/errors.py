"""SCIM's refusals (RFC 7644 §3.12): one class per answer, and the one table of their statuses and
`scimType`s. scim2-models' own refusals and the service's domain errors are translated here too
(one table each), so nothing above this module sees the library's exceptions or answers a domain
error in any other words."""

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from scim2_models import Error, SCIMException

from sip_provisioning.domain.errors import (
    ConfigurationError,
    EndpointNotFound,
    EndpointNotManaged,
    Forbidden,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    MalformedRequest,
    PayloadTooLarge,
    RequestInvalid,
    Unauthenticated,
    UnsupportedMediaType,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    UsernameTaken,
)
from sip_provisioning.domain.records import RecordChanged
from sip_provisioning.domain.scim_users import ScimUserNotFound, UserNameInUse


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


class NotPermitted(ScimError):
    """The deployment's policy does not let the `scim` caller do this (CONTRACT.md section 5)."""


class EndpointConflict(ScimError):
    """The user's endpoint is not in a state the request can act on (changed outside the service)."""


class MethodNotAllowed(ScimError):
    """A method the resource does not take (the discovery documents are read-only)."""


class NotSupported(ScimError):
    """A SCIM feature the service does not offer, such as `POST /.search`."""


class TooLarge(ScimError):
    """A body larger than the service reads."""


class UnsupportedMedia(ScimError):
    """A body that is neither application/scim+json nor application/json."""


class ServerMisconfigured(ScimError):
    """The service's own configuration is broken: nothing the identity provider can change."""


class UpstreamFailed(ScimError):
    """SignalWire failed or answered something unreadable."""


class TryAgain(ScimError):
    """Transient: SignalWire is unreachable or slow, or another request holds the user; retry."""

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


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
    NotPermitted: (403, None),
    EndpointConflict: (409, None),
    MethodNotAllowed: (405, None),
    TooLarge: (413, None),
    UnsupportedMedia: (415, None),
    ServerMisconfigured: (500, None),
    NotSupported: (501, None),
    UpstreamFailed: (502, None),
    TryAgain: (503, None),
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


def _retry(error: Exception) -> ScimError:
    return TryAgain(str(error), getattr(error, "retry_after", 1))


def _field_errors(error: RequestInvalid) -> ScimError:
    fields = "; ".join(f"{field.field}: {field.message}" for field in error.errors)
    return InvalidValue(f"{error.detail} {fields}".strip())


# Each entry takes an error of its key's class.
SCIM_ERROR_OF_DOMAIN_ERROR: dict[type[Exception], Callable[[Any], ScimError]] = {
    ScimUserNotFound: lambda error: ResourceNotFound(f"No user with id {error}."),
    UserNameInUse: lambda error: UserNameTaken(str(error)),
    UsernameTaken: lambda error: UserNameTaken(
        f"{error} Its userName maps to a SIP username that another endpoint already has."
    ),
    RequestInvalid: _field_errors,
    Forbidden: lambda error: NotPermitted(str(error)),
    EndpointNotFound: lambda error: EndpointConflict(f"{error} It was deleted outside the service."),
    EndpointNotManaged: lambda error: EndpointConflict(str(error)),
    MalformedRequest: lambda error: InvalidSyntax(str(error)),
    PayloadTooLarge: lambda error: TooLarge(str(error)),
    UnsupportedMediaType: lambda error: UnsupportedMedia(str(error)),
    Unauthenticated: lambda error: Unauthorized(str(error)),
    ConfigurationError: lambda error: ServerMisconfigured(str(error)),
    UpstreamError: lambda error: UpstreamFailed(str(error)),
    UpstreamUnavailable: _retry,
    UpstreamTimeout: _retry,
    IdempotencyInProgress: _retry,
    IdempotencyKeyReused: lambda error: EndpointConflict(str(error)),
    RecordChanged: lambda _error: TryAgain("Another request changed the user at the same time; retry."),
}


def scim_error_of(error: Exception) -> ScimError | None:
    """The SCIM answer to a domain error (by its class or nearest base in the table); None: not one."""
    for kind in type(error).__mro__:
        translate = SCIM_ERROR_OF_DOMAIN_ERROR.get(kind)
        if translate is not None:
            return translate(error)
    return None
