"""Adopt: take an endpoint made outside the service into its inventory, changing nothing in
SignalWire (CONTRACT.md section 9).

The record's request keeps the profile, the owner and what a profile cannot know, the
endpoint's own `caller_id` and `send_as`; everything else is the profile's, so the endpoint's
drift is then what differs from its profile, as for any managed endpoint. Its password is
unknown and delivered nowhere: a reset gives it one the service delivers.

The record is written conditionally on what was read, so of two adopts of one username (or an
adopt and a create) only one wins; the other is `endpoint-already-managed`.
"""

import time
from dataclasses import dataclass

import pydantic
from aws_lambda_powertools.metrics import MetricUnit

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.answers import AdoptPreview, EndpointAdopted
from sip_provisioning.domain.drift import Drift, drift_of
from sip_provisioning.domain.errors import (
    EndpointAlreadyManaged,
    EndpointNotFound,
    FieldError,
    Forbidden,
    RequestInvalid,
    UnknownProfile,
)
from sip_provisioning.domain.passwords import generate_password
from sip_provisioning.domain.payload import build_create_payload, sip_uri
from sip_provisioning.domain.policy import is_admin
from sip_provisioning.domain.records import CreatedVia, EndpointStatus, InventoryRecord, RecordChanged
from sip_provisioning.domain.request import AdoptRequest, EndpointRequest
from sip_provisioning.domain.signalwire import SipEndpoint, Username
from sip_provisioning.observability import logger, metrics
from sip_provisioning.use_cases.create import stored_request
from sip_provisioning.use_cases.ports import Caller, Inventory, Ports, SignalWire, now_iso
from sip_provisioning.use_cases.support.managed import deleted_outside, held_by_id
from sip_provisioning.use_cases.support.once import run_keyed
from sip_provisioning.use_cases.support.reservations import settle_pending
from sip_provisioning.use_cases.support.upstream import signalwire_faults_as_problems

_USERNAME: pydantic.TypeAdapter[str] = pydantic.TypeAdapter(Username)
# The endpoint's own values the record keeps: what a profile cannot know of one person.
KEPT_FROM_ENDPOINT = ("caller_id", "send_as")


@dataclass(frozen=True)
class _Plan:
    """The record an adopt writes, the current record it replaces (a deleted one, or none), the
    endpoint as SignalWire holds it, and its drift from the profile."""

    record: InventoryRecord
    replacing: InventoryRecord | None
    # The live record `replacing` names an endpoint SignalWire no longer holds under the username:
    # before the adoption it follows SignalWire, deleted (never in a dry run).
    replacing_is_stale: bool
    endpoint: SipEndpoint
    sip_uri: str
    drift: list[Drift]


def preview_adopt(
    ports: Ports, caller: Caller, username: str, request: AdoptRequest, deadline: Deadline
) -> AdoptPreview:
    """`dry_run`: the record an adopt would write and the drift it would show; nothing is stored."""
    plan = _plan(ports, caller, username, request, deadline)
    return AdoptPreview(would_adopt=plan.record, drift=plan.drift)


def adopt_endpoint(
    ports: Ports, caller: Caller, username: str, request: AdoptRequest, deadline: Deadline
) -> EndpointAdopted:
    plan = _plan(ports, caller, username, request, deadline)
    try:
        replacing = plan.replacing
        if replacing is not None and plan.replacing_is_stale:
            replacing = deleted_outside(ports.inventory, replacing)
        ports.inventory.put_new(plan.record, replacing=replacing)
    except RecordChanged:
        raise EndpointAlreadyManaged(username) from None  # another request recorded it first
    metrics.add_metric(name="EndpointsAdopted", unit=MetricUnit.Count, value=1)
    logger.info(
        "SIP endpoint adopted",
        extra={
            "audit": "endpoint-adopted",
            "endpoint_id": plan.endpoint.id,
            "username": username,
            "profile": request.profile,
            "drifted": sorted(drift.field for drift in plan.drift),
            "by": caller.identity,
        },
    )
    return EndpointAdopted(endpoint=plan.endpoint, sip_uri=plan.sip_uri, record=plan.record, drift=plan.drift)


