"""Delete: the endpoint goes from SignalWire; its record stays, as `deleted`, the audit trail."""

from aws_lambda_powertools.metrics import MetricUnit

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.answers import DeletePreview, EndpointDeleted
from sip_provisioning.domain.errors import EndpointNotFound, EndpointNotManaged, UpstreamError, UpstreamTimeout
from sip_provisioning.domain.records import EndpointStatus, InventoryRecord
from sip_provisioning.domain.signalwire import SipEndpoint
from sip_provisioning.observability import logger, metrics
from sip_provisioning.use_cases.ports import (
    AnswerLost,
    Caller,
    EndpointMissing,
    Ports,
    ServerFailed,
    SignalWire,
    SignalWireFault,
    UnreadableAnswer,
    now_iso,
)
from sip_provisioning.use_cases.support.guard import check_manage
from sip_provisioning.use_cases.support.managed import again_on_conflict, find
from sip_provisioning.use_cases.support.once import run_keyed
from sip_provisioning.use_cases.support.upstream import problem_for_fault, signalwire_faults_as_problems


def preview_delete(ports: Ports, caller: Caller, username: str, deadline: Deadline) -> DeletePreview:
    """`dry_run`: the record a delete would mark deleted (or already has); nothing changes."""
    _client, record, _endpoint = _target(ports, caller, username, deadline)
    return DeletePreview(would_delete=record)


def delete_endpoint(ports: Ports, caller: Caller, username: str, deadline: Deadline) -> EndpointDeleted:
    return again_on_conflict(lambda: _delete(ports, caller, username, deadline))


def _delete(ports: Ports, caller: Caller, username: str, deadline: Deadline) -> EndpointDeleted:
    client, record, endpoint = _target(ports, caller, username, deadline)
    if record.status is EndpointStatus.DELETED:
        return EndpointDeleted(username=username)  # deleted already: the same answer again
    if endpoint is not None:
        _delete_confirmed(client, endpoint.id, deadline)
    if record.password_secret_arn is not None:
        ports.secrets.schedule_deletion(username)
    timestamp = now_iso()
    ports.inventory.replace(
        record,
        record.model_copy(
            update={
                "status": EndpointStatus.DELETED,
                "deleted_by": caller.identity,
                "deleted_at": timestamp,
                "updated_at": timestamp,
            }
        ),
    )
    metrics.add_metric(name="EndpointsDeleted", unit=MetricUnit.Count, value=1)
    logger.info(
        "SIP endpoint deleted", extra={"audit": "endpoint-deleted", "username": username, "by": caller.identity}
    )
    return EndpointDeleted(username=username)


def delete_endpoint_once(
    ports: Ports, caller: Caller, username: str, deadline: Deadline, *, key: str | None, busy_seconds: float
) -> EndpointDeleted:
    return run_keyed(
        ports.once,
        caller_identity=caller.identity,
        key=key,
        operation="delete",
        username=username,
        body=None,
        busy_seconds=busy_seconds,
        answer_model=EndpointDeleted,
        work=lambda _attempt: delete_endpoint(ports, caller, username, deadline),
    )


def _target(
    ports: Ports, caller: Caller, username: str, deadline: Deadline
) -> tuple[SignalWire, InventoryRecord, SipEndpoint | None]:
    """The record a delete acts on and the endpoint SignalWire still holds for it (None: gone
    already, by this service or outside it: the record follows). A record already deleted, with
    nothing left in SignalWire, is a target too: a repeated delete answers as the first did."""
    config = ports.config.load()
    client = ports.signalwire(config.signalwire)
    with signalwire_faults_as_problems():
        found = find(ports.inventory, client, username, deadline)
    record = found.record
    if record is None:
        raise EndpointNotFound(username) if found.endpoint is None else EndpointNotManaged(username)
    if found.endpoint is not None and not found.is_managed:
        # Not the endpoint the record names (deleted here or outside, and another holds the
        # username now): someone else's, never touched.
        raise EndpointNotManaged(username)
    check_manage(config, caller, record)
    return client, record, found.endpoint


def _delete_confirmed(client: SignalWire, endpoint_id: str, deadline: Deadline) -> None:
    """DELETE, and on a lost answer look the endpoint up: gone means deleted."""
    try:
        client.delete_endpoint(endpoint_id, deadline)
    except EndpointMissing:
        return
    except (AnswerLost, ServerFailed, UnreadableAnswer) as lost:
        logger.warning("Delete outcome unknown; confirming", extra={"fault": type(lost).__name__})
        try:
            client.retrieve_endpoint(endpoint_id, deadline)
        except EndpointMissing:
            return
        except SignalWireFault:
            pass
        if isinstance(lost, AnswerLost):
            raise UpstreamTimeout("SignalWire did not confirm the delete.") from None
        raise UpstreamError(f"SignalWire failed the delete: {lost}.") from None
    except SignalWireFault as fault:
        raise problem_for_fault(fault) from None
