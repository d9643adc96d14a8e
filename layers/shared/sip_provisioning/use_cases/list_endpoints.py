"""List: the inventory by username, filtered through an index, paged by an opaque cursor."""

from sip_provisioning.domain.records import EndpointStatus, RecordSummary
from sip_provisioning.responses import EndpointList
from sip_provisioning.use_cases.guard import may_see
from sip_provisioning.use_cases.ports import Caller, Ports

LISTED_BY_DEFAULT = frozenset({EndpointStatus.ACTIVE, EndpointStatus.DISABLED})


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
    page = ports.inventory.list_records(
        profile=profile,
        owner=owner,
        statuses=frozenset({status}) if status else LISTED_BY_DEFAULT,
        limit=limit,
        cursor=cursor,
    )
    config = ports.config.load()
    visible = [record for record in page.records if may_see(config, caller, record)]
    return EndpointList(endpoints=[RecordSummary.of(record) for record in visible], next_cursor=page.next_cursor)