def adopt_endpoint_once(
    ports: Ports,
    caller: Caller,
    username: str,
    request: AdoptRequest,
    deadline: Deadline,
    *,
    key: str | None,
    busy_seconds: float,
) -> EndpointAdopted:
    """`adopt_endpoint` at most once per (caller, key): a repeat gets the first answer again."""
    return run_keyed(
        ports.once,
        caller_identity=caller.identity,
        key=key,
        operation="adopt",
        username=username,
        body=request,
        busy_seconds=busy_seconds,
        answer_model=EndpointAdopted,
        work=lambda _attempt: adopt_endpoint(ports, caller, username, request, deadline),
    )


def _plan(ports: Ports, caller: Caller, username: str, request: AdoptRequest, deadline: Deadline) -> _Plan:
    config = ports.config.load()
    if not is_admin(caller.identity, config.deployment_policy):
        raise Forbidden("deployment.admins", "Forbidden by deployment.admins: only admins adopt endpoints.")
    if request.profile not in config.profiles_for(request.profile):
        # Every profile: an admin adopts into any of them, whoever its policy lets create from it.
        raise UnknownProfile(request.profile, sorted(config.profiles))
    _checked_username(username)
    client = ports.signalwire(config.signalwire)
    with signalwire_faults_as_problems():
        replacing = _unmanaged_record(ports.inventory, client, username, deadline)
        replacing_is_stale = replacing is not None and replacing.status is not EndpointStatus.DELETED
        found = client.find_endpoints_by_username(username, deadline)
    if not found:
        raise EndpointNotFound(username)
    endpoint = found[0]
    kept = _kept_request(username, request, endpoint)
    # The password is not compared: any stand-in lets the payload be built.
    payload = build_create_payload(kept, config.profiles_for(request.profile), generate_password())
    timestamp = now_iso()
    record = InventoryRecord(
        username=username,
        endpoint_id=endpoint.id,
        request=stored_request(kept),
        profile=request.profile,
        owner=request.owner,
        created_by=caller.identity,
        created_via=CreatedVia.ADOPTED,
        created_at=timestamp,
        updated_at=timestamp,
        adopted_at=timestamp,
        status=EndpointStatus.ACTIVE,
    )
    return _Plan(
        record=record,
        replacing=replacing,
        replacing_is_stale=replacing_is_stale,
        endpoint=endpoint,
        sip_uri=sip_uri(username, config.signalwire),
        drift=drift_of(endpoint, payload),
    )


def _checked_username(username: str) -> None:
    try:
        _USERNAME.validate_python(username)
    except pydantic.ValidationError as invalid:
        raise RequestInvalid(
            [FieldError.from_pydantic("username", broken["msg"]) for broken in invalid.errors()],
            detail="The username breaks a rule, so the service cannot keep a record of it.",
        ) from None


def _unmanaged_record(
    inventory: Inventory, client: SignalWire, username: str, deadline: Deadline
) -> InventoryRecord | None:
    """The username's current record when it manages nothing: a deleted one, or a live one whose
    endpoint SignalWire no longer holds under the username (a stale id: whatever SignalWire holds
    there now is not the service's); None when there is none. `EndpointAlreadyManaged` when it
    manages an endpoint. A pending record is met as a create meets it: one still running holds
    the username, one left by a crash is settled first."""
    seen = inventory.current(username)
    if seen is not None and seen.status is EndpointStatus.PENDING:
        if (seen.pending_until or 0) > time.time():
            raise EndpointAlreadyManaged(username)  # the service is creating it right now
        seen = settle_pending(inventory, client, seen, deadline)
    if (
        seen is not None
        and seen.status is not EndpointStatus.DELETED
        and held_by_id(client, seen, deadline) is not None
    ):
        raise EndpointAlreadyManaged(username)
    return seen


def _kept_request(username: str, request: AdoptRequest, endpoint: SipEndpoint) -> EndpointRequest:
    """The request the record keeps; a value of the endpoint's that no request could hold is a
    422 naming it (the record must describe the endpoint, not a corrected copy of it)."""
    own = {field: getattr(endpoint, field) for field in KEPT_FROM_ENDPOINT if getattr(endpoint, field) is not None}
    given = request.model_dump(mode="json", exclude_none=True)
    try:
        return EndpointRequest.model_validate({"username": username, **given, **own})
    except pydantic.ValidationError as invalid:
        raise RequestInvalid(
            [
                FieldError.from_pydantic(
                    f"endpoint.{broken['loc'][0]}" if broken["loc"] and broken["loc"][0] in own else "body",
                    broken["msg"],
                )
                for broken in invalid.errors(include_input=False, include_url=False)
            ],
            detail="The endpoint holds a value no request may hold; change it in SignalWire, then adopt it.",
        ) from None
