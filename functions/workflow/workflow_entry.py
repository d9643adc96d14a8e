"""Lambda entry for workflows: Step Functions invokes it directly (`lambda:invoke`).

The event is `{"action": ..., "idempotency_key": ..., ...}` (`sip_provisioning.callers.workflow`):
`create` with `request` (the default when `action` is absent), `show`, `disable`, `delete` and
`reset_password` with `username`, `update` with `username` and `changes`, `adopt` with
`username`, `profile` and optionally `owner`. The answer is the body
the route of the same action answers with 200 or 201 (`delete`: `{"username", "status":
"deleted"}`). The fleet's state machines send the steps of a profile rollout (`plan_rollout`,
`roll_out`, `rollout_failed`, `report_rollout`) and the audit (`audit_fleet`), which keep their
manifests and reports in the imports bucket (`IMPORTS_BUCKET`). A failure is raised as a
`sip_provisioning.callers.workflow` error whose class name, the problem type in CamelCase, is what a
state machine's Retry and Catch match. Every action is the
same use case as the HTTP API's, composed the same way, run as `WORKFLOW_CALLER`.
"""

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from sip_provisioning.callers import workflow
from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.errors import ConfigurationError, ProblemType
from sip_provisioning.domain.records import CreatedVia
from sip_provisioning.domain.request import PasswordResetRequest
from sip_provisioning.observability import logger, metrics, record_failure
from sip_provisioning.settings import RuntimeSettings
from sip_provisioning.use_cases import (
    adopt,
    audit,
    change,
    create,
    delete,
    disable,
    look_up,
    reset_password,
    rollout,
)
from sip_provisioning.use_cases.ports import Caller, Ports, ReportBucket
from sip_provisioning.wiring import Wiring, warm_up_during_init

# The caller of every workflow invocation (contract section 5). Only state machine roles may
# invoke this function and a direct invoke carries no caller identity, so there is no caller to
# tell apart; what keeps executions apart is the key (the examples derive it from the execution's
# ARN). Being no IAM ARN, the identity also keeps workflow keys apart from every HTTP caller's,
# and it is the identity policies name to let workflows in, and that always delivers a generated
# password to Secrets Manager, so no password enters an execution's history.
WORKFLOW_CALLER = Caller(identity="workflow", via=CreatedVia.WORKFLOW)


@cache
def wiring() -> Wiring:
    """Built on first use, then reused by every warm invocation of this container."""
    return Wiring(RuntimeSettings.from_environ(os.environ))


IMPORTS_BUCKET_VARIABLE: Final = "IMPORTS_BUCKET"


@cache
def reports() -> ReportBucket:
    """The imports bucket, where the fleet's state machines keep manifests and write reports."""
    name = os.environ.get(IMPORTS_BUCKET_VARIABLE)
    if not name:
        raise ConfigurationError(f"environment variable {IMPORTS_BUCKET_VARIABLE}", "missing")
    return ReportBucket(objects=wiring().objects, name=name)


@dataclass(frozen=True)
class Run:
    """What every action runs with: the ports, the time left, and how long the key may be held."""

    ports: Ports
    deadline: Deadline
    # A record left by a function that dies mid-request is taken over after this invocation.
    busy_seconds: float


def _create(invocation: workflow.CreateEndpoint, run: Run) -> BaseModel:
    return create.create_endpoint_once(
        run.ports,
        WORKFLOW_CALLER,
        invocation.request,
        run.deadline,
        key=invocation.idempotency_key,
        busy_seconds=run.busy_seconds,
    )


def _show(invocation: workflow.ShowEndpoint, run: Run) -> BaseModel:
    return look_up.look_up_endpoint(run.ports, WORKFLOW_CALLER, invocation.username, run.deadline)


def _update(invocation: workflow.UpdateEndpoint, run: Run) -> BaseModel:
    return change.change_endpoint_once(
        run.ports,
        WORKFLOW_CALLER,
        invocation.username,
        invocation.changes,
        run.deadline,
        key=invocation.idempotency_key,
        busy_seconds=run.busy_seconds,
    )


def _reset_password(invocation: workflow.ResetPassword, run: Run) -> BaseModel:
    return reset_password.reset_password_once(
        run.ports,
        WORKFLOW_CALLER,
        invocation.username,
        PasswordResetRequest(),  # always generated: see workflow.ResetPassword
        run.deadline,
        key=invocation.idempotency_key,
        busy_seconds=run.busy_seconds,
    )


def _disable(invocation: workflow.DisableEndpoint, run: Run) -> BaseModel:
    return disable.disable_endpoint_once(
        run.ports,
        WORKFLOW_CALLER,
        invocation.username,
        run.deadline,
        key=invocation.idempotency_key,
        busy_seconds=run.busy_seconds,
    )


def _delete(invocation: workflow.DeleteEndpoint, run: Run) -> BaseModel:
    return delete.delete_endpoint_once(
        run.ports,
        WORKFLOW_CALLER,
        invocation.username,
        run.deadline,
        key=invocation.idempotency_key,
        busy_seconds=run.busy_seconds,
    )


