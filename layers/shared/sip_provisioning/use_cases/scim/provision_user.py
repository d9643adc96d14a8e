"""Provision a SCIM user (`POST /Users`): store it under a new id, then give it its endpoint."""

import uuid

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.errors import UsernameTaken
from sip_provisioning.domain.records import RecordChanged
from sip_provisioning.domain.scim_users import (
    DeactivationAction,
    ProvisionedUser,
    ScimUserRecord,
    UserNameInUse,
    UserState,
)
from sip_provisioning.use_cases.ports import Ports, now_iso
from sip_provisioning.use_cases.scim.follow_user import PERMANENT_REFUSALS, follow_user, provisioned


def provision_user(
    ports: Ports,
    state: UserState,
    *,
    username: str,
    profile: str,
    on_deactivate: DeactivationAction,
    deadline: Deadline,
    busy_seconds: float,
) -> ProvisionedUser:
    """`username`: the SIP username the userName maps to; `profile`: the one the mapping gives."""
    if ports.scim_users.by_user_name(state.user_name) is not None:
        raise UserNameInUse(state.user_name)
    timestamp = now_iso()
    user = ScimUserRecord(
        **state.model_dump(), scim_id=str(uuid.uuid4()), username=username, created_at=timestamp, updated_at=timestamp
    )
    try:
        ports.scim_users.add(user)
    except RecordChanged:
        raise UsernameTaken(username) from None  # another user maps to the same SIP username
    try:
        user = follow_user(
            ports, user, profile=profile, on_deactivate=on_deactivate, deadline=deadline, busy_seconds=busy_seconds
        )
    except PERMANENT_REFUSALS:  # the user is removed again, as if never posted
        stored = ports.scim_users.by_id(user.scim_id)  # its cycle moved on when the create began
        if stored is not None:
            ports.scim_users.remove(stored)
        raise
    return provisioned(ports, user)
