"""Lambda entry for the HTTP API: routes, the request envelope, and problem+json answers.

Everything below the routes (profiles, payload, SignalWire) lives in the shared layer's
`sip_provisioning` package; this module only translates HTTP to and from it.
"""

import binascii
import os
from functools import cache
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import ValidationException
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseContentModel,
    OpenAPIResponseContentSchema,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, RootModel

from sip_provisioning.callers.problems import PROBLEM_CONTENT_TYPE, problem_for
from sip_provisioning.deadline import ANSWER_MARGIN_SECONDS, Deadline
from sip_provisioning.domain.answers import (
    AdoptPreview,
    DeletePreview,
    DryRunResult,
    EndpointAdopted,
    EndpointChanged,
    EndpointCreated,
    EndpointDisabled,
    EndpointList,
    EndpointView,
    PasswordReset,
    Problem,
    ProfileList,
    UnmanagedEndpointList,
)
from sip_provisioning.domain.documents import MAX_NESTING_DEPTH, NestedTooDeep, parse_json
from sip_provisioning.domain.errors import (
    FieldError,
    MalformedRequest,
    PayloadTooLarge,
    ProvisioningError,
    RequestInvalid,
    RouteNotFound,
    UnsupportedMediaType,
)
from sip_provisioning.domain.records import CreatedVia, EndpointStatus
from sip_provisioning.domain.request import (
    AdoptRequest,
    EndpointChanges,
    EndpointRequest,
    PasswordResetRequest,
    fields_holding_invalid_text,
    holds_invalid_text,
)
from sip_provisioning.observability import logger, metrics, record_failure
from sip_provisioning.settings import RuntimeSettings
from sip_provisioning.use_cases import create
from sip_provisioning.use_cases.adopt import adopt_endpoint_once, preview_adopt
from sip_provisioning.use_cases.change import change_endpoint_once, preview_change
from sip_provisioning.use_cases.delete import delete_endpoint_once, preview_delete
from sip_provisioning.use_cases.disable import disable_endpoint_once
from sip_provisioning.use_cases.list_endpoints import list_endpoints
from sip_provisioning.use_cases.list_profiles import list_profiles
from sip_provisioning.use_cases.list_unmanaged import list_unmanaged
from sip_provisioning.use_cases.look_up import look_up_endpoint
from sip_provisioning.use_cases.ports import Caller, Ports
from sip_provisioning.use_cases.reset_password import reset_password_once
from sip_provisioning.wiring import Wiring, warm_up_during_init

MAX_BODY_BYTES = 16 * 1024
JSON_CONTENT_TYPE = "application/json"
ListedStatus = Literal["active", "disabled", "deleted"]


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == JSON_CONTENT_TYPE


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if holds_invalid_text(key):  # never echoed: it cannot be written back as text
            raise MalformedRequest("The body holds a key that is not valid Unicode text (a lone surrogate).")
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
        document = parse_json(body, object_pairs_hook=_reject_duplicate_keys)
    except NestedTooDeep:
        raise MalformedRequest(f"The body nests arrays or objects deeper than {MAX_NESTING_DEPTH} levels.") from None
    except ValueError:
        raise MalformedRequest("The body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise MalformedRequest("The body must be a JSON object.")
    invalid = [FieldError(field=field, message=NOT_UNICODE) for field in fields_holding_invalid_text(document)]
    if invalid:
        raise RequestInvalid(invalid)
    return document


NOT_UNICODE = "not valid Unicode text (it holds a lone surrogate)"


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
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="1 to 255 visible ASCII characters. A repeat within 24 h gets the first answer again.",
    ),
]
DryRun = Annotated[bool, Query(description="Show what would change; change nothing.")]
# `{username}` is one path segment, percent-encoded where the username holds `/`, `?`, `#`, `%`...
ENDPOINT_PATH = "/endpoints/<username>"


@cache
def wiring() -> Wiring:
    """Built on first use, then reused by every warm invocation of this container."""
    return Wiring(RuntimeSettings.from_environ(os.environ))


def _ports() -> Ports:
    return wiring().ports


def _deadline() -> Deadline:
    return Deadline.before_timeout(app.lambda_context.get_remaining_time_in_millis())


def _caller() -> Caller:
    iam = app.current_event.request_context.authorizer.iam
    return Caller(identity=iam.user_arn or iam.caller_id or "anonymous", via=CreatedVia.HTTP)


def _busy_seconds(deadline: Deadline) -> float:
    """How long this invocation may hold an Idempotency-Key before a retry may take it over."""
    return deadline.remaining() + ANSWER_MARGIN_SECONDS


def _username(segment: str) -> str:
    return unquote(segment, errors="strict")


def _absent_credentials(answer: BaseModel) -> set[str]:
    """A password, or where it was delivered, appears only when there is one; the endpoint
    object keeps SignalWire's nulls."""
    return {name for name in ("password", "password_secret_arn") if getattr(answer, name) is None}


