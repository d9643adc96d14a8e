"""The HTTP API's answers: JSON bodies, and every error as one problem+json answer (one shape, one
metric, one log line), whatever raised it: a use case, a rule of the request or the body's decoding."""

import binascii
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel

from sip_provisioning.callers.gateway import GatewayAnswer, GatewayRequest
from sip_provisioning.callers.http.body import JSON_CONTENT_TYPE
from sip_provisioning.callers.problems import PROBLEM_CONTENT_TYPE, problem_for
from sip_provisioning.domain.errors import MalformedRequest
from sip_provisioning.domain.records import CreatedVia
from sip_provisioning.observability import record_failure
from sip_provisioning.use_cases.ports import Caller


def http_caller(request: GatewayRequest) -> Caller:
    """Who signed the request (API Gateway's IAM authorizer)."""
    return Caller(identity=request.signer or "anonymous", via=CreatedVia.HTTP)


def username_from_path(segment: str) -> str:
    """`{username}` is one path segment, percent-encoded where the username holds `/`, `?`, `#`, `%`..."""
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise MalformedRequest("The path's username is not UTF-8 text once percent-decoded.") from None


def absent_credentials(answer: BaseModel) -> set[str]:
    """A password, or where it was delivered, appears only when there is one; the endpoint
    object keeps SignalWire's nulls."""
    return {name for name in ("password", "password_secret_arn") if getattr(answer, name) is None}


def json_answer(status: int, model: BaseModel, **dump_options: Any) -> GatewayAnswer:
    return GatewayAnswer(status, model.model_dump_json(**dump_options), JSON_CONTENT_TYPE)


def error_answer(error: Exception, request: GatewayRequest) -> GatewayAnswer:
    """The problem answer to any error a request meets: every error answer goes through here."""
    if isinstance(error, UnicodeDecodeError | binascii.Error):
        # Raised while the body is decoded, before any rule reads it.
        error = MalformedRequest("The body is not valid UTF-8 text.")
    problem, headers = problem_for(error, request.request_id)
    record_failure(problem.type, problem.detail, status=problem.status)
    return GatewayAnswer(problem.status, problem.model_dump_json(exclude_none=True), PROBLEM_CONTENT_TYPE, headers)
