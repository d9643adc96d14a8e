"""The HTTP API's routes: each binds a method and path, with what the OpenAPI document says of it,
to one use case run for the signed caller, and its answer to JSON. `answer_request` routes one
request: the route's rules (`queries.py`) first, then its use case; every error a problem answer."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from sip_provisioning.callers.gateway import GatewayAnswer, GatewayRequest, RouteTable
from sip_provisioning.callers.http.answers import (
    absent_credentials,
    error_answer,
    http_caller,
    json_answer,
    username_from_path,
)
from sip_provisioning.callers.http.openapi import (
    ADOPT_ANSWER,
    BODY,
    CHANGE_ANSWER,
    ENDPOINT_PAGE,
    ENDPOINTS,
    FLEET,
    PROFILES,
    UPSTREAM,
    Responses,
)
from sip_provisioning.callers.http.openapi import ok as _ok
from sip_provisioning.callers.http.openapi import problems as _problems
from sip_provisioning.callers.http.queries import (
    DryRunQuery,
    EndpointsQuery,
    NoQuery,
    accepted,
    refuse_inventory_filters,
)
from sip_provisioning.callers.invocation import Invocation, LambdaClock
from sip_provisioning.domain.answers import (
    DeletePreview,
    DryRunResult,
    EndpointCreated,
    EndpointDisabled,
    EndpointView,
    PasswordReset,
    ProfileList,
)
from sip_provisioning.domain.errors import RouteNotFound
from sip_provisioning.domain.records import EndpointStatus
from sip_provisioning.domain.request import AdoptRequest, EndpointChanges, EndpointRequest, PasswordResetRequest
from sip_provisioning.use_cases import create
from sip_provisioning.use_cases.adopt import adopt_endpoint_once, preview_adopt
from sip_provisioning.use_cases.change import change_endpoint_once, preview_change
from sip_provisioning.use_cases.delete import delete_endpoint_once, preview_delete
from sip_provisioning.use_cases.disable import disable_endpoint_once
from sip_provisioning.use_cases.list_endpoints import list_endpoints
from sip_provisioning.use_cases.list_profiles import list_profiles
from sip_provisioning.use_cases.list_unmanaged import list_unmanaged
from sip_provisioning.use_cases.look_up import look_up_endpoint
from sip_provisioning.use_cases.ports import Ports
from sip_provisioning.use_cases.reset_password import reset_password_once

# `{username}` is one path segment, percent-encoded where the username holds `/`, `?`, `#`, `%`...
ENDPOINT_PATH = "/endpoints/{username}"


@dataclass(frozen=True)
class RouteCall:
    """What a route's answer is given: the request's valid parts, and the invocation to run a use case in."""

    invocation: Invocation
    path: dict[str, str]
    query: Any
    body: Any

    @property
    def username(self) -> str:
        return username_from_path(self.path["username"])


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str
    answer: Callable[[RouteCall], GatewayAnswer]
    summary: str
    tags: tuple[str, ...]
    responses: Responses
    description: str | None = None
    query: type[BaseModel] = NoQuery
    body: type[BaseModel] | None = None
    # Takes an `Idempotency-Key`: a repeat gets the first answer again.
    keyed: bool = False


def create_endpoint(call: RouteCall) -> GatewayAnswer:
    given = call.invocation
    if call.query.dry_run:  # never stored: a dry run creates nothing worth replaying
        return json_answer(200, create.preview_endpoint(given.ports, given.caller, call.body))
    created = given.once(create.create_endpoint_once, call.body)
    return json_answer(201, created, exclude=absent_credentials(created))


def get_profiles(call: RouteCall) -> GatewayAnswer:
    return json_answer(200, list_profiles(call.invocation.ports, call.invocation.caller))


def get_endpoints(call: RouteCall) -> GatewayAnswer:
    given, query = call.invocation, call.query
    if query.managed is False:
        refuse_inventory_filters(profile=query.profile, owner=query.owner, status=query.status)
        unmanaged = list_unmanaged(
            given.ports, given.caller, limit=query.limit, cursor=query.cursor, deadline=given.deadline
        )
        return json_answer(200, unmanaged)
    page = list_endpoints(
        given.ports,
        given.caller,
        profile=query.profile,
        owner=query.owner,
        status=EndpointStatus(query.status) if query.status else None,
        limit=query.limit,
        cursor=query.cursor,
    )
    return json_answer(200, page)


def post_adopt(call: RouteCall) -> GatewayAnswer:
    if call.query.dry_run:  # never stored: a dry run adopts nothing worth replaying
        return json_answer(200, call.invocation.run(preview_adopt, call.username, call.body))
    return json_answer(200, call.invocation.once(adopt_endpoint_once, call.username, call.body))


def get_endpoint(call: RouteCall) -> GatewayAnswer:
    return json_answer(200, call.invocation.run(look_up_endpoint, call.username))


def patch_endpoint(call: RouteCall) -> GatewayAnswer:
    if call.query.dry_run:
        return json_answer(200, call.invocation.run(preview_change, call.username, call.body))
    return json_answer(200, call.invocation.once(change_endpoint_once, call.username, call.body))


def post_password(call: RouteCall) -> GatewayAnswer:
    reset = call.invocation.once(reset_password_once, call.username, call.body)
    return json_answer(200, reset, exclude=absent_credentials(reset))


def post_disable(call: RouteCall) -> GatewayAnswer:
    return json_answer(200, call.invocation.once(disable_endpoint_once, call.username))


def delete_endpoint_route(call: RouteCall) -> GatewayAnswer:
    if call.query.dry_run:
        return json_answer(200, call.invocation.run(preview_delete, call.username))
    call.invocation.once(delete_endpoint_once, call.username)
    return GatewayAnswer(204)


ROUTES = (
    HttpRoute(
        "POST",
        "/endpoints",
        create_endpoint,
        summary="Create a SIP endpoint from a self-service request",
        tags=(ENDPOINTS,),
        responses={
            **_ok(201, "Created", EndpointCreated),
            **_ok(200, "Dry run: nothing created", DryRunResult),
            **_problems(*BODY, 403, 409, 500, *UPSTREAM),
        },
        query=DryRunQuery,
        body=EndpointRequest,
        keyed=True,
    ),
    HttpRoute(
        "GET",
        "/profiles",
        get_profiles,
        summary="List the profiles a self-service request can name",
        tags=(PROFILES,),
        responses={**_ok(200, "Profiles, sorted by name", ProfileList), **_problems(500)},
    ),
    HttpRoute(
        "GET",
        "/endpoints",
        get_endpoints,
        summary="List the inventory of endpoints this service created, by username",
        description="With `managed=false`: the endpoints SignalWire holds and the inventory does not (admins only).",
        tags=(ENDPOINTS, FLEET),
        responses={
            **_ok(200, "A page of inventory records; with managed=false, of unmanaged endpoints", ENDPOINT_PAGE),
            **_problems(403, 422, 500, *UPSTREAM),
        },
        query=EndpointsQuery,
    ),
    HttpRoute(
        "POST",
        ENDPOINT_PATH + "/adopt",
        post_adopt,
        summary="Adopt an endpoint made outside the service: an inventory record, SignalWire unchanged (admins)",
        tags=(FLEET,),
        responses={
            **_ok(200, "Adopted, or (dry run) the record it would get", ADOPT_ANSWER),
            **_problems(*BODY, 403, 404, 409, 500, *UPSTREAM),
        },
        query=DryRunQuery,
        body=AdoptRequest,
        keyed=True,
    ),
    HttpRoute(
        "GET",
        ENDPOINT_PATH,
        get_endpoint,
        summary="Look an endpoint up in SignalWire, with its inventory record and drift",
        tags=(ENDPOINTS,),
        responses={**_ok(200, "The endpoint", EndpointView), **_problems(404, 500, *UPSTREAM)},
    ),
    HttpRoute(
        "PATCH",
        ENDPOINT_PATH,
        patch_endpoint,
        summary="Change a managed endpoint; null removes a key (back to the profile's value)",
        tags=(ENDPOINTS,),
        responses={
            **_ok(200, "Changed, or (dry run) each change it would make", CHANGE_ANSWER),
            **_problems(*BODY, 403, 404, 409, 500, *UPSTREAM),
        },
        query=DryRunQuery,
        body=EndpointChanges,
        keyed=True,
    ),
    HttpRoute(
        "POST",
        ENDPOINT_PATH + "/password",
        post_password,
        summary="Give a managed endpoint a new password (generated, or given); enables a disabled one",
        tags=(ENDPOINTS,),
        responses={**_ok(200, "The new password", PasswordReset), **_problems(*BODY, 403, 404, 409, 500, *UPSTREAM)},
        body=PasswordResetRequest,
        keyed=True,
    ),
    HttpRoute(
        "POST",
        ENDPOINT_PATH + "/disable",
        post_disable,
        summary="Disable a managed endpoint: a password nobody is given; a reset enables it again",
        tags=(ENDPOINTS,),
        responses={**_ok(200, "Disabled", EndpointDisabled), **_problems(403, 404, 409, 500, *UPSTREAM)},
        keyed=True,
    ),
    HttpRoute(
        "DELETE",
        ENDPOINT_PATH,
        delete_endpoint_route,
        summary="Delete a managed endpoint; its record stays as the audit trail",
        tags=(ENDPOINTS,),
        responses={
            204: {"description": "Deleted (also when this service had already deleted it)"},
            **_ok(200, "Dry run: what would be deleted", DeletePreview),
            **_problems(403, 404, 409, 500, *UPSTREAM),
        },
        query=DryRunQuery,
        keyed=True,
    ),
)
_TABLE = RouteTable(ROUTES)


def answer_request(request: GatewayRequest, context: LambdaClock, ports: Callable[[], Ports]) -> GatewayAnswer:
    """The answer to one request: its route's answer, or the problem it met."""
    try:
        found = _TABLE.match(request.method, request.path)
        if found is None:
            raise RouteNotFound("No route answers this method and path.")
        route, path = found
        given = accepted(request, route.query, route.body, route.keyed)
        invocation = Invocation.of(context, ports(), http_caller(request), given.key)
        return route.answer(RouteCall(invocation, path, given.query, given.body))
    except Exception as error:
        return error_answer(error, request)
