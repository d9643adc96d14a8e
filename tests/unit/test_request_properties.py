"""Properties of the request model and of the merge into SignalWire's payload, over generated input."""

import json
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import SecretStr, ValidationError

from sip_provisioning.domain.errors import RequestInvalid, UnknownProfile
from sip_provisioning.domain.payload import build_create_payload
from sip_provisioning.domain.profile import Profile
from sip_provisioning.domain.request import EndpointRequest
from sip_provisioning.domain.signalwire import (
    ALL_HANDLER_FIELDS,
    HANDLER_FIELDS,
    HANDLERS,
    REQUIRED_HANDLER_FIELDS,
    CallHandler,
)

# Every code point Python calls whitespace, and every separator, control and format character.
FORBIDDEN_CLASSES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
FORBIDDEN_CHARACTERS = sorted(
    char
    for char in map(chr, range(sys.maxunicode + 1))
    if char.isspace() or unicodedata.category(char) in FORBIDDEN_CLASSES
)
PASSWORD = SecretStr("a-generated-password-0123")
UPSTREAM_OPENAPI = Path(__file__).parents[2] / "docs" / "upstream" / "sip-endpoints.openapi.json"
LIST_FIELDS = ("ciphers", "codecs")

# Letters, marks, numbers, punctuation and symbols of any script: everything but "@".
allowed_characters = st.characters(exclude_categories=["C", "Z"], exclude_characters="@")
allowed_usernames = st.text(allowed_characters, min_size=1, max_size=128)


def signalwire_validator() -> Draft202012Validator:
    document = json.loads(UPSTREAM_OPENAPI.read_text())
    # The whole document is the root, so the request schema's $refs into components resolve.
    return Draft202012Validator(
        {**document, "$ref": "#/components/schemas/CreateSipEndpointRequest"}, format_checker=FormatChecker()
    )


SIGNALWIRE_REQUEST_SCHEMA = signalwire_validator()


# -- the request model -----------------------------------------------------------------------


@settings(max_examples=300)
@given(username=allowed_usernames)
def test_a_username_of_allowed_characters_is_accepted_and_kept_exactly(username: str) -> None:
    # Given a username of 1 to 128 characters, none of them whitespace, control, format or "@"
    # When it is parsed
    request = EndpointRequest.model_validate({"username": username})
    # Then it is kept character for character
    assert request.username == username


@settings(max_examples=300)
@given(
    before=st.text(allowed_characters, max_size=60),
    forbidden=st.sampled_from([*FORBIDDEN_CHARACTERS, "@"]),
    after=st.text(allowed_characters, max_size=60),
)
def test_a_username_holding_any_forbidden_character_anywhere_is_rejected(
    before: str, forbidden: str, after: str
) -> None:
    # Given an otherwise allowed username with one whitespace, control, format character or "@"
    username = before + forbidden + after
    # When it is parsed
    with pytest.raises(ValidationError) as raised:
        EndpointRequest.model_validate({"username": username})
    # Then the error is on the username
    assert [detail["loc"] for detail in raised.value.errors()] == [("username",)]


def test_every_whitespace_separator_control_and_format_code_point_is_rejected_on_its_own() -> None:
    # Given every code point of those classes, each alone as a username
    accepted = []
    for char in FORBIDDEN_CHARACTERS:
        # When it is parsed
        try:
            EndpointRequest.model_validate({"username": char})
        except ValidationError:
            continue
        accepted.append(f"U+{ord(char):04X}")
    # Then none is accepted (the set spans all of them, not a sample)
    assert accepted == []
    assert len(FORBIDDEN_CHARACTERS) > 200


@settings(max_examples=100)
@given(username=st.text(allowed_characters, min_size=129, max_size=300))
def test_a_username_longer_than_128_characters_is_rejected(username: str) -> None:
    # Given / When an otherwise allowed username over 128 characters
    with pytest.raises(ValidationError) as raised:
        EndpointRequest.model_validate({"username": username})
    # Then the error is on the username
    assert [detail["loc"] for detail in raised.value.errors()] == [("username",)]


