"""The endpoint follows its SCIM user: what the identity provider says of a user (stored first)
is brought about through the endpoint's own use cases, as caller `scim`.

  user active, no endpoint (never, or deleted)   create, keyed by the user's id and a new cycle
  user active, endpoint being created            the same keyed create: it resumes its own attempt
  user active, endpoint disabled                 reset the password (which enables it)
  user active, endpoint of another profile/owner change it (profile from the mapping, owner = userName)
  user inactive, endpoint exists                 `on_deactivate`: disable, or delete

Every step reads what is there now, so a request that failed half-way (a timeout, a crash) is
completed by the identity provider's retry or by its next request about the user. Passwords go
to Secrets Manager only: the `scim` caller's delivery is forced (domain/policy.py)."""

from contextlib import suppress

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.errors import (
    ConfigurationError,
    EndpointNotFound,
    Forbidden,
    RequestInvalid,
    UsernameTaken,
)
from sip_provisioning.domain.payload import sip_uri
from sip_provisioning.domain.records import CreatedVia, EndpointStatus, InventoryRecord
from sip_provisioning.domain.request import EndpointChanges, EndpointRequest, PasswordResetRequest
from sip_provisioning.domain.scim_users import DeactivationAction, ProvisionedUser, ScimUserRecord
from sip_provisioning.use_cases.change import change_endpoint
from sip_provisioning.use_cases.create import create_endpoint_once
from sip_provisioning.use_cases.delete import delete_endpoint
from sip_provisioning.use_cases.disable import disable_endpoint
from sip_provisioning.use_cases.ports import Caller, Ports, now_iso
from sip_provisioning.use_cases.reset_password import reset_password_once

SCIM_CALLER = Caller(identity="scim", via=CreatedVia.SCIM)

# Refusals that no retry can change: the request that met one is undone (the user is as it was
# before it, or not there at all). Any other failure (SignalWire unreachable, a timeout) leaves
# what the identity provider said stored, for its next request about the user to complete.
PERMANENT_REFUSALS = (UsernameTaken, RequestInvalid, Forbidden, ConfigurationError)


def follow_user(
    ports: Ports,
    user: ScimUserRecord,
    *,
    profile: str,
    on_deactivate: DeactivationAction,
    deadline: Deadline,
    busy_seconds: float,
) -> ScimUserRecord:
    """Bring the user's endpoint to what `user` says; the user as stored afterwards."""
    record = users_endpoint(ports, user)
    if not user.active:
        _deactivate(ports, user, record, on_deactivate, deadline)
        return user
    if record is None or record.status is EndpointStatus.DELETED:
        # A new cycle before the create: its key has never been used, so no earlier create's
        # answer can be replayed for it (a crash after this write only costs a cycle number).
        begun = user.model_copy(update={"cycle": user.cycle + 1, "updated_at": now_iso()})
        ports.scim_users.replace(user, begun)
        _create(
            ports,
            begun,
            EndpointRequest(username=user.username, profile=profile, owner=user.user_name),
            deadline,
            busy_seconds,
        )
        return begun
    if record.status is EndpointStatus.PENDING:
        # The create of this cycle is unsettled: the same request under the same key resumes it.
        _create(ports, user, EndpointRequest.model_validate(record.request), deadline, busy_seconds)
        record = users_endpoint(ports, user)
        if record is None:
            return user
    if record.status is EndpointStatus.DISABLED:
        reset_password_once(
            ports, SCIM_CALLER, user.username, PasswordResetRequest(), deadline, key=None, busy_seconds=busy_seconds
        )
    if record.profile != profile or record.owner != user.user_name:
        change_endpoint(
            ports, SCIM_CALLER, user.username, EndpointChanges(profile=profile, owner=user.user_name), deadline
        )
    return user


def users_endpoint(ports: Ports, user: ScimUserRecord) -> InventoryRecord | None:
    """The record of the endpoint the service created for `user`."""
    return scim_endpoint(ports.inventory.current(user.username))


def scim_endpoint(record: InventoryRecord | None) -> InventoryRecord | None:
    """The current record of a user's SIP username, if it is the `scim` caller's: another
    caller's endpoint under that username is not the user's, and is never changed for it."""
    return record if record is not None and record.created_by == SCIM_CALLER.identity else None


def provisioned(ports: Ports, user: ScimUserRecord) -> ProvisionedUser:
    """`user` with its endpoint's record, as a SCIM answer shows it."""
    config = ports.config.load()
    return ProvisionedUser(
        user=user, endpoint=users_endpoint(ports, user), sip_uri=sip_uri(user.username, config.signalwire)
    )


def _create(
    ports: Ports, user: ScimUserRecord, request: EndpointRequest, deadline: Deadline, busy_seconds: float
) -> None:
    create_endpoint_once(
        ports, SCIM_CALLER, request, deadline, key=f"{user.scim_id}:{user.cycle}", busy_seconds=busy_seconds
    )


def _deactivate(
    ports: Ports,
    user: ScimUserRecord,
    record: InventoryRecord | None,
    on_deactivate: DeactivationAction,
    deadline: Deadline,
) -> None:
    if record is None or record.status is EndpointStatus.DELETED:
        return
    if on_deactivate is DeactivationAction.DELETE:
        delete_endpoint(ports, SCIM_CALLER, user.username, deadline)
        return
    if record.status is EndpointStatus.DISABLED:
        return
    with suppress(EndpointNotFound):  # deleted outside the service: nothing is left to register with
        disable_endpoint(ports, SCIM_CALLER, user.username, deadline)
