"""Drift and the PATCH diff: an endpoint as SignalWire holds it against what its request builds.

Both compare every SignalWire create field but the password. A field the built payload leaves
unset is expected at SignalWire's own default for it (`[]` for the lists, `default` for the
encryption, null for the rest), so an endpoint created from a profile is in line with it.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sip_provisioning.domain.signalwire import CreateSipEndpointPayload, SipEndpoint, SipEndpointSettings

UPSTREAM_DEFAULTS: dict[str, Any] = {"ciphers": [], "codecs": [], "encryption": "default"}
COMPARED_FIELDS = ("username", *SipEndpointSettings.model_fields)


class Drift(BaseModel):
    # Off the create path: built at first use, not in every cold start's INIT.
    model_config = ConfigDict(defer_build=True, frozen=True)

    field: str
    expected: Any
    actual: Any


class Change(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, serialize_by_alias=True, validate_by_name=True)

    field: str
    # `from` is a Python keyword: the attribute is `before`, the JSON name `from`.
    before: Any = Field(default=None, alias="from")
    to: Any = None


def expected_values(payload: CreateSipEndpointPayload) -> dict[str, Any]:
    built = payload.model_dump(mode="json", exclude_none=True, exclude={"password"})
    return {field: built.get(field, UPSTREAM_DEFAULTS.get(field)) for field in COMPARED_FIELDS}


def drift_of(endpoint: SipEndpoint, payload: CreateSipEndpointPayload) -> list[Drift]:
    actual = endpoint.model_dump(mode="json")
    return [
        Drift(field=field, expected=expected, actual=actual.get(field))
        for field, expected in expected_values(payload).items()
        if actual.get(field) != expected
    ]


def update_body(endpoint: SipEndpoint, payload: CreateSipEndpointPayload) -> dict[str, Any]:
    """What to PUT so the endpoint holds `payload`: only the fields that differ; a field to clear
    as null (SignalWire then clears it, or restores its default for the lists and encryption)."""
    built = payload.model_dump(mode="json", exclude_none=True, exclude={"password"})
    return {drift.field: built.get(drift.field) for drift in drift_of(endpoint, payload)}
