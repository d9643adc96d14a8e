"""Lambda entry for the HTTP API: each request routed (`callers/http/routes.py`) to one use case,
and every error answered as one problem+json document.

Everything below lives in the shared layer's `sip_provisioning` package: the HTTP caller's rules,
routes and answers in `callers/http`, the verbs in `use_cases`.
"""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sip_provisioning.callers.gateway import GatewayRequest
from sip_provisioning.callers.http.routes import answer_request
from sip_provisioning.observability import logger, metrics
from sip_provisioning.wiring import compose, warm_up_during_init

wiring = cache(compose)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = GatewayRequest.of(event)
    logger.append_keys(caller=request.signer)
    return answer_request(request, context, lambda: wiring().ports).as_result()


warm_up_during_init(wiring, os.environ)
