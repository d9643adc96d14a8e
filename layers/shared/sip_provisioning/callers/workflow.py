"""The workflow edge's language: the invocations Step Functions sends, and the errors it raises by name.

An invocation is `{"action": ..., "idempotency_key": ..., ...}`, one model per action
(`Invocation`, a union tagged by `action`; `create` when `action` is absent, so the first
workflow form keeps working). Every action but `show` changes something, so it needs the key
that makes it run once.

A state machine's `Retry` and `Catch` match a Lambda failure by its error name, which the Lambda
runtime takes from the exception's class name. So each problem type of the contract has one
class here, named as its slug in CamelCase (`username-taken` is `UsernameTaken`), and
`failure_for` turns any error into the right one through `problems`, the one place that
classifies errors.

Several names repeat classes of `sip_provisioning.domain.errors` (`UsernameTaken`, ...) on purpose:
import this module qualified (`from sip_provisioning.callers import workflow`).
"""

import json
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final, Literal, get_args

import pydantic
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter
from pydantic_core import ErrorDetails

from sip_provisioning.callers.problems import INTERNAL_ERROR_DETAIL, problem_for
from sip_provisioning.domain import errors
from sip_provisioning.domain.documents import MAX_NESTING_DEPTH, PathPart, too_deep_at
from sip_provisioning.domain.errors import ProblemType
from sip_provisioning.domain.request import AdoptRequest, EndpointChanges, EndpointRequest, Owner, ProfileName
from sip_provisioning.domain.signalwire import Username
from sip_provisioning.observability import record_failure

IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
IdempotencyKey = Annotated[str, Field(pattern=IDEMPOTENCY_KEY_PATTERN)]
DEFAULT_ACTION = "create"


class _Invocation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CreateEndpoint(_Invocation):
    """`create`: a `POST /endpoints` body; answered with its 201 body."""

    action: Literal["create"] = "create"
    request: EndpointRequest
    idempotency_key: IdempotencyKey


class ShowEndpoint(_Invocation):
    """`show`: `GET /endpoints/{username}`'s 200 body. It changes nothing, so a key is optional
    (given, it only names the invocation in the logs)."""

    action: Literal["show"]
    username: Username
    idempotency_key: IdempotencyKey | None = None


class UpdateEndpoint(_Invocation):
    """`update`: a `PATCH /endpoints/{username}` body as `changes`; answered with its 200 body."""

    action: Literal["update"]
    username: Username
    changes: EndpointChanges
    idempotency_key: IdempotencyKey


class ResetPassword(_Invocation):
    """`reset_password`: always a generated password, which goes to Secrets Manager (a workflow
    caller's delivery): a password given here would stay in the execution's history."""

    action: Literal["reset_password"]
    username: Username
    idempotency_key: IdempotencyKey


class DisableEndpoint(_Invocation):
    action: Literal["disable"]
    username: Username
    idempotency_key: IdempotencyKey


class DeleteEndpoint(_Invocation):
    """`delete`: answered `{"username", "status": "deleted"}`, also when this service had deleted it already."""

    action: Literal["delete"]
    username: Username
    idempotency_key: IdempotencyKey


class AdoptEndpoint(_Invocation):
    """`adopt`: `POST /endpoints/{username}/adopt` with `profile` and `owner`; answered with its 200 body.
    The caller is `workflow`, an admin only where the deployment's policy names it."""

    action: Literal["adopt"]
    username: Username
    profile: ProfileName
    owner: Owner | None = None
    idempotency_key: IdempotencyKey

    def adopt_request(self) -> AdoptRequest:
        return AdoptRequest.model_validate(self.model_dump(include={"profile", "owner"}, exclude_none=True))


# -- the fleet's state machines (CONTRACT.md section 9) -----------------------------------------
# Each invocation names its execution: a Distributed Map's child runs under a name of its own.
ExecutionName = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[^\s/:]+$")]


class RolloutInput(_Invocation):
    """`ProfileRolloutStateMachine`'s input, checked before anything is read or changed."""

    profile: ProfileName
    dry_run: bool = Field(default=False, strict=True)
    # Strict: the Map reads the input's own value, so "10" or true must not pass as a number.
    max_concurrency: int = Field(default=10, strict=True, ge=1, le=100)


class AuditInput(_Invocation):
    """`FleetAuditStateMachine`'s input: `{}`, or one profile's endpoints."""

    profile: ProfileName | None = None


class _FleetStep(_Invocation):
    execution_name: ExecutionName

    @property
    def idempotency_key(self) -> str | None:
        """None: these steps send SignalWire nothing, and what they write they may write again."""
        return None


class PlanRollout(_FleetStep):
    """`plan_rollout`: the execution's input checked, the profile's endpoints written as the Map's manifest."""

    action: Literal["plan_rollout"]
    input: RolloutInput


class RollOutEndpoint(_FleetStep):
    """`roll_out`: one endpoint of the manifest (item `index`), under the key `<execution name>:<username>`."""

    action: Literal["roll_out"]
    index: int = Field(ge=0)
    username: Username
    dry_run: bool

    @property
    def idempotency_key(self) -> str:
        return f"{self.execution_name}:{self.username}"


class RolloutFailed(_FleetStep):
    """`rollout_failed`: the Catch of an endpoint that failed for good; its problem type recorded."""

    action: Literal["rollout_failed"]
    index: int = Field(ge=0)
    username: Username
    failure: dict[str, Any]


class ReportRollout(_FleetStep):
    action: Literal["report_rollout"]
    profile: ProfileName
    dry_run: bool


