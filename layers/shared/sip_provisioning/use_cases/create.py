"""Create: build the payload from profiles, reserve the username, create at most once, record.

A create is a POST and SignalWire takes no idempotency key, so a blind retry can create a
duplicate. It is retried only where it cannot have happened (the connection never opened) or
where SignalWire said to come back; when the answer is lost after the request left, the
endpoint is looked up by username before anything is answered.

The inventory record is written (pending) before the create is sent and completed after, so no
endpoint this service creates is ever without its record; a pending record left by a crash is
settled by the next request that meets it. The reservation is also what proves whose an
endpoint is: recovery claims an endpoint only under this request's own reservation.

Equal settings prove nothing: before the first create under a reservation (or a key) leaves,
SignalWire is asked whether it holds the username, and the answer "free" is kept with the
reservation and the key. An endpoint found after a lost answer is claimed only under that
proof; without it an endpoint found was there first, and is someone else's. The price is one
list call per create (and, with a key, one write to its record).
"""

import random
import time

from aws_lambda_powertools.metrics import MetricUnit

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.answers import DryRunResult, EndpointCreated
from sip_provisioning.domain.errors import (
    FieldError,
    RequestInvalid,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    UsernameTaken,
)
from sip_provisioning.domain.passwords import derive_password, generate_password
from sip_provisioning.domain.payload import build_create_payload, sip_uri
from sip_provisioning.domain.policy import PasswordDelivery
from sip_provisioning.domain.records import EndpointStatus, InventoryRecord, SecretLabels
from sip_provisioning.domain.request import EndpointRequest
from sip_provisioning.domain.signalwire import CreateSipEndpointPayload, SipEndpoint, matches_payload
from sip_provisioning.observability import logger, metrics
from sip_provisioning.use_cases.ports import (
    AnswerLost,
    Attempt,
    Caller,
    CredentialsRejected,
    NotSent,
    PayloadRejected,
    Ports,
    RateLimited,
    ServerFailed,
    SignalWire,
    SignalWireFault,
    UnreadableAnswer,
    now_iso,
)
from sip_provisioning.use_cases.support.guard import check_request, delivery_for
from sip_provisioning.use_cases.support.managed import deleted_outside, held_by_id
from sip_provisioning.use_cases.support.once import run_keyed
from sip_provisioning.use_cases.support.password_secrets import check_secret_fits
from sip_provisioning.use_cases.support.reservations import reserve, settle_pending
from sip_provisioning.use_cases.support.upstream import signalwire_faults_as_problems

MAX_CREATE_ATTEMPTS = 3
FIRST_BACKOFF_SECONDS = 0.2
# What one more SignalWire call needs at least, so a retry never starts just to time out.
MIN_CALL_SECONDS = 1.0
PASSWORD_PURPOSE = "create"  # noqa: S105 - a label mixed into the derivation, not a password


def stored_request(request: EndpointRequest) -> dict[str, object]:
    """The request as the inventory keeps it: every field given, never the password."""
    return request.model_dump(mode="json", exclude_none=True, exclude={"password"})


def create_endpoint(
    ports: Ports, caller: Caller, request: EndpointRequest, deadline: Deadline, attempt: Attempt
) -> EndpointCreated:
    """Create the endpoint; `attempt` tells whether an earlier attempt under the same key ran."""
    config = ports.config.load()
    check_request(config, caller, request, request.model_fields_set)
    password = request.password or derive_password(config.signalwire.api_token, attempt.nonce, PASSWORD_PURPOSE)
    payload = build_create_payload(request, config.profiles_for(request.profile), password)
    client = ports.signalwire(config.signalwire)
    delivery = delivery_for(config, caller, request.profile, request.password_delivery)
    labels = _check_password_has_a_home(ports, caller, request, delivery)
    reservation = _reserve(ports, client, caller, request, deadline, attempt)
    try:
        endpoint = _create_at_most_once(client, payload, deadline, earlier_attempt=attempt.username_was_free)
    except UpstreamTimeout:
        raise  # the outcome is unknown: the reservation stays, for a retry or the next request to settle
    except Exception:
        ports.inventory.release(reservation)
        raise
    uri = sip_uri(request.username, config.signalwire)
    secret_arn = None
    if request.password is None and delivery is PasswordDelivery.SECRETS_MANAGER:
        # Before the record is completed: should this fail, the pending record is settled later.
        secret_arn = ports.secrets.put_password(labels, password, uri)
    _complete(ports, reservation, endpoint, secret_arn)
    metrics.add_metric(name="EndpointsCreated", unit=MetricUnit.Count, value=1)
    logger.info(
        "SIP endpoint created",
        extra={
            "audit": "endpoint-created",
            "endpoint_id": endpoint.id,
            "username": endpoint.username,
            "profile": request.profile,
            "call_handler": payload.call_handler,
            "password_generated": request.password is None,
        },
    )
    return EndpointCreated(
        endpoint=endpoint,
        sip_uri=uri,
        profile=request.profile,
        password=password.get_secret_value() if request.password is None and secret_arn is None else None,
        password_secret_arn=secret_arn,
    )


