"""The HTTP API's routes: each binds a method and path, with what the OpenAPI document says of it,
to one use case run for the signed caller, and its answer to JSON.

`add_routes` declares them on the resolver it is given (each Lambda container, or each simulated
one of `make reliability`, has its own) and reads the ports through `ports`, built by the entry's
wiring on first use."""

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from sip_provisioning.callers.http.answers import absent_credentials, http_caller, json_response, username_from_path
from sip_provisioning.callers.http.openapi import (
    BODY,
    ENDPOINT_PATH,
    ENDPOINTS,
    FLEET,
    PROFILES,
    UNMANAGED_QUERY,
    UPSTREAM,
    AdoptAnswer,
    ChangeAnswer,
    DryRun,
    EndpointPage,
    IdempotencyKey,
    ListedStatus,
)
from sip_provisioning.callers.http.openapi import ok as _ok
from sip_provisioning.callers.http.openapi import problems as _problems
from sip_provisioning.callers.http.queries import refuse_inventory_filters
from sip_provisioning.callers.invocation import Invocation
from sip_provisioning.domain.answers import (
    DeletePreview,
    DryRunResult,
    EndpointCreated,
    EndpointDisabled,
    EndpointView,
    PasswordReset,
    ProfileList,
)
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


def add_routes(app: APIGatewayHttpResolver, ports: Callable[[], Ports]) -> None:
    def _invocation(key: str | None = None) -> Invocation:
        return Invocation.of(app.lambda_context, ports(), http_caller(app.current_event), key)

    @app.post(
        "/endpoints",
        summary="Create a SIP endpoint from a self-service request",
        tags=[ENDPOINTS],
        responses={
            **_ok(201, "Created", EndpointCreated),
            **_ok(200, "Dry run: nothing created", DryRunResult),
            **_problems(*BODY, 403, 409, 500, *UPSTREAM),
        },
    )
    def create_endpoint(
        request: Annotated[EndpointRequest, Body()], dry_run: DryRun = False, idempotency_key: IdempotencyKey = None
    ) -> Response[str]:
        if dry_run:  # never stored: a dry run creates nothing worth replaying
            return json_response(200, create.preview_endpoint(ports(), http_caller(app.current_event), request))
        created = _invocation(idempotency_key).once(create.create_endpoint_once, request)
        return json_response(201, created, exclude=absent_credentials(created))

    @app.get(
        "/profiles",
        summary="List the profiles a self-service request can name",
        tags=[PROFILES],
        responses={**_ok(200, "Profiles, sorted by name", ProfileList), **_problems(500)},
    )
    def get_profiles() -> Response[str]:
        return json_response(200, list_profiles(ports(), http_caller(app.current_event)))

    @app.get(
        "/endpoints",
        summary="List the inventory of endpoints this service created, by username",
        description="With `managed=false`: the endpoints SignalWire holds and the inventory does not (admins only).",
        tags=[ENDPOINTS, FLEET],
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
        given = _invocation()
        if managed is False:
            refuse_inventory_filters(profile=profile, owner=owner, status=status)
            unmanaged = list_unmanaged(given.ports, given.caller, limit=limit, cursor=cursor, deadline=given.deadline)
            return json_response(200, unmanaged)
        status_wanted = EndpointStatus(status) if status else None
        page = list_endpoints(
            given.ports, given.caller, profile=profile, owner=owner, status=status_wanted, limit=limit, cursor=cursor
        )
        return json_response(200, page)

    @app.post(
        ENDPOINT_PATH + "/adopt",
        summary="Adopt an endpoint made outside the service: an inventory record, SignalWire unchanged (admins)",
        tags=[FLEET],
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
        given, name = _invocation(idempotency_key), username_from_path(username)
        if dry_run:  # never stored: a dry run adopts nothing worth replaying
            return json_response(200, given.run(preview_adopt, name, request))
        return json_response(200, given.once(adopt_endpoint_once, name, request))

    @app.get(
        ENDPOINT_PATH,
        summary="Look an endpoint up in SignalWire, with its inventory record and drift",
        tags=[ENDPOINTS],
        responses={**_ok(200, "The endpoint", EndpointView), **_problems(404, 500, *UPSTREAM)},
    )
    def get_endpoint(username: str) -> Response[str]:
        return json_response(200, _invocation().run(look_up_endpoint, username_from_path(username)))

    @app.patch(
        ENDPOINT_PATH,
        summary="Change a managed endpoint; null removes a key (back to the profile's value)",
        tags=[ENDPOINTS],
        responses={
            **_ok(200, "Changed, or (dry run) each change it would make", ChangeAnswer),
            **_problems(*BODY, 403, 404, 409, 500, *UPSTREAM),
        },
    )
    def patch_endpoint(
        username: str,
        changes: Annotated[EndpointChanges, Body()],
        dry_run: DryRun = False,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[str]:
        given, name = _invocation(idempotency_key), username_from_path(username)
        if dry_run:
            return json_response(200, given.run(preview_change, name, changes))
        return json_response(200, given.once(change_endpoint_once, name, changes))

    @app.post(
        ENDPOINT_PATH + "/password",
        summary="Give a managed endpoint a new password (generated, or given); enables a disabled one",
        tags=[ENDPOINTS],
        responses={**_ok(200, "The new password", PasswordReset), **_problems(*BODY, 403, 404, 409, 500, *UPSTREAM)},
    )
    def post_password(
        username: str, request: Annotated[PasswordResetRequest, Body()], idempotency_key: IdempotencyKey = None
    ) -> Response[str]:
        reset = _invocation(idempotency_key).once(reset_password_once, username_from_path(username), request)
        return json_response(200, reset, exclude=absent_credentials(reset))

    @app.post(
        ENDPOINT_PATH + "/disable",
        summary="Disable a managed endpoint: a password nobody is given; a reset enables it again",
        tags=[ENDPOINTS],
        responses={**_ok(200, "Disabled", EndpointDisabled), **_problems(403, 404, 409, 500, *UPSTREAM)},
    )
    def post_disable(username: str, idempotency_key: IdempotencyKey = None) -> Response[str]:
        return json_response(
            200, _invocation(idempotency_key).once(disable_endpoint_once, username_from_path(username))
        )

    @app.delete(
        ENDPOINT_PATH,
        summary="Delete a managed endpoint; its record stays as the audit trail",
        tags=[ENDPOINTS],
        responses={
            204: {"description": "Deleted (also when this service had already deleted it)"},
            **_ok(200, "Dry run: what would be deleted", DeletePreview),
            **_problems(403, 404, 409, 500, *UPSTREAM),
        },
    )
    def delete_endpoint_route(
        username: str, dry_run: DryRun = False, idempotency_key: IdempotencyKey = None
    ) -> Response[str]:
        given, name = _invocation(idempotency_key), username_from_path(username)
        if dry_run:
            return json_response(200, given.run(preview_delete, name))
        given.once(delete_endpoint_once, name)
        return Response(status_code=204, body="")
