"""The one place where errors become RFC 9457 problem types, statuses and titles."""

from sip_provisioning.domain.answers import Problem
from sip_provisioning.domain.errors import (
    ConfigurationError,
    EndpointAlreadyManaged,
    EndpointNotFound,
    EndpointNotManaged,
    Forbidden,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    MalformedRequest,
    PayloadTooLarge,
    ProblemType,
    ProvisioningError,
    RequestInvalid,
    RouteNotFound,
    Unauthenticated,
    UnsupportedMediaType,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    UsernameTaken,
)

PROBLEM_CONTENT_TYPE = "application/problem+json"


STATUS_AND_TITLE: dict[ProblemType, tuple[int, str]] = {
    ProblemType.MALFORMED_REQUEST: (400, "Malformed request"),
    ProblemType.NOT_FOUND: (404, "Not found"),
    ProblemType.PAYLOAD_TOO_LARGE: (413, "Payload too large"),
    ProblemType.UNSUPPORTED_MEDIA_TYPE: (415, "Unsupported media type"),
    ProblemType.VALIDATION_ERROR: (422, "Validation error"),
    ProblemType.USERNAME_TAKEN: (409, "Username taken"),
    ProblemType.IDEMPOTENCY_IN_PROGRESS: (409, "Idempotent request in progress"),
    ProblemType.IDEMPOTENCY_KEY_REUSED: (422, "Idempotency key reused"),
    ProblemType.UPSTREAM_ERROR: (502, "SignalWire error"),
    ProblemType.UPSTREAM_UNAVAILABLE: (503, "SignalWire unavailable"),
    ProblemType.UPSTREAM_TIMEOUT: (504, "SignalWire timeout"),
    ProblemType.CONFIGURATION_ERROR: (500, "Configuration error"),
    ProblemType.INTERNAL_ERROR: (500, "Internal error"),
    ProblemType.FORBIDDEN: (403, "Forbidden"),
    ProblemType.UNAUTHORIZED: (401, "Unauthorized"),
    ProblemType.ENDPOINT_NOT_FOUND: (404, "Endpoint not found"),
    ProblemType.ENDPOINT_NOT_MANAGED: (409, "Endpoint not managed"),
    ProblemType.ENDPOINT_ALREADY_MANAGED: (409, "Endpoint already managed"),
}

_TYPE_OF_ERROR: dict[type[ProvisioningError], ProblemType] = {
    MalformedRequest: ProblemType.MALFORMED_REQUEST,
    RouteNotFound: ProblemType.NOT_FOUND,
    PayloadTooLarge: ProblemType.PAYLOAD_TOO_LARGE,
    UnsupportedMediaType: ProblemType.UNSUPPORTED_MEDIA_TYPE,
    RequestInvalid: ProblemType.VALIDATION_ERROR,
    UsernameTaken: ProblemType.USERNAME_TAKEN,
    IdempotencyInProgress: ProblemType.IDEMPOTENCY_IN_PROGRESS,
    IdempotencyKeyReused: ProblemType.IDEMPOTENCY_KEY_REUSED,
    UpstreamError: ProblemType.UPSTREAM_ERROR,
    UpstreamUnavailable: ProblemType.UPSTREAM_UNAVAILABLE,
    UpstreamTimeout: ProblemType.UPSTREAM_TIMEOUT,
    ConfigurationError: ProblemType.CONFIGURATION_ERROR,
    Forbidden: ProblemType.FORBIDDEN,
    Unauthenticated: ProblemType.UNAUTHORIZED,
    EndpointNotFound: ProblemType.ENDPOINT_NOT_FOUND,
    EndpointNotManaged: ProblemType.ENDPOINT_NOT_MANAGED,
    EndpointAlreadyManaged: ProblemType.ENDPOINT_ALREADY_MANAGED,
}

INTERNAL_ERROR_DETAIL = "The service failed unexpectedly. Quote the request_id when reporting it."


def problem_type_of(error: Exception) -> ProblemType:
    for error_type in type(error).__mro__:
        if error_type in _TYPE_OF_ERROR:
            return _TYPE_OF_ERROR[error_type]
    return ProblemType.INTERNAL_ERROR


def problem_for(error: Exception, request_id: str | None) -> tuple[Problem, dict[str, str]]:
    """The problem body and extra headers for `error`. Unknown errors reveal nothing of themselves."""
    problem_type = problem_type_of(error)
    status, title = STATUS_AND_TITLE[problem_type]
    detail = INTERNAL_ERROR_DETAIL if problem_type is ProblemType.INTERNAL_ERROR else str(error)
    problem = Problem(
        type=problem_type.value,
        title=title,
        status=status,
        detail=detail,
        request_id=request_id,
        errors=error.errors if isinstance(error, RequestInvalid) else None,
    )
    headers: dict[str, str] = {}
    if isinstance(error, UpstreamUnavailable):
        headers["Retry-After"] = str(error.retry_after)
    elif isinstance(error, IdempotencyInProgress):
        headers["Retry-After"] = "1"  # the first request answers within the function's timeout
    return problem, headers
