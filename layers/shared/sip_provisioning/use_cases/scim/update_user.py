"""Update a SCIM user (`PUT` or `PATCH /Users/{id}`): store what the identity provider now says,
then bring the endpoint to it. The SIP username stays the one chosen at creation."""

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.scim_users import (
    DeactivationAction,
    ProvisionedUser,
    ScimUserRecord,
    UserNameInUse,
    UserState,
)
from sip_provisioning.use_cases.ports import Ports, now_iso
from sip_provisioning.use_cases.scim.follow_user import PERMANENT_REFUSALS, follow_user, provisioned


def update_user(
    ports: Ports,
    seen: ScimUserRecord,
    state: UserState,
    *,
    profile: str,
    on_deactivate: DeactivationAction,
    deadline: Deadline,
    busy_seconds: float,
) -> ProvisionedUser:
    """`seen`: the user as the caller read it (a write after another's fails, `RecordChanged`);
    `state`: the whole of what the identity provider now says; `profile`: the mapping's."""
    if state.user_name.lower() != seen.user_name.lower():
        holder = ports.scim_users.by_user_name(state.user_name)
        if holder is not None and holder.scim_id != seen.scim_id:
            raise UserNameInUse(state.user_name)
    user = seen
    if state.model_dump() != seen.model_dump(include=set(UserState.model_fields)):
        user = seen.model_copy(update={**state.model_dump(), "updated_at": now_iso()})
        ports.scim_users.replace(seen, user)
    try:
        user = follow_user(
            ports, user, profile=profile, on_deactivate=on_deactivate, deadline=deadline, busy_seconds=busy_seconds
        )
    except PERMANENT_REFUSALS:
        _restore(ports, seen)
        raise
    return provisioned(ports, user)


def _restore(ports: Ports, seen: ScimUserRecord) -> None:
    """The user as it was before the refused request (its cycle as it is now: a cycle once begun
    is never reused)."""
    current = ports.scim_users.by_id(seen.scim_id)
    if current is not None and current != seen:
        ports.scim_users.replace(current, seen.model_copy(update={"cycle": current.cycle, "updated_at": now_iso()}))
