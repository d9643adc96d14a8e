"""The merge of a self-service request over its profiles into SignalWire's create body (no I/O)."""

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr, ValidationError

from sip_provisioning.domain.errors import FieldError, RequestInvalid, UnknownProfile
from sip_provisioning.domain.profile import DEFAULT_PROFILE, Profile, SignalWireSettings
from sip_provisioning.domain.request import EndpointRequest, request_key_for
from sip_provisioning.domain.signalwire import (
    ALL_HANDLER_FIELDS,
    HANDLER_FIELDS,
    CallHandler,
    CreateSipEndpointPayload,
    missing_handler_fields,
)


def _missing_field_error(call_handler: CallHandler, field: str, profile: str) -> FieldError:
    where = [f"set {field} in profile '{profile}'"]
    if profile != DEFAULT_PROFILE:
        where.append(f"in profile '{DEFAULT_PROFILE}'")
    request_key = request_key_for(call_handler, field)
    if request_key:
        where.insert(0, f"give {request_key}")
    return FieldError(
        field=field,
        message=f"required when call_handler is {call_handler.value}: {', or '.join(where)}",
    )


def build_create_payload(
    request: EndpointRequest, profiles: Mapping[str, Profile], password: SecretStr
) -> CreateSipEndpointPayload:
    """Lay the named profile over `default`, then the request over both (CONTRACT.md section 1).

    `profiles` always holds `default`: the parameter reader refuses a configuration without it.

    Only the effective handler's call_* fields survive: a profile or request that switches the
    handler leaves none of the previous handler's fields behind.
    """
    if request.profile not in profiles:
        raise UnknownProfile(request.profile, sorted(profiles))

    fields: dict[str, Any] = profiles[DEFAULT_PROFILE].create_fields()
    fields.update(profiles[request.profile].create_fields())  # key by key; a list replaces a list

    if request.handler is not None:
        fields["call_handler"] = request.handler.call_handler
    call_handler = CallHandler(fields["call_handler"]) if fields.get("call_handler") else None
    owned = set(HANDLER_FIELDS[call_handler]) if call_handler else set()
    fields = {key: value for key, value in fields.items() if key not in ALL_HANDLER_FIELDS or key in owned}
    if request.handler is not None:
        # A key given as null is not given, as null is everywhere in a request: the profile's
        # value of the same type stays (a PATCH lays its handler over the stored request with every
        # key it did not give as null).
        fields.update({key: value for key, value in request.handler.signalwire_fields().items() if value is not None})

    fields["username"] = request.username
    fields["password"] = password
    if request.caller_id is not None:
        fields["caller_id"] = request.caller_id
    if request.send_as is not None:
        fields["send_as"] = request.send_as

    missing = missing_handler_fields(call_handler, fields)
    if call_handler is not None and missing:
        raise RequestInvalid(
            [_missing_field_error(call_handler, field, request.profile) for field in missing],
            detail=f"The endpoint's call handler {call_handler.value} lacks required settings.",
        )
    try:
        return CreateSipEndpointPayload.model_validate(fields)
    except ValidationError as error:
        raise RequestInvalid(
            [
                FieldError.from_pydantic(".".join(str(p) for p in e["loc"]) or "payload", e["msg"])
                for e in error.errors(include_input=False, include_url=False)
            ],
            detail="The SignalWire payload built from the request and its profiles is invalid.",
        ) from None


def sip_uri(username: str, settings: SignalWireSettings) -> str:
    """The address a SIP device registers as: the username at the space's SIP domain."""
    return f"sip:{username}@{settings.sip_domain}"
