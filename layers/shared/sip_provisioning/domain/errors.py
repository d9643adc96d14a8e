"""Typed domain errors. Each maps to one problem type in `callers/problems.py`, and nowhere else.

Messages name fields and parameters, never their values: a message may reach a log line or an
error body, and values can be secrets.
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class ProblemType(StrEnum):
    """The names of the problem types: what a caller sees an error as (the statuses and titles are
    the HTTP caller's, in `callers/problems.py`)."""

    MALFORMED_REQUEST = "malformed-request"
    NOT_FOUND = "not-found"
    PAYLOAD_TOO_LARGE = "payload-too-large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
    VALIDATION_ERROR = "validation-error"
    USERNAME_TAKEN = "username-taken"
    IDEMPOTENCY_IN_PROGRESS = "idempotency-in-progress"
    IDEMPOTENCY_KEY_REUSED = "idempotency-key-reused"
    UPSTREAM_ERROR = "upstream-error"
    UPSTREAM_UNAVAILABLE = "upstream-unavailable"
    UPSTREAM_TIMEOUT = "upstream-timeout"
    CONFIGURATION_ERROR = "configuration-error"
    INTERNAL_ERROR = "internal-error"
    FORBIDDEN = "forbidden"
    UNAUTHORIZED = "unauthorized"
    ENDPOINT_NOT_FOUND = "endpoint-not-found"
    ENDPOINT_NOT_MANAGED = "endpoint-not-managed"
    ENDPOINT_ALREADY_MANAGED = "endpoint-already-managed"


class FieldError(BaseModel):
    """One broken rule: which field, and what to change."""

    model_config = ConfigDict(frozen=True)

    field: str
    message: str

    @classmethod
    def from_pydantic(cls, field: str, message: str) -> "FieldError":
        """Pydantic prefixes a validator's own words with "Value error, "; callers need only the words."""
        return cls(field=field, message=message.removeprefix("Value error, "))


class ProvisioningError(Exception):
    """Base of every error the service answers deliberately."""


class RequestInvalid(ProvisioningError):
    """The request, or the payload built from it, breaks a rule."""

    def __init__(self, errors: list[FieldError], detail: str = "The request breaks one or more rules.") -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class UnknownProfile(RequestInvalid):
    def __init__(self, name: str, known: list[str]) -> None:
        message = f"unknown profile; known profiles: {', '.join(known)}"
        super().__init__([FieldError(field="profile", message=message)], detail=f"There is no profile '{name}'.")
        self.name = name
        self.known = known


class UsernameTaken(ProvisioningError):
    def __init__(self, username: str) -> None:
        super().__init__(f"The username '{username}' already exists in the SignalWire project.")
        self.username = username


class UpstreamError(ProvisioningError):
    """SignalWire answered a 5xx, rejected our credentials, or answered something unreadable."""


class UpstreamUnavailable(ProvisioningError):
    """SignalWire rate-limited us or could not be reached; retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamTimeout(ProvisioningError):
    """SignalWire did not answer in time and whether the endpoint exists is unknown."""


class ConfigurationError(ProvisioningError):
    """A parameter in SSM is missing or invalid. Names the parameter, never its value."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"Parameter {parameter} {reason}.")
        self.parameter = parameter
        self.reason = reason


class MalformedRequest(ProvisioningError):
    """The body is not JSON, or not a JSON object."""


class PayloadTooLarge(ProvisioningError):
    """The body exceeds the size limit."""


class UnsupportedMediaType(ProvisioningError):
    """The body is not declared as JSON."""


class Unauthenticated(ProvisioningError):
    """The request does not prove who sent it (a signature that does not check out)."""


class RouteNotFound(ProvisioningError):
    """No route answers this method and path."""


class IdempotencyKeyReused(ProvisioningError):
    """The Idempotency-Key came before with a different body."""


class IdempotencyInProgress(ProvisioningError):
    """A request with the same Idempotency-Key is still running."""


class EndpointNotFound(ProvisioningError):
    def __init__(self, username: str) -> None:
        super().__init__(f"No endpoint with the username '{username}' exists in the SignalWire project.")
        self.username = username


class EndpointNotManaged(ProvisioningError):
    def __init__(self, username: str) -> None:
        super().__init__(
            f"The endpoint '{username}' exists in SignalWire but this service did not create it; "
            "it will not change or delete it."
        )
        self.username = username


class EndpointAlreadyManaged(ProvisioningError):
    def __init__(self, username: str) -> None:
        super().__init__(
            f"The endpoint '{username}' is already in this service's inventory; there is nothing to adopt."
        )
        self.username = username


class Forbidden(ProvisioningError):
    """A policy does not let this caller do this. Names the rule, never another caller's data."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
