"""Deprovision a SCIM user (`DELETE /Users/{id}`): delete its endpoint, then the user."""

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.records import EndpointStatus
from sip_provisioning.domain.scim_users import ScimUserNotFound
from sip_provisioning.use_cases.delete import delete_endpoint
from sip_provisioning.use_cases.ports import Ports
from sip_provisioning.use_cases.scim.follow_user import SCIM_CALLER, users_endpoint


def deprovision_user(ports: Ports, scim_id: str, deadline: Deadline) -> None:
    """The endpoint goes first: should the user's removal then fail, the identity provider's retry
    finds the user still there and finishes. Its record stays in the inventory as the audit trail."""
    user = ports.scim_users.by_id(scim_id)
    if user is None:
        raise ScimUserNotFound(scim_id)
    record = users_endpoint(ports, user)
    if record is not None and record.status is not EndpointStatus.DELETED:
        delete_endpoint(ports, SCIM_CALLER, user.username, deadline)
    ports.scim_users.remove(user)
