"""Change: lay a PATCH over the stored request, rebuild, send SignalWire only what differs."""

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.drift import Change, update_body
from sip_provisioning.domain.passwords import generate_password
from sip_provisioning.errors import FieldError, RequestInvalid
from sip_provisioning.observability import logger, metrics
from sip_provisioning.payload_builder import build_create_payload
from sip_provisioning.responses import ChangePreview, EndpointChanged
from sip_provisioning.self_service import EndpointChanges, EndpointRequest
from sip_provisioning.use_cases.create import sip_uri
from sip_provisioning.use_cases.managed import managed
from sip_provisioning.use_cases.ports import Caller, Ports, now_iso
from sip_provisioning.use_cases.updates import put_confirmed
from sip_provisioning.use_cases.upstream import signalwire_faults_as_problems


def change_endpoint(
    ports: Ports, caller: Caller, username: str, changes: EndpointChanges, deadline: Deadline, *, dry_run: bool
) -> EndpointChanged | ChangePreview:
    config = ports.config.load()
    client = ports.signalwire(config.signalwire)
    with signalwire_faults_as_problems():
        record, endpoint = managed(ports.inventory, client, username, deadline)
    request = _changed_request(record.request, changes)
    # The password is not compared and not sent: any stand-in lets the create rules be checked.
    payload = build_create_payload(request, config.profiles_for(request.profile), generate_password())
    body = update_body(endpoint, payload)
    if dry_run:
        held = endpoint.model_dump(mode="json")
        return ChangePreview(
            changes=[Change(field=field, before=held.get(field), to=value) for field, value in body.items()]
        )
    if body:
        endpoint = put_confirmed(
            client, username, endpoint.id, body, deadline, holds_changes=lambda held: not update_body(held, payload)
        )
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
        extra={"audit": "endpoint-changed", "username": username, "changed": sorted(body), "by": caller.identity},
    )
    return EndpointChanged(
        endpoint=endpoint, sip_uri=sip_uri(username, config.signalwire), profile=request.profile, changed=sorted(body)
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
