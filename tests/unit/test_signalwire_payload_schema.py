"""Every payload we would send validates against SignalWire's own published schema."""

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import SecretStr, ValidationError

from sip_provisioning.domain.errors import RequestInvalid
from sip_provisioning.domain.payload import build_create_payload
from sip_provisioning.domain.profile import Profile
from sip_provisioning.domain.request import EndpointRequest
from sip_provisioning.domain.signalwire import (
    HANDLER_FIELDS,
    REQUIRED_HANDLER_FIELDS,
    CallHandler,
    CreateSipEndpointPayload,
)

UPSTREAM_OPENAPI = Path(__file__).parents[2] / "docs" / "upstream" / "sip-endpoints.openapi.json"


def official_validator() -> Draft202012Validator:
    document = json.loads(UPSTREAM_OPENAPI.read_text())
    # The whole document is the root, so the request schema's $refs into components resolve.
    return Draft202012Validator(
        {**document, "$ref": "#/components/schemas/CreateSipEndpointRequest"}, format_checker=FormatChecker()
    )


VALIDATOR = official_validator()

urls = st.sampled_from(["https://a.example/in", "http://b.example:8080/x?y=1", "https://c.example/s.yaml"])
uuids = st.uuids().map(str)
texts = st.text(st.characters(codec="utf-8", categories=["L", "N", "P"]), min_size=1, max_size=40)
methods = st.sampled_from(["GET", "POST", "get", "post", "Post"])
HANDLER_VALUES: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "laml_webhooks": {
        "url": urls,
        "method": methods,
        "fallback_url": urls,
        "fallback_method": methods,
        "status_callback_url": urls,
        "status_callback_method": methods,
    },
    "laml_application": {"application_id": texts},
    "dialogflow": {"agent_id": texts},
    "relay_topic": {"topic": texts, "status_callback_url": urls},
    "relay_context": {"context": texts, "status_callback_url": urls},
    "relay_application": {"application": texts},
    "relay_connector": {},
    "video_room": {"room_id": uuids},
    "call_flow": {"flow_id": uuids, "version": st.sampled_from(["working_copy", "current_deployed"])},
    "ai_agent": {"agent_id": uuids},
    "relay_script": {"url": urls},
}


@st.composite
def handlers(draw: st.DrawFn) -> dict[str, Any]:
    handler_type = draw(st.sampled_from(sorted(HANDLER_VALUES)))
    keys = HANDLER_VALUES[handler_type]
    chosen = draw(st.sets(st.sampled_from(sorted(keys)))) if keys else set()
    return {"type": handler_type, **{key: draw(keys[key]) for key in chosen}}


@st.composite
def requests_and_profiles(draw: st.DrawFn) -> tuple[EndpointRequest, dict[str, Profile]]:
    body: dict[str, Any] = {
        "username": draw(st.from_regex(r"\A[A-Za-z0-9._+\-]{1,40}\Z")),
        "profile": draw(st.sampled_from(["default", "named"])),
    }
    if draw(st.booleans()):
        body["caller_id"] = draw(texts)
    if draw(st.booleans()):
        body["send_as"] = draw(st.one_of(st.just("random"), st.from_regex(r"\A\+[1-9][0-9]{1,14}\Z")))
    if draw(st.booleans()):
        body["handler"] = draw(handlers())
    default_handler = draw(handlers())
    named_handler = draw(handlers())
    profiles = {
        "default": Profile.model_validate(
            {
                "codecs": draw(st.lists(st.sampled_from(["OPUS", "G722", "PCMU", "OPUS@8000H@20I", "VP8"]))),
                "ciphers": draw(st.lists(st.sampled_from(["AEAD_AES_256_GCM_8", "AES_CM_128_HMAC_SHA1_32"]))),
                "encryption": draw(st.sampled_from(["default", "required", "optional"])),
                **_profile_handler_fields(default_handler),
            }
        ),
        "named": Profile.model_validate({"description": "named", **_profile_handler_fields(named_handler)}),
    }
    return EndpointRequest.model_validate(body), profiles


