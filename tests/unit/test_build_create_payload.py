"""The merge of CONTRACT.md section 1: default profile, named profile, request, SignalWire rules."""

import pytest
from pydantic import SecretStr

from sip_provisioning.domain.errors import RequestInvalid, UnknownProfile
from sip_provisioning.domain.payload import build_create_payload
from sip_provisioning.domain.profile import Profile
from sip_provisioning.domain.request import EndpointRequest
from sip_provisioning.domain.signalwire import ALL_HANDLER_FIELDS, HANDLER_FIELDS, CallHandler

PASSWORD = SecretStr("correct-horse-battery-staple")
AGENT_ID = "6f1c2a5e-3b7d-4c8e-9a10-2d4b6f8e0c13"

WEBHOOK_DEFAULT = Profile.model_validate(
    {
        "description": "office webhooks",
        "codecs": ["OPUS", "PCMU"],
        "encryption": "optional",
        "call_handler": "laml_webhooks",
        "call_request_url": "https://voice.example.com/in",
        "call_fallback_url": "https://fallback.example.com/in",
        "call_status_callback_url": "https://voice.example.com/status",
        "call_status_callback_method": "POST",
    }
)


def profiles(**named: dict[str, object]) -> dict[str, Profile]:
    return {"default": WEBHOOK_DEFAULT, **{name: Profile.model_validate(doc) for name, doc in named.items()}}


def request(**fields: object) -> EndpointRequest:
    return EndpointRequest.model_validate({"username": "alice.smith", **fields})


def test_a_username_only_request_gets_every_field_of_the_default_profile() -> None:
    # Given only a username
    # When the payload is built
    payload = build_create_payload(request(), profiles(), PASSWORD).to_request_body()
    # Then the default profile supplies everything else, description excluded
    assert payload == {
        "username": "alice.smith",
        "password": PASSWORD.get_secret_value(),
        "codecs": ["OPUS", "PCMU"],
        "encryption": "optional",
        "call_handler": "laml_webhooks",
        "call_request_url": "https://voice.example.com/in",
        "call_fallback_url": "https://fallback.example.com/in",
        "call_status_callback_url": "https://voice.example.com/status",
        "call_status_callback_method": "POST",
    }


def test_the_named_profile_is_laid_over_the_default_key_by_key() -> None:
    # Given a profile that changes the encryption only
    named = profiles(secure={"encryption": "required"})
    # When the payload is built from it
    payload = build_create_payload(request(profile="secure"), named, PASSWORD)
    # Then its key wins and the default's other keys stay
    assert payload.encryption == "required"
    assert payload.codecs == ["OPUS", "PCMU"]


def test_a_profile_list_replaces_the_default_list_rather_than_extending_it() -> None:
    # Given a profile with its own codec list
    named = profiles(video={"codecs": ["VP8"]})
    # When the payload is built
    payload = build_create_payload(request(profile="video"), named, PASSWORD)
    # Then the list is the profile's alone
    assert payload.codecs == ["VP8"]


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (
            {"type": "laml_webhooks", "url": "https://a.example/x", "method": "get"},
            {"call_request_url": "https://a.example/x", "call_request_method": "GET"},
        ),
        ({"type": "laml_application", "application_id": "app-1"}, {"call_laml_application_id": "app-1"}),
        ({"type": "dialogflow", "agent_id": "df-agent"}, {"call_dialogflow_agent_id": "df-agent"}),
        (
            {"type": "relay_topic", "topic": "office", "status_callback_url": "https://s.example/t"},
            {"call_relay_topic": "office", "call_relay_topic_status_callback_url": "https://s.example/t"},
        ),
        (
            {"type": "relay_context", "context": "office", "status_callback_url": "https://s.example/c"},
            {"call_relay_context": "office", "call_relay_context_status_callback_url": "https://s.example/c"},
        ),
        ({"type": "relay_application", "application": "desk"}, {"call_relay_application": "desk"}),
        ({"type": "relay_connector"}, {}),
        ({"type": "video_room", "room_id": AGENT_ID}, {"call_video_room_id": AGENT_ID}),
        (
            {"type": "call_flow", "flow_id": AGENT_ID, "version": "current_deployed"},
            {"call_flow_id": AGENT_ID, "call_flow_version": "current_deployed"},
        ),
        ({"type": "ai_agent", "agent_id": AGENT_ID}, {"call_ai_agent_id": AGENT_ID}),
        (
            {"type": "relay_script", "url": "https://swml.example/s.yaml"},
            {"call_relay_script_url": "https://swml.example/s.yaml"},
        ),
    ],
    ids=lambda value: value["type"] if isinstance(value, dict) and "type" in value else "",
)
def test_each_handler_type_maps_its_short_keys_to_signalwire_fields(
    handler: dict[str, str], expected: dict[str, str]
) -> None:
    # Given a request naming a handler in short names
    # When the payload is built
    body = build_create_payload(request(handler=handler), profiles(), PASSWORD).to_request_body()
    # Then call_handler is the type, its fields are the mapped ones, and no other handler's remain
    handler_fields = {key: value for key, value in body.items() if key in ALL_HANDLER_FIELDS}
    assert body["call_handler"] == handler["type"]
    if handler["type"] == "laml_webhooks":
        assert expected.items() <= handler_fields.items()
    else:
        assert handler_fields == expected