def create_endpoint_once(
    ports: Ports, caller: Caller, request: EndpointRequest, deadline: Deadline, *, key: str | None, busy_seconds: float
) -> EndpointCreated:
    """`create_endpoint` at most once per (caller, key): a repeat gets the first 201 again, its
    generated password derived anew. `busy_seconds`: how long before a retry may take over."""
    return run_keyed(
        ports.once,
        caller_identity=caller.identity,
        key=key,
        operation="create",
        username=request.username,
        body=request,
        busy_seconds=busy_seconds,
        answer_model=EndpointCreated,
        work=lambda attempt: create_endpoint(ports, caller, request, deadline, attempt),
        restore=lambda answer, attempt: restore_password(ports, request, answer, attempt),
    )


def preview_endpoint(ports: Ports, caller: Caller, request: EndpointRequest) -> DryRunResult:
    """What a create would send, password masked; nothing is created or stored. The same
    policies apply as to the create itself."""
    config = ports.config.load()
    check_request(config, caller, request, request.model_fields_set)
    payload = build_create_payload(
        request, config.profiles_for(request.profile), request.password or generate_password()
    )
    _check_password_has_a_home(
        ports, caller, request, delivery_for(config, caller, request.profile, request.password_delivery)
    )
    return DryRunResult(
        profile=request.profile, sip_uri=sip_uri(request.username, config.signalwire), payload=payload.to_masked_body()
    )


def _check_password_has_a_home(
    ports: Ports, caller: Caller, request: EndpointRequest, delivery: PasswordDelivery
) -> SecretLabels:
    """The labels of the endpoint's password secret, checked against Secrets Manager's limits
    where a generated password goes there: before anything is created, as a dry run says."""
    labels = SecretLabels(
        username=request.username, profile=request.profile, created_by=caller.identity, owner=request.owner
    )
    if request.password is None and delivery is PasswordDelivery.SECRETS_MANAGER:
        check_secret_fits(ports, labels)
    return labels


def restore_password(
    ports: Ports, request: EndpointRequest, created: EndpointCreated, attempt: Attempt
) -> EndpointCreated:
    """A replayed 201 gets its generated password back, derived again from the key's nonce."""
    if request.password is not None or created.password_secret_arn is not None:
        return created
    token = ports.config.load().signalwire.api_token
    password = derive_password(token, attempt.nonce, PASSWORD_PURPOSE)
    return created.model_copy(update={"password": password.get_secret_value()})


def _reserve(
    ports: Ports, client: SignalWire, caller: Caller, request: EndpointRequest, deadline: Deadline, attempt: Attempt
) -> InventoryRecord:
    """The username reserved for this attempt, SignalWire known to hold nothing under it before
    the attempt's first create leaves (a retry under a key that proved it once relies on that)."""
    if not attempt.username_was_free:
        _check_username_free(ports, client, request.username, deadline, attempt)
    timestamp = now_iso()
    pending = InventoryRecord(
        username=request.username,
        request=stored_request(request),
        profile=request.profile,
        owner=request.owner,
        created_by=caller.identity,
        created_via=caller.via,
        created_at=timestamp,
        updated_at=timestamp,
        status=EndpointStatus.PENDING,
        attempt_id=attempt.attempt_id,
        pending_until=int(time.time() + deadline.remaining()) + 1,
        username_was_free=True,
    )

    def follow(seen: InventoryRecord) -> InventoryRecord:
        """A live record of the username: when its endpoint is gone from SignalWire (the
        username was just seen free), it follows, deleted, and the username can be created."""
        if attempt.username_was_free or seen.endpoint_id is None or held_by_id(client, seen, deadline) is not None:
            return seen  # not seen free by this attempt, or still there (under another name)
        return deleted_outside(ports.inventory, seen)

    with signalwire_faults_as_problems():
        reservation = reserve(
            ports.inventory, pending, lambda seen: settle_pending(ports.inventory, client, seen, deadline), follow
        )
    if not attempt.username_was_free:
        ports.once.remember_username_free(attempt)
    return reservation


def _check_username_free(ports: Ports, client: SignalWire, username: str, deadline: Deadline, attempt: Attempt) -> None:
    """SignalWire holds nothing under `username`, or UsernameTaken: whatever it holds now was
    there before any create of this attempt (none has left without this check)."""
    with signalwire_faults_as_problems():
        found = client.find_endpoints_by_username(username, deadline)
        if not found:
            return
        seen = ports.inventory.current(username)
        if seen is not None and seen.status is EndpointStatus.PENDING:
            if seen.attempt_id == attempt.attempt_id:
                ports.inventory.release(seen)  # this attempt's, from before it sent anything
            elif (seen.pending_until or 0) <= time.time():
                settle_pending(ports.inventory, client, seen, deadline)
    raise UsernameTaken(username)


