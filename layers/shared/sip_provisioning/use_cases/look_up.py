"""Look up: the endpoint as SignalWire holds it, whether the service manages it, and its drift."""

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.answers import EndpointView
from sip_provisioning.domain.drift import Drift, drift_of
from sip_provisioning.domain.errors import ConfigurationError, EndpointNotFound, RequestInvalid
from sip_provisioning.domain.passwords import generate_password
from sip_provisioning.domain.payload import build_create_payload, sip_uri
from sip_provisioning.domain.request import EndpointRequest
from sip_provisioning.use_cases.ports import Caller, Ports
from sip_provisioning.use_cases.support.guard import check_see
from sip_provisioning.use_cases.support.managed import find
from sip_provisioning.use_cases.support.upstream import signalwire_faults_as_problems


def look_up_endpoint(ports: Ports, caller: Caller, username: str, deadline: Deadline) -> EndpointView:
    config = ports.config.load()
    client = ports.signalwire(config.signalwire)
    with signalwire_faults_as_problems():
        found = find(ports.inventory, client, username, deadline)
    if found.endpoint is None:
        raise EndpointNotFound(username)
    # A record whose endpoint is gone describes nothing SignalWire holds: what holds the username
    # now is shown as SignalWire has it, unmanaged.
    record = found.record
    managed = found.is_managed
    check_see(config, caller, record if managed else None)
    drift: list[Drift] = []
    if managed and record is not None:
        request = EndpointRequest.model_validate(record.request)
        try:
            payload = build_create_payload(request, config.profiles_for(request.profile), generate_password())
        except (RequestInvalid, ConfigurationError):
            payload = None  # its request no longer builds over today's profiles: nothing to compare
        if payload is not None:
            drift = drift_of(found.endpoint, payload)
    return EndpointView(
        endpoint=found.endpoint,
        sip_uri=sip_uri(username, config.signalwire),
        managed=managed,
        record=record if managed else None,
        drift=drift,
    )