def _json_response(status: int, model: BaseModel, **dump_options: Any) -> Response[str]:
    return Response(status_code=status, content_type=JSON_CONTENT_TYPE, body=model.model_dump_json(**dump_options))


def _problems(*statuses: int) -> dict[int, OpenAPIResponse]:
    return {status: {"description": STATUS_DESCRIPTIONS[status], "content": _PROBLEM_CONTENT} for status in statuses}


def _ok(status: int, description: str, model: type[BaseModel]) -> dict[int, OpenAPIResponse]:
    return {status: {"description": description, "content": {JSON_CONTENT_TYPE: {"model": model}}}}


STATUS_DESCRIPTIONS = {
    400: "Malformed request",
    403: "Forbidden by a policy",
    404: "Endpoint not found",
    409: "Username taken, endpoint not managed or already managed, or idempotent request in progress",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation error, or idempotency key reused",
    500: "Configuration or internal error",
    502: "SignalWire error",
    503: "SignalWire unavailable",
    504: "SignalWire timeout",
}
UPSTREAM = (502, 503, 504)
BODY = (400, 413, 415, 422)


class EndpointPage(RootModel[EndpointList | UnmanagedEndpointList]):
    """`GET /endpoints`: the inventory's records, or with `managed=false` the unmanaged endpoints."""


class AdoptAnswer(RootModel[EndpointAdopted | AdoptPreview]):
    """`POST /endpoints/{username}/adopt`: the adopted endpoint, or with `dry_run` what would be recorded."""


UNMANAGED_QUERY = (
    "false: the endpoints SignalWire holds and the inventory does not (admins only; with limit and cursor, "
    "never with profile, owner or status). true or absent: the inventory."
)


def _refuse_inventory_filters(**filters: str | None) -> None:
    """The inventory's filters mean nothing for endpoints it does not hold: given, they are a 422."""
    given = [name for name, value in filters.items() if value is not None]
    if given:
        raise RequestInvalid(
            [FieldError(field=name, message="not combinable with managed=false") for name in given],
            detail="The inventory's filters do not apply to endpoints it does not hold.",
        )


@app.post(
    "/endpoints",
    summary="Create a SIP endpoint from a self-service request",
    responses={
        **_ok(201, "Created", EndpointCreated),
        **_ok(200, "Dry run: nothing created", DryRunResult),
        **_problems(*BODY, 403, 409, 500, *UPSTREAM),
    },
)
def create_endpoint(
    request: Annotated[EndpointRequest, Body()], dry_run: DryRun = False, idempotency_key: IdempotencyKey = None
) -> Response[str]:
    ports = _ports()
    if dry_run:  # never stored: a dry run creates nothing worth replaying
        return _json_response(200, create.preview_endpoint(ports, _caller(), request))
    deadline = _deadline()
    created = create.create_endpoint_once(
        ports, _caller(), request, deadline, key=idempotency_key, busy_seconds=_busy_seconds(deadline)
    )
    return _json_response(201, created, exclude=_absent_credentials(created))


@app.get(
    "/profiles",
    summary="List the profiles a self-service request can name",
    responses={**_ok(200, "Profiles, sorted by name", ProfileList), **_problems(500)},
)
def get_profiles() -> Response[str]:
    return _json_response(200, list_profiles(_ports(), _caller()))


@app.get(
    "/endpoints",
    summary="List the inventory of endpoints this service created, by username",
    responses={
        **_ok(200, "A page of inventory records; with managed=false, of unmanaged endpoints", EndpointPage),
        **_problems(403, 422, 500, *UPSTREAM),
    },
)
def get_endpoints(
    managed: Annotated[bool | None, Query(description=UNMANAGED_QUERY)] = None,
    profile: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    owner: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    status: Annotated[ListedStatus | None, Query(description="Default: every status but deleted.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=2048,
            description="A page's `next_cursor`, for this caller and the same filters (any other is a 422).",
        ),
    ] = None,
) -> Response[str]:
    if managed is False:
        _refuse_inventory_filters(profile=profile, owner=owner, status=status)
        return _json_response(
            200, list_unmanaged(_ports(), _caller(), limit=limit, cursor=cursor, deadline=_deadline())
        )
    page = list_endpoints(
        _ports(),
        _caller(),
        profile=profile,
        owner=owner,
        status=EndpointStatus(status) if status else None,
        limit=limit,
        cursor=cursor,
    )
    return _json_response(200, page)


@app.post(
    ENDPOINT_PATH + "/adopt",
    summary="Adopt an endpoint made outside the service: an inventory record, SignalWire unchanged (admins)",
    responses={
        **_ok(200, "Adopted, or (dry run) the record it would get", AdoptAnswer),
        **_problems(*BODY, 403, 404, 409, 500, *UPSTREAM),
    },
)
def post_adopt(
    username: str,
    request: Annotated[AdoptRequest, Body()],
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
) -> Response[str]:
    ports, name, deadline = _ports(), _username(username), _deadline()
    if dry_run:  # never stored: a dry run adopts nothing worth replaying
        return _json_response(200, preview_adopt(ports, _caller(), name, request, deadline))
    adopted = adopt_endpoint_once(
        ports, _caller(), name, request, deadline, key=idempotency_key, busy_seconds=_busy_seconds(deadline)
    )
    return _json_response(200, adopted)


