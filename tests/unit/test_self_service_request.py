"""The rules of the POST /endpoints body (CONTRACT.md section 1)."""

from typing import Literal

import pytest
from pydantic import ValidationError

from sip_provisioning.domain.request import EndpointRequest, HandlerRequest
from sip_provisioning.domain.signalwire import CallHandler


def parse(**fields: object) -> EndpointRequest:
    return EndpointRequest.model_validate({"username": "alice.smith", **fields})


def test_a_username_alone_is_a_complete_request_for_the_default_profile() -> None:
    # Given / When a request with a username only
    request = parse()
    # Then the profile is "default" and nothing else is set
    assert request.profile == "default"
    assert (request.caller_id, request.send_as, request.password, request.handler) == (None, None, None, None)


@pytest.mark.parametrize(
    "username",
    ["", "a" * 129, "alice smith", "alice\tsmith", "alice\u00a0smith", "alice\u2003", "al\u2028ice", "a\x00b",
     "a\x7fb", "a\u200bb", "alice@example.com"],
    ids=["empty", "129 chars", "space", "tab", "nbsp", "em space", "line separator", "nul", "del",
         "zero width space", "at sign"],
)  # fmt: skip
def test_a_username_with_whitespace_control_characters_or_an_at_sign_is_rejected(username: str) -> None:
    # Given a username breaking a rule
    # When it is parsed
    with pytest.raises(ValidationError) as raised:
        parse(username=username)
    # Then the error is on the username
    assert raised.value.errors()[0]["loc"] == ("username",)


def test_a_username_is_sent_as_given_including_unicode_letters() -> None:
    # Given a username with non-ASCII letters and punctuation
    # When it is parsed
    request = parse(username="José.Müller_42+desk")
    # Then it is kept exactly
    assert request.username == "José.Müller_42+desk"


def test_unknown_keys_are_rejected() -> None:
    # Given a body with a key the contract does not list
    # When it is parsed
    with pytest.raises(ValidationError) as raised:
        parse(call_handler="ai_agent")
    # Then the unknown key is named
    assert raised.value.errors()[0]["loc"] == ("call_handler",)


@pytest.mark.parametrize("send_as", ["+15551234567", "+44", "random", "+123456789012345"])
def test_send_as_accepts_e164_numbers_and_random(send_as: str) -> None:
    # Given / When a valid send_as
    # Then it is accepted as given
    assert parse(send_as=send_as).send_as == send_as


@pytest.mark.parametrize("send_as", ["15551234567", "+0551234567", "+1", "+1234567890123456", "RANDOM", "+1 555"])
def test_send_as_rejects_anything_but_e164_or_random(send_as: str) -> None:
    # Given / When an invalid send_as
    # Then it is rejected
    with pytest.raises(ValidationError):
        parse(send_as=send_as)


@pytest.mark.parametrize("password", ["short-11chr", "x" * 129])
def test_a_password_outside_12_to_128_characters_is_rejected(password: str) -> None:
    # Given / When a password too short or too long
    # Then it is rejected
    with pytest.raises(ValidationError):
        parse(password=password)


def test_a_given_password_never_shows_in_the_models_repr() -> None:
    # Given a request with a password
    request = parse(password="s3cret-password-value")
    # When it is rendered for a log line
    rendered = f"{request!r} {request}"
    # Then the password is masked
    assert "s3cret-password-value" not in rendered


def test_a_caller_id_with_a_control_character_is_rejected() -> None:
    # Given / When a caller_id with a newline
    # Then it is rejected
    with pytest.raises(ValidationError):
        parse(caller_id="Alice\nSmith")


def test_handler_methods_are_accepted_in_any_case_and_sent_upper_case() -> None:
    # Given a webhook handler with a lower-case method
    request = parse(handler={"type": "laml_webhooks", "url": "https://a.example/in", "method": "post"})
    # When its SignalWire fields are taken
    fields = request.handler.signalwire_fields() if request.handler else {}
    # Then the method is upper case
    assert fields["call_request_method"] == "POST"


def test_a_handler_key_that_belongs_to_another_type_is_rejected() -> None:
    # Given an ai_agent handler with a webhook key
    # When it is parsed
    with pytest.raises(ValidationError):
        parse(handler={"type": "ai_agent", "url": "https://a.example/in"})
    # Then it is rejected (no exception means the test fails)


@pytest.mark.parametrize("url", ["ftp://a.example/x", "/relative/path", "https://", "not a url", "javascript:alert(1)"])
def test_handler_urls_must_be_absolute_http_or_https(url: str) -> None:
    # Given / When a handler URL that is not absolute http(s)
    # Then it is rejected
    with pytest.raises(ValidationError):
        parse(handler={"type": "relay_script", "url": url})


@pytest.mark.parametrize(
    "handler",
    [
        {"type": "video_room", "room_id": "not-a-uuid"},
        {"type": "call_flow", "flow_id": "1234"},
        {"type": "ai_agent", "agent_id": "agent-7"},
    ],
)
def test_room_flow_and_ai_agent_ids_must_be_uuids(handler: dict[str, str]) -> None:
    # Given / When a handler whose id is not a UUID
    # Then it is rejected
    with pytest.raises(ValidationError):
        parse(handler=handler)


def test_a_call_flow_version_outside_the_enum_is_rejected() -> None:
    # Given / When a call flow with an unknown version
    # Then it is rejected
    with pytest.raises(ValidationError):
        parse(handler={"type": "call_flow", "flow_id": "6f1c2a5e-3b7d-4c8e-9a10-2d4b6f8e0c13", "version": "latest"})


def test_an_unknown_handler_type_is_rejected() -> None:
    # Given / When a handler type SignalWire does not have
    # Then it is rejected
    with pytest.raises(ValidationError):
        parse(handler={"type": "sip_trunk"})


def test_every_signalwire_call_handler_has_a_request_handler_type() -> None:
    # Given every call_handler value of SignalWire's enum
    # When each is requested by its short name
    parsed = {parse(handler={"type": handler.value}).handler for handler in CallHandler}
    # Then each parses to a handler of that type
    assert {handler.call_handler for handler in parsed if handler} == set(CallHandler)


def test_a_handler_model_whose_keys_differ_from_the_handler_table_cannot_be_defined() -> None:
    # Given the handler table, which gives relay_script the one key `url`
    # When a handler model for relay_script declares another key
    # Then defining it fails, naming the table's keys: the model cannot drift from the table
    with pytest.raises(TypeError, match=r"HANDLERS gives relay_script: \['url'\]"):

        class DriftedRelayScriptHandler(HandlerRequest):
            type: Literal["relay_script"]
            script: str | None = None
