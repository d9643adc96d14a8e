"""SCIM over HTTP: the bearer token, the body (media type, size, JSON), the base URL the client
addressed, the response parameters, and every refusal as a SCIM Error document, in one table."""

import hashlib
import hmac
import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from sip_provisioning.callers.invocation import Invocation
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
WRITES = ["POST", "PUT", "PATCH", "DELETE"]
# The domain's errors a SCIM request can meet; `scim_error_of` translates each.
DOMAIN_ERRORS = (ProvisioningError, ScimUserNotFound, UserNameInUse, RecordChanged)


def authenticate(event: APIGatewayProxyEventV2, ports: Ports, parameters_path: str) -> None:
    """`Unauthorized` unless the request carries the configured bearer token (compared in constant time)."""
    token = ports.config.load().scim.bearer_token
    if token is None:
        parameter = _parameter(parameters_path, SCIM_BEARER_TOKEN)
        logger.error("SCIM refuses every request: no bearer token", extra={"parameter": parameter})
        raise ServerMisconfigured("The SCIM endpoint has no bearer token configured.")
    scheme, _, given = (event.headers or {}).get("authorization", "").partition(" ")
    # Digests of both, so that not even the token's length shows in how long a refusal takes.
    given_digest = hashlib.sha256(given.strip().encode("utf-8", "surrogatepass")).digest()
    expected_digest = hashlib.sha256(token.get_secret_value().encode()).digest()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given_digest, expected_digest):
        raise Unauthorized("Send Authorization: Bearer <token>, with the token configured for the service.")


def scim_context(
    event: APIGatewayProxyEventV2, context: LambdaContext, ports: Ports, parameters_path: str
) -> ScimContext:
    invocation = Invocation.of(context, ports, SCIM_CALLER)
    config = ports.config.load()
    return ScimContext(
        ports=ports,
        settings=parse_scim_settings(config.scim.settings, _parameter(parameters_path, SCIM_SETTINGS)),
        base_url=base_url(event),
        deadline=invocation.deadline,
        busy_seconds=invocation.busy_seconds,
    )


def base_url(event: APIGatewayProxyEventV2) -> str:
    """Where the client addressed the service, up to `/scim/v2`: `meta.location`s point there."""
    headers = event.headers or {}
    scheme = headers.get("x-forwarded-proto", "https")
    host = headers.get("host") or event.request_context.domain_name
    return f"{scheme}://{host}{event.raw_path[: event.raw_path.index(BASE_PATH) + len(BASE_PATH)]}"


def _parameter(parameters_path: str, name: str) -> str:
    return f"{parameters_path.rstrip('/')}/{name}"


def body(event: APIGatewayProxyEventV2) -> object:
    """The JSON body: application/scim+json or plain JSON (or no media type), at most 64 KiB."""
    media_type = (event.headers.get("content-type") or SCIM_CONTENT_TYPE).split(";", 1)[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES:
        raise UnsupportedMedia(f"Send the body as {SCIM_CONTENT_TYPE}.")
    raw = event.decoded_body or ""
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


def response_parameters_of(event: APIGatewayProxyEventV2) -> UserResponseParameters:
    query = event.query_string_parameters or {}
    return response_parameters(query.get("attributes"), query.get("excludedAttributes"))


def answer(document: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type=SCIM_CONTENT_TYPE, body=json.dumps(document), headers=headers)


def error_response(error: Exception) -> Response[str]:
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
    if isinstance(error, UnicodeDecodeError | ValidationError):
        return _scim_error_response(InvalidSyntax("The body is not valid UTF-8 JSON."))
    return _unexpected(error)


def refusal(error: ScimError) -> dict[str, Any]:
    """A request refused before it is routed: no route has run, so the answer is built here."""
    status, headers = _reported(error)
    return {
        "statusCode": status,
        "headers": {"Content-Type": SCIM_CONTENT_TYPE, **headers},
        "body": json.dumps(error_document(error)),
    }


def _scim_error_response(error: ScimError) -> Response[str]:
    status, headers = _reported(error)
    return answer(error_document(error), status, headers or None)


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


def _unexpected(error: Exception) -> Response[str]:
    record_failure(INTERNAL_ERROR, type(error).__name__, status=500)
    return answer(error_document(ServerMisconfigured("The service failed unexpectedly.")), 500)
