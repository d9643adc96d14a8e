"""Change: lay a PATCH over the stored request, rebuild, send SignalWire only what differs."""

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.answers import ChangePreview, EndpointChanged
from sip_provisioning.domain.drift import Change, update_body
from sip_provisioning.domain.errors import FieldError, RequestInvalid
from sip_provisioning.domain.passwords import generate_password
from sip_provisioning.domain.payload import build_create_payload, sip_uri
from sip_provisioning.domain.records import InventoryRecord, SecretLabels
from sip_provisioning.domain.request import EndpointChanges, EndpointRequest
from sip_provisioning.domain.signalwire import CreateSipEndpointPayload, SipEndpoint
from sip_provisioning.observability import logger, metrics
from sip_provisioning.use_cases.ports import Caller, Ports, SignalWire, now_iso
from sip_provisioning.use_cases.support.guard import check_change
from sip_provisioning.use_cases.support.managed import again_on_conflict, managed
from sip_provisioning.use_cases.support.once import run_keyed
from sip_provisioning.use_cases.support.password_secrets import check_secret_fits
from sip_provisioning.use_cases.support.updates import put_confirmed
from sip_provisioning.use_cases.support.upstream import signalwire_faults_as_problems


@dataclass(frozen=True)
class _Plan:
    """What a PATCH would do: the record, the endpoint as SignalWire holds it, the request
    rebuilt, and the fields SignalWire would be sent."""

    client: SignalWire
    sip_uri: str
    record: InventoryRecord
    endpoint: SipEndpoint
    request: EndpointRequest
    payload: CreateSipEndpointPayload
    body: dict[str, Any]
    # The password secret's tags to write, when the change makes them describe another endpoint.
    secret_labels: SecretLabels | None


def preview_change(
    ports: Ports, caller: Caller, username: str, changes: EndpointChanges, deadline: Deadline
) -> ChangePreview:
    """`dry_run`: each field that would change, from what to what; nothing is sent or stored."""
    plan = _plan(ports, caller, username, changes, deadline)
    held = plan.endpoint.model_dump(mode="json")
    return ChangePreview(
        changes=[Change(field=field, before=held.get(field), to=value) for field, value in plan.body.items()]
    )


def change_endpoint(
    ports: Ports, caller: Caller, username: str, changes: EndpointChanges, deadline: Deadline
) -> EndpointChanged:
    plan = _plan(ports, caller, username, changes, deadline)
    endpoint = plan.endpoint
    if plan.body:
        endpoint = put_confirmed(
            plan.client,
            username,
            endpoint.id,
            plan.body,
            deadline,
            holds_changes=lambda held: not update_body(held, plan.payload),
        )
    request, record = plan.request, plan.record
    if plan.secret_labels is not None:
        # Before the record: should this fail, the record still says what the tags do, and a retry re-tags.
        ports.secrets.label(plan.secret_labels)
    stored = request.model_dump(mode="json", exclude_none=True, exclude={"password"})
    if stored != record.request:
        # Only once SignalWire accepted the change: the record never describes what is not there.
        ports.inventory.replace(
            record,
            record.model_copy(
                update={"request": stored, "profile": request.profile, "owner": request.owner, "updated_at": now_iso()}
            ),
        )
    metrics.add_metric(name="EndpointsChanged", unit=MetricUnit.Count, value=1)
    logger.info(
        "SIP endpoint changed",
        extra={"audit": "endpoint-changed", "username": username, "changed": sorted(plan.body), "by": caller.identity},
    )
    return EndpointChanged(endpoint=endpoint, sip_uri=plan.sip_uri, profile=request.profile, changed=sorted(plan.body))


def change_endpoint_once(
    ports: Ports,
    caller: Caller,
    username: str,
    changes: EndpointChanges,
    deadline: Deadline,
    *,
    key: str | None,
    busy_seconds: float,
) -> EndpointChanged:
    return run_keyed(
        ports.once,
        caller_identity=caller.identity,
        key=key,
        operation="change",
        username=username,
        body=changes,
        busy_seconds=busy_seconds,
        answer_model=EndpointChanged,
        work=lambda _attempt: again_on_conflict(lambda: change_endpoint(ports, caller, username, changes, deadline)),
    )


def _plan(ports: Ports, caller: Caller, username: str, changes: EndpointChanges, deadline: Deadline) -> _Plan:
    config = ports.config.load()
    client = ports.signalwire(config.signalwire)
    with signalwire_faults_as_problems():
        record, endpoint = managed(ports.inventory, client, username, deadline)
    request = _changed_request(record.request, changes)
    check_change(config, caller, record, request, changes.model_fields_set)
    labels = SecretLabels(username=username, profile=request.profile, created_by=record.created_by, owner=request.owner)
    retag = record.password_secret_arn is not None and labels != SecretLabels.of(record)
    if retag:
        check_secret_fits(ports, labels)
    # The password is not compared and not sent: any stand-in lets the create rules be checked.
    payload = build_create_payload(request, config.profiles_for(request.profile), generate_password())
    return _Plan(
        client=client,
        sip_uri=sip_uri(username, config.signalwire),
        record=record,
        endpoint=endpoint,
        request=request,
        payload=payload,
        body=update_body(endpoint, payload),
        secret_labels=labels if retag else None,
    )


def _changed_request(stored: dict[str, object], changes: EndpointChanges) -> EndpointRequest:
    try:
        return EndpointRequest.model_validate(changes.applied_to(stored))
    except ValidationError as error:
        raise RequestInvalid(
            [
                FieldError.from_pydantic(".".join(str(part) for part in e["loc"]) or "body", e["msg"])
                for e in error.errors(include_input=False, include_url=False)
            ]
        ) from None
