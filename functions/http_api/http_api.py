"""Lambda entry for the HTTP API: routes, the request envelope, and problem+json answers.

Everything below the routes (profiles, payload, SignalWire) lives in the shared layer's
`sip_provisioning` package; this module only translates HTTP to and from it.
"""

import binascii
import json
import os
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import ValidationException
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponseContentModel, OpenAPIResponseContentSchema
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from sip_provisioning.deadline import Deadline
from sip_provisioning.errors import (
    FieldError,
    MalformedRequest,
    PayloadTooLarge,
    ProvisioningError,
    RequestInvalid,
    RouteNotFound,
    UnsupportedMediaType,
)
from sip_provisioning.observability import logger, metrics, record_failure, tracer
from sip_provisioning.problems import PROBLEM_CONTENT_TYPE, problem_for
from sip_provisioning.responses import DryRunResult, EndpointCreated, Problem, ProfileList
from sip_provisioning.self_service import EndpointRequest
from sip_provisioning.service import Service, build_service
from sip_provisioning.settings import RuntimeSettings

MAX_BODY_BYTES = 16 * 1024
JSON_CONTENT_TYPE = "application/json"


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == JSON_CONTENT_TYPE


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise MalformedRequest(f"The JSON body repeats the key '{key[:64]}'.")
        document[key] = value
    return document


def parse_json_object_body(body: str) -> dict[str, Any]:
    """Powertools' body deserializer: size, media type and shape are checked before any model."""
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The body exceeds {MAX_BODY_BYTES} bytes.")
    if not _is_json(app.current_event.headers.get("content-type")):
        raise UnsupportedMediaType("Send the body as application/json.")
    try:
        document = json.loads(body, object_pairs_hook=_reject_duplicate_keys)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise MalformedRequest("The body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise MalformedRequest("The body must be a JSON object.")
    return document


app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=parse_json_object_body)
app.configure_openapi(
    title="SIP endpoint provisioner",
    version="1.0.0",
    summary="Self-service SignalWire SIP endpoints from profile defaults kept in SSM Parameter Store.",
)

_PROBLEM_CONTENT: dict[str, OpenAPIResponseContentModel | OpenAPIResponseContentSchema] = {
    PROBLEM_CONTENT_TYPE: {"model": Problem}
}


IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"


@cache
def service() -> Service:
    """Built on first use, then reused by every warm invocation of this container."""
    return build_service(RuntimeSettings.from_environ(os.environ))


def _deadline() -> Deadline:
    return Deadline.before_timeout(app.lambda_context.get_remaining_time_in_millis())


def _caller() -> str:
    iam = app.current_event.request_context.authorizer.iam
    return iam.user_arn or iam.caller_id or "anonymous"


def _json_response(status: int, model: BaseModel, **dump_options: Any) -> Response[str]:
    return Response(
        status_code=status,
        content_type=JSON_CONTENT_TYPE,
        body=model.model_dump_json(**dump_options),
    )


@app.post(
    "/endpoints",
    summary="Create a SIP endpoint from a self-service request",
    responses={
        201: {"description": "Created", "content": {JSON_CONTENT_TYPE: {"model": EndpointCreated}}},
        200: {
            "description": "Dry run: nothing created",
            "content": {JSON_CONTENT_TYPE: {"model": DryRunResult}},
        },
        400: {"description": "Malformed request", "content": _PROBLEM_CONTENT},
        409: {"description": "Username taken, or idempotent request in progress", "content": _PROBLEM_CONTENT},
        413: {"description": "Payload too large", "content": _PROBLEM_CONTENT},
        415: {"description": "Unsupported media type", "content": _PROBLEM_CONTENT},
        422: {"description": "Validation error, or idempotency key reused", "content": _PROBLEM_CONTENT},
        500: {"description": "Configuration or internal error", "content": _PROBLEM_CONTENT},
        502: {"description": "SignalWire error", "content": _PROBLEM_CONTENT},
        503: {"description": "SignalWire unavailable", "content": _PROBLEM_CONTENT},
        504: {"description": "SignalWire timeout", "content": _PROBLEM_CONTENT},
    },
)
def create_endpoint(
    request: Annotated[EndpointRequest, Body()],
    dry_run: Annotated[bool, Query(description="Build and show the payload; create nothing.")] = False,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="idempotency-key",
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="1 to 255 visible ASCII characters. A repeat within 24 h gets the first answer again.",
        ),
    ] = None,
) -> Response[str]:
    if dry_run:  # never stored: a dry run creates nothing worth replaying
        return _json_response(200, service().provisioner.preview_endpoint(request))
    if idempotency_key is None:
        created = service().provisioner.create_endpoint(request, _deadline())
    else:
        # A record left by a function that dies mid-request then expires with this invocation.
        service().idempotency_config.register_lambda_context(app.lambda_context)
        created = service().idempotent.create_endpoint(
            request, _deadline(), caller=_caller(), idempotency_key=idempotency_key
        )
    # `password` appears only when generated; the endpoint object keeps SignalWire's nulls.
    return _json_response(201, created, exclude={"password"} if created.password is None else None)


