"""Disable: a random password nobody is ever given, so no device can register; a reset enables."""

from aws_lambda_powertools.metrics import MetricUnit

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.answers import EndpointDisabled
from sip_provisioning.domain.passwords import generate_password
from sip_provisioning.domain.records import EndpointStatus
from sip_provisioning.observability import logger, metrics
from sip_provisioning.use_cases.ports import Caller, Ports, now_iso
from sip_provisioning.use_cases.support.guard import check_manage
from sip_provisioning.use_cases.support.managed import again_on_conflict, managed
from sip_provisioning.use_cases.support.once import run_keyed
from sip_provisioning.use_cases.support.updates import put_confirmed
from sip_provisioning.use_cases.support.upstream import signalwire_faults_as_problems


def disable_endpoint(ports: Ports, caller: Caller, username: str, deadline: Deadline) -> EndpointDisabled:
    return again_on_conflict(lambda: _disable(ports, caller, username, deadline))


def _disable(ports: Ports, caller: Caller, username: str, deadline: Deadline) -> EndpointDisabled:
    config = ports.config.load()
    client = ports.signalwire(config.signalwire)
    with signalwire_faults_as_problems():
        record, endpoint = managed(ports.inventory, client, username, deadline)
    check_manage(config, caller, record)
    # Any unknown password locks devices out: resending another on a lost answer is as good.
    locked = {"password": generate_password().get_secret_value()}
    put_confirmed(client, username, endpoint.id, locked, deadline, holds_changes=None)
    # Written even when disabled already: a reset that raced this one then runs again.
    ports.inventory.replace(
        record, record.model_copy(update={"status": EndpointStatus.DISABLED, "updated_at": now_iso()})
    )
    metrics.add_metric(name="EndpointsDisabled", unit=MetricUnit.Count, value=1)
    logger.info(
        "SIP endpoint disabled", extra={"audit": "endpoint-disabled", "username": username, "by": caller.identity}
    )
    return EndpointDisabled(username=username)


def disable_endpoint_once(
    ports: Ports, caller: Caller, username: str, deadline: Deadline, *, key: str | None, busy_seconds: float
) -> EndpointDisabled:
    return run_keyed(
        ports.once,
        caller_identity=caller.identity,
        key=key,
        operation="disable",
        username=username,
        body=None,
        busy_seconds=busy_seconds,
        answer_model=EndpointDisabled,
        work=lambda _attempt: disable_endpoint(ports, caller, username, deadline),
    )
