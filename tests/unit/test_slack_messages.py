"""The slash command's answers as Slack messages: for the requester alone, within Block Kit's
limits, every outside value escaped, and a password nowhere but in the blocks of the answer that
delivers it (a secret's ARN instead when it went to Secrets Manager)."""

from typing import Any

import pytest

from sip_provisioning.callers.slack.commands import (
    CreateCommand,
    DeleteCommand,
    DisableCommand,
    JobCommand,
    ResetPasswordCommand,
    ShowCommand,
)
from sip_provisioning.callers.slack.messages import (
    MAX_SECTION_TEXT,
    SlackMessage,
    created_message,
    delete_preview_message,
    deleted_message,
    disabled_message,
    endpoint_message,
    password_reset_message,
    problem_message,
    profiles_message,
    usage_message,
    working_message,
)
from sip_provisioning.domain.answers import (
    DeletePreview,
    EndpointCreated,
    EndpointDeleted,
    EndpointDisabled,
    EndpointView,
    PasswordReset,
    ProfileList,
    ProfileSummary,
)
from sip_provisioning.domain.drift import Drift
from sip_provisioning.domain.errors import (
    ConfigurationError,
    EndpointNotFound,
    EndpointNotManaged,
    FieldError,
    Forbidden,
    RequestInvalid,
    UpstreamUnavailable,
)
from sip_provisioning.domain.records import CreatedVia, EndpointStatus, InventoryRecord
from sip_provisioning.domain.signalwire import SipEndpoint
from tests.slack_helpers import message_text

PASSWORD = "pmaCpGyltKd4a-Q1p3-fzVzsAAODoWBNJCIkBYx3DUI"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sip-provisioning/dev/endpoints/ada.lovelace-AbCdEf"
ENDPOINT_ID = "172851d2-d326-4a67-9cb8-6d6eefc3909c"


def endpoint(username: str = "ada.lovelace") -> SipEndpoint:
    return SipEndpoint.model_validate({"id": ENDPOINT_ID, "username": username, "call_handler": "laml_webhooks"})


def created(
    username: str = "ada.lovelace", password: str | None = PASSWORD, secret_arn: str | None = None
) -> EndpointCreated:
    return EndpointCreated(
        endpoint=endpoint(username),
        sip_uri=f"sip:{username}@example.sip.signalwire.com",
        profile="office",
        password=password,
        password_secret_arn=secret_arn,
    )


def reset(password: str | None = PASSWORD, secret_arn: str | None = None) -> PasswordReset:
    return PasswordReset(
        username="ada.lovelace",
        sip_uri="sip:ada.lovelace@example.sip.signalwire.com",
        password=password,
        password_secret_arn=secret_arn,
    )


def record(username: str = "ada.lovelace", **changes: Any) -> InventoryRecord:
    fields: dict[str, Any] = {
        "username": username,
        "endpoint_id": ENDPOINT_ID,
        "request": {"username": username, "profile": "office"},
        "profile": "office",
        "owner": "E1234",
        "created_by": "slack:T0ALLOWED:U0ADA",
        "created_via": CreatedVia.SLACK,
        "created_at": "2026-01-05T09:00:00.000000Z",
        "updated_at": "2026-01-05T09:00:00.000000Z",
        "status": EndpointStatus.ACTIVE,
    }
    return InventoryRecord(**(fields | changes))


def view(*, managed: bool = True, drift: list[Drift] | None = None) -> EndpointView:
    return EndpointView(
        endpoint=endpoint(),
        sip_uri="sip:ada.lovelace@example.sip.signalwire.com",
        managed=managed,
        record=record() if managed else None,
        drift=drift or [],
    )


def as_sent(message: SlackMessage) -> dict[str, Any]:
    sent: dict[str, Any] = message.model_dump(mode="json", exclude_none=True)
    return sent


