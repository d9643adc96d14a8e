"""The HTTP API's answers: JSON bodies, and every error as one problem+json answer (one shape, one
metric, one log line), whatever raised it: a use case, Powertools' validation or the body's decoding."""

import binascii
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import ValidationException
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import BaseModel

from sip_provisioning.callers.http.body import JSON_CONTENT_TYPE, MULTIPART_FORM_DATA, is_json, media_type
from sip_provisioning.callers.problems import PROBLEM_CONTENT_TYPE, problem_for
from sip_provisioning.domain.errors import FieldError, MalformedRequest, RequestInvalid, UnsupportedMediaType
from sip_provisioning.domain.records import CreatedVia
from sip_provisioning.observability import record_failure
from sip_provisioning.use_cases.ports import Caller


def http_caller(event: APIGatewayProxyEventV2) -> Caller:
    """Who signed the request (API Gateway's IAM authorizer)."""
    iam = event.request_context.authorizer.iam
    return Caller(identity=iam.user_arn or iam.caller_id or "anonymous", via=CreatedVia.HTTP)


def username_from_path(segment: str) -> str:
    """`{username}` is one path segment, percent-encoded where the username holds `/`, `?`, `#`, `%`..."""
    return unquote(segment, errors="strict")


def absent_credentials(answer: BaseModel) -> set[str]:
    """A password, or where it was delivered, appears only when there is one; the endpoint
    object keeps SignalWire's nulls."""
    return {name for name in ("password", "password_secret_arn") if getattr(answer, name) is None}


def json_response(status: int, model: BaseModel, **dump_options: Any) -> Response[str]:
    return Response(status_code=status, content_type=JSON_CONTENT_TYPE, body=model.model_dump_json(**dump_options))


def error_response(error: Exception, event: APIGatewayProxyEventV2) -> Response[str]:
    """The problem answer to any error a route meets."""
    if isinstance(error, ValidationException):
        return _validation_problem(error, event)
    if isinstance(error, UnicodeDecodeError | binascii.Error):
        # Raised while Powertools decodes the event body, before any deserializer sees it.
        return problem_response(MalformedRequest("The body is not valid UTF-8 text."), event)
    if isinstance(error, ValueError) and media_type(event.headers.get("content-type")) == MULTIPART_FORM_DATA:
        # Powertools parses a multipart/form-data body itself, before the body deserializer sees it,
        # and raises a bare ValueError when the type names no boundary: a body that is not JSON.
        return problem_response(UnsupportedMediaType("Send the body as application/json."), event)
    return problem_response(error, event)


def problem_response(error: Exception, event: APIGatewayProxyEventV2) -> Response[str]:
    """Every error answer goes through here: one shape, one metric, one log line."""
    problem, headers = problem_for(error, event.request_context.request_id)
    record_failure(problem.type, problem.detail, status=problem.status)
    return Response(
        status_code=problem.status,
        content_type=PROBLEM_CONTENT_TYPE,
        body=problem.model_dump_json(exclude_none=True),
        headers=headers,
    )


def _validation_problem(error: ValidationException, event: APIGatewayProxyEventV2) -> Response[str]:
    details = list(error.errors())
    body_error = any(tuple(detail.get("loc", ()))[:1] == ("body",) for detail in details)
    if body_error and not is_json(event.headers.get("content-type")):
        return problem_response(UnsupportedMediaType("Send the body as application/json."), event)
    if any(tuple(detail.get("loc", ())) == ("body",) for detail in details):
        return problem_response(MalformedRequest("The body must be a JSON object."), event)
    return problem_response(
        RequestInvalid(
            [FieldError.from_pydantic(_field_name(tuple(d.get("loc", ()))), str(d.get("msg"))) for d in details],
        ),
        event,
    )


def _field_name(location: tuple[Any, ...]) -> str:
    # Drop the "body"/"header"/"query" source and the discriminator tag pydantic inserts for the handler union.
    parts = [str(part) for part in location[1:] if location[0] in {"body", "header", "query"}] or [
        str(p) for p in location
    ]
    if len(parts) > 1 and parts[0] == "handler":
        parts = [parts[0], *parts[2:]]
    return ".".join(parts)
