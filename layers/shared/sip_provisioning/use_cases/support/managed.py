"""The endpoint a life-cycle route acts on: managed (in the inventory) and present in SignalWire.

Two writes racing on one endpoint: each route writes its record after SignalWire took its change,
conditional on the record it read. When another write came between, the route runs again from
the start (SignalWire is asked again, the change is sent again), so the record written last
describes the change SignalWire got last.

The inventory's endpoint id is a cache of SignalWire's truth. When it is stale (SignalWire has
no endpoint with that id, or that endpoint no longer holds the username), the username is
looked up, and what SignalWire holds under it is the answer: never an endpoint the record does
not name, which may be someone else's.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.errors import EndpointNotFound, EndpointNotManaged, IdempotencyInProgress
from sip_provisioning.domain.records import DELETED_OUTSIDE, EndpointStatus, InventoryRecord, RecordChanged
from sip_provisioning.domain.signalwire import SipEndpoint
from sip_provisioning.use_cases.ports import EndpointMissing, Inventory, SignalWire, now_iso
from sip_provisioning.use_cases.support.reservations import settle_pending


@dataclass(frozen=True)
class Found:
    """What SignalWire holds under a username, and what the inventory knows of it."""

    endpoint: SipEndpoint | None
    record: InventoryRecord | None

    @property
    def live_record(self) -> InventoryRecord | None:
        """The record, unless it is the audit trail of a deleted endpoint."""
        return self.record if self.record is not None and self.record.status is not EndpointStatus.DELETED else None

    @property
    def is_managed(self) -> bool:
        """SignalWire holds the very endpoint the live record names."""
        record = self.live_record
        return record is not None and self.endpoint is not None and self.endpoint.id == record.endpoint_id


def find(inventory: Inventory, client: SignalWire, username: str, deadline: Deadline) -> Found:
    record = inventory.current(username)
    if record is not None and record.status is EndpointStatus.PENDING:
        if (record.pending_until or 0) > time.time():
            raise IdempotencyInProgress("A create of this endpoint is still running; retry shortly.")
        record = settle_pending(inventory, client, record, deadline)
    if record is not None and record.status is not EndpointStatus.DELETED and record.endpoint_id:
        held = held_by_id(client, record, deadline)
        if held is not None:
            return Found(endpoint=held, record=record)
    found = client.find_endpoints_by_username(username, deadline)
    return Found(endpoint=found[0] if found else None, record=record)


def held_by_id(client: SignalWire, record: InventoryRecord, deadline: Deadline) -> SipEndpoint | None:
    """The endpoint the record names, while it still holds the record's username (None: stale)."""
    if record.endpoint_id is None:
        return None
    try:
        endpoint = client.retrieve_endpoint(record.endpoint_id, deadline)
    except EndpointMissing:
        return None
    return endpoint if endpoint.username == record.username else None


def deleted_outside(inventory: Inventory, record: InventoryRecord) -> InventoryRecord:
    """The record follows SignalWire, where its endpoint is gone: `deleted`, by no caller of ours."""
    timestamp = now_iso()
    deleted = record.model_copy(
        update={
            "status": EndpointStatus.DELETED,
            "deleted_by": DELETED_OUTSIDE,
            "deleted_at": timestamp,
            "updated_at": timestamp,
        }
    )
    inventory.replace(record, deleted)
    return deleted


def managed(
    inventory: Inventory, client: SignalWire, username: str, deadline: Deadline
) -> tuple[InventoryRecord, SipEndpoint]:
    """The record and the endpoint a change acts on, or why there is none to change."""
    found = find(inventory, client, username, deadline)
    if found.is_managed and found.record is not None and found.endpoint is not None:
        return found.record, found.endpoint
    if found.endpoint is None:
        raise EndpointNotFound(username)
    raise EndpointNotManaged(username)


RACE_RUNS = 3


def again_on_conflict[T](work: Callable[[], T]) -> T:
    """`work` (a route acting on one endpoint), run again while another request changed the
    record between its read and its write."""
    for _run in range(RACE_RUNS - 1):
        try:
            return work()
        except RecordChanged:
            continue
    try:
        return work()
    except RecordChanged:
        raise IdempotencyInProgress("Another request is changing this endpoint; retry shortly.") from None
