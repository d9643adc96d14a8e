"""The slash command's answers as Slack messages: for the requester alone, within Block Kit's
limits, every outside value escaped, and the password nowhere but in the created message's blocks."""

from typing import Any

import pytest

from sip_provisioning.errors import ConfigurationError, FieldError, RequestInvalid, UpstreamUnavailable
from sip_provisioning.responses import EndpointCreated, ProfileList, ProfileSummary
from sip_provisioning.signalwire.models import SipEndpoint
from sip_provisioning.slack.messages import (
    MAX_SECTION_TEXT,
    SlackMessage,
    created_message,
    problem_message,
    profiles_message,
    usage_message,
    working_message,
)
from tests.slack_helpers import message_text

PASSWORD = "pmaCpGyltKd4a-Q1p3-fzVzsAAODoWBNJCIkBYx3DUI"


def created(username: str = "ada.lovelace", password: str | None = PASSWORD) -> EndpointCreated:
    return EndpointCreated(
        endpoint=SipEndpoint.model_validate(
            {"id": "172851d2-d326-4a67-9cb8-6d6eefc3909c", "username": username, "call_handler": "laml_webhooks"}
        ),
        sip_uri=f"sip:{username}@example.sip.signalwire.com",
        profile="office",
        password=password,
    )


def as_sent(message: SlackMessage) -> dict[str, Any]:
    sent: dict[str, Any] = message.model_dump(mode="json", exclude_none=True)
    return sent


EVERY_MESSAGE = {
    "created": created_message(created()),
    "working": working_message("ada.lovelace"),
    "profiles": profiles_message(ProfileList(profiles=[]), "/sip"),
    "usage": usage_message("/sip", "There is no command 'x'."),
    "problem": problem_message(UpstreamUnavailable("SignalWire could not be reached.", retry_after=1), "r-1", "/sip"),
}


@pytest.mark.parametrize("message", EVERY_MESSAGE.values(), ids=EVERY_MESSAGE.keys())
def test_every_answer_is_ephemeral_with_a_notification_text(message: SlackMessage) -> None:
    # Given / When an answer is laid out
    sent = as_sent(message)
    # Then only the requester sees it, and it has a plain text for notifications
    assert sent["response_type"] == "ephemeral"
    assert sent["text"]


def test_the_created_message_shows_the_password_in_a_code_span_but_not_in_its_notification_text() -> None:
    # Given / When the created message is laid out
    sent = as_sent(created_message(created()))
    # Then the password is in the blocks, in a code span, and not in the text notifications show
    assert f"*Password*\n`{PASSWORD}`" in message_text({"blocks": sent["blocks"]})
    assert PASSWORD not in sent["text"]


def test_the_created_message_for_a_password_of_the_callers_own_shows_no_password_field() -> None:
    # Given / When an endpoint created with a password the service did not generate is laid out
    text = message_text(as_sent(created_message(created(password=None))))
    # Then there is no password field
    assert "*Password*" not in text


def test_values_from_outside_are_escaped_so_slack_reads_them_as_text() -> None:
    # Given a username that would read as a mention and markup
    username = "<!channel>&co"
    # When the created message is laid out
    text = message_text(as_sent(created_message(created(username=username))))
    # Then it is shown escaped, nowhere as markup
    assert "&lt;!channel&gt;&amp;co" in text
    assert "<!channel>" not in text


def test_a_value_holding_a_backtick_is_not_put_in_a_code_span() -> None:
    # Given a username with a backtick (a code span cannot hold one)
    # When the working message is laid out
    text = as_sent(working_message("ada`s"))["blocks"][0]["text"]["text"]
    # Then the username is shown as plain escaped text
    assert "endpoint ada`s…" in text


def test_a_problem_lists_each_broken_option_and_what_to_change() -> None:
    # Given a request breaking two rules
    error = RequestInvalid(
        [FieldError(field="username", message="must not contain '@'"), FieldError(field="handler", message="bad")]
    )
    # When its problem is laid out
    text = message_text(as_sent(problem_message(error, "req-7", "/sip")))
    # Then each option is listed with its rule, then what to change, then the request id
    assert "• `username`: must not contain '@'" in text
    assert "• `handler`: bad" in text
    assert "*What to change:*" in text
    assert "`/sip help`" in text
    assert "Request id: req-7" in text


def test_a_problem_of_an_unexpected_error_reveals_nothing_of_it() -> None:
    # Given an error nobody anticipated, whose message holds internals
    error = RuntimeError("connection string postgres://admin:hunter2@db")
    # When its problem is laid out
    text = message_text(as_sent(problem_message(error, "req-8", "/sip")))
    # Then the message says it failed and gives the request id, nothing of the error itself
    assert "hunter2" not in text
    assert "Internal error" in text
    assert "req-8" in text


def test_a_configuration_problem_names_the_parameter_and_sends_the_user_to_an_operator() -> None:
    # Given a broken parameter
    error = ConfigurationError("/sip-provisioning/dev/profiles/office", "is not valid JSON")
    # When its problem is laid out
    text = message_text(as_sent(problem_message(error, None, "/sip")))
    # Then it names the parameter and whom to ask
    assert "/sip-provisioning/dev/profiles/office is not valid JSON" in text
    assert "Ask an operator" in text


def test_more_profiles_than_a_message_holds_are_cut_short_with_a_count() -> None:
    # Given more profiles than a message has blocks for
    profiles = ProfileList(
        profiles=[ProfileSummary(name=f"p{n:03}", description="d" * 512, call_handler=None) for n in range(60)]
    )
    # When the profiles message is laid out
    sent = as_sent(profiles_message(profiles, "/sip"))
    # Then it stays within Block Kit's 50 blocks and says how many more there are
    assert len(sent["blocks"]) <= 50
    assert "…and 20 more." in message_text(sent)


def test_no_section_exceeds_block_kits_text_limit() -> None:
    # Given a problem with a great many broken fields
    error = RequestInvalid([FieldError(field=f"f{n}", message="x" * 200) for n in range(100)])
    # When it is laid out
    sent = as_sent(problem_message(error, None, "/sip"))
    # Then every section's text is within the limit
    assert all(len(block["text"]["text"]) <= MAX_SECTION_TEXT for block in sent["blocks"] if "text" in block)
