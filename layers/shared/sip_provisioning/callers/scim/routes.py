"""SCIM's routes below `/scim/v2`: the Users resource and the discovery documents. `answer_scim_request`
answers one request: its bearer token first (nothing else is read without it), then its route;
every refusal a SCIM Error document."""

from collections.abc import Callable
from urllib.parse import unquote

from sip_provisioning.callers.gateway import GatewayAnswer, GatewayRequest, RouteTable
from sip_provisioning.callers.invocation import LambdaClock
from sip_provisioning.callers.scim import users
from sip_provisioning.callers.scim.discovery import DISCOVERY_ROUTES
from sip_provisioning.callers.scim.errors import ResourceNotFound
from sip_provisioning.callers.scim.http import (
    ScimCall,
    ScimRoute,
    answer,
    authenticate,
    body,
    error_response,
    response_parameters_of,
    scim_context,
)
from sip_provisioning.use_cases.ports import Ports


def list_users(call: ScimCall) -> GatewayAnswer:
    query = call.request.query
    return answer(
        users.list_users(
            call.context(),
            filter_text=query.get("filter"),
            start_index=query.get("startIndex"),
            count=query.get("count"),
            parameters=response_parameters_of(call.request),
        )
    )


def post_user(call: ScimCall) -> GatewayAnswer:
    document = users.create_user(call.context(), body(call.request))
    return answer(document, 201, {"Location": document["meta"]["location"]})


def get_user(call: ScimCall) -> GatewayAnswer:
    return answer(users.get_user(call.context(), _scim_id(call), response_parameters_of(call.request)))


def put_user(call: ScimCall) -> GatewayAnswer:
    return answer(users.replace_user(call.context(), _scim_id(call), body(call.request)))


def patch_user(call: ScimCall) -> GatewayAnswer:
    return answer(users.patch_user(call.context(), _scim_id(call), body(call.request)))


def delete_user(call: ScimCall) -> GatewayAnswer:
    users.delete_user(call.context(), _scim_id(call))
    return GatewayAnswer(204)


def _scim_id(call: ScimCall) -> str:
    return unquote(call.path["scim_id"])


_TABLE = RouteTable(
    (
        *DISCOVERY_ROUTES,
        ScimRoute("GET", "/Users", list_users),
        ScimRoute("POST", "/Users", post_user),
        ScimRoute("GET", "/Users/{scim_id}", get_user),
        ScimRoute("PUT", "/Users/{scim_id}", put_user),
        ScimRoute("PATCH", "/Users/{scim_id}", patch_user),
        ScimRoute("DELETE", "/Users/{scim_id}", delete_user),
    )
)


def answer_scim_request(
    request: GatewayRequest, context: LambdaClock, ports: Callable[[], Ports], parameters_path: str
) -> GatewayAnswer:
    """The answer to one request below `/scim/v2` (`request.path` is what follows it)."""
    try:
        authenticate(request, ports(), parameters_path)
        found = _TABLE.match(request.method, request.path)
        if found is None:
            raise ResourceNotFound("No SCIM resource answers this method and path.")
        route, path = found
        return route.answer(ScimCall(request, path, lambda: scim_context(request, context, ports(), parameters_path)))
    except Exception as error:
        return error_response(error)
