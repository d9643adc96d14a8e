"""List: the inventory by username, filtered through an index, paged by an opaque cursor.

The cursor is sealed for the query and the caller (`domain.cursors`); a page holds only the
records the caller may see, and no cursor reveals one it may not."""

from collections.abc import Iterator

from sip_provisioning.domain.answers import EndpointList
from sip_provisioning.domain.cursors import CursorRefused, open_cursor, seal
from sip_provisioning.domain.errors import FieldError, RequestInvalid
from sip_provisioning.domain.records import EndpointStatus, InventoryRecord, ListingQuery, ListPosition, RecordSummary
from sip_provisioning.use_cases.ports import Caller, Inventory, Ports
from sip_provisioning.use_cases.support.guard import profiles_seen_by

LISTED_BY_DEFAULT = frozenset({EndpointStatus.ACTIVE, EndpointStatus.DISABLED})
CURSOR_REFUSED = "not a cursor this service issued for this query and caller"
# A fleet walk's page: the adapter bounds the reads behind each one whatever the size.
WALK_PAGE = 1000


def list_endpoints(
    ports: Ports,
    caller: Caller,
    *,
    profile: str | None,
    owner: str | None,
    status: EndpointStatus | None,
    limit: int,
    cursor: str | None,
) -> EndpointList:
    config = ports.config.load()
    secret = config.signalwire.api_token
    binding = ListingQuery(caller=caller.identity, profile=profile, owner=owner, status=status).binding()
    try:
        after = open_cursor(cursor, binding, secret, ListPosition) if cursor is not None else None
    except CursorRefused:
        raise RequestInvalid([FieldError(field="cursor", message=CURSOR_REFUSED)]) from None
    seen = profiles_seen_by(config, caller)
    if seen is not None and (not seen or (profile is not None and profile not in seen)):
        return EndpointList(endpoints=[], next_cursor=None)  # nothing to read: as for a profile without endpoints
    page = ports.inventory.list_records(
        profile=profile,
        owner=owner,
        statuses=frozenset({status}) if status else LISTED_BY_DEFAULT,
        profiles_seen=seen,
        limit=limit,
        after=after,
    )
    return EndpointList(
        endpoints=[RecordSummary.of(record) for record in page.records],
        next_cursor=seal(page.resume_after, binding, secret) if page.resume_after else None,
    )


def every_record(
    inventory: Inventory, *, profile: str | None, statuses: frozenset[EndpointStatus]
) -> Iterator[InventoryRecord]:
    """Every current record of `profile` (None: of any) in one of `statuses`, page after page:
    the whole fleet, as rollout and audit walk it, never scanned."""
    after = None
    while True:
        page = inventory.list_records(
            profile=profile, owner=None, statuses=statuses, profiles_seen=None, limit=WALK_PAGE, after=after
        )
        yield from page.records
        after = page.resume_after
        if after is None:
            return