@app.get(
    ENDPOINT_PATH,
    summary="Look an endpoint up in SignalWire, with its inventory record and drift",
    responses={**_ok(200, "The endpoint", EndpointView), **_problems(404, 500, *UPSTREAM)},
)
def get_endpoint(username: str) -> Response[str]:
    return _json_response(200, look_up_endpoint(_ports(), _caller(), _username(username), _deadline()))


@app.patch(
    ENDPOINT_PATH,
    summary="Change a managed endpoint; null removes a key (back to the profile's value)",
    responses={
        **_ok(200, "Changed, or (dry run) what would change", EndpointChanged),
        **_problems(*BODY, 403, 404, 409, 500, *UPSTREAM),
    },
)
def patch_endpoint(
    username: str,
    changes: Annotated[EndpointChanges, Body()],
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
) -> Response[str]:
    ports, name, deadline = _ports(), _username(username), _deadline()
    if dry_run:
        return _json_response(200, preview_change(ports, _caller(), name, changes, deadline))
    changed = change_endpoint_once(
        ports, _caller(), name, changes, deadline, key=idempotency_key, busy_seconds=_busy_seconds(deadline)
    )
    return _json_response(200, changed)


@app.post(
    ENDPOINT_PATH + "/password",
    summary="Give a managed endpoint a new password (generated, or given); enables a disabled one",
    responses={**_ok(200, "The new password", PasswordReset), **_problems(*BODY, 403, 404, 409, 500, *UPSTREAM)},
)
def post_password(
    username: str, request: Annotated[PasswordResetRequest, Body()], idempotency_key: IdempotencyKey = None
) -> Response[str]:
    ports, name, deadline = _ports(), _username(username), _deadline()
    reset = reset_password_once(
        ports, _caller(), name, request, deadline, key=idempotency_key, busy_seconds=_busy_seconds(deadline)
    )
    return _json_response(200, reset, exclude=_absent_credentials(reset))


@app.post(
    ENDPOINT_PATH + "/disable",
    summary="Disable a managed endpoint: a password nobody is given; a reset enables it again",
    responses={**_ok(200, "Disabled", EndpointDisabled), **_problems(403, 404, 409, 500, *UPSTREAM)},
)
def post_disable(username: str, idempotency_key: IdempotencyKey = None) -> Response[str]:
    ports, name, deadline = _ports(), _username(username), _deadline()
    disabled = disable_endpoint_once(
        ports, _caller(), name, deadline, key=idempotency_key, busy_seconds=_busy_seconds(deadline)
    )
    return _json_response(200, disabled)


@app.delete(
    ENDPOINT_PATH,
    summary="Delete a managed endpoint; its record stays as the audit trail",
    responses={
        204: {"description": "Deleted (also when this service had already deleted it)"},
        **_ok(200, "Dry run: what would be deleted", DeletePreview),
        **_problems(403, 404, 409, 500, *UPSTREAM),
    },
)
def delete_endpoint_route(
    username: str, dry_run: DryRun = False, idempotency_key: IdempotencyKey = None
) -> Response[str]:
    ports, name, deadline = _ports(), _username(username), _deadline()
    if dry_run:
        return _json_response(200, preview_delete(ports, _caller(), name, deadline))
    delete_endpoint_once(ports, _caller(), name, deadline, key=idempotency_key, busy_seconds=_busy_seconds(deadline))
    return Response(status_code=204, body="")


def refuse_unknown_query_parameters(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[str]:
    """Any query parameter a route does not take is a 422 naming it: a misspelled `dryRun` must
    never create."""
    route = app.context.get("_route")
    if route is not None and not route.include_in_schema:  # Powertools' own Swagger UI (make run only)
        return next_middleware(app)
    known = {field.alias for field in route.dependant.query_params} if route is not None else set()
    unknown = sorted(set(app.current_event.query_string_parameters or {}) - known)
    if unknown:
        return problem_response(
            RequestInvalid(
                [FieldError(field=name[:64], message="unknown query parameter") for name in unknown],
                detail="The request names query parameters this route does not take.",
            )
        )
    return next_middleware(app)


app.use(middlewares=[refuse_unknown_query_parameters])


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
    details = list(error.errors())
    body_error = any(tuple(detail.get("loc", ()))[:1] == ("body",) for detail in details)
    if body_error and not _is_json(app.current_event.headers.get("content-type")):
        return problem_response(UnsupportedMediaType("Send the body as application/json."))
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


warm_up_during_init(wiring, os.environ)
