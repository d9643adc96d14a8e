"""The workflow edge's actions: each invocation `callers.workflow` parses, bound to the use case it
runs as `WORKFLOW_CALLER`, and the body it answers with (the route's body of the same action)."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel

from sip_provisioning.callers import workflow
from sip_provisioning.callers.invocation import Invocation
from sip_provisioning.domain.records import CreatedVia
from sip_provisioning.domain.request import PasswordResetRequest
from sip_provisioning.observability import logger
from sip_provisioning.use_cases import adopt, audit, change, create, delete, disable, look_up, reset_password, rollout
from sip_provisioning.use_cases.ports import Caller, ReportBucket

# The caller of every workflow invocation (contract section 5). Only state machine roles may
# invoke the function and a direct invoke carries no caller identity, so there is no caller to
# tell apart; what keeps executions apart is the key (the examples derive it from the execution's
# ARN). Being no IAM ARN, the identity also keeps workflow keys apart from every HTTP caller's,
# and it is the identity policies name to let workflows in, and that always delivers a generated
# password to Secrets Manager, so no password enters an execution's history.
WORKFLOW_CALLER: Final = Caller(identity="workflow", via=CreatedVia.WORKFLOW)


@dataclass(frozen=True)
class Run:
    """What an action runs with: the invocation, under the event's key, and the imports bucket."""

    invocation: Invocation
    reports: Callable[[], ReportBucket]


def _create(event: workflow.CreateEndpoint, run: Run) -> BaseModel:
    return run.invocation.once(create.create_endpoint_once, event.request)


def _show(event: workflow.ShowEndpoint, run: Run) -> BaseModel:
    given = run.invocation
    return look_up.look_up_endpoint(given.ports, given.caller, event.username, given.deadline)


def _update(event: workflow.UpdateEndpoint, run: Run) -> BaseModel:
    return run.invocation.once(change.change_endpoint_once, event.username, event.changes)


def _reset_password(event: workflow.ResetPassword, run: Run) -> BaseModel:
    # Always generated: see workflow.ResetPassword.
    return run.invocation.once(reset_password.reset_password_once, event.username, PasswordResetRequest())


def _disable(event: workflow.DisableEndpoint, run: Run) -> BaseModel:
    return run.invocation.once(disable.disable_endpoint_once, event.username)


def _delete(event: workflow.DeleteEndpoint, run: Run) -> BaseModel:
    return run.invocation.once(delete.delete_endpoint_once, event.username)


def _adopt(event: workflow.AdoptEndpoint, run: Run) -> BaseModel:
    return run.invocation.once(adopt.adopt_endpoint_once, event.username, event.adopt_request())


def _plan_rollout(event: workflow.PlanRollout, run: Run) -> BaseModel:
    given = event.input
    return rollout.plan_rollout(
        run.invocation.ports,
        run.reports(),
        profile=given.profile,
        dry_run=given.dry_run,
        max_concurrency=given.max_concurrency,
        execution_name=event.execution_name,
    )


def _roll_out(event: workflow.RollOutEndpoint, run: Run) -> BaseModel:
    given = run.invocation
    outcome = rollout.roll_out_endpoint(
        given.ports,
        given.caller,
        event.username,
        given.deadline,
        dry_run=event.dry_run,
        key=event.idempotency_key,
        busy_seconds=given.busy_seconds,
    )
    rollout.record_outcome(run.reports(), event.execution_name, event.index, outcome)
    # Only the status: the Map's output is discarded, the outcome is in the bucket.
    return rollout.EndpointRollout(username=outcome.username, status=outcome.status)


def _rollout_failed(event: workflow.RolloutFailed, run: Run) -> BaseModel:
    problem, detail = workflow.caught_problem(event.failure)
    outcome = rollout.EndpointRollout(username=event.username, status=problem.value, detail=detail)
    rollout.record_outcome(run.reports(), event.execution_name, event.index, outcome)
    return rollout.EndpointRollout(username=outcome.username, status=outcome.status)


def _report_rollout(event: workflow.ReportRollout, run: Run) -> BaseModel:
    return rollout.write_report(
        run.reports(), profile=event.profile, dry_run=event.dry_run, execution_name=event.execution_name
    )


def _audit_fleet(event: workflow.AuditFleet, run: Run) -> BaseModel:
    return audit.audit_fleet(
        run.invocation.ports,
        run.reports(),
        profile=event.input.profile,
        execution_name=event.execution_name,
        deadline=run.invocation.deadline,
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


def run_action(
    event: object, invocation_for: Callable[[str | None], Invocation], reports: Callable[[], ReportBucket]
) -> dict[str, Any]:
    """The action `event` names, run under the event's key; the route's body it answers with."""
    parsed = workflow.invocation_from_event(event)
    logger.append_keys(action=parsed.action)
    if parsed.idempotency_key is not None:
        # The key names the execution, so its every log line can be found from the execution.
        logger.set_correlation_id(parsed.idempotency_key)
    answer = ACTIONS[parsed.action](parsed, Run(invocation_for(parsed.idempotency_key), reports))
    return _body(answer)


def _body(answer: BaseModel) -> dict[str, Any]:
    """The route's body exactly: `password` only when there is one to give (never, for a
    workflow, whose generated passwords go to Secrets Manager); every other field as it is."""
    exclude = {"password"} if getattr(answer, "password", "") is None else None
    body: dict[str, Any] = answer.model_dump(mode="json", exclude=exclude)
    return body