EVERY_MESSAGE = {
    "created": created_message(created()),
    "working": working_message(CreateCommand(username="ada.lovelace")),
    "password-reset": password_reset_message(reset()),
    "endpoint": endpoint_message(view()),
    "disabled": disabled_message(EndpointDisabled(username="ada.lovelace"), "/sip"),
    "delete-preview": delete_preview_message(DeletePreview(would_delete=record()), "/sip"),
    "deleted": deleted_message(EndpointDeleted(username="ada.lovelace")),
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
    text = as_sent(working_message(CreateCommand(username="ada`s")))["blocks"][0]["text"]["text"]
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


# -- passwords: shown only as delivery allows ---------------------------------------------------


def test_a_created_endpoint_whose_password_went_to_secrets_manager_shows_the_secret_and_no_password() -> None:
    # Given / When an endpoint created with Secrets Manager delivery is laid out
    text = message_text(as_sent(created_message(created(password=None, secret_arn=SECRET_ARN))))
    # Then the secret's ARN is shown, and no password field
    assert f"*Password secret*\n`{SECRET_ARN}`" in text
    assert "*Password*" not in text
    assert "shown this once" not in text


def test_a_reset_shows_the_new_password_in_a_code_span_but_not_in_its_notification_text() -> None:
    # Given / When a reset whose password is delivered in the answer is laid out
    sent = as_sent(password_reset_message(reset()))
    # Then the password is in the blocks, in a code span, and not in the text notifications show
    assert f"*Password*\n`{PASSWORD}`" in message_text({"blocks": sent["blocks"]})
    assert PASSWORD not in sent["text"]


def test_a_reset_whose_password_went_to_secrets_manager_shows_the_secret_and_no_password() -> None:
    # Given / When a reset with Secrets Manager delivery is laid out
    text = message_text(as_sent(password_reset_message(reset(password=None, secret_arn=SECRET_ARN))))
    # Then the secret's ARN is shown, and no password field
    assert f"*Password secret*\n`{SECRET_ARN}`" in text
    assert "*Password*" not in text


# -- show, disable, delete ---------------------------------------------------------------------


def test_show_of_a_managed_endpoint_shows_its_record_and_says_it_is_in_line() -> None:
    # Given / When a managed endpoint without drift is laid out
    text = message_text(as_sent(endpoint_message(view())))
    # Then its SIP URI, status, profile, owner and creator are shown, and that it is in line
    assert "*SIP URI*\n`sip:ada.lovelace@example.sip.signalwire.com`" in text
    assert "*Status*\n`active`" in text
    assert "*Profile*\n`office`" in text
    assert "*Owner*\n`E1234`" in text
    assert "*Created by*\n`slack:T0ALLOWED:U0ADA` (slack)" in text
    assert "In line with its profile" in text


def test_show_of_a_drifted_endpoint_lists_each_field_with_both_values() -> None:
    # Given an endpoint whose caller id was changed in SignalWire's console
    drift = [Drift(field="caller_id", expected="Ada Lovelace", actual="Countess")]
    # When it is laid out
    text = message_text(as_sent(endpoint_message(view(drift=drift))))
    # Then the field is listed with the expected and the actual value
    assert '• `caller_id`: expected `"Ada Lovelace"`, SignalWire has `"Countess"`' in text


def test_show_of_an_unmanaged_endpoint_says_it_will_not_be_changed_and_shows_no_record() -> None:
    # Given / When an endpoint the service did not create is laid out
    text = message_text(as_sent(endpoint_message(view(managed=False))))
    # Then it says so, and shows no status or creator
    assert "did not create this endpoint" in text
    assert "*Status*" not in text
    assert "*Created by*" not in text


def test_a_disabled_endpoint_answer_says_how_to_enable_it_again() -> None:
    # Given / When a disable's answer is laid out
    text = message_text(as_sent(disabled_message(EndpointDisabled(username="ada.lovelace"), "/sip")))
    # Then it says no device can register, and which command enables it
    assert "no device can register" in text
    assert "`/sip reset-password ada.lovelace`" in text


def test_a_delete_preview_says_what_would_be_deleted_that_nothing_was_and_how_to_confirm() -> None:
    # Given / When what a delete would remove is laid out
    text = message_text(as_sent(delete_preview_message(DeletePreview(would_delete=record()), "/sip")))
    # Then it names the endpoint and its record, says nothing was deleted, and gives the command to confirm
    assert "*Username*\n`ada.lovelace`" in text
    assert f"*Endpoint id*\n`{ENDPOINT_ID}`" in text
    assert "Nothing was deleted." in text
    assert "`/sip delete ada.lovelace confirm`" in text


def test_a_delete_preview_of_a_username_with_quotes_gives_a_confirm_command_that_reads_back() -> None:
    # Given a username that holds a quote
    preview = DeletePreview(would_delete=record(username='o"brien'))
    # When the preview is laid out
    text = message_text(as_sent(delete_preview_message(preview, "/sip")))
    # Then the command to confirm quotes it, so that typing it deletes that username
    assert '`/sip delete "o\\"brien" confirm`' in text


def test_a_delete_preview_of_an_endpoint_deleted_already_says_there_is_nothing_to_delete() -> None:
    # Given a record deleted already
    deleted = record(
        status=EndpointStatus.DELETED, deleted_by="slack:T0ALLOWED:U0ADA", deleted_at="2026-02-01T10:00:00.000000Z"
    )
    # When the preview is laid out
    text = message_text(as_sent(delete_preview_message(DeletePreview(would_delete=deleted), "/sip")))
    # Then it says it was deleted already, by whom, and offers no confirm command
    assert "was deleted already by `slack:T0ALLOWED:U0ADA`" in text
    assert "confirm" not in text


@pytest.mark.parametrize(
    ("command", "doing"),
    [
        (CreateCommand(username="ada"), "Creating SIP endpoint `ada`…"),
        (ShowCommand(username="ada"), "Looking up SIP endpoint `ada`…"),
        (ResetPasswordCommand(username="ada"), "Resetting the password of SIP endpoint `ada`…"),
        (DisableCommand(username="ada"), "Disabling SIP endpoint `ada`…"),
        (DeleteCommand(username="ada"), "Checking what deleting `ada` would remove…"),
        (DeleteCommand(username="ada", confirmed=True), "Deleting SIP endpoint `ada`…"),
    ],
    ids=["create", "show", "reset-password", "disable", "delete-preview", "delete"],
)
def test_the_working_answer_says_what_the_job_is_doing(command: JobCommand, doing: str) -> None:
    # Given / When the answer within Slack's 3 seconds is laid out for a command
    text = message_text(as_sent(working_message(command)))
    # Then it says what goes on, and that the result follows
    assert doing in text
    assert "The result follows here" in text


def test_the_usage_says_what_every_verb_does() -> None:
    # Given / When the usage is laid out
    text = message_text(as_sent(usage_message("/sip")))
    # Then every verb has its line, the delete with and without confirm
    for form in ("create &lt;username&gt;", "show &lt;username&gt;", "reset-password &lt;username&gt;"):
        assert f"• `{form}`" in text
    assert "• `disable &lt;username&gt;`" in text
    assert "• `delete &lt;username&gt;`: shows what would be deleted, and changes nothing" in text
    assert "• `delete &lt;username&gt; confirm`" in text


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        (EndpointNotFound("ada"), "Check the username's spelling"),
        (EndpointNotManaged("ada"), "will not change or delete it"),
        (Forbidden("deployment.admins", "Forbidden by deployment.admins."), "ask an admin of the service"),
    ],
    ids=["not-found", "not-managed", "forbidden"],
)
def test_a_problem_of_the_life_cycle_says_what_to_do_in_plain_words(error: Exception, advice: str) -> None:
    # Given / When a problem a verb on an existing endpoint can meet is laid out
    text = message_text(as_sent(problem_message(error, "req-9", "/sip")))
    # Then it says what to do about it
    assert advice in text
