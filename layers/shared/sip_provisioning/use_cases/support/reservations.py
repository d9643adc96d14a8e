"""A username's reservation in the inventory, and the settling of one a crash left pending.

Before a create is sent, SignalWire is asked whether it holds the username, and the username's
current record becomes `pending` under the attempt's id, carrying that proof that the username
was free. Only one attempt can hold it; a retry under the same key finds its own. A pending
record whose attempt ran out of time is settled from SignalWire: an endpoint found is the
attempt's only when the username was proven free before its create left (the record is
completed); otherwise, or when nothing is found, the reservation is released and whatever
SignalWire holds stays someone else's.
"""

import time
from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.errors import IdempotencyInProgress, UpstreamTimeout, UsernameTaken
from sip_provisioning.domain.records import EndpointStatus, InventoryRecord, RecordChanged
from sip_provisioning.observability import logger, metrics
from sip_provisioning.use_cases.ports import Inventory, SignalWire, SignalWireFault, now_iso

type Settle = Callable[[InventoryRecord], InventoryRecord | None]


def reserve(
    inventory: Inventory,
    pending: InventoryRecord,
    settle: Settle,
    follow: Callable[[InventoryRecord], InventoryRecord],
) -> InventoryRecord:
    """Make `pending` the username's current record (or find this attempt's own from an earlier
    try under the same key), or say why it cannot be. `follow` brings a live record in line with
    SignalWire (deleted, when its endpoint is gone). A username new to the inventory (the usual
    case) costs one conditional write and no read."""
    try:
        inventory.put_new(pending, replacing=None)
    except RecordChanged:
        pass  # the username has a record: read it and decide
    else:
        return pending
    seen = inventory.current(pending.username)
    if seen is not None and seen.status is EndpointStatus.PENDING:
        if seen.attempt_id == pending.attempt_id:
            return seen
        if (seen.pending_until or 0) > time.time():
            raise UsernameTaken(pending.username)  # another request is creating it right now
        seen = settle(seen)
    if seen is not None and seen.status is not EndpointStatus.DELETED:
        seen = follow(seen)
    if seen is not None and seen.status is not EndpointStatus.DELETED:
        raise UsernameTaken(pending.username)
    try:
        inventory.put_new(pending, replacing=seen)
    except RecordChanged:
        raise UsernameTaken(pending.username) from None  # another request reserved it first
    return pending


def settle_pending(
    inventory: Inventory, client: SignalWire, pending: InventoryRecord, deadline: Deadline
) -> InventoryRecord | None:
    """What a pending record whose attempt is over really is: the endpoint's record, or nothing.

    An endpoint SignalWire holds is claimed only when the record proves the username was free
    before the attempt's create left: equal settings prove nothing, and without the proof the
    endpoint may have been there first."""
    if not pending.username_was_free:
        found = []  # whatever SignalWire holds may have been there first: claim nothing
    else:
        try:
            found = client.find_endpoints_by_username(pending.username, deadline)
        except SignalWireFault:
            raise UpstreamTimeout(
                "An earlier create of this username is unsettled and SignalWire could not tell."
            ) from None
    try:
        if not found:
            inventory.release(pending)
            return None
        settled = pending.model_copy(
            update={
                "endpoint_id": found[0].id,
                "status": EndpointStatus.ACTIVE,
                "updated_at": now_iso(),
                "attempt_id": None,
                "pending_until": None,
                "username_was_free": None,
            }
        )
        inventory.replace(pending, settled)
    except RecordChanged:
        raise IdempotencyInProgress("Another request is settling this username; retry shortly.") from None
    metrics.add_metric(name="PendingRecordsSettled", unit=MetricUnit.Count, value=1)
    logger.info("Settled a pending inventory record", extra={"username": pending.username, "found": bool(found)})
    return settled
