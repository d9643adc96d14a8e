"""The endpoint a life-cycle route acts on: managed (in the inventory) and present in SignalWire."""

import time
from dataclasses import dataclass

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.records import EndpointStatus, InventoryRecord
from sip_provisioning.errors import EndpointNotFound, EndpointNotManaged, IdempotencyInProgress
from sip_provisioning.signalwire.client import EndpointMissing
from sip_provisioning.signalwire.models import SipEndpoint
from sip_provisioning.use_cases.ports import Inventory, SignalWire
from sip_provisioning.use_cases.reservations import settle_pending


@dataclass(frozen=True)
class Found:
    """What SignalWire holds under a username, and what the inventory knows of it."""

    endpoint: SipEndpoint | None
    record: InventoryRecord | None


def find(inventory: Inventory, client: SignalWire, username: str, deadline: Deadline) -> Found:
    record = inventory.current(username)
    if record is not None and record.status is EndpointStatus.PENDING:
        if (record.pending_until or 0) > time.time():
            raise IdempotencyInProgress("A create of this endpoint is still running; retry shortly.")
        record = settle_pending(inventory, client, record, deadline)
    if record is not None and record.status is not EndpointStatus.DELETED and record.endpoint_id:
        try:
            return Found(endpoint=client.retrieve_endpoint(record.endpoint_id, deadline), record=record)
        except EndpointMissing:
            return Found(endpoint=None, record=record)  # deleted outside the service
    found = client.find_endpoints_by_username(username, deadline)
    return Found(endpoint=found[0] if found else None, record=record)


def managed(
    inventory: Inventory, client: SignalWire, username: str, deadline: Deadline
) -> tuple[InventoryRecord, SipEndpoint]:
    """The record and the endpoint a change acts on, or why there is none to change."""
    found = find(inventory, client, username, deadline)
    if found.endpoint is None:
        raise EndpointNotFound(username)
    if found.record is None or found.record.status is EndpointStatus.DELETED:
        raise EndpointNotManaged(username)
    return found.record, found.endpoint