@app.get(
    "/profiles",
    summary="List the profiles a self-service request can name",
    responses={
        200: {
            "description": "Profiles, sorted by name",
            "content": {JSON_CONTENT_TYPE: {"model": ProfileList}},
        },
        500: {"description": "Configuration or internal error", "content": _PROBLEM_CONTENT},
    },
)
def list_profiles() -> Response[str]:
    return _json_response(200, service().provisioner.list_profiles())


def problem_response(error: Exception) -> Response[str]:
    """Every error answer goes through here: one shape, one metric, one log line."""
    problem, headers = problem_for(error, app.current_event.request_context.request_id)
    record_failure(problem.type, problem.detail, status=problem.status)
    return Response(
        status_code=problem.status,
        content_type=PROBLEM_CONTENT_TYPE,
        body=problem.model_dump_json(exclude_none=True),
        headers=headers,
    )


def _field_name(location: tuple[Any, ...]) -> str:
    # Drop the "body"/"header"/"query" source and the discriminator tag pydantic inserts for the handler union.
    parts = [str(part) for part in location[1:] if location[0] in {"body", "header", "query"}] or [
        str(p) for p in location
    ]
    if len(parts) > 1 and parts[0] == "handler":
        parts = [parts[0], *parts[2:]]
    return ".".join(parts)


@app.exception_handler(ValidationException)
def answer_request_validation_error(error: ValidationException) -> Response[str]:
    if not _is_json(app.current_event.headers.get("content-type")):
        return problem_response(UnsupportedMediaType("Send the body as application/json."))
    details = list(error.errors())
    if any(tuple(detail.get("loc", ())) == ("body",) for detail in details):
        return problem_response(MalformedRequest("The body must be a JSON object."))
    return problem_response(
        RequestInvalid(
            [FieldError.from_pydantic(_field_name(tuple(d.get("loc", ()))), str(d.get("msg"))) for d in details],
        )
    )


@app.exception_handler([UnicodeDecodeError, binascii.Error])
def answer_undecodable_body(_: ValueError) -> Response[str]:
    # Raised while Powertools decodes the event body, before any deserializer sees it.
    return problem_response(MalformedRequest("The body is not valid UTF-8 text."))


@app.exception_handler(ProvisioningError)
def answer_provisioning_error(error: ProvisioningError) -> Response[str]:
    return problem_response(error)


@app.exception_handler(Exception)
def answer_unexpected_error(error: Exception) -> Response[str]:
    return problem_response(error)


@app.not_found
def answer_not_found(_: Exception) -> Response[str]:
    return problem_response(RouteNotFound("No route answers this method and path."))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # a 201 holds the generated password
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    iam = APIGatewayProxyEventV2(event).request_context.authorizer.iam
    logger.append_keys(caller=iam.user_arn or iam.caller_id)
    return app.resolve(_with_lower_case_media_type(event), context)


def _with_lower_case_media_type(event: dict[str, Any]) -> dict[str, Any]:
    """Media types are case-insensitive (RFC 9110), but Powertools matches "application/json" exactly."""
    headers = event.get("headers") or {}
    content_type = headers.get("content-type")
    if content_type is None or content_type == content_type.lower():
        return event
    return {**event, "headers": {**headers, "content-type": content_type.lower()}}
