"""Audit the fleet (CONTRACT.md section 9): SignalWire's endpoints, read page by page, joined with
the inventory; `audits/<execution name>.json` in the imports bucket says what differs. It
changes nothing.

- `drifted`: managed (`active` or `disabled`) endpoints whose settings differ from what their
  stored request builds over their profile as it is now, each with its drift.
- `missing`: managed records whose endpoint SignalWire no longer holds.
- `unmanaged`: endpoints SignalWire holds that no current record knows (a deleted record's
  username, created again behind the service's back, is unmanaged too).

SignalWire is read with one list call per page of up to `LIST_PAGE_SIZE` (1,000) endpoints, never one
call per endpoint; the inventory through its indexes, a page of records per query. A matched
endpoint is found by the record's endpoint id, else by username. With a `profile`, `managed`,
`drifted` and `missing` are that profile's; `unmanaged` endpoints have no profile, so every one
is listed. Counts are published as `DriftedEndpoints`, `MissingEndpoints` and
`UnmanagedEndpoints` (the template alarms on the second).
"""

from collections.abc import Iterator
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.drift import Drift, drift_of
from sip_provisioning.domain.errors import ConfigurationError, RequestInvalid, UnknownProfile
from sip_provisioning.domain.payload import build_create_payload
from sip_provisioning.domain.profile import ServiceConfig
from sip_provisioning.domain.records import EndpointStatus, InventoryRecord
from sip_provisioning.domain.request import EndpointRequest
from sip_provisioning.domain.signalwire import SipEndpoint
from sip_provisioning.observability import logger, metrics
from sip_provisioning.use_cases.list_endpoints import every_record
from sip_provisioning.use_cases.ports import Ports, ReportBucket, SignalWire
from sip_provisioning.use_cases.rollout import Location
from sip_provisioning.use_cases.support.upstream import signalwire_faults_as_problems

MANAGED_STATUSES: Final = frozenset({EndpointStatus.ACTIVE, EndpointStatus.DISABLED})
# A pending record's endpoint may exist already: it is neither managed yet nor anyone else's.
KNOWN_STATUSES: Final = MANAGED_STATUSES | {EndpointStatus.PENDING}
# The largest page SignalWire's list answers: the fewest calls for the whole fleet.
LIST_PAGE_SIZE: Final = 1000
# Drift compares every field but the password, so any stand-in lets the payload be built.
PASSWORD_STAND_IN: Final = SecretStr("audit-compares-no-password")


class DriftedEndpoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    username: str
    profile: str
    status: EndpointStatus
    drift: list[Drift] = Field(default_factory=list)
    # Set when what the record asks for cannot be built any more (its profile gone or broken):
    # every field then counts as drifted, and this says why.
    problem: str | None = None


class MissingEndpoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    username: str
    profile: str
    status: EndpointStatus
    endpoint_id: str | None


class UnmanagedEndpoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    username: str
    id: str
    call_handler: str | None


class FleetAudit(BaseModel):
    """The report."""

    model_config = ConfigDict(frozen=True)

    profile: str | None
    managed: int
    drifted: list[DriftedEndpoint]
    missing: list[MissingEndpoint]
    unmanaged: list[UnmanagedEndpoint]


class AuditSummary(BaseModel):
    """The execution's output: counts, and where the report is."""

    model_config = ConfigDict(frozen=True)

    managed: int
    drifted: int
    missing: int
    unmanaged: int
    report: Location


def audit_key(execution_name: str) -> str:
    return f"audits/{execution_name}.json"


