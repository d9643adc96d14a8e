"""The workflow edge's language: the invocation Step Functions sends, and the errors it raises by name.

A state machine's `Retry` and `Catch` match a Lambda failure by its error name, which the Lambda
runtime takes from the exception's class name. So each problem type of the contract has one
class here, named as its slug in CamelCase (`username-taken` is `UsernameTaken`), and
`failure_for` turns any error into the right one through `problems`, the one place that
classifies errors.

Several names repeat classes of `sip_provisioning.errors` (`UsernameTaken`, ...) on purpose:
import this module qualified (`from sip_provisioning import workflow`).
"""

import json
from typing import Annotated, Any, ClassVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import ErrorDetails

from sip_provisioning import errors
from sip_provisioning.problems import INTERNAL_ERROR_DETAIL, ProblemType, problem_for
from sip_provisioning.self_service import EndpointRequest

IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"


class WorkflowInvocation(BaseModel):
    """What a state machine sends: a `POST /endpoints` body and the key that makes it run once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request: EndpointRequest
    idempotency_key: Annotated[str, Field(pattern=IDEMPOTENCY_KEY_PATTERN)]

    @classmethod
    def from_event(cls, event: object) -> "WorkflowInvocation":
        """The invocation in `event`; `MalformedRequest` or `RequestInvalid` (naming each field) if it is not one."""
        if not isinstance(event, dict):
            raise errors.MalformedRequest("The invocation must be a JSON object.")
        try:
            return cls.model_validate(event)
        except pydantic.ValidationError as invalid:
            raise errors.RequestInvalid([_field_error(broken) for broken in invalid.errors()]) from None


def _field_error(broken: ErrorDetails) -> errors.FieldError:
    """Request fields named as `POST /endpoints` names them (`handler.url`), envelope fields by their own name."""
    parts = [str(part) for part in broken["loc"]]
    if len(parts) > 1 and parts[0] == "request":
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "handler":
        parts = [parts[0], *parts[2:]]  # drop the discriminator tag pydantic inserts for the handler union
    return errors.FieldError.from_pydantic(".".join(parts), broken["msg"])


class WorkflowFailure(Exception):
    """Base of every error the workflow entry raises. The message is the problem's detail: no secrets."""

    problem_type: ClassVar[ProblemType]


class MalformedRequest(WorkflowFailure):
    problem_type = ProblemType.MALFORMED_REQUEST


class ValidationError(WorkflowFailure):
    problem_type = ProblemType.VALIDATION_ERROR


class UsernameTaken(WorkflowFailure):
    problem_type = ProblemType.USERNAME_TAKEN


class IdempotencyInProgress(WorkflowFailure):
    problem_type = ProblemType.IDEMPOTENCY_IN_PROGRESS


class IdempotencyKeyReused(WorkflowFailure):
    problem_type = ProblemType.IDEMPOTENCY_KEY_REUSED


class UpstreamError(WorkflowFailure):
    problem_type = ProblemType.UPSTREAM_ERROR


class UpstreamUnavailable(WorkflowFailure):
    problem_type = ProblemType.UPSTREAM_UNAVAILABLE


class UpstreamTimeout(WorkflowFailure):
    problem_type = ProblemType.UPSTREAM_TIMEOUT


class ConfigurationError(WorkflowFailure):
    problem_type = ProblemType.CONFIGURATION_ERROR


class InternalError(WorkflowFailure):
    problem_type = ProblemType.INTERNAL_ERROR


class Forbidden(WorkflowFailure):
    problem_type = ProblemType.FORBIDDEN


class EndpointNotFound(WorkflowFailure):
    problem_type = ProblemType.ENDPOINT_NOT_FOUND


class EndpointNotManaged(WorkflowFailure):
    problem_type = ProblemType.ENDPOINT_NOT_MANAGED


FAILURE_FOR_PROBLEM: dict[ProblemType, type[WorkflowFailure]] = {
    failure.problem_type: failure
    for failure in (
        MalformedRequest,
        ValidationError,
        UsernameTaken,
        IdempotencyInProgress,
        IdempotencyKeyReused,
        UpstreamError,
        UpstreamUnavailable,
        UpstreamTimeout,
        ConfigurationError,
        InternalError,
        Forbidden,
        EndpointNotFound,
        EndpointNotManaged,
    )
}

# Routes, body sizes and media types are HTTP's: an invocation never meets these.
HTTP_ONLY_PROBLEM_TYPES = frozenset(
    {ProblemType.NOT_FOUND, ProblemType.PAYLOAD_TOO_LARGE, ProblemType.UNSUPPORTED_MEDIA_TYPE}
)

ERROR_NAMES = frozenset(failure.__name__ for failure in FAILURE_FOR_PROBLEM.values())

# What the same invocation may get past by itself, later. Repeating it under its idempotency key
# never creates twice: the key stays bound to its request, a lost answer is looked up by username
# before anything is answered, and a retry that meets the endpoint its own earlier attempt created
# late answers it as created. `UpstreamError` is among
# them because its usual cause is a SignalWire 5xx; the rarer cause, rejected credentials, then
# costs a few bounded retries before the workflow fails with the same error.
TRANSIENT_ERROR_NAMES = frozenset(
    failure.__name__ for failure in (UpstreamUnavailable, UpstreamTimeout, UpstreamError, IdempotencyInProgress)
)


def failure_for(error: Exception) -> WorkflowFailure:
    """The named failure a workflow sees for `error`, with the problem's detail as its message."""
    problem, headers = problem_for(error, request_id=None)
    failure_type = FAILURE_FOR_PROBLEM.get(ProblemType(problem.type))
    if failure_type is None:  # an HTTP-only problem cannot arise here; if one does, it is our defect
        return InternalError(INTERNAL_ERROR_DETAIL)
    message = problem.detail
    if problem.errors:
        # Compact JSON, so a Catch can show every broken field or parse them back.
        field_errors: list[dict[str, Any]] = [field_error.model_dump() for field_error in problem.errors]
        message = f"{message} {json.dumps(field_errors, separators=(',', ':'), ensure_ascii=False)}"
    if "Retry-After" in headers:
        message = f"{message} Retry after {headers['Retry-After']} s."
    return failure_type(message)
