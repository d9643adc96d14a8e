"""The inventory record: what the service knows of an endpoint it created (never a password)."""

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EndpointStatus(StrEnum):
    # `pending` is the service's own: written just before the create is sent, completed once
    # SignalWire's answer (or a lookup) tells the endpoint's id. It is never shown as a status
    # of an endpoint in a list.
    PENDING = "pending"
    ACTIVE = "active"
    DISABLED = "disabled"
    DELETED = "deleted"


class CreatedVia(StrEnum):
    HTTP = "http"
    SLACK = "slack"
    WORKFLOW = "workflow"
    BULK = "bulk"
    SCIM = "scim"
    ADOPTED = "adopted"  # made outside the service, then taken into its inventory (CONTRACT.md section 9)


class InventoryRecord(BaseModel):
    """One endpoint the service created. A record is never erased: once deleted it is the audit
    trail, and a username created again gets a new current record beside it."""

    model_config = ConfigDict(frozen=True)

    username: str
    endpoint_id: str | None = None
    request: dict[str, Any] = Field(description="The self-service request it was built from, without any password.")
    profile: str
    owner: str | None = None
    created_by: str
    created_via: CreatedVia
    created_at: str
    updated_at: str
    status: EndpointStatus
    adopted_at: str | None = None
    deleted_by: str | None = None
    deleted_at: str | None = None
    password_secret_arn: str | None = None
    # Which attempt wrote a pending record and until when it may still be running: how a retry
    # recognises its own reservation, and how a crash between reserve and complete is recovered.
    attempt_id: str | None = Field(default=None, exclude=True)
    pending_until: int | None = Field(default=None, exclude=True)
    # A pending record's proof that SignalWire held no endpoint under the username before the
    # attempt's create left: without it, whatever SignalWire holds is someone else's.
    username_was_free: bool | None = Field(default=None, exclude=True)


DELETED_OUTSIDE = "signalwire"  # `deleted_by` of a record whose endpoint was deleted outside the service


class SecretLabels(BaseModel):
    """What a password secret's tags tell of its endpoint: always the endpoint as it is now."""

    model_config = ConfigDict(frozen=True)

    username: str
    profile: str
    created_by: str
    owner: str | None

    @classmethod
    def of(cls, record: InventoryRecord) -> "SecretLabels":
        return cls(username=record.username, profile=record.profile, created_by=record.created_by, owner=record.owner)


class RecordChanged(Exception):
    """The record is not as the writer last saw it: another request changed it first."""


class RecordSummary(BaseModel):
    """A record as `GET /endpoints` lists it."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    username: str
    profile: str
    owner: str | None
    status: EndpointStatus
    created_by: str
    created_at: str

    @classmethod
    def of(cls, record: InventoryRecord) -> "RecordSummary":
        return cls.model_validate(record.model_dump(include=set(cls.model_fields)))


class ListPosition(BaseModel):
    """Where a list goes on: after the record of `username` whose key in the table is `record_key`
    (a username may have several records, a current one and deleted ones moved aside)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    username: str
    record_key: str


class UpstreamPosition(BaseModel):
    """Where the list of unmanaged endpoints goes on: at the page SignalWire's `page_link` names
    (its path and query, never the space's address; None: the first page), past its first `skip`
    endpoints. It names no endpoint."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    page_link: str | None
    skip: int = Field(ge=0)


class RecordPage(BaseModel):
    """Records in username order; `resume_after` is None when the list is at its end."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    records: list[InventoryRecord]
    resume_after: ListPosition | None


class ListingQuery(BaseModel):
    """`GET /endpoints` as one caller asked it: what a cursor is issued for and only good for.
    The page size is not part of it: a caller may go on with pages of another size."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    caller: str
    profile: str | None
    owner: str | None
    status: EndpointStatus | None

    def binding(self) -> bytes:
        return json.dumps(["GET /endpoints", self.caller, self.profile, self.owner, self.status]).encode()
