"""Lambda entry for workflows: Step Functions invokes it directly (`lambda:invoke`).

The event is `{"request": <a POST /endpoints body>, "idempotency_key": "..."}`; the answer is the
body `POST /endpoints` answers with 201. A failure is raised as a `sip_provisioning.workflow`
error whose class name, the problem type in CamelCase, is what a state machine's Retry and
Catch match. Everything else is the same use case as the HTTP API's, composed the same way.
"""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sip_provisioning import workflow
from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.records import CreatedVia
from sip_provisioning.observability import logger, metrics, record_failure
from sip_provisioning.responses import EndpointCreated
from sip_provisioning.settings import RuntimeSettings
from sip_provisioning.use_cases import create
from sip_provisioning.use_cases.ports import Caller
from sip_provisioning.wiring import Wiring, warm_up_during_init

# The caller of every workflow invocation (contract section 5). Only state machine roles may
# invoke this function and a direct invoke carries no caller identity, so there is no caller to
# tell apart; what keeps executions apart is the key (the example uses the execution's ARN).
# Being no IAM ARN, the identity also keeps workflow keys apart from every HTTP caller's.
WORKFLOW_CALLER = Caller(identity="workflow", via=CreatedVia.WORKFLOW)


@cache
def wiring() -> Wiring:
    """Built on first use, then reused by every warm invocation of this container."""
    return Wiring(RuntimeSettings.from_environ(os.environ))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: object, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(caller=WORKFLOW_CALLER.identity)
    try:
        created = _create_endpoint(event, context)
    except Exception as error:
        raise _named_failure(error) from None
    # Exactly the 201 body of POST /endpoints: `password` only when generated.
    return created.model_dump(mode="json", exclude={"password"} if created.password is None else None)


def _create_endpoint(event: object, context: LambdaContext) -> EndpointCreated:
    invocation = workflow.WorkflowInvocation.from_event(event)
    # The key names the execution, so its every log line can be found from the execution.
    logger.set_correlation_id(invocation.idempotency_key)
    deadline = Deadline.before_timeout(context.get_remaining_time_in_millis())
    ports, request = wiring().ports, invocation.request
    # A record left by a function that dies mid-request is taken over after this invocation.
    busy_seconds = context.get_remaining_time_in_millis() / 1000
    return create.create_endpoint_once(
        ports, WORKFLOW_CALLER, request, deadline, key=invocation.idempotency_key, busy_seconds=busy_seconds
    )


def _named_failure(error: Exception) -> workflow.WorkflowFailure:
    """Every failure goes through here: one name, one metric, one log line."""
    failure = workflow.failure_for(error)
    record_failure(failure.problem_type, str(failure), error=type(failure).__name__)
    return failure


warm_up_during_init(wiring, os.environ)
