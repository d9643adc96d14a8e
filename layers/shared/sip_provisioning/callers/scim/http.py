"""SCIM over HTTP: the bearer token, the body (media type, size, JSON), the base URL the client
addressed, the response parameters, and every refusal as a SCIM Error document, in one table."""

import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from sip_provisioning.callers.gateway import GatewayAnswer, GatewayRequest
from sip_provisioning.callers.invocation import Invocation, LambdaClock
from sip_provisioning.callers.scim.errors import (
    InvalidSyntax,
    ScimError,
    ServerMisconfigured,
    TooLarge,
    TryAgain,
    Unauthorized,
    UnsupportedMedia,
    scim_error_of,
    status_and_scim_type,
)
from sip_provisioning.callers.scim.resources import (
    SCIM_CONTENT_TYPE,
    UserResponseParameters,
    error_document,
    response_parameters,
)
from sip_provisioning.callers.scim.settings import parse_scim_settings
from sip_provisioning.callers.scim.users import ScimContext
from sip_provisioning.domain.documents import MAX_NESTING_DEPTH, NestedTooDeep, parse_json
from sip_provisioning.domain.errors import ConfigurationError, ProvisioningError
from sip_provisioning.domain.profile import SCIM_BEARER_TOKEN, SCIM_SETTINGS
from sip_provisioning.domain.records import RecordChanged
from sip_provisioning.domain.request import holds_invalid_text
from sip_provisioning.domain.scim_users import ScimUserNotFound, UserNameInUse
from sip_provisioning.observability import INTERNAL_ERROR, logger, record_failure
from sip_provisioning.use_cases.ports import Ports
from sip_provisioning.use_cases.scim.follow_user import SCIM_CALLER

BASE_PATH = "/scim/v2"
MAX_BODY_BYTES = 64 * 1024
JSON_MEDIA_TYPES = frozenset({SCIM_CONTENT_TYPE, "application/json"})
WRITES = ("POST", "PUT", "PATCH", "DELETE")
# The domain's errors a SCIM request can meet; `scim_error_of` translates each.
DOMAIN_ERRORS = (ProvisioningError, ScimUserNotFound, UserNameInUse, RecordChanged)


@dataclass(frozen=True)
class ScimCall:
    """What a SCIM route's answer is given: the request, its path's parameters, and (built on
    first need: the discovery documents never need it) the context its use case runs in."""

    request: GatewayRequest
    path: dict[str, str]
    context: Callable[[], ScimContext]


@dataclass(frozen=True)
class ScimRoute:
    method: str
    path: str
    answer: Callable[[ScimCall], GatewayAnswer]


def authenticate(request: GatewayRequest, ports: Ports, parameters_path: str) -> None:
    """`Unauthorized` unless the request carries the configured bearer token (compared in constant time)."""
    token = ports.config.load().scim.bearer_token
    if token is None:
        parameter = _parameter(parameters_path, SCIM_BEARER_TOKEN)
        logger.error("SCIM refuses every request: no bearer token", extra={"parameter": parameter})
        raise ServerMisconfigured("The SCIM endpoint has no bearer token configured.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Digests of both, so that not even the token's length shows in how long a refusal takes.
    given_digest = hashlib.sha256(given.strip().encode("utf-8", "surrogatepass")).digest()
    expected_digest = hashlib.sha256(token.get_secret_value().encode()).digest()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given_digest, expected_digest):
        raise Unauthorized("Send Authorization: Bearer <token>, with the token configured for the service.")


def scim_context(request: GatewayRequest, context: LambdaClock, ports: Ports, parameters_path: str) -> ScimContext:
    invocation = Invocation.of(context, ports, SCIM_CALLER)
    config = ports.config.load()
    return ScimContext(
        ports=ports,
        settings=parse_scim_settings(config.scim.settings, _parameter(parameters_path, SCIM_SETTINGS)),
        base_url=base_url(request),
        deadline=invocation.deadline,
        busy_seconds=invocation.busy_seconds,
    )


def base_url(request: GatewayRequest) -> str:
    """Where the client addressed the service, up to `/scim/v2`: `meta.location`s point there."""
    scheme = request.headers.get("x-forwarded-proto", "https")
    host = request.headers.get("host") or request.domain_name
    return f"{scheme}://{host}{request.raw_path[: request.raw_path.index(BASE_PATH) + len(BASE_PATH)]}"


def _parameter(parameters_path: str, name: str) -> str:
    return f"{parameters_path.rstrip('/')}/{name}"


def body(request: GatewayRequest) -> object:
    """The JSON body: application/scim+json or plain JSON (or no media type), at most 64 KiB."""
    media_type = request.media_type if request.headers.get("content-type") else SCIM_CONTENT_TYPE
    if media_type not in JSON_MEDIA_TYPES:
        raise UnsupportedMedia(f"Send the body as {SCIM_CONTENT_TYPE}.")
    raw = request.text()
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise TooLarge(f"The body exceeds {MAX_BODY_BYTES} bytes.")
    try:
        document = parse_json(raw)
    except NestedTooDeep:
        raise InvalidSyntax(f"The body nests arrays or objects deeper than {MAX_NESTING_DEPTH} levels.") from None
    except ValueError:
        raise InvalidSyntax("The body is not valid JSON.") from None
    if holds_invalid_text(document):
        raise InvalidSyntax("The body holds text that is not valid Unicode (a lone surrogate).")
    return document


def response_parameters_of(request: GatewayRequest) -> UserResponseParameters:
    return response_parameters(request.query.get("attributes"), request.query.get("excludedAttributes"))


def answer(document: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> GatewayAnswer:
    return GatewayAnswer(status, json.dumps(document), SCIM_CONTENT_TYPE, headers or {})


def error_response(error: Exception) -> GatewayAnswer:
    """Every error a routed request meets, as the SCIM Error document it is answered with."""
    if isinstance(error, ScimError):
        return _scim_error_response(error)
    if isinstance(error, DOMAIN_ERRORS):
        translated = scim_error_of(error)
        if translated is None:
            return _unexpected(error)
        if isinstance(error, ConfigurationError):
            logger.error("SCIM request failed on the configuration", extra={"parameter": error.parameter})
        return _scim_error_response(translated)
    if isinstance(error, UnicodeDecodeError | binascii.Error | ValidationError):
        return _scim_error_response(InvalidSyntax("The body is not valid UTF-8 JSON."))
    return _unexpected(error)


def _scim_error_response(error: ScimError) -> GatewayAnswer:
    status, headers = _reported(error)
    return answer(error_document(error), status, headers)


def _reported(error: ScimError) -> tuple[int, dict[str, str]]:
    """Count and log a refusal; the status and the headers (beyond its media type) it is answered with."""
    status, scim_type = status_and_scim_type(error)
    record_failure(f"scim:{scim_type or status}", error.detail, status=status)
    headers = {}
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="scim"'
    if isinstance(error, TryAgain):
        headers["Retry-After"] = str(error.retry_after)
    return status, headers


def _unexpected(error: Exception) -> GatewayAnswer:
    record_failure(INTERNAL_ERROR, type(error).__name__, status=500)
    return answer(error_document(ServerMisconfigured("The service failed unexpectedly.")), 500)
