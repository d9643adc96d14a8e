"""What the service answers: every body is one of these models."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sip_provisioning.domain.drift import Change, Drift
from sip_provisioning.domain.errors import FieldError
from sip_provisioning.domain.records import InventoryRecord, RecordSummary
from sip_provisioning.domain.signalwire import SipEndpoint


class EndpointCreated(BaseModel):
    """201: the endpoint as SignalWire returned it, where to register, and a generated password."""

    model_config = ConfigDict(frozen=True)

    endpoint: SipEndpoint
    sip_uri: str = Field(examples=["sip:alice.smith@example.sip.signalwire.com"])
    profile: str
    password: str | None = Field(
        default=None, description="Present only when the service generated the password; shown once."
    )
    password_secret_arn: str | None = Field(
        default=None, description="Where a generated password went instead, with secrets_manager delivery."
    )


class DryRunResult(BaseModel):
    """200 for `dry_run=true`: the exact create body that would be sent, password masked."""

    # Off the create path: built at first use, not in every cold start's INIT.
    model_config = ConfigDict(defer_build=True, frozen=True)

    dry_run: Literal[True] = True
    profile: str
    sip_uri: str
    payload: dict[str, Any]


class ProfileSummary(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    name: str
    description: str | None
    call_handler: str | None


class ProfileList(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    profiles: list[ProfileSummary]


class Problem(BaseModel):
    """An RFC 9457 problem details body."""

    model_config = ConfigDict(frozen=True)

    type: str
    title: str
    status: int
    detail: str
    request_id: str | None = None
    errors: list[FieldError] | None = None


class EndpointView(BaseModel):
    """200 for `GET /endpoints/{username}`."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    endpoint: SipEndpoint
    sip_uri: str
    managed: bool
    record: InventoryRecord | None
    drift: list[Drift]


class EndpointList(BaseModel):
    """200 for `GET /endpoints`: a page may hold fewer than `limit` records (even none) and still
    go on; the list is at its end only when `next_cursor` is null."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    endpoints: list[RecordSummary]
    next_cursor: str | None = Field(
        description="Opaque. Send it back as `cursor`, with the same filters, for the next page; null at the end."
    )


class EndpointChanged(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    endpoint: SipEndpoint
    sip_uri: str
    profile: str
    changed: list[str]


class ChangePreview(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    dry_run: Literal[True] = True
    changes: list[Change]


class PasswordReset(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    username: str
    sip_uri: str
    password: str | None = Field(default=None, description="Present only when the service generated it; shown once.")
    password_secret_arn: str | None = Field(
        default=None, description="Where a generated password went instead, with secrets_manager delivery."
    )


class EndpointDisabled(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    username: str
    status: Literal["disabled"] = "disabled"


class DeletePreview(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    dry_run: Literal[True] = True
    would_delete: InventoryRecord


class EndpointDeleted(BaseModel):
    """What a workflow gets for a delete (HTTP answers 204 with no body)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    username: str
    status: Literal["deleted"] = "deleted"


class EndpointAdopted(BaseModel):
    """200 for `POST /endpoints/{username}/adopt`: the endpoint as SignalWire holds it (unchanged),
    its new record, and where it differs from its profile."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    endpoint: SipEndpoint
    sip_uri: str
    managed: Literal[True] = True
    record: InventoryRecord
    drift: list[Drift]


class AdoptPreview(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    dry_run: Literal[True] = True
    would_adopt: InventoryRecord
    drift: list[Drift]


class UnmanagedEndpoint(BaseModel):
    """An endpoint SignalWire holds that the inventory does not, as `GET /endpoints?managed=false` lists it."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    username: str
    id: str
    call_handler: str | None


class UnmanagedEndpointList(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    endpoints: list[UnmanagedEndpoint]
    next_cursor: str | None