def audit_fleet(
    ports: Ports, bucket: ReportBucket, *, profile: str | None, execution_name: str, deadline: Deadline
) -> AuditSummary:
    config = ports.config.load()
    if profile is not None and profile not in config.profiles:
        raise UnknownProfile(profile, sorted(config.profiles))
    client = ports.signalwire(config.signalwire)
    with signalwire_faults_as_problems():
        held = list(_every_endpoint(client, deadline))
    known = list(every_record(ports.inventory, profile=None, statuses=KNOWN_STATUSES))
    managed = [
        record
        for record in known
        if record.status in MANAGED_STATUSES and (profile is None or record.profile == profile)
    ]
    audit = join(config, held, known, managed, profile)
    report = Location(bucket=bucket.name, key=audit_key(execution_name))
    bucket.objects.put_json(report.bucket, report.key, audit.model_dump(mode="json"))
    summary = AuditSummary(
        managed=audit.managed,
        drifted=len(audit.drifted),
        missing=len(audit.missing),
        unmanaged=len(audit.unmanaged),
        report=report,
    )
    for name, count in (
        ("DriftedEndpoints", summary.drifted),
        ("MissingEndpoints", summary.missing),
        ("UnmanagedEndpoints", summary.unmanaged),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    logger.info(
        "Fleet audited", extra={"audit": "fleet-audited", **summary.model_dump(mode="json", exclude={"report"})}
    )
    return summary


def join(
    config: ServiceConfig,
    held: list[SipEndpoint],
    known: list[InventoryRecord],
    managed: list[InventoryRecord],
    profile: str | None,
) -> FleetAudit:
    """What SignalWire holds set against what the inventory knows."""
    by_id = {endpoint.id: endpoint for endpoint in held}
    by_username = {endpoint.username: endpoint for endpoint in held}
    drifted: list[DriftedEndpoint] = []
    missing: list[MissingEndpoint] = []
    for record in managed:
        endpoint = by_id.get(record.endpoint_id) if record.endpoint_id else by_username.get(record.username)
        if endpoint is None:
            missing.append(
                MissingEndpoint(
                    username=record.username,
                    profile=record.profile,
                    status=record.status,
                    endpoint_id=record.endpoint_id,
                )
            )
            continue
        found = _drifted(config, record, endpoint)
        if found is not None:
            drifted.append(found)
    known_ids = {record.endpoint_id for record in known if record.endpoint_id}
    known_usernames = {record.username for record in known}
    unmanaged = [
        UnmanagedEndpoint(username=endpoint.username, id=endpoint.id, call_handler=endpoint.call_handler)
        for endpoint in held
        if endpoint.id not in known_ids and endpoint.username not in known_usernames
    ]
    return FleetAudit(profile=profile, managed=len(managed), drifted=drifted, missing=missing, unmanaged=unmanaged)


def _drifted(config: ServiceConfig, record: InventoryRecord, endpoint: SipEndpoint) -> DriftedEndpoint | None:
    try:
        request = EndpointRequest.model_validate(record.request)
        payload = build_create_payload(request, config.profiles_for(request.profile), PASSWORD_STAND_IN)
    except (RequestInvalid, ConfigurationError, ValidationError) as unbuildable:
        return DriftedEndpoint(
            username=record.username, profile=record.profile, status=record.status, problem=_problem(unbuildable)
        )
    drift = drift_of(endpoint, payload)
    if not drift:
        return None
    return DriftedEndpoint(username=record.username, profile=record.profile, status=record.status, drift=drift)


def _problem(unbuildable: Exception) -> str:
    if isinstance(unbuildable, RequestInvalid):
        return f"{unbuildable.detail} " + "; ".join(f"{e.field}: {e.message}" for e in unbuildable.errors)
    if isinstance(unbuildable, ValidationError):
        return "the stored request no longer passes the request rules"
    return str(unbuildable)


def _every_endpoint(client: SignalWire, deadline: Deadline) -> Iterator[SipEndpoint]:
    """SignalWire's endpoints, one list call per page, following each page's `links.next`."""
    link: str | None = None
    while True:
        page = client.list_page(link, LIST_PAGE_SIZE, deadline)
        yield from page.data
        link = page.links.get("next")
        if not link:
            return
