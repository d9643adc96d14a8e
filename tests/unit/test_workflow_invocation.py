"""What a state machine must send: `{"request": <a POST /endpoints body>, "idempotency_key": "..."}`."""

from typing import Any

import pytest

from sip_provisioning import errors
from sip_provisioning.workflow import WorkflowInvocation

KEY = "arn:aws:states:us-east-1:123456789012:execution:Onboarding:employee-4711"


def field_errors_of(event: object) -> dict[str, str]:
    with pytest.raises(errors.RequestInvalid) as raised:
        WorkflowInvocation.from_event(event)
    return {error.field: error.message for error in raised.value.errors}


def test_an_invocation_holds_the_request_and_its_key() -> None:
    # Given a well-formed invocation
    event = {"request": {"username": "ada.lovelace", "profile": "office"}, "idempotency_key": KEY}
    # When it is read
    invocation = WorkflowInvocation.from_event(event)
    # Then it holds the request, with the same defaults as POST /endpoints, and the key
    assert (invocation.request.username, invocation.request.profile) == ("ada.lovelace", "office")
    assert invocation.idempotency_key == KEY


def test_a_request_without_a_profile_gets_the_default_profile() -> None:
    # Given / When an invocation whose request names no profile is read
    invocation = WorkflowInvocation.from_event({"request": {"username": "ada"}, "idempotency_key": KEY})
    # Then the profile is "default", as for POST /endpoints
    assert invocation.request.profile == "default"


def test_a_missing_idempotency_key_is_named() -> None:
    # Given / When an invocation without a key is read
    broken = field_errors_of({"request": {"username": "ada"}})
    # Then the key is the broken field
    assert set(broken) == {"idempotency_key"}


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "naïve", "tab\there"], ids=len)
def test_a_key_outside_1_to_255_visible_ascii_characters_is_refused(key: str) -> None:
    # Given / When an invocation with such a key is read
    broken = field_errors_of({"request": {"username": "ada"}, "idempotency_key": key})
    # Then the key is the broken field
    assert set(broken) == {"idempotency_key"}


def test_keys_the_invocation_does_not_define_are_refused() -> None:
    # Given an invocation that also asks for a dry run
    event = {"request": {"username": "ada"}, "idempotency_key": KEY, "dry_run": True}
    # When it is read
    broken = field_errors_of(event)
    # Then the unknown key is named
    assert set(broken) == {"dry_run"}


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"username": "ada lovelace"}, "username"),
        ({"username": "ada", "colour": "blue"}, "colour"),
        ({"username": "ada", "handler": {"type": "laml_webhooks", "url": "not-a-url"}}, "handler.url"),
        ({"username": "ada", "handler": {"type": "relay_script", "topic": "x"}}, "handler.topic"),
        ({"profile": "office"}, "username"),
    ],
    ids=["bad-username", "unknown-key", "bad-handler-url", "key-of-another-handler", "no-username"],
)
def test_request_fields_are_named_as_post_endpoints_names_them(request_body: dict[str, Any], field: str) -> None:
    # Given / When an invocation whose request breaks a rule is read
    broken = field_errors_of({"request": request_body, "idempotency_key": KEY})
    # Then the field is named as in a POST /endpoints body, without the envelope's "request."
    assert set(broken) == {field}


def test_a_missing_request_is_named() -> None:
    # Given / When an invocation with only a key is read
    broken = field_errors_of({"idempotency_key": KEY})
    # Then the request is the broken field
    assert set(broken) == {"request"}


def test_a_caller_password_never_appears_in_a_field_error() -> None:
    # Given a password one character too short
    event = {"request": {"username": "ada", "password": "short-pw-01"}, "idempotency_key": KEY}
    # When the invocation is read
    broken = field_errors_of(event)
    # Then the password field is named and its value is not shown
    assert set(broken) == {"password"}
    assert "short-pw-01" not in broken["password"]


@pytest.mark.parametrize("event", [None, [], "ada", 42], ids=repr)
def test_an_event_that_is_not_a_json_object_is_malformed(event: object) -> None:
    # Given / When an event that is no object is read
    with pytest.raises(errors.MalformedRequest):
        WorkflowInvocation.from_event(event)
