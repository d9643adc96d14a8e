"""Lambda entry for workflows: Step Functions invokes it directly (`lambda:invoke`).

The event is `{"action": ..., "idempotency_key": ..., ...}` (`sip_provisioning.callers.workflow`):
`create` with `request` (the default when `action` is absent), `show`, `disable`, `delete` and
`reset_password` with `username`, `update` with `username` and `changes`, `adopt` with
`username`, `profile` and optionally `owner`. The answer is the body the route of the same action
answers with 200 or 201 (`delete`: `{"username", "status": "deleted"}`). The fleet's state
machines send the steps of a profile rollout (`plan_rollout`, `roll_out`, `rollout_failed`,
`report_rollout`) and the audit (`audit_fleet`), which keep their manifests and reports in the
imports bucket (`IMPORTS_BUCKET`). A failure is raised as a `sip_provisioning.callers.workflow`
error whose class name, the problem type in CamelCase, is what a state machine's Retry and Catch
match. Every action is the same use case as the HTTP API's (`callers.workflow_actions`), run as
`WORKFLOW_CALLER`.
"""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sip_provisioning.callers import workflow
from sip_provisioning.callers.invocation import Invocation
from sip_provisioning.callers.workflow_actions import WORKFLOW_CALLER, run_action
from sip_provisioning.observability import logger, metrics
from sip_provisioning.wiring import compose, warm_up_during_init

wiring = cache(compose)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: object, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(caller=WORKFLOW_CALLER.identity)
    try:
        return run_action(
            event, lambda key: Invocation.of(context, wiring().ports, WORKFLOW_CALLER, key), lambda: wiring().reports()
        )
    except Exception as error:
        raise workflow.named_failure(error) from None


warm_up_during_init(wiring, os.environ)
