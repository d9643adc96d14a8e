"""The SCIM caller: each `/Users` request read into what the identity provider says of a user,
carried out by the SCIM user use cases, and answered as SCIM documents."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from sip_provisioning.callers.scim.errors import InvalidValue
from sip_provisioning.callers.scim.filters import FilterAttribute, parse_user_filter
from sip_provisioning.callers.scim.patch import apply_patch
from sip_provisioning.callers.scim.resources import (
    MAX_RESULTS,
    ScimUser,
    SipUser,
    UserResponseParameters,
    client_attributes,
    list_document,
    parse_user,
    returned_user,
    user_document,
    user_from_client_attributes,
)
from sip_provisioning.callers.scim.settings import ScimSettings, profile_for, sip_username_for
from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.request import Owner
from sip_provisioning.domain.scim_users import ProvisionedUser, ScimUserRecord, UserPage, UserState
from sip_provisioning.use_cases.ports import Ports
from sip_provisioning.use_cases.scim import find_users
from sip_provisioning.use_cases.scim.deprovision_user import deprovision_user
from sip_provisioning.use_cases.scim.provision_user import provision_user
from sip_provisioning.use_cases.scim.update_user import update_user

_OWNER = TypeAdapter(Owner)

FIND_USERS_BY = {
    FilterAttribute.ID: find_users.users_with_id,
    FilterAttribute.USER_NAME: find_users.users_with_user_name,
    FilterAttribute.EXTERNAL_ID: find_users.users_with_external_id,
}


@dataclass(frozen=True)
class ScimContext:
    """What every request is carried out with: the ports, the mapping, where the service is
    addressed (`base_url` ends in `/scim/v2`), and the invocation's time."""

    ports: Ports
    settings: ScimSettings
    base_url: str
    deadline: Deadline
    busy_seconds: float


def create_user(context: ScimContext, body: object) -> dict[str, Any]:
    user = parse_user(body)
    state = _state(user)
    provisioned = provision_user(
        context.ports,
        state,
        username=sip_username_for(state.user_name, context.settings),
        profile=profile_for(user, context.settings),
        on_deactivate=context.settings.on_deactivate,
        deadline=context.deadline,
        busy_seconds=context.busy_seconds,
    )
    return _document(context, provisioned)


def get_user(context: ScimContext, scim_id: str, parameters: UserResponseParameters) -> dict[str, Any]:
    return _document(context, find_users.user_by_id(context.ports, scim_id), parameters)


def list_users(
    context: ScimContext,
    *,
    filter_text: str | None,
    start_index: str | None,
    count: str | None,
    parameters: UserResponseParameters,
) -> dict[str, Any]:
    """`startIndex` is 1-based (below 1 is 1), `count` at most MAX_RESULTS (below 0 is 0), as
    RFC 7644 §3.4.2.4 has them."""
    first = max(1, _integer("startIndex", start_index, default=1))
    limit = min(MAX_RESULTS, max(0, _integer("count", count, default=MAX_RESULTS)))
    page: UserPage
    if filter_text is None:
        page = find_users.all_users(context.ports, offset=first - 1, limit=limit)
    else:
        wanted = parse_user_filter(filter_text)
        page = FIND_USERS_BY[wanted.attribute](context.ports, wanted.value, offset=first - 1, limit=limit)
    users = [_returned(context, provisioned) for provisioned in page.users]
    return list_document(users, total_results=page.total, start_index=first, parameters=parameters)


def replace_user(context: ScimContext, scim_id: str, body: object) -> dict[str, Any]:
    seen = find_users.stored_user(context.ports, scim_id)
    return _update(context, seen, parse_user(body))


def patch_user(context: ScimContext, scim_id: str, body: object) -> dict[str, Any]:
    """The operations apply to the user as a GET would return it, all or none."""
    current = find_users.user_by_id(context.ports, scim_id)
    return _update(context, current.user, apply_patch(_returned(context, current), body))


def delete_user(context: ScimContext, scim_id: str) -> None:
    deprovision_user(context.ports, scim_id, context.deadline)


def _update(context: ScimContext, seen: ScimUserRecord, user: ScimUser) -> dict[str, Any]:
    provisioned = update_user(
        context.ports,
        seen,
        _state(user),
        profile=profile_for(user, context.settings),
        on_deactivate=context.settings.on_deactivate,
        deadline=context.deadline,
        busy_seconds=context.busy_seconds,
    )
    return _document(context, provisioned)


def _state(user: ScimUser) -> UserState:
    """What the identity provider says: its userName (the endpoint's owner, so owner text),
    externalId, `active` (true when not given) and every attribute it sent."""
    if not user.user_name:
        raise InvalidValue("userName is required.")
    try:
        _OWNER.validate_python(user.user_name)
    except ValidationError as refusal:
        raise InvalidValue(f"userName is not usable: {refusal.errors()[0]['msg']}.") from None
    return UserState(
        user_name=user.user_name,
        external_id=user.external_id,
        active=user.active if user.active is not None else True,
        attributes=client_attributes(user),
    )


def _returned(context: ScimContext, provisioned: ProvisionedUser) -> ScimUser:
    stored = provisioned.user
    user = user_from_client_attributes(stored.attributes)  # `active` as given: a removed one stays absent
    record, live = provisioned.endpoint, provisioned.live_endpoint
    last_modified = max(stored.updated_at, record.updated_at) if record is not None else stored.updated_at
    return returned_user(
        user,
        user_id=stored.scim_id,
        created=datetime.fromisoformat(stored.created_at),
        last_modified=datetime.fromisoformat(last_modified),
        location=f"{context.base_url}/Users/{stored.scim_id}",
        sip=SipUser(
            sip_username=stored.username,
            sip_uri=provisioned.sip_uri,
            sip_endpoint_id=live.endpoint_id if live is not None else None,
            profile=record.profile if record is not None else None,
            password_secret_arn=live.password_secret_arn if live is not None else None,
        ),
    )


def _document(
    context: ScimContext, provisioned: ProvisionedUser, parameters: UserResponseParameters | None = None
) -> dict[str, Any]:
    return user_document(_returned(context, provisioned), parameters)


def _integer(name: str, value: str | None, *, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidValue(f"{name} must be an integer.") from None