def _profile_handler_fields(handler: dict[str, Any]) -> dict[str, Any]:
    request_handler = EndpointRequest.model_validate({"username": "x", "handler": handler}).handler
    assert request_handler is not None
    return {"call_handler": handler["type"], **request_handler.signalwire_fields()}


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(requests_and_profiles())
def test_every_payload_the_builder_produces_validates_against_the_official_schema(
    case: tuple[EndpointRequest, dict[str, Profile]],
) -> None:
    # Given a generated request and profiles
    request, profiles = case
    # When the builder produces a payload (or rejects the combination)
    try:
        body = build_create_payload(request, profiles, SecretStr("a-generated-password-123")).to_request_body()
    except RequestInvalid:
        return
    # Then SignalWire's CreateSipEndpointRequest schema accepts it
    errors = [error.message for error in VALIDATOR.iter_errors(body)]
    assert errors == []


@pytest.mark.parametrize("handler", list(CallHandler))
def test_a_payload_with_only_the_required_fields_of_each_handler_is_valid_upstream(handler: CallHandler) -> None:
    # Given the required fields of a handler, filled with valid values
    sample = {
        "call_request_url": "https://a.example/in",
        "call_fallback_url": "https://a.example/fb",
        "call_status_callback_url": "https://a.example/st",
        "call_laml_application_id": "app",
        "call_dialogflow_agent_id": "agent",
        "call_relay_topic": "topic",
        "call_relay_topic_status_callback_url": "https://a.example/t",
        "call_relay_context": "ctx",
        "call_relay_context_status_callback_url": "https://a.example/c",
        "call_relay_application": "app",
        "call_video_room_id": "6f1c2a5e-3b7d-4c8e-9a10-2d4b6f8e0c13",
        "call_flow_id": "6f1c2a5e-3b7d-4c8e-9a10-2d4b6f8e0c13",
        "call_ai_agent_id": "6f1c2a5e-3b7d-4c8e-9a10-2d4b6f8e0c13",
        "call_relay_script_url": "https://a.example/s.yaml",
    }
    fields = {name: sample[name] for name in REQUIRED_HANDLER_FIELDS[handler]}
    # When the payload model takes them
    payload = CreateSipEndpointPayload.model_validate(
        {"username": "u", "password": "p", "call_handler": handler, **fields}
    )
    # Then the official schema accepts the body
    assert list(VALIDATOR.iter_errors(payload.to_request_body())) == []


@pytest.mark.parametrize("handler", [h for h in CallHandler if REQUIRED_HANDLER_FIELDS[h]])
def test_the_payload_model_refuses_a_handler_without_its_required_fields(handler: CallHandler) -> None:
    # Given a handler with none of its fields
    # When the payload model takes it
    with pytest.raises(ValidationError) as raised:
        CreateSipEndpointPayload.model_validate({"username": "u", "password": "p", "call_handler": handler})
    # Then the error names each required field
    assert all(field in str(raised.value) for field in REQUIRED_HANDLER_FIELDS[handler])


def test_the_payload_model_knows_every_field_of_the_official_request_schema() -> None:
    # Given the official CreateSipEndpointRequest properties
    document = json.loads(UPSTREAM_OPENAPI.read_text())
    official = set(document["components"]["schemas"]["CreateSipEndpointRequest"]["properties"])
    # When compared with our payload model's fields
    ours = set(CreateSipEndpointPayload.model_fields)
    # Then they are the same set
    assert ours == official


def test_the_handler_table_covers_every_official_call_handler_and_call_field() -> None:
    # Given the official enum and call_* fields
    document = json.loads(UPSTREAM_OPENAPI.read_text())
    schema = document["components"]["schemas"]["CreateSipEndpointRequest"]["properties"]
    # When compared with the handler ownership table
    owned = {field for fields in HANDLER_FIELDS.values() for field in fields}
    # Then every handler is known and every call_* field but call_handler has an owner
    assert {h.value for h in HANDLER_FIELDS} == set(schema["call_handler"]["enum"])
    assert owned == {name for name in schema if name.startswith("call_") and name != "call_handler"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("encryption", "always"),
        ("codecs", ["MP3"]),
        ("ciphers", ["ROT13"]),
        ("call_request_method", "PUT"),
        ("call_flow_version", "latest"),
        ("call_video_room_id", "room-1"),
        ("username", "alice smith"),
        ("username", "alice@example"),
        ("send_as", "5551234"),
        ("surprise", "field"),
    ],
)
def test_the_payload_model_rejects_what_signalwire_would(field: str, value: object) -> None:
    # Given / When a payload with a value breaking an upstream rule
    # Then the model refuses it
    with pytest.raises(ValidationError):
        CreateSipEndpointPayload.model_validate({"username": "u", "password": "p", field: value})
