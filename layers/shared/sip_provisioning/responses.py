"""What the service answers: every body is one of these models."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sip_provisioning.errors import FieldError
from sip_provisioning.signalwire.models import SipEndpoint


class EndpointCreated(BaseModel):
    """201: the endpoint as SignalWire returned it, where to register, and a generated password."""

    model_config = ConfigDict(frozen=True)

    endpoint: SipEndpoint
    sip_uri: str = Field(examples=["sip:alice.smith@example.sip.signalwire.com"])
    profile: str
    password: str | None = Field(
        default=None, description="Present only when the service generated the password; shown once."
    )


class DryRunResult(BaseModel):
    """200 for `dry_run=true`: the exact create body that would be sent, password masked."""

    model_config = ConfigDict(frozen=True)

    dry_run: Literal[True] = True
    profile: str
    sip_uri: str
    payload: dict[str, Any]


class ProfileSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    description: str | None
    call_handler: str | None


class ProfileList(BaseModel):
    model_config = ConfigDict(frozen=True)

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