def _adopt(invocation: workflow.AdoptEndpoint, run: Run) -> BaseModel:
    return adopt.adopt_endpoint_once(
        run.ports,
        WORKFLOW_CALLER,
        invocation.username,
        invocation.adopt_request(),
        run.deadline,
        key=invocation.idempotency_key,
        busy_seconds=run.busy_seconds,
    )


def _plan_rollout(invocation: workflow.PlanRollout, run: Run) -> BaseModel:
    given = invocation.input
    return rollout.plan_rollout(
        run.ports,
        reports(),
        profile=given.profile,
        dry_run=given.dry_run,
        max_concurrency=given.max_concurrency,
        execution_name=invocation.execution_name,
    )


def _roll_out(invocation: workflow.RollOutEndpoint, run: Run) -> BaseModel:
    outcome = rollout.roll_out_endpoint(
        run.ports,
        WORKFLOW_CALLER,
        invocation.username,
        run.deadline,
        dry_run=invocation.dry_run,
        key=invocation.idempotency_key,
        busy_seconds=run.busy_seconds,
    )
    rollout.record_outcome(reports(), invocation.execution_name, invocation.index, outcome)
    # Only the status: the Map's output is discarded, the outcome is in the bucket.
    return rollout.EndpointRollout(username=outcome.username, status=outcome.status)


_PROBLEM_OF_ERROR_NAME: Final[Mapping[str, ProblemType]] = {
    failure.__name__: problem for problem, failure in workflow.FAILURE_FOR_PROBLEM.items()
}


def _rollout_failed(invocation: workflow.RolloutFailed, run: Run) -> BaseModel:
    """The problem type from the error's name (ours; Lambda's or Step Functions' own are
    `internal-error`), its detail when the cause is our failure's payload."""
    error_name = str(invocation.failure.get("Error", ""))
    problem = _PROBLEM_OF_ERROR_NAME.get(error_name, ProblemType.INTERNAL_ERROR)
    detail = None
    if error_name in _PROBLEM_OF_ERROR_NAME:
        try:
            cause = json.loads(str(invocation.failure.get("Cause", "")))
            detail = str(cause["errorMessage"])[:2048] if isinstance(cause, dict) else None
        except (ValueError, KeyError):
            detail = None
    outcome = rollout.EndpointRollout(username=invocation.username, status=problem.value, detail=detail)
    rollout.record_outcome(reports(), invocation.execution_name, invocation.index, outcome)
    return rollout.EndpointRollout(username=outcome.username, status=outcome.status)


def _report_rollout(invocation: workflow.ReportRollout, run: Run) -> BaseModel:
    return rollout.write_report(
        reports(), profile=invocation.profile, dry_run=invocation.dry_run, execution_name=invocation.execution_name
    )


def _audit_fleet(invocation: workflow.AuditFleet, run: Run) -> BaseModel:
    return audit.audit_fleet(
        run.ports,
        reports(),
        profile=invocation.input.profile,
        execution_name=invocation.execution_name,
        deadline=run.deadline,
    )


# Each action and the use case it runs: the one place an action is bound to its work.
ACTIONS: Final[Mapping[str, Callable[[Any, Run], BaseModel]]] = {
    "create": _create,
    "show": _show,
    "update": _update,
    "reset_password": _reset_password,
    "disable": _disable,
    "delete": _delete,
    "adopt": _adopt,
    "plan_rollout": _plan_rollout,
    "roll_out": _roll_out,
    "rollout_failed": _rollout_failed,
    "report_rollout": _report_rollout,
    "audit_fleet": _audit_fleet,
}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: object, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(caller=WORKFLOW_CALLER.identity)
    try:
        answer = _run(event, context)
    except Exception as error:
        raise _named_failure(error) from None
    return _body(answer)


def _run(event: object, context: LambdaContext) -> BaseModel:
    invocation = workflow.invocation_from_event(event)
    logger.append_keys(action=invocation.action)
    if invocation.idempotency_key is not None:
        # The key names the execution, so its every log line can be found from the execution.
        logger.set_correlation_id(invocation.idempotency_key)
    deadline = Deadline.before_timeout(context.get_remaining_time_in_millis())
    run = Run(wiring().ports, deadline, busy_seconds=context.get_remaining_time_in_millis() / 1000)
    return ACTIONS[invocation.action](invocation, run)


def _body(answer: BaseModel) -> dict[str, Any]:
    """The route's body exactly: `password` only when there is one to give (never, for a
    workflow, whose generated passwords go to Secrets Manager); every other field as it is."""
    exclude = {"password"} if getattr(answer, "password", "") is None else None
    body: dict[str, Any] = answer.model_dump(mode="json", exclude=exclude)
    return body


def _named_failure(error: Exception) -> workflow.WorkflowFailure:
    """Every failure goes through here: one name, one metric, one log line."""
    failure = workflow.failure_for(error)
    record_failure(failure.problem_type, str(failure), error=type(failure).__name__)
    return failure


warm_up_during_init(wiring, os.environ)
