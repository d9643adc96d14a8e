"""What a state machine must send: `{"action": ..., "idempotency_key": ..., ...}`, one shape per action."""

from typing import Any

import pytest

from sip_provisioning.callers import workflow
from sip_provisioning.callers.workflow import invocation_from_event
from sip_provisioning.domain import errors

KEY = "arn:aws:states:us-east-1:123456789012:execution:Onboarding:employee-4711"
# The actions that take only a username (and a key).
BY_USERNAME = ["disable", "delete", "reset_password"]


def field_errors_of(event: object) -> dict[str, str]:
    with pytest.raises(errors.RequestInvalid) as raised:
        invocation_from_event(event)
    return {error.field: error.message for error in raised.value.errors}


# -- the actions ---------------------------------------------------------------------------------


def test_the_actions_are_the_six_of_the_contract_and_the_fleet_state_machines_steps() -> None:
    # Given / When the actions an invocation may name are read
    # Then they are the contract's, create first as the default, then the rollout's and the audit's steps
    assert workflow.ACTIONS == (
        "create",
        "show",
        "update",
        "reset_password",
        "disable",
        "delete",
        "adopt",
        "plan_rollout",
        "roll_out",
        "rollout_failed",
        "report_rollout",
        "audit_fleet",
    )
    assert workflow.DEFAULT_ACTION == "create"


def test_an_invocation_without_an_action_is_a_create_as_the_first_workflow_form_was() -> None:
    # Given an invocation as state machines sent it before there were actions
    event = {"request": {"username": "ada.lovelace", "profile": "office"}, "idempotency_key": KEY}
    # When it is read
    invocation = invocation_from_event(event)
    # Then it is a create holding the request, with the same defaults as POST /endpoints, and the key
    assert isinstance(invocation, workflow.CreateEndpoint)
    assert (invocation.request.username, invocation.request.profile) == ("ada.lovelace", "office")
    assert invocation.idempotency_key == KEY


def test_a_named_create_is_the_same_create() -> None:
    # Given / When the same invocation is read with and without its action
    request = {"username": "ada"}
    named = invocation_from_event({"action": "create", "request": request, "idempotency_key": KEY})
    unnamed = invocation_from_event({"request": request, "idempotency_key": KEY})
    # Then both are the same create
    assert named == unnamed


def test_a_request_without_a_profile_gets_the_default_profile() -> None:
    # Given / When an invocation whose request names no profile is read
    invocation = invocation_from_event({"request": {"username": "ada"}, "idempotency_key": KEY})
    # Then the profile is "default", as for POST /endpoints
    assert isinstance(invocation, workflow.CreateEndpoint)
    assert invocation.request.profile == "default"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("disable", workflow.DisableEndpoint),
        ("delete", workflow.DeleteEndpoint),
        ("reset_password", workflow.ResetPassword),
    ],
)
def test_an_action_on_one_endpoint_holds_its_username_and_key(
    action: str, expected: type[workflow.DisableEndpoint | workflow.DeleteEndpoint | workflow.ResetPassword]
) -> None:
    # Given / When an invocation of an action on an endpoint is read
    invocation = invocation_from_event({"action": action, "username": "ada.lovelace", "idempotency_key": KEY})
    # Then it is that action's invocation, for that username under that key
    assert isinstance(invocation, workflow.DisableEndpoint | workflow.DeleteEndpoint | workflow.ResetPassword)
    assert type(invocation) is expected
    assert (invocation.action, invocation.username, invocation.idempotency_key) == (action, "ada.lovelace", KEY)


def test_an_update_holds_the_patch_body_as_its_changes() -> None:
    # Given / When an update changing the caller id and removing the owner is read
    event = {
        "action": "update",
        "username": "ada.lovelace",
        "changes": {"caller_id": "Ada L.", "owner": None},
        "idempotency_key": KEY,
    }
    invocation = invocation_from_event(event)
    # Then the changes are a PATCH body: the given keys, null included, and no others
    assert isinstance(invocation, workflow.UpdateEndpoint)
    assert invocation.changes.applied_to({"username": "ada.lovelace", "owner": "hr"}) == {
        "username": "ada.lovelace",
        "caller_id": "Ada L.",
    }


