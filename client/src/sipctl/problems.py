"""The API's problem documents (RFC 9457) as exceptions: one class per problem type.

Every error answer of the API is `application/problem+json` with a `type` slug; API Gateway's
own answers (a refused signature, a throttled function) are `{"message": ...}` and become a
plain `ProblemError` of type `about:blank`, as RFC 9457 names a problem without a type.
"""

import json
from dataclasses import dataclass, field
from typing import Any

GATEWAY_TYPE = "about:blank"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass(eq=False)
class ProblemError(Exception):
    """A problem the API answered: `status`, `type`, `detail` and, for validation, `errors`."""

    status: int
    type: str
    detail: str
    title: str = ""
    errors: list[FieldError] = field(default_factory=list)
    request_id: str | None = None
    retry_after: float | None = None
    document: dict[str, Any] = field(default_factory=dict)  # the body as the API sent it (for `--json`)

    def __str__(self) -> str:
        return f"{self.status} {self.type}: {self.detail}"

    @property
    def is_refusal(self) -> bool:
        """The caller's request was refused (4xx); otherwise the service or SignalWire failed."""
        return 400 <= self.status < 500


class MalformedRequest(ProblemError):
    """400: the body is not JSON, or not a JSON object."""


class PayloadTooLarge(ProblemError):
    """413: the body exceeds 16 KiB."""


class UnsupportedMediaType(ProblemError):
    """415: the content type is not JSON."""


class NotFound(ProblemError):
    """404: no such route (a deployment older than this client)."""


class ValidationError(ProblemError):
    """422: the request, or the payload built from it, breaks a rule; `errors` names each field."""


class IdempotencyKeyReused(ProblemError):
    """422: the same Idempotency-Key came with a different request."""


class Forbidden(ProblemError):
    """403: a policy does not let this caller do this; `detail` names the rule."""


class EndpointNotFound(ProblemError):
    """404: no endpoint with this username exists in SignalWire."""


class UsernameTaken(ProblemError):
    """409: the username already exists in the SignalWire project."""


class IdempotencyInProgress(ProblemError):
    """409: a request with the same Idempotency-Key is still running (retried by the client)."""


class EndpointNotManaged(ProblemError):
    """409: the endpoint exists in SignalWire but the service did not create it."""


class EndpointAlreadyManaged(ProblemError):
    """409: adopt of an endpoint the inventory already manages."""


class ConfigurationError(ProblemError):
    """500: a parameter in SSM is missing or invalid; `detail` names it."""


class InternalError(ProblemError):
    """500: anything else."""


class UpstreamError(ProblemError):
    """502: SignalWire failed, rejected the service's credentials or answered something unreadable."""


class UpstreamUnavailable(ProblemError):
    """503: SignalWire rate-limited the service or could not be reached (retried by the client)."""


class UpstreamTimeout(ProblemError):
    """504: SignalWire did not answer in time (retried by the client under the same key)."""


PROBLEM_CLASSES: dict[str, type[ProblemError]] = {
    "malformed-request": MalformedRequest,
    "payload-too-large": PayloadTooLarge,
    "unsupported-media-type": UnsupportedMediaType,
    "not-found": NotFound,
    "validation-error": ValidationError,
    "idempotency-key-reused": IdempotencyKeyReused,
    "forbidden": Forbidden,
    "endpoint-not-found": EndpointNotFound,
    "username-taken": UsernameTaken,
    "idempotency-in-progress": IdempotencyInProgress,
    "endpoint-not-managed": EndpointNotManaged,
    "endpoint-already-managed": EndpointAlreadyManaged,
    "configuration-error": ConfigurationError,
    "internal-error": InternalError,
    "upstream-error": UpstreamError,
    "upstream-unavailable": UpstreamUnavailable,
    "upstream-timeout": UpstreamTimeout,
}


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds; None when absent or not a number of seconds (the API sends seconds)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def problem_from_answer(status: int, body: bytes, retry_after: str | None = None) -> ProblemError:
    """The exception for an error answer: its problem type's class, or `ProblemError` for a type
    this client does not know and for API Gateway's own `{"message": ...}` answers."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        text = body.decode("utf-8", "replace").strip()[:200]
        return ProblemError(status, GATEWAY_TYPE, text or "(no body)", retry_after=retry_after_seconds(retry_after))
    problem_type = str(document.get("type") or GATEWAY_TYPE)
    detail = document.get("detail") or document.get("message") or document.get("title") or ""
    errors = [
        FieldError(str(error.get("field", "")), str(error.get("message", "")))
        for error in document.get("errors") or []
        if isinstance(error, dict)
    ]
    problem_class = PROBLEM_CLASSES.get(problem_type, ProblemError)
    return problem_class(
        status=status,
        type=problem_type,
        detail=str(detail),
        title=str(document.get("title") or ""),
        errors=errors,
        request_id=document.get("request_id"),
        retry_after=retry_after_seconds(retry_after),
        document=document,
    )