# Anything json.loads can return: NaN, the infinities and lone surrogates ("\ud800") included.
json_text = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | json_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4),
    max_leaves=12,
)
request_keys = st.sampled_from(sorted(EndpointRequest.model_fields)) | json_text
handler_keys = st.sampled_from(sorted({"type", *(key.short for keys in HANDLERS.values() for key in keys.keys)}))
handler_types = st.sampled_from([handler.value for handler in CallHandler])
handler_like = st.dictionaries(handler_keys, json_values | handler_types, max_size=4)
request_like = st.dictionaries(request_keys, json_values | handler_like, max_size=6)


@settings(max_examples=300)
@given(document=json_values | request_like)
def test_the_request_model_raises_nothing_but_validation_error_for_any_json_value(document: Any) -> None:
    # Given any JSON value, biased towards objects with the request's own keys
    # When it is parsed
    try:
        request = EndpointRequest.model_validate(document)
    except ValidationError:
        return  # Then it is rejected as invalid ...
    # ... or accepted as a request, which only an object with a username can be
    assert isinstance(document, dict)
    assert request.username == document["username"]


# -- the merge -------------------------------------------------------------------------------


urls = st.sampled_from(["https://a.example/in", "http://b.example:8080/x?y=1", "https://c.example/s.yaml"])
uuids = st.uuids().map(str)
texts = st.text(st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=40)
methods = st.sampled_from(["GET", "POST"])
e164_or_random = st.just("random") | st.from_regex(r"\A\+[1-9][0-9]{1,14}\Z")

SIGNALWIRE_FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "call_request_url": urls,
    "call_request_method": methods,
    "call_fallback_url": urls,
    "call_fallback_method": methods,
    "call_status_callback_url": urls,
    "call_status_callback_method": methods,
    "call_laml_application_id": texts,
    "call_dialogflow_agent_id": texts,
    "call_relay_topic": texts,
    "call_relay_topic_status_callback_url": urls,
    "call_relay_context": texts,
    "call_relay_context_status_callback_url": urls,
    "call_relay_application": texts,
    "call_video_room_id": uuids,
    "call_flow_id": uuids,
    "call_flow_version": st.sampled_from(["working_copy", "current_deployed"]),
    "call_ai_agent_id": uuids,
    "call_relay_script_url": urls,
}
NON_HANDLER_FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "caller_id": texts,
    "send_as": e164_or_random,
    "ciphers": st.lists(st.sampled_from(["AEAD_AES_256_GCM_8", "AES_CM_128_HMAC_SHA1_80", "AES_256_CM_HMAC_SHA1_32"])),
    "codecs": st.lists(st.sampled_from(["OPUS", "G722", "PCMU", "VP8", "OPUS@8000H@20I"])),
    "encryption": st.sampled_from(["default", "required", "optional"]),
    "description": texts,
}


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    """A valid profile: any other fields, maybe a handler, and any call_* fields (its own or stray)."""
    chosen = draw(st.sets(st.sampled_from(sorted(NON_HANDLER_FIELD_VALUES))))
    document = {key: draw(NON_HANDLER_FIELD_VALUES[key]) for key in chosen}
    call_handler = draw(st.none() | st.sampled_from(list(CallHandler)))
    if call_handler is not None:
        document["call_handler"] = call_handler.value
        # Usually the handler's own fields, each likely present; sometimes fields of other handlers.
        own = [field for field in HANDLER_FIELDS[call_handler] if draw(st.integers(0, 4)) > 0]
        document.update({field: draw(SIGNALWIRE_FIELD_VALUES[field]) for field in own})
    stray = draw(st.sets(st.sampled_from(sorted(SIGNALWIRE_FIELD_VALUES)), max_size=2))
    document.update({field: draw(SIGNALWIRE_FIELD_VALUES[field]) for field in stray})
    return Profile.model_validate(document)


@st.composite
def handlers(draw: st.DrawFn) -> dict[str, Any]:
    call_handler = draw(st.sampled_from(list(CallHandler)))
    short_names = HANDLERS[call_handler].fields_by_short
    given_keys = [short for short in short_names if draw(st.integers(0, 3)) > 0]
    return {
        "type": call_handler.value,
        **{short: draw(SIGNALWIRE_FIELD_VALUES[short_names[short]]) for short in given_keys},
    }


@st.composite
def endpoint_requests(draw: st.DrawFn, profile_names: tuple[str, ...] = ("default", "named")) -> EndpointRequest:
    body: dict[str, Any] = {"username": draw(allowed_usernames), "profile": draw(st.sampled_from(profile_names))}
    optional: dict[str, st.SearchStrategy[Any]] = {"caller_id": texts, "send_as": e164_or_random, "handler": handlers()}
    body.update({key: draw(value) for key, value in optional.items() if draw(st.booleans())})
    return EndpointRequest.model_validate(body)