def test_a_profile_supplies_fallback_and_status_urls_to_a_request_that_gives_only_the_url() -> None:
    # Given a default profile with fallback and status URLs for laml_webhooks
    # When the request gives only the webhook url
    payload = build_create_payload(
        request(handler={"type": "laml_webhooks", "url": "https://mine.example/in"}), profiles(), PASSWORD
    )
    # Then the request's url wins and the profile's other fields of the same type stay
    assert payload.call_request_url == "https://mine.example/in"
    assert payload.call_fallback_url == "https://fallback.example.com/in"
    assert payload.call_status_callback_url == "https://voice.example.com/status"
    assert payload.call_status_callback_method == "POST"


def test_a_request_handler_of_another_type_leaves_no_stale_call_fields_behind() -> None:
    # Given a webhook default profile
    # When the request switches to an AI agent
    body = build_create_payload(
        request(handler={"type": "ai_agent", "agent_id": AGENT_ID}), profiles(), PASSWORD
    ).to_request_body()
    # Then only the AI agent's field remains among the call_* handler fields
    assert {key for key in body if key in ALL_HANDLER_FIELDS} == {"call_ai_agent_id"}


def test_a_profile_that_switches_handler_drops_the_defaults_handler_fields() -> None:
    # Given a named profile whose handler differs from the default's
    named = profiles(support={"call_handler": "ai_agent", "call_ai_agent_id": AGENT_ID})
    # When the payload is built from it
    body = build_create_payload(request(profile="support"), named, PASSWORD).to_request_body()
    # Then the default's webhook URLs are gone
    assert {key for key in body if key in ALL_HANDLER_FIELDS} == set(HANDLER_FIELDS[CallHandler.AI_AGENT])


def test_username_password_caller_id_and_send_as_from_the_request_win() -> None:
    # Given a profile presetting caller_id and send_as
    named = profiles(desk={"caller_id": "Front Desk", "send_as": "random"})
    # When the request gives its own
    payload = build_create_payload(request(profile="desk", caller_id="Alice", send_as="+15551234567"), named, PASSWORD)
    # Then the request's values are sent
    assert (payload.username, payload.caller_id, payload.send_as) == ("alice.smith", "Alice", "+15551234567")
    assert payload.password == PASSWORD


def test_a_missing_required_field_is_named_with_the_request_key_and_profile_key_that_would_fill_it() -> None:
    # Given a default profile without webhook URLs
    bare = {"default": Profile.model_validate({"call_handler": "laml_webhooks"})}
    # When the request gives only the url
    with pytest.raises(RequestInvalid) as raised:
        build_create_payload(request(handler={"type": "laml_webhooks", "url": "https://a.example/in"}), bare, PASSWORD)
    # Then each missing field is named, with where to set it
    errors = {error.field: error.message for error in raised.value.errors}
    assert set(errors) == {"call_fallback_url", "call_status_callback_url"}
    assert "handler.fallback_url" in errors["call_fallback_url"]
    assert "set call_fallback_url in profile 'default'" in errors["call_fallback_url"]


def test_a_missing_field_of_a_named_profile_points_at_that_profile_and_the_default() -> None:
    # Given a named profile choosing relay_context without a context
    named = profiles(relay={"call_handler": "relay_context"})
    # When the payload is built
    with pytest.raises(RequestInvalid) as raised:
        build_create_payload(request(profile="relay"), named, PASSWORD)
    # Then the message names the profile key in both profiles
    message = {error.field: error.message for error in raised.value.errors}["call_relay_context"]
    assert "handler.context" in message
    assert "profile 'relay'" in message
    assert "profile 'default'" in message


def test_an_unknown_profile_is_rejected_listing_the_known_ones() -> None:
    # Given profiles default and office
    named = profiles(office={"caller_id": "HQ"})
    # When a request names another
    with pytest.raises(UnknownProfile) as raised:
        build_create_payload(request(profile="sales"), named, PASSWORD)
    # Then the error lists the known profiles
    assert raised.value.known == ["default", "office"]
    assert "default, office" in raised.value.errors[0].message


def test_profile_keys_that_are_not_create_fields_never_reach_the_payload() -> None:
    # Given a profile with a description
    # When the payload is built
    body = build_create_payload(request(), profiles(), PASSWORD).to_request_body()
    # Then the description is not sent
    assert "description" not in body


def test_relay_connector_needs_no_handler_fields() -> None:
    # Given a request for a relay connector
    # When the payload is built
    body = build_create_payload(request(handler={"type": "relay_connector"}), profiles(), PASSWORD).to_request_body()
    # Then no handler field is sent at all
    assert body["call_handler"] == "relay_connector"
    assert not ALL_HANDLER_FIELDS & set(body)
