"""Reset: a new password, generated or given; it also enables a disabled endpoint again."""

from aws_lambda_powertools.metrics import MetricUnit

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.answers import PasswordReset
from sip_provisioning.domain.passwords import derive_password
from sip_provisioning.domain.payload import sip_uri
from sip_provisioning.domain.policy import PasswordDelivery
from sip_provisioning.domain.records import EndpointStatus, SecretLabels
from sip_provisioning.domain.request import PasswordResetRequest
from sip_provisioning.observability import logger, metrics
from sip_provisioning.use_cases.ports import Attempt, Caller, Ports, now_iso
from sip_provisioning.use_cases.support.guard import check_reset, delivery_for
from sip_provisioning.use_cases.support.managed import again_on_conflict, managed
from sip_provisioning.use_cases.support.once import run_keyed
from sip_provisioning.use_cases.support.password_secrets import check_secret_fits
from sip_provisioning.use_cases.support.updates import put_confirmed
from sip_provisioning.use_cases.support.upstream import signalwire_faults_as_problems

PASSWORD_PURPOSE = "reset"  # noqa: S105 - a label mixed into the derivation, not a password


def reset_password(
    ports: Ports, caller: Caller, username: str, request: PasswordResetRequest, deadline: Deadline, attempt: Attempt
) -> PasswordReset:
    config = ports.config.load()
    client = ports.signalwire(config.signalwire)
    with signalwire_faults_as_problems():
        record, endpoint = managed(ports.inventory, client, username, deadline)
    check_reset(config, caller, record, request)
    delivery = delivery_for(config, caller, record.profile, request.password_delivery)
    delivered = request.password is None and delivery is PasswordDelivery.SECRETS_MANAGER
    # A secret that holds the endpoint's password gets every new one, a caller's own too: it
    # never keeps a password SignalWire no longer takes.
    to_secret = delivered or record.password_secret_arn is not None
    labels = SecretLabels.of(record)
    if to_secret:
        check_secret_fits(ports, labels)
    password = request.password or derive_password(config.signalwire.api_token, attempt.nonce, PASSWORD_PURPOSE)
    put_confirmed(
        client, username, endpoint.id, {"password": password.get_secret_value()}, deadline, holds_changes=None
    )
    uri = sip_uri(username, config.signalwire)
    secret_arn = ports.secrets.put_password(labels, password, uri) if to_secret else None
    updated = record.model_copy(
        update={"status": EndpointStatus.ACTIVE, "password_secret_arn": secret_arn or record.password_secret_arn}
    )
    # Written even when unchanged: a disable that raced this reset then runs again.
    ports.inventory.replace(record, updated.model_copy(update={"updated_at": now_iso()}))
    metrics.add_metric(name="PasswordsReset", unit=MetricUnit.Count, value=1)
    logger.info(
        "SIP endpoint password reset",
        extra={
            "audit": "password-reset",
            "username": username,
            "generated": request.password is None,
            "by": caller.identity,
        },
    )
    return PasswordReset(
        username=username,
        sip_uri=uri,
        password=password.get_secret_value() if request.password is None and not delivered else None,
        password_secret_arn=secret_arn if delivered else None,
    )


def reset_password_once(
    ports: Ports,
    caller: Caller,
    username: str,
    request: PasswordResetRequest,
    deadline: Deadline,
    *,
    key: str | None,
    busy_seconds: float,
) -> PasswordReset:
    """`reset_password` at most once per (caller, key); a repeat answers the same password."""
    return run_keyed(
        ports.once,
        caller_identity=caller.identity,
        key=key,
        operation="reset-password",
        username=username,
        body=request,
        busy_seconds=busy_seconds,
        answer_model=PasswordReset,
        work=lambda attempt: again_on_conflict(
            lambda: reset_password(ports, caller, username, request, deadline, attempt)
        ),
        restore=lambda answer, attempt: restore_password(ports, request, answer, attempt),
    )


def restore_password(
    ports: Ports, request: PasswordResetRequest, reset: PasswordReset, attempt: Attempt
) -> PasswordReset:
    """A replayed answer gets its generated password back, derived again from the key's nonce."""
    if request.password is not None or reset.password_secret_arn is not None:
        return reset
    token = ports.config.load().signalwire.api_token
    return reset.model_copy(
        update={"password": derive_password(token, attempt.nonce, PASSWORD_PURPOSE).get_secret_value()}
    )
