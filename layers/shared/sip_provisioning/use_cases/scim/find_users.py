"""Look SCIM users up (`GET /Users`, `GET /Users/{id}`): by id, userName or externalId, or a page
of all of them, each with its endpoint's record."""

from sip_provisioning.domain.payload import sip_uri
from sip_provisioning.domain.scim_users import ProvisionedUser, ScimUserNotFound, ScimUserRecord, UserPage
from sip_provisioning.use_cases.ports import Ports
from sip_provisioning.use_cases.scim.follow_user import provisioned, scim_endpoint


def user_by_id(ports: Ports, scim_id: str) -> ProvisionedUser:
    return provisioned(ports, stored_user(ports, scim_id))


def stored_user(ports: Ports, scim_id: str) -> ScimUserRecord:
    """The user as stored, for a PUT or a PATCH to start from."""
    user = ports.scim_users.by_id(scim_id)
    if user is None:
        raise ScimUserNotFound(scim_id)
    return user


def users_with_id(ports: Ports, scim_id: str, *, offset: int, limit: int) -> UserPage:
    user = ports.scim_users.by_id(scim_id)
    return _page(ports, [user] if user is not None else [], offset, limit)


def users_with_user_name(ports: Ports, user_name: str, *, offset: int, limit: int) -> UserPage:
    user = ports.scim_users.by_user_name(user_name)
    return _page(ports, [user] if user is not None else [], offset, limit)


def users_with_external_id(ports: Ports, external_id: str, *, offset: int, limit: int) -> UserPage:
    return _page(ports, ports.scim_users.by_external_id(external_id), offset, limit)


def all_users(ports: Ports, *, offset: int, limit: int) -> UserPage:
    """`limit` users after the first `offset`, in id order, and how many there are."""
    total = ports.scim_users.count()
    users = ports.scim_users.page(offset=offset, limit=limit) if limit > 0 and offset < total else []
    return UserPage(users=_with_endpoints(ports, users), total=total)


def _page(ports: Ports, matches: list[ScimUserRecord], offset: int, limit: int) -> UserPage:
    return UserPage(users=_with_endpoints(ports, matches[offset : offset + limit]), total=len(matches))


def _with_endpoints(ports: Ports, users: list[ScimUserRecord]) -> list[ProvisionedUser]:
    if not users:
        return []
    config = ports.config.load()
    records = ports.inventory.current_of([user.username for user in users])
    return [
        ProvisionedUser(
            user=user,
            endpoint=scim_endpoint(records.get(user.username)),
            sip_uri=sip_uri(user.username, config.signalwire),
        )
        for user in users
    ]
