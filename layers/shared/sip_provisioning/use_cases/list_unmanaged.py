"""List the unmanaged: the endpoints SignalWire holds that the inventory does not (CONTRACT.md
section 9), read page by page from SignalWire, newest first, each page joined with the inventory
in one batch read.

A page of the answer may come back short, even empty with a `next_cursor`: one request reads at
most `MAX_PAGES_PER_REQUEST` SignalWire pages, so a fleet of mostly managed endpoints is gone
through in bounded steps rather than in one request that outlives its time. SignalWire pages by
offset: an endpoint created or deleted while a caller pages through may be listed twice or not
at all, as in SignalWire's own list.
"""

import json

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.answers import UnmanagedEndpoint, UnmanagedEndpointList
from sip_provisioning.domain.cursors import CursorRefused, open_cursor, seal
from sip_provisioning.domain.errors import FieldError, Forbidden, RequestInvalid
from sip_provisioning.domain.policy import is_admin
from sip_provisioning.domain.records import EndpointStatus, InventoryRecord, UpstreamPosition
from sip_provisioning.domain.signalwire import SipEndpoint
from sip_provisioning.use_cases.ports import Caller, Ports, SignalWire
from sip_provisioning.use_cases.support.upstream import signalwire_faults_as_problems

# One SignalWire page is joined with the inventory in one batch read (at most 100 keys).
UPSTREAM_PAGE_SIZE = 100
MAX_PAGES_PER_REQUEST = 5
CURSOR_REFUSED = "not a cursor this service issued for this query and caller"


def list_unmanaged(
    ports: Ports, caller: Caller, *, limit: int, cursor: str | None, deadline: Deadline
) -> UnmanagedEndpointList:
    config = ports.config.load()
    if not is_admin(caller.identity, config.deployment_policy):
        raise Forbidden("deployment.admins", "Forbidden by deployment.admins: only admins list unmanaged endpoints.")
    secret = config.signalwire.api_token
    binding = json.dumps(["GET /endpoints?managed=false", caller.identity]).encode()
    try:
        position = (
            open_cursor(cursor, binding, secret, UpstreamPosition)
            if cursor is not None
            else UpstreamPosition(page_link=None, skip=0)
        )
    except CursorRefused:
        raise RequestInvalid([FieldError(field="cursor", message=CURSOR_REFUSED)]) from None
    listed, resume = _read(ports, ports.signalwire(config.signalwire), position, limit, deadline)
    return UnmanagedEndpointList(endpoints=listed, next_cursor=seal(resume, binding, secret) if resume else None)


def _read(
    ports: Ports, client: SignalWire, position: UpstreamPosition, limit: int, deadline: Deadline
) -> tuple[list[UnmanagedEndpoint], UpstreamPosition | None]:
    """Up to `limit` unmanaged endpoints from `position` on, and where the next page starts (None: the end)."""
    listed: list[UnmanagedEndpoint] = []
    page_link, skip = position.page_link, position.skip
    for _ in range(MAX_PAGES_PER_REQUEST):
        with signalwire_faults_as_problems():
            page = client.list_page(page_link, UPSTREAM_PAGE_SIZE, deadline)
        records = ports.inventory.current_of([endpoint.username for endpoint in page.data])
        for index, endpoint in enumerate(page.data[skip:], start=skip):
            if _is_managed(endpoint, records.get(endpoint.username)):
                continue
            if len(listed) == limit:
                return listed, UpstreamPosition(page_link=page_link, skip=index)
            listed.append(
                UnmanagedEndpoint(username=endpoint.username, id=endpoint.id, call_handler=endpoint.call_handler)
            )
        next_link = page.links.get("next")
        if not next_link:
            return listed, None
        page_link, skip = next_link, 0
        if len(listed) == limit:
            break
    return listed, UpstreamPosition(page_link=page_link, skip=0)


def _is_managed(endpoint: SipEndpoint, record: InventoryRecord | None) -> bool:
    """The very endpoint the username's live record names (as `GET /endpoints/{username}` says
    managed), or one the service is creating (pending). Under a record whose id is stale, what
    SignalWire holds is not the service's: unmanaged."""
    if record is None or record.status is EndpointStatus.DELETED:
        return False
    return record.status is EndpointStatus.PENDING or record.endpoint_id == endpoint.id
