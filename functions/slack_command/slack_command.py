"""Lambda entry for the Slack slash command, `POST /chatops/slack`, and for the jobs it hands itself.

API Gateway cannot sign Slack's calls, so this route has no IAM authorizer: the function checks
Slack's request signature over the raw body before it reads anything else, then the workspace.
A request that fails either is answered 401 or 403 (problem details, as every route answers its
refusals) and nothing else happens. Slack's `ssl_check=1` form, its check of the URL's
certificate, comes first: an empty 200 that does nothing, as Slack's Bolt answers it.

Slack wants an answer within 3 seconds, so that answer never waits on SignalWire: `help`,
`profiles`, every rule of a `create` and the username of the other verbs are checked at once
(SSM only), and an acceptable command is answered "working on it" and handed to an asynchronous
invocation of this same function. That job runs the use case the HTTP route runs, as caller
`slack:<team>:<user>`, a state-changing one at most once per Slack `trigger_id`, and posts the
result to the command's `response_url`. `show` and `delete` without `confirm` go through the job
too: they change nothing, but they look the endpoint up in SignalWire, whose answer (after a cold
start) would not reliably fit in Slack's 3 seconds.
"""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sip_provisioning.callers.gateway import GatewayRequest
from sip_provisioning.callers.slack.handling import SlackEdge, answer_slack_request, run_job
from sip_provisioning.callers.slack.payloads import JOB_KINDS, CommandJob
from sip_provisioning.observability import logger, metrics
from sip_provisioning.wiring import compose, warm_up_during_init

wiring = cache(compose)


def _edge(context: LambdaContext) -> SlackEdge:
    def hand_off(job: CommandJob) -> None:
        wiring().lambda_client.invoke(
            FunctionName=context.invoked_function_arn, InvocationType="Event", Payload=job.model_dump_json().encode()
        )

    return SlackEdge(context, ports=lambda: wiring().ports, settings=lambda: wiring().settings, hand_off=hand_off)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    if event.get("kind") in JOB_KINDS:
        run_job(CommandJob.model_validate(event), _edge(context))
        return None
    return answer_slack_request(GatewayRequest.of(event), _edge(context))


warm_up_during_init(wiring, os.environ)