def test_a_show_needs_no_key() -> None:
    # Given / When a show without a key is read
    invocation = invocation_from_event({"action": "show", "username": "ada.lovelace"})
    # Then it is a show of that username
    assert isinstance(invocation, workflow.ShowEndpoint)
    assert (invocation.username, invocation.idempotency_key) == ("ada.lovelace", None)


def test_a_show_may_still_name_its_execution_with_a_key() -> None:
    # Given / When a show with a key is read
    invocation = invocation_from_event({"action": "show", "username": "ada.lovelace", "idempotency_key": KEY})
    # Then it keeps the key (which names its log lines)
    assert invocation.idempotency_key == KEY


# -- what is refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {"request": {"username": "ada"}},
        {"action": "update", "username": "ada", "changes": {}},
        *({"action": action, "username": "ada"} for action in BY_USERNAME),
    ],
    ids=["create", "update", *BY_USERNAME],
)
def test_every_action_that_changes_something_needs_a_key(event: dict[str, Any]) -> None:
    # Given / When an invocation that would change an endpoint comes without a key
    broken = field_errors_of(event)
    # Then the key is the broken field
    assert set(broken) == {"idempotency_key"}


@pytest.mark.parametrize("action", ["unknown", "Disable", "", 42, None, ["disable"]], ids=repr)
def test_an_action_the_entry_does_not_know_is_named_with_the_known_ones(action: object) -> None:
    # Given / When an invocation names an action that does not exist
    broken = field_errors_of({"action": action, "username": "ada", "idempotency_key": KEY})
    # Then the action is the broken field, and the message lists every action
    assert set(broken) == {"action"}
    assert all(known in broken["action"] for known in workflow.ACTIONS)


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
    "event",
    [
        {"action": "disable", "username": "ada", "idempotency_key": KEY, "request": {"username": "ada"}},
        {"action": "reset_password", "username": "ada", "idempotency_key": KEY, "password": "a-password-of-mine-1"},
        {"action": "show", "username": "ada", "changes": {}},
    ],
    ids=["disable-with-a-request", "reset-with-a-password", "show-with-changes"],
)
def test_a_field_of_another_action_is_refused_as_unknown(event: dict[str, Any]) -> None:
    # Given / When an invocation carries a field its action does not take
    broken = field_errors_of(event)
    # Then that field is named, and nothing else (a password never enters an execution's history)
    assert set(broken) == set(event) - {"action", "username", "idempotency_key"}


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


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"handler": {"type": "laml_webhooks", "url": "not-a-url"}}, "handler.url"),
        ({"username": "someone.else"}, "username"),
        ({"send_as": "12345"}, "send_as"),
    ],
    ids=["bad-handler-url", "username-is-no-change", "bad-send-as"],
)
def test_change_fields_are_named_as_patch_names_them(changes: dict[str, Any], field: str) -> None:
    # Given / When an update whose changes break a rule is read
    broken = field_errors_of({"action": "update", "username": "ada", "changes": changes, "idempotency_key": KEY})
    # Then the field is named as in a PATCH body, without the envelope's "changes."
    assert set(broken) == {field}


@pytest.mark.parametrize("action", ["show", *BY_USERNAME])
@pytest.mark.parametrize("username", ["", "ada lovelace", "ada@example.com", "x" * 129], ids=len)
def test_a_username_no_endpoint_can_have_is_refused(action: str, username: str) -> None:
    # Given / When an action names a username SignalWire would never hold
    broken = field_errors_of({"action": action, "username": username, "idempotency_key": KEY})
    # Then the username is the broken field
    assert set(broken) == {"username"}


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
        invocation_from_event(event)