named_profiles = st.fixed_dictionaries({"default": profiles(), "named": profiles()})


def effective_handler(request: EndpointRequest, profiles: dict[str, Profile]) -> CallHandler | None:
    if request.handler is not None:
        return request.handler.call_handler
    return profiles[request.profile].call_handler or profiles["default"].call_handler


def built_request_body(request: EndpointRequest, profiles: dict[str, Profile]) -> dict[str, Any]:
    """The body to send; examples the builder rejects are discarded (the first property covers them)."""
    try:
        return build_create_payload(request, profiles, PASSWORD).to_request_body()
    except RequestInvalid:
        assume(False)
        raise


@settings(max_examples=200)
@given(request=endpoint_requests(("default", "named", "unknown")), profiles=named_profiles)
def test_the_merge_gives_a_payload_signalwire_accepts_or_a_validation_error_and_nothing_else(
    request: EndpointRequest, profiles: dict[str, Profile]
) -> None:
    # Given any valid request and valid profiles (the named profile may not exist)
    # When the payload is built (any exception but RequestInvalid fails the test)
    refused: RequestInvalid | None = None
    try:
        body = build_create_payload(request, profiles, PASSWORD).to_request_body()
    except RequestInvalid as error:
        refused = error
    # Then it is refused as an unknown profile only when the profile is unknown ...
    if isinstance(refused, UnknownProfile):
        assert request.profile not in profiles
    # ... refused otherwise only for required fields of the handler in effect that nothing set ...
    elif refused is not None:
        handler = effective_handler(request, profiles)
        assert handler is not None
        assert {field.field for field in refused.errors} <= set(REQUIRED_HANDLER_FIELDS[handler])
    # ... or built into a body SignalWire's own schema accepts
    else:
        assert request.profile in profiles
        assert [error.message for error in SIGNALWIRE_REQUEST_SCHEMA.iter_errors(body)] == []


@settings(max_examples=100)
@given(request=endpoint_requests(), profiles=named_profiles)
def test_the_payload_holds_only_call_fields_of_the_effective_handler(
    request: EndpointRequest, profiles: dict[str, Profile]
) -> None:
    # Given any valid request and valid profiles
    # When the payload is built
    body = built_request_body(request, profiles)
    # Then its call_* handler fields all belong to the handler in effect
    handler = effective_handler(request, profiles)
    assert body.get("call_handler") == (handler.value if handler else None)
    assert set(body) & ALL_HANDLER_FIELDS <= set(HANDLER_FIELDS[handler] if handler else ())


@settings(max_examples=100)
@given(request=endpoint_requests(), profiles=named_profiles)
def test_the_requests_username_caller_id_and_send_as_always_win(
    request: EndpointRequest, profiles: dict[str, Profile]
) -> None:
    # Given any valid request and valid profiles
    # When the payload is built
    body = built_request_body(request, profiles)
    # Then what the request gives is what is sent
    assert body["username"] == request.username
    if request.caller_id is not None:
        assert body["caller_id"] == request.caller_id
    if request.send_as is not None:
        assert body["send_as"] == request.send_as


@settings(max_examples=100)
@given(request=endpoint_requests(), profiles=named_profiles)
def test_a_list_field_is_the_list_of_the_last_profile_that_set_it(
    request: EndpointRequest, profiles: dict[str, Profile]
) -> None:
    # Given any valid request and valid profiles
    # When the payload is built
    body = built_request_body(request, profiles)
    # Then each list is the named profile's when it sets one, else the default's, never a union
    for field in LIST_FIELDS:
        setters = [name for name in ("default", request.profile) if field in profiles[name].create_fields()]
        expected = profiles[setters[-1]].create_fields()[field] if setters else None
        assert body.get(field) == expected, field


@settings(max_examples=100)
@given(request=endpoint_requests(), profiles=named_profiles)
def test_a_profile_description_never_reaches_the_payload(
    request: EndpointRequest, profiles: dict[str, Profile]
) -> None:
    # Given any valid request and valid profiles, descriptions included
    # When the payload is built
    body = built_request_body(request, profiles)
    # Then no description is sent
    assert "description" not in body