class AuditFleet(_FleetStep):
    action: Literal["audit_fleet"]
    input: AuditInput


INVOCATION_TYPES: tuple[type[_Invocation], ...] = (
    CreateEndpoint,
    ShowEndpoint,
    UpdateEndpoint,
    ResetPassword,
    DisableEndpoint,
    DeleteEndpoint,
    AdoptEndpoint,
    PlanRollout,
    RollOutEndpoint,
    RolloutFailed,
    ReportRollout,
    AuditFleet,
)
ACTIONS: tuple[str, ...] = tuple(get_args(kind.model_fields["action"].annotation)[0] for kind in INVOCATION_TYPES)
# Envelope fields holding a route's body (or an execution's input): their own fields are named as
# the route (or the input) names them.
BODY_FIELDS = frozenset({"request", "changes", "input"})


def _action_of(value: Any) -> str | None:
    if isinstance(value, dict):
        action = value.get("action", DEFAULT_ACTION)
        return action if isinstance(action, str) else None
    action = getattr(value, "action", None)
    return action if isinstance(action, str) else None


type Invocation = Annotated[
    Annotated[CreateEndpoint, Tag("create")]
    | Annotated[ShowEndpoint, Tag("show")]
    | Annotated[UpdateEndpoint, Tag("update")]
    | Annotated[ResetPassword, Tag("reset_password")]
    | Annotated[DisableEndpoint, Tag("disable")]
    | Annotated[DeleteEndpoint, Tag("delete")]
    | Annotated[AdoptEndpoint, Tag("adopt")]
    | Annotated[PlanRollout, Tag("plan_rollout")]
    | Annotated[RollOutEndpoint, Tag("roll_out")]
    | Annotated[RolloutFailed, Tag("rollout_failed")]
    | Annotated[ReportRollout, Tag("report_rollout")]
    | Annotated[AuditFleet, Tag("audit_fleet")],
    Discriminator(
        _action_of,
        custom_error_type="unknown_action",
        custom_error_message=f"must be one of {', '.join(ACTIONS)}",
    ),
]
_INVOCATION: TypeAdapter[Invocation] = TypeAdapter(Invocation)


def invocation_from_event(event: object) -> Invocation:
    """The invocation in `event`; `MalformedRequest` or `RequestInvalid` (naming each field) if it is not one."""
    if not isinstance(event, dict):
        raise errors.MalformedRequest("The invocation must be a JSON object.")
    too_deep = too_deep_at(event)  # before pydantic or the text check walk it
    if too_deep is not None:
        raise errors.RequestInvalid([errors.FieldError(field=_deep_field(too_deep), message=TOO_DEEP)])
    try:
        return _INVOCATION.validate_python(event)
    except pydantic.ValidationError as invalid:
        raise errors.RequestInvalid([_field_error(broken) for broken in invalid.errors()]) from None


TOO_DEEP = f"nests arrays or objects deeper than {MAX_NESTING_DEPTH} levels"


def _deep_field(path: tuple[PathPart, ...]) -> str:
    """The field holding the value nested too deep: a body's own key, or the envelope's."""
    envelope_key, body_key = path[0], path[1]
    return str(body_key) if envelope_key in BODY_FIELDS and isinstance(body_key, str) else str(envelope_key)


def _field_error(broken: ErrorDetails) -> errors.FieldError:
    """Body fields named as the route names them (`handler.url`), envelope fields by their own name."""
    parts = [str(part) for part in broken["loc"]]
    if not parts:  # the union itself: no action it knows
        return errors.FieldError.from_pydantic("action", broken["msg"])
    parts = parts[1:]  # drop the action's tag the union inserts
    if len(parts) > 1 and parts[0] in BODY_FIELDS:
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


class EndpointAlreadyManaged(WorkflowFailure):
    problem_type = ProblemType.ENDPOINT_ALREADY_MANAGED


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
        EndpointAlreadyManaged,
    )
}

# Routes, body sizes, media types and signatures are HTTP's: an invocation never meets these.
HTTP_ONLY_PROBLEM_TYPES = frozenset(
    {ProblemType.NOT_FOUND, ProblemType.PAYLOAD_TOO_LARGE, ProblemType.UNSUPPORTED_MEDIA_TYPE, ProblemType.UNAUTHORIZED}
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


def named_failure(error: Exception) -> WorkflowFailure:
    """Every failure a workflow or bulk step raises goes through here: one name, one metric, one log line."""
    failure = failure_for(error)
    record_failure(failure.problem_type, str(failure), error=type(failure).__name__)
    return failure


_PROBLEM_OF_ERROR_NAME: Final[Mapping[str, ProblemType]] = {
    failure.__name__: problem for problem, failure in FAILURE_FOR_PROBLEM.items()
}


def caught_problem(caught: Mapping[str, Any]) -> tuple[ProblemType, str | None]:
    """What a Catch caught (`{"Error", "Cause"}`) as a problem type, from the error's name (ours;
    Lambda's or Step Functions' own are `internal-error`), and its detail when the cause is our
    failure's payload."""
    error_name = str(caught.get("Error", ""))
    problem = _PROBLEM_OF_ERROR_NAME.get(error_name, ProblemType.INTERNAL_ERROR)
    if error_name not in _PROBLEM_OF_ERROR_NAME:
        return problem, None
    try:
        cause = json.loads(str(caught.get("Cause", "")))
    except ValueError:
        return problem, None
    if not isinstance(cause, dict) or "errorMessage" not in cause:
        return problem, None
    return problem, str(cause["errorMessage"])[:2048]
