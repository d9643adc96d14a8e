"""A user an identity provider provisions over SCIM (CONTRACT.md section 8), as the service keeps
it: beside its endpoint's inventory record, under the same SIP username. The endpoint's own state
(id, status, profile, password secret) stays in that record; the user holds what the identity
provider says (its userName, externalId, `active`, every attribute it sent) and the SCIM `id`.

The SIP username is chosen from the userName when the user is created and never changes after:
a rename in the identity provider renames the user, not the endpoint devices register with."""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sip_provisioning.domain.records import EndpointStatus, InventoryRecord


class DeactivationAction(StrEnum):
    """What `active: false` does to the user's endpoint."""

    DISABLE = "disable"
    DELETE = "delete"


class UserState(BaseModel):
    """What the identity provider says of a user: the whole of it, as a POST or a PUT gives it or
    as a PATCH leaves it."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    user_name: str
    external_id: str | None
    active: bool
    attributes: dict[str, Any] = Field(description="The client's attributes as JSON: no password, id, meta or SIP.")


class ScimUserRecord(UserState):
    """A SCIM user as stored."""

    scim_id: str = Field(description="The SCIM `id`: a UUID the service assigned, kept for the user's whole life.")
    username: str = Field(description="The SIP username, fixed when the user was created.")
    cycle: int = Field(
        default=0,
        ge=0,
        description="How many endpoints were begun for the user: each create is keyed by (id, cycle), "
        "so a retry resumes its own create and a create after a delete is a new one.",
    )
    created_at: str
    updated_at: str


class ProvisionedUser(BaseModel):
    """A user and the record of the endpoint the service created for it (None: never, or the
    username's record is another caller's)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    user: ScimUserRecord
    endpoint: InventoryRecord | None
    sip_uri: str

    @property
    def live_endpoint(self) -> InventoryRecord | None:
        """The endpoint's record while the endpoint exists (active or disabled)."""
        if self.endpoint is None or self.endpoint.status in {EndpointStatus.DELETED, EndpointStatus.PENDING}:
            return None
        return self.endpoint


class UserPage(BaseModel):
    """One page of a list of users, and how many users the whole list holds."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    users: list[ProvisionedUser]
    total: int


class ScimUserNotFound(Exception):
    """No SCIM user has that id."""


class UserNameInUse(Exception):
    """Another SCIM user already has that userName (compared without regard to case)."""

    def __init__(self, user_name: str) -> None:
        super().__init__(f"Another user already has the userName {user_name!r}.")
