"""Lambda entry for SCIM 2.0, `ANY /scim/v2/{proxy+}` (CONTRACT.md section 8).

Identity providers cannot sign with SigV4, so this route has no IAM authorizer: every request
must carry `Authorization: Bearer <token>` matching `<prefix>/scim/bearer_token` (compared in
constant time) before anything else is read; otherwise it is answered 401 and nothing happens.
The routes translate HTTP to the SCIM caller (`sip_provisioning.callers.scim`) and its answers,
and every refusal to a SCIM Error document; nothing else happens here.
"""

import hashlib
import hmac
import json
import os
from functools import cache
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from sip_provisioning.callers.scim import users
from sip_provisioning.callers.scim.errors import (
    InvalidSyntax,
    MethodNotAllowed,
    NotSupported,
    ResourceNotFound,
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
    resource_type_document,
    resource_types_document,
    response_parameters,
    schema_document,
    schemas_document,
    service_provider_config_document,
)
from sip_provisioning.callers.scim.settings import parse_scim_settings
from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.documents import MAX_NESTING_DEPTH, NestedTooDeep, parse_json
from sip_provisioning.domain.errors import ConfigurationError, ProvisioningError
from sip_provisioning.domain.profile import SCIM_BEARER_TOKEN, SCIM_SETTINGS
from sip_provisioning.domain.records import RecordChanged
from sip_provisioning.domain.request import holds_invalid_text
from sip_provisioning.domain.scim_users import ScimUserNotFound, UserNameInUse
from sip_provisioning.observability import INTERNAL_ERROR, logger, metrics, record_failure
from sip_provisioning.settings import RuntimeSettings
from sip_provisioning.wiring import Wiring, warm_up_during_init

BASE_PATH = "/scim/v2"
MAX_BODY_BYTES = 64 * 1024
JSON_MEDIA_TYPES = frozenset({SCIM_CONTENT_TYPE, "application/json"})
WRITES = ["POST", "PUT", "PATCH", "DELETE"]

app = APIGatewayHttpResolver(strip_prefixes=[BASE_PATH])


@cache
def settings() -> RuntimeSettings:
    return RuntimeSettings.from_environ(os.environ)


@cache
def wiring() -> Wiring:
    """Built on first use, then reused by every warm invocation of this container."""
    return Wiring(settings())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        _authenticate(APIGatewayProxyEventV2(event))
    except ScimError as refusal:
        return _refusal(refusal)
    return app.resolve(event, context)


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


def _refusal(error: ScimError) -> dict[str, Any]:
    """A request refused before it is routed: no route has run, so the answer is built here."""
    status, headers = _reported(error)
    return {
        "statusCode": status,
        "headers": {"Content-Type": SCIM_CONTENT_TYPE, **headers},
        "body": json.dumps(error_document(error)),
    }


def _authenticate(event: APIGatewayProxyEventV2) -> None:
    token = wiring().ports.config.load().scim.bearer_token
    if token is None:
        logger.error("SCIM refuses every request: no bearer token", extra={"parameter": _parameter(SCIM_BEARER_TOKEN)})
        raise ServerMisconfigured("The SCIM endpoint has no bearer token configured.")
    scheme, _, given = (event.headers or {}).get("authorization", "").partition(" ")
    # Digests of both, so that not even the token's length shows in how long a refusal takes.
    given_digest = hashlib.sha256(given.strip().encode("utf-8", "surrogatepass")).digest()
    expected_digest = hashlib.sha256(token.get_secret_value().encode()).digest()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given_digest, expected_digest):
        raise Unauthorized("Send Authorization: Bearer <token>, with the token configured for the service.")


def _context() -> users.ScimContext:
    ports = wiring().ports
    config = ports.config.load()
    remaining_ms = app.lambda_context.get_remaining_time_in_millis()
    return users.ScimContext(
        ports=ports,
        settings=parse_scim_settings(config.scim.settings, _parameter(SCIM_SETTINGS)),
        base_url=_base(),
        deadline=Deadline.before_timeout(remaining_ms),
        busy_seconds=remaining_ms / 1000,
    )


def _base_url(event: APIGatewayProxyEventV2) -> str:
    """Where the client addressed the service, up to `/scim/v2`: `meta.location`s point there."""
    headers = event.headers or {}
    scheme = headers.get("x-forwarded-proto", "https")
    host = headers.get("host") or event.request_context.domain_name
    return f"{scheme}://{host}{event.raw_path[: event.raw_path.index(BASE_PATH) + len(BASE_PATH)]}"


def _parameter(name: str) -> str:
    return f"{settings().parameters_path.rstrip('/')}/{name}"


