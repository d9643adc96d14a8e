"""Lambda entry for the HTTP API: the resolver, its routes (`callers/http/routes.py`) and one
problem+json answer for every error.

Everything below lives in the shared layer's `sip_provisioning` package: the HTTP caller's rules,
routes and answers in `callers/http`, the verbs in `use_cases`.
"""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext

from sip_provisioning.callers.http.answers import error_response, problem_response
from sip_provisioning.callers.http.body import json_object_body, with_lower_case_media_type
from sip_provisioning.callers.http.queries import refuse_unknown_query_parameters
from sip_provisioning.callers.http.routes import add_routes
from sip_provisioning.domain.errors import RouteNotFound
from sip_provisioning.observability import logger, metrics
from sip_provisioning.wiring import compose, warm_up_during_init


def _content_type() -> str | None:
    return app.current_event.headers.get("content-type")


app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=json_object_body(_content_type))
app.use(middlewares=[refuse_unknown_query_parameters])
wiring = cache(compose)
add_routes(app, lambda: wiring().ports)


@app.exception_handler(Exception)
def answer_error(error: Exception) -> Response[str]:
    return error_response(error, app.current_event)


@app.not_found
def answer_not_found(_: Exception) -> Response[str]:
    return problem_response(RouteNotFound("No route answers this method and path."), app.current_event)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    iam = APIGatewayProxyEventV2(event).request_context.authorizer.iam
    logger.append_keys(caller=iam.user_arn or iam.caller_id)
    return app.resolve(with_lower_case_media_type(event), context)


warm_up_during_init(wiring, os.environ)
