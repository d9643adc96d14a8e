"""The inventory record: what the service knows of an endpoint it created (never a password)."""

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


class RecordChanged(Exception):
    """The record is not as the writer last saw it: another request changed it first."""


class RecordSummary(BaseModel):
    """A record as `GET /endpoints` lists it."""

    model_config = ConfigDict(frozen=True)

    username: str
    profile: str
    owner: str | None
    status: EndpointStatus
    created_by: str
    created_at: str

    @classmethod
    def of(cls, record: InventoryRecord) -> "RecordSummary":
        return cls.model_validate(record.model_dump(include=set(cls.model_fields)))


class RecordPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    records: list[InventoryRecord]
    next_cursor: str | None