def _body() -> object:
    """The JSON body: application/scim+json or plain JSON (or no media type), at most 64 KiB."""
    event = app.current_event
    media_type = (event.headers.get("content-type") or SCIM_CONTENT_TYPE).split(";", 1)[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES:
        raise UnsupportedMedia(f"Send the body as {SCIM_CONTENT_TYPE}.")
    raw = event.decoded_body or ""
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise TooLarge(f"The body exceeds {MAX_BODY_BYTES} bytes.")
    try:
        body = parse_json(raw)
    except NestedTooDeep:
        raise InvalidSyntax(f"The body nests arrays or objects deeper than {MAX_NESTING_DEPTH} levels.") from None
    except ValueError:
        raise InvalidSyntax("The body is not valid JSON.") from None
    if holds_invalid_text(body):
        raise InvalidSyntax("The body holds text that is not valid Unicode (a lone surrogate).")
    return body


def _response_parameters() -> UserResponseParameters:
    query = app.current_event.query_string_parameters or {}
    return response_parameters(query.get("attributes"), query.get("excludedAttributes"))


def _answer(document: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type=SCIM_CONTENT_TYPE, body=json.dumps(document), headers=headers)


def _base() -> str:
    return _base_url(app.current_event)


@app.get("/ServiceProviderConfig")
def get_service_provider_config() -> Response[str]:
    return _answer(service_provider_config_document())


@app.get("/ResourceTypes")
def get_resource_types() -> Response[str]:
    return _answer(resource_types_document(_base()))


@app.get("/ResourceTypes/<name>")
def get_resource_type(name: str) -> Response[str]:
    return _answer(resource_type_document(unquote(name), _base()))


@app.get("/Schemas")
def get_schemas() -> Response[str]:
    return _answer(schemas_document(_base()))


@app.get("/Schemas/<schema_id>")
def get_schema(schema_id: str) -> Response[str]:
    return _answer(schema_document(unquote(schema_id), _base()))


@app.route("/ServiceProviderConfig", method=WRITES)
@app.route("/ResourceTypes", method=WRITES)
@app.route("/ResourceTypes/<name>", method=WRITES)
@app.route("/Schemas", method=WRITES)
@app.route("/Schemas/<schema_id>", method=WRITES)
def refuse_discovery_write(**_: str) -> Response[str]:
    raise MethodNotAllowed("The discovery documents are read-only.")


@app.post("/.search")
@app.post("/Users/.search")
def refuse_search() -> Response[str]:
    raise NotSupported("POST /.search is not supported; send GET /Users?filter=... instead.")


@app.get("/Users")
def list_users() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    return _answer(
        users.list_users(
            _context(),
            filter_text=query.get("filter"),
            start_index=query.get("startIndex"),
            count=query.get("count"),
            parameters=_response_parameters(),
        )
    )


@app.post("/Users")
def post_user() -> Response[str]:
    document = users.create_user(_context(), _body())
    return _answer(document, 201, {"Location": document["meta"]["location"]})


@app.get("/Users/<scim_id>")
def get_user(scim_id: str) -> Response[str]:
    return _answer(users.get_user(_context(), unquote(scim_id), _response_parameters()))


@app.put("/Users/<scim_id>")
def put_user(scim_id: str) -> Response[str]:
    return _answer(users.replace_user(_context(), unquote(scim_id), _body()))


@app.patch("/Users/<scim_id>")
def patch_user(scim_id: str) -> Response[str]:
    return _answer(users.patch_user(_context(), unquote(scim_id), _body()))


@app.delete("/Users/<scim_id>")
def delete_user(scim_id: str) -> Response[str]:
    users.delete_user(_context(), unquote(scim_id))
    return Response(status_code=204, body="")


def _error_response(error: ScimError) -> Response[str]:
    status, headers = _reported(error)
    return _answer(error_document(error), status, headers or None)


@app.exception_handler(ScimError)
def answer_scim_error(error: ScimError) -> Response[str]:
    return _error_response(error)


@app.exception_handler([ProvisioningError, ScimUserNotFound, UserNameInUse, RecordChanged])
def answer_domain_error(error: Exception) -> Response[str]:
    translated = scim_error_of(error)
    if translated is None:
        return _unexpected(error)
    if isinstance(error, ConfigurationError):
        logger.error("SCIM request failed on the configuration", extra={"parameter": error.parameter})
    return _error_response(translated)


@app.exception_handler([UnicodeDecodeError, ValidationError])
def answer_unreadable_body(_: Exception) -> Response[str]:
    return _error_response(InvalidSyntax("The body is not valid UTF-8 JSON."))


@app.exception_handler(Exception)
def answer_unexpected_error(error: Exception) -> Response[str]:
    return _unexpected(error)


def _unexpected(error: Exception) -> Response[str]:
    record_failure(INTERNAL_ERROR, type(error).__name__, status=500)
    return _answer(error_document(ServerMisconfigured("The service failed unexpectedly.")), 500)


@app.not_found
def answer_not_found(_: Exception) -> Response[str]:
    return _error_response(ResourceNotFound("No SCIM resource answers this method and path."))


warm_up_during_init(wiring, os.environ)