def _complete(ports: Ports, pending: InventoryRecord, endpoint: SipEndpoint, secret_arn: str | None) -> None:
    """The endpoint exists: its record says so. If this write fails the pending record stays,
    and the next request that meets it settles it from SignalWire; the caller still gets the
    password, which nobody could give it later."""
    active = pending.model_copy(
        update={
            "endpoint_id": endpoint.id,
            "status": EndpointStatus.ACTIVE,
            "updated_at": now_iso(),
            "password_secret_arn": secret_arn,
            "attempt_id": None,
            "pending_until": None,
            "username_was_free": None,
        }
    )
    try:
        ports.inventory.replace(pending, active)
    except Exception:
        metrics.add_metric(name="InventoryWritesFailed", unit=MetricUnit.Count, value=1)
        logger.exception("The endpoint was created but its record could not be completed; it stays pending")


def _create_at_most_once(
    client: SignalWire, payload: CreateSipEndpointPayload, deadline: Deadline, *, earlier_attempt: bool
) -> SipEndpoint:
    for attempt in range(1, MAX_CREATE_ATTEMPTS + 1):
        try:
            return client.create_endpoint(payload, deadline)
        except NotSent:
            wait = _backoff(attempt)
            if attempt == MAX_CREATE_ATTEMPTS or not deadline.allows(wait + MIN_CALL_SECONDS):
                raise UpstreamUnavailable("SignalWire could not be reached.", retry_after=1) from None
        except RateLimited as limited:
            wait = limited.retry_after
            if attempt == MAX_CREATE_ATTEMPTS or not deadline.allows(wait + MIN_CALL_SECONDS):
                raise UpstreamUnavailable(
                    "SignalWire asked us to slow down.", retry_after=limited.retry_after
                ) from None
        except PayloadRejected as rejection:
            return _earlier_attempts_endpoint(client, payload, rejection, deadline, earlier_attempt=earlier_attempt)
        except CredentialsRejected:
            raise UpstreamError("SignalWire rejected the service's credentials.") from None
        except (AnswerLost, ServerFailed, UnreadableAnswer) as lost:
            return _recover(client, payload, lost, deadline)
        metrics.add_metric(name="UpstreamRetries", unit=MetricUnit.Count, value=1)
        logger.warning("Retrying the create: SignalWire cannot have acted on it", extra={"wait_s": wait})
        time.sleep(wait)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _earlier_attempts_endpoint(
    client: SignalWire,
    payload: CreateSipEndpointPayload,
    rejection: PayloadRejected,
    deadline: Deadline,
    *,
    earlier_attempt: bool,
) -> SipEndpoint:
    """SignalWire refused the payload: a taken username, perhaps taken by an earlier attempt of
    this very request (committed after its answer was lost, even after its reservation was
    settled away). A filtered list tells which, as SignalWire words a taken username as just
    another 422."""
    try:
        found = client.find_endpoints_by_username(payload.username, deadline)
    except SignalWireFault:
        # Taken, invalid, or (after an earlier attempt) our own late commit: unconfirmed is
        # transient, never a validation error.
        if earlier_attempt:
            raise UpstreamTimeout("SignalWire refused the create and the endpoint could not be looked up.") from None
        raise UpstreamUnavailable(
            "SignalWire refused the create and the username could not be checked.", retry_after=1
        ) from None
    if not found:
        raise RequestInvalid(
            [FieldError(field="payload", message=detail) for detail in rejection.details],
            detail="SignalWire rejected the endpoint settings.",
        )
    if earlier_attempt and matches_payload(found[0], payload):
        # An earlier attempt under this key sent this create, with the password derived for the
        # key: its answer was lost, its create committed late.
        return _recovered(found[0])
    raise UsernameTaken(payload.username)


def _recover(
    client: SignalWire, payload: CreateSipEndpointPayload, lost: SignalWireFault, deadline: Deadline
) -> SipEndpoint:
    """The create may or may not have happened: the username says which, before we answer. The
    username was reserved for this request, and seen free in SignalWire, before the create left:
    an endpoint found now with the settings sent was made after that, by this create."""
    logger.warning("Create outcome unknown; looking the username up", extra={"fault": type(lost).__name__})
    try:
        found = client.find_endpoints_by_username(payload.username, deadline)
    except SignalWireFault:
        raise UpstreamTimeout(
            "SignalWire did not confirm the create and the endpoint could not be looked up."
        ) from None
    if not found:
        if isinstance(lost, AnswerLost):
            raise UpstreamTimeout("SignalWire did not answer in time and has no such endpoint.")
        raise UpstreamError(f"SignalWire failed the create: {lost}.")
    if not matches_payload(found[0], payload):
        raise UsernameTaken(payload.username)
    return _recovered(found[0])


def _recovered(endpoint: SipEndpoint) -> SipEndpoint:
    metrics.add_metric(name="CreatesRecovered", unit=MetricUnit.Count, value=1)
    logger.info("The create had happened: the endpoint matches what was sent", extra={"endpoint_id": endpoint.id})
    return endpoint


def _backoff(attempt: int) -> float:
    """Exponential with full jitter: 0-0.2 s, 0-0.4 s, ..."""
    return random.uniform(0, FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1))  # noqa: S311 - jitter, not crypto
