"""Lambda entry for SCIM 2.0, `ANY /scim/v2/{proxy+}` (CONTRACT.md section 8).

Identity providers cannot sign with SigV4, so this route has no IAM authorizer: every request
must carry `Authorization: Bearer <token>` matching `<prefix>/scim/bearer_token` (compared in
constant time) before anything else is read; otherwise it is answered 401 and nothing happens.
The routes (`sip_provisioning.callers.scim.routes`) translate HTTP to the SCIM caller and its
answers, and every refusal to a SCIM Error document; nothing else happens here.
"""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sip_provisioning.callers.gateway import GatewayRequest
from sip_provisioning.callers.scim.http import BASE_PATH
from sip_provisioning.callers.scim.routes import answer_scim_request
from sip_provisioning.observability import logger, metrics
from sip_provisioning.wiring import compose, warm_up_during_init

wiring = cache(compose)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = GatewayRequest.of(event).without_prefix(BASE_PATH)
    answer = answer_scim_request(request, context, lambda: wiring().ports, wiring().settings.parameters_path)
    return answer.as_result()


warm_up_during_init(wiring, os.environ)
