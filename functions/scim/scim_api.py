"""Lambda entry for SCIM 2.0, `ANY /scim/v2/{proxy+}` (CONTRACT.md section 8).

Identity providers cannot sign with SigV4, so this route has no IAM authorizer: every request
must carry `Authorization: Bearer <token>` matching `<prefix>/scim/bearer_token` (compared in
constant time) before anything else is read; otherwise it is answered 401 and nothing happens.
The routes translate HTTP to the SCIM caller (`sip_provisioning.callers.scim`) and its answers,
and every refusal to a SCIM Error document; nothing else happens here.
"""

import os
from functools import cache
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext

from sip_provisioning.callers.scim import discovery, users
from sip_provisioning.callers.scim.errors import ResourceNotFound, ScimError
from sip_provisioning.callers.scim.http import (
    BASE_PATH,
    answer,
    authenticate,
    body,
    error_response,
    refusal,
    response_parameters_of,
    scim_context,
)
from sip_provisioning.observability import logger, metrics
from sip_provisioning.wiring import compose, warm_up_during_init

app = APIGatewayHttpResolver(strip_prefixes=[BASE_PATH])
app.include_router(discovery.router)  # the discovery documents, and what SCIM lets us refuse
wiring = cache(compose)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        authenticate(APIGatewayProxyEventV2(event), wiring().ports, wiring().settings.parameters_path)
    except ScimError as refused:
        return refusal(refused)
    return app.resolve(event, context)


def _context() -> users.ScimContext:
    return scim_context(app.current_event, app.lambda_context, wiring().ports, wiring().settings.parameters_path)


@app.get("/Users")
def list_users() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    return answer(
        users.list_users(
            _context(),
            filter_text=query.get("filter"),
            start_index=query.get("startIndex"),
            count=query.get("count"),
            parameters=response_parameters_of(app.current_event),
        )
    )


@app.post("/Users")
def post_user() -> Response[str]:
    document = users.create_user(_context(), body(app.current_event))
    return answer(document, 201, {"Location": document["meta"]["location"]})


@app.get("/Users/<scim_id>")
def get_user(scim_id: str) -> Response[str]:
    return answer(users.get_user(_context(), unquote(scim_id), response_parameters_of(app.current_event)))


@app.put("/Users/<scim_id>")
def put_user(scim_id: str) -> Response[str]:
    return answer(users.replace_user(_context(), unquote(scim_id), body(app.current_event)))


@app.patch("/Users/<scim_id>")
def patch_user(scim_id: str) -> Response[str]:
    return answer(users.patch_user(_context(), unquote(scim_id), body(app.current_event)))


@app.delete("/Users/<scim_id>")
def delete_user(scim_id: str) -> Response[str]:
    users.delete_user(_context(), unquote(scim_id))
    return Response(status_code=204, body="")


@app.exception_handler(Exception)
def answer_error(error: Exception) -> Response[str]:
    return error_response(error)


@app.not_found
def answer_not_found(_: Exception) -> Response[str]:
    return error_response(ResourceNotFound("No SCIM resource answers this method and path."))


warm_up_during_init(wiring, os.environ)
