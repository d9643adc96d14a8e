"""The answers the slash command gives, as Slack messages: ephemeral (the requester alone sees
them) and laid out in Block Kit, with a plain `text` for notifications that never holds a secret.

Every value that came from a person, from configuration or from SignalWire is escaped for Slack's
mrkdwn. A password appears only where the use case's answer carries it (delivered in the
response), in a code span of the blocks, never in `text`; with Secrets Manager delivery the
answer carries the secret's ARN instead, and so does the message.
"""

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sip_provisioning.callers.problems import problem_for
from sip_provisioning.callers.slack.commands import (
    CONFIRM,
    USAGE,
    AdoptCommand,
    CreateCommand,
    DeleteCommand,
    DisableCommand,
    JobCommand,
    ResetPasswordCommand,
    ShowCommand,
    as_word,
)
from sip_provisioning.domain.answers import (
    DeletePreview,
    EndpointAdopted,
    EndpointCreated,
    EndpointDeleted,
    EndpointDisabled,
    EndpointView,
    PasswordReset,
    ProfileList,
)
from sip_provisioning.domain.drift import Drift
from sip_provisioning.domain.errors import ProblemType
from sip_provisioning.domain.records import EndpointStatus, InventoryRecord
from sip_provisioning.domain.signalwire import HANDLERS

# Block Kit limits: 3000 characters in a section's text, 2000 in a field, 50 blocks a message.
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_PROFILE_BLOCKS = 40
MAX_DRIFT_LINES = 20
MAX_DRIFT_VALUE = 200


class Text(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["mrkdwn", "plain_text"] = "mrkdwn"
    text: str


class SectionBlock(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["section"] = "section"
    text: Text | None = None
    fields: list[Text] | None = Field(default=None, max_length=10)


class ContextBlock(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["context"] = "context"
    elements: list[Text]


class HeaderBlock(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["header"] = "header"
    text: Text


class SlackMessage(BaseModel):
    """A message as a slash command's answer or a `response_url` post carries it."""

    model_config = ConfigDict(frozen=True)

    response_type: Literal["ephemeral"] = "ephemeral"
    text: str
    blocks: list[SectionBlock | ContextBlock | HeaderBlock] = Field(max_length=50)

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


# What the requester can do about each problem, in plain words.
_WHAT_TO_CHANGE: dict[ProblemType, str] = {
    ProblemType.VALIDATION_ERROR: "Change what the list names and run the command again; `{command} help` shows "
    "the options and `{command} profiles` the profiles.",
    ProblemType.USERNAME_TAKEN: "Pick another username: this one already has an endpoint.",
    ProblemType.IDEMPOTENCY_IN_PROGRESS: "Another command on this endpoint is still at work: run this one again "
    "in a moment.",
    ProblemType.IDEMPOTENCY_KEY_REUSED: "Run the command again.",
    ProblemType.UPSTREAM_UNAVAILABLE: "SignalWire is busy or out of reach: run the command again in a minute.",
    ProblemType.UPSTREAM_TIMEOUT: "Whether SignalWire did it is not known: look with `{command} show <username>` "
    "before you run the command again.",
    ProblemType.FORBIDDEN: "The rule named above does not let you do this: ask an admin of the service, or the "
    "person who created the endpoint.",
    ProblemType.ENDPOINT_NOT_FOUND: "Check the username's spelling; SignalWire has no endpoint by that name.",
    ProblemType.ENDPOINT_NOT_MANAGED: "This service did not create this endpoint, so it will not change or delete "
    "it: ask whoever manages it in SignalWire.",
    ProblemType.ENDPOINT_ALREADY_MANAGED: "This service manages this endpoint already: look at it with "
    "`{command} show <username>`.",
    ProblemType.UPSTREAM_ERROR: "This is on the service's side: try again later, or ask an operator.",
    ProblemType.CONFIGURATION_ERROR: "Ask an operator to fix the service's settings named above.",
    ProblemType.INTERNAL_ERROR: "Try again; if it happens again, give an operator the request id below.",
}
_ANYTHING_ELSE = "Ask an operator, quoting the request id below."


def escape(text: str) -> str:
    """Text shown as itself in mrkdwn: Slack reads `&`, `<` and `>` as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """`text` in a code span; a value holding a backtick (which a span cannot) is shown escaped instead."""
    return escape(text) if "`" in text else f"`{escape(text)}`"


def _truncated(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=Text(text=_truncated(text, MAX_SECTION_TEXT)))


def _field(label: str, value: str) -> Text:
    return Text(text=_truncated(f"*{label}*\n{value}", MAX_FIELD_TEXT))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[Text(text=_truncated(text, MAX_SECTION_TEXT))])


def created_message(created: EndpointCreated) -> SlackMessage:
    """The endpoint, where to register it, and its generated password (shown once, to the requester
    alone) or the secret holding it."""
    username = created.endpoint.username
    fields = [
        _field("Username", code(username)),
        _field("SIP URI", code(created.sip_uri)),
        *_password_fields(created.password, created.password_secret_arn),
        _field("Profile", code(created.profile)),
        _field("Endpoint id", code(created.endpoint.id)),
    ]
    return SlackMessage(
        text=f"SIP endpoint {escape(username)} created.",  # notifications show it: no password here
        blocks=[
            _section(f":white_check_mark: SIP endpoint {code(username)} created."),
            SectionBlock(fields=fields),
            _context(_password_note(created.password, created.password_secret_arn)),
        ],
    )


def password_reset_message(reset: PasswordReset) -> SlackMessage:
    """The endpoint's new password (shown once) or the secret holding it; a disabled endpoint is enabled again."""
    fields = [
        _field("Username", code(reset.username)),
        _field("SIP URI", code(reset.sip_uri)),
        *_password_fields(reset.password, reset.password_secret_arn),
    ]
    return SlackMessage(
        text=f"New password for SIP endpoint {escape(reset.username)}.",  # no password here
        blocks=[
            _section(
                f":key: SIP endpoint {code(reset.username)} has a new password; devices register with it "
                "from now on (a disabled endpoint is enabled again)."
            ),
            SectionBlock(fields=fields),
            _context(_password_note(reset.password, reset.password_secret_arn)),
        ],
    )


def _password_fields(password: str | None, secret_arn: str | None) -> list[Text]:
    if password is not None:
        return [_field("Password", code(password))]
    if secret_arn is not None:
        return [_field("Password secret", code(secret_arn))]
    return []


def _password_note(password: str | None, secret_arn: str | None) -> str:
    if password is not None:
        return "Only you can see this message. The password is shown this once: put it in your password manager now."
    if secret_arn is not None:
        return "Only you can see this message. The password is not shown: it is in AWS Secrets Manager, in that secret."
    return "Only you can see this message."


def endpoint_message(view: EndpointView) -> SlackMessage:
    """What `show` answers: the endpoint as SignalWire holds it, its record, and where it drifted."""
    endpoint, record = view.endpoint, view.record
    fields = [
        _field("Username", code(endpoint.username)),
        _field("SIP URI", code(view.sip_uri)),
        _field("Endpoint id", code(endpoint.id)),
        _field("Calls go to", code(endpoint.call_handler) if endpoint.call_handler else "_not set_"),
    ]
    if record is not None:
        fields += [
            _field("Status", code(record.status.value)),
            _field("Profile", code(record.profile)),
            _field("Owner", code(record.owner) if record.owner else "_not set_"),
            _field("Created by", f"{code(record.created_by)} ({escape(record.created_via.value)})"),
            _field("Created at", code(record.created_at)),
        ]
    blocks: list[SectionBlock | ContextBlock | HeaderBlock] = [
        _section(f":mag: SIP endpoint {code(endpoint.username)}"),
        SectionBlock(fields=fields[:10]),
    ]
    if not view.managed:
        blocks.append(
            _section(
                ":information_source: This service did not create this endpoint: it can be looked up here, "
                "never changed or deleted."
            )
        )
    elif view.drift:
        blocks.append(_section(_drift_text(view.drift)))
    else:
        blocks.append(_context("In line with its profile: SignalWire holds what its request builds today."))
    return SlackMessage(text=f"SIP endpoint {escape(endpoint.username)}.", blocks=blocks)


def _drift_text(drift: list[Drift]) -> str:
    shown = drift[:MAX_DRIFT_LINES]
    lines = [
        f":warning: *Drift*: in {len(drift)} field(s) SignalWire differs from what its request builds "
        "over the profile today."
    ]
    lines += [
        f"• {code(drift.field)}: expected {_value(drift.expected)}, SignalWire has {_value(drift.actual)}"
        for drift in shown
    ]
    if len(drift) > len(shown):
        lines.append(f"…and {len(drift) - len(shown)} more.")
    return "\n".join(lines)


def _value(value: Any) -> str:
    return code(_truncated(json.dumps(value, ensure_ascii=False), MAX_DRIFT_VALUE))


def disabled_message(disabled: EndpointDisabled, command: str) -> SlackMessage:
    """The endpoint is locked: a password nobody has. Says how to enable it again."""
    enable = code(f"{command} reset-password {as_word(disabled.username)}")
    return SlackMessage(
        text=f"SIP endpoint {escape(disabled.username)} disabled.",
        blocks=[
            _section(
                f":no_entry: SIP endpoint {code(disabled.username)} is disabled: its password was replaced with "
                "one nobody is given, so no device can register with it."
            ),
            _context(f"To enable it again with a new password: {enable}"),
        ],
    )


def delete_preview_message(preview: DeletePreview, command: str) -> SlackMessage:
    """What `delete <username>` without `confirm` answers: what a delete would remove, and how to confirm."""
    record = preview.would_delete
    if record.status is EndpointStatus.DELETED:
        by = f" by {code(record.deleted_by)}" if record.deleted_by else ""
        at = f" at {code(record.deleted_at)}" if record.deleted_at else ""
        return SlackMessage(
            text=f"SIP endpoint {escape(record.username)} was deleted already.",
            blocks=[
                _section(
                    f":information_source: SIP endpoint {code(record.username)} was deleted already{by}{at}: "
                    "there is nothing left to delete, and nothing changed."
                )
            ],
        )
    confirm = code(f"{command} delete {as_word(record.username)} {CONFIRM}")
    return SlackMessage(
        text=f"Deleting SIP endpoint {escape(record.username)} needs confirming; nothing was deleted.",
        blocks=[
            _section(
                f":warning: Deleting would remove SIP endpoint {code(record.username)} from SignalWire: no device "
                "can register with it again. Its inventory record stays, marked deleted. *Nothing was deleted.*"
            ),
            SectionBlock(fields=_record_fields(record)),
            _section(f"To delete it, run {confirm}"),
        ],
    )


def _record_fields(record: InventoryRecord) -> list[Text]:
    fields = [
        _field("Username", code(record.username)),
        _field("Status", code(record.status.value)),
        _field("Profile", code(record.profile)),
        _field("Owner", code(record.owner) if record.owner else "_not set_"),
        _field("Created by", code(record.created_by)),
        _field("Created at", code(record.created_at)),
    ]
    if record.endpoint_id:
        fields.append(_field("Endpoint id", code(record.endpoint_id)))
    return fields


def adopted_message(adopted: EndpointAdopted, command: str) -> SlackMessage:
    """An endpoint taken into the inventory: nothing changed in SignalWire; how to give it a known password."""
    record = adopted.record
    reset = code(f"{command} reset-password {as_word(record.username)}")
    blocks: list[SectionBlock | ContextBlock | HeaderBlock] = [
        _section(
            f":inbox_tray: SIP endpoint {code(record.username)} is adopted into profile {code(record.profile)}: "
            "the service manages it from now on. Nothing changed in SignalWire."
        ),
        SectionBlock(fields=_record_fields(record)),
    ]
    if adopted.drift:
        blocks.append(_section(_drift_text(adopted.drift)))
    else:
        blocks.append(_context("In line with its profile: SignalWire holds what its request builds today."))
    blocks.append(_context(f"Its password is unknown to the service. To give it a new one: {reset}"))
    return SlackMessage(text=f"SIP endpoint {escape(record.username)} adopted.", blocks=blocks)


def deleted_message(deleted: EndpointDeleted) -> SlackMessage:
    return SlackMessage(
        text=f"SIP endpoint {escape(deleted.username)} deleted.",
        blocks=[
            _section(
                f":wastebasket: SIP endpoint {code(deleted.username)} is deleted from SignalWire. Its inventory "
                "record stays, marked deleted, as the audit trail; the username can be created again."
            )
        ],
    )


# What the answer within Slack's 3 seconds says each job is doing.
_WORKING: dict[type[JobCommand], str] = {
    CreateCommand: "Creating SIP endpoint {username}…",
    ShowCommand: "Looking up SIP endpoint {username}…",
    ResetPasswordCommand: "Resetting the password of SIP endpoint {username}…",
    DisableCommand: "Disabling SIP endpoint {username}…",
    AdoptCommand: "Adopting SIP endpoint {username}…",
}


def working_message(command: JobCommand) -> SlackMessage:
    """The answer within Slack's 3 seconds: the command goes on, its result follows at the `response_url`."""
    if isinstance(command, DeleteCommand):
        doing = (
            "Deleting SIP endpoint {username}…"
            if command.confirmed
            else "Checking what deleting {username} would remove…"
        )
    else:
        doing = _WORKING[type(command)]
    return SlackMessage(
        text=doing.format(username=escape(command.username)),
        blocks=[
            _section(
                f":hourglass_flowing_sand: {doing.format(username=code(command.username))} "
                "The result follows here in a moment, for you alone."
            )
        ],
    )


def profiles_message(profiles: ProfileList, command: str) -> SlackMessage:
    shown = profiles.profiles[:MAX_PROFILE_BLOCKS]
    blocks: list[SectionBlock | ContextBlock | HeaderBlock] = [
        HeaderBlock(text=Text(type="plain_text", text="Profiles"))
    ]
    for profile in shown:
        handler = f" (calls go to {code(profile.call_handler)})" if profile.call_handler else ""
        description = f" — {escape(profile.description)}" if profile.description else ""
        blocks.append(_section(f"{code(profile.name)}{description}{handler}"))
    if len(profiles.profiles) > len(shown):
        blocks.append(_context(f"…and {len(profiles.profiles) - len(shown)} more."))
    blocks.append(_context(f"Use one with `{escape(command)} create <username> profile=<name>`."))
    return SlackMessage(text=f"{len(profiles.profiles)} profiles.", blocks=blocks)


def usage_message(command: str, reason: str | None = None) -> SlackMessage:
    """How to use the command, every verb with what it does; with `reason`, first what was wrong with the text given."""
    usage = "\n".join(f"{command} {form}" for form, _ in USAGE)
    verbs = "\n".join(f"• {code(form.split(' [')[0])}: {escape(does)}" for form, does in USAGE)
    handler_values = ", ".join(
        f"{handler_type.value}:<{key}>" if key else handler_type.value
        for handler_type, key in ((handler, keys.value_key) for handler, keys in HANDLERS.items())
    )
    blocks: list[SectionBlock | ContextBlock | HeaderBlock] = []
    if reason is not None:
        blocks.append(_section(f":warning: {escape(reason)}"))
    blocks += [
        _section(f"*Usage*\n```{escape(usage)}```"),
        _section(f"*What each does*\n{verbs}"),
        _section(
            "*Example*\n"
            f'```{escape(command)} create alice.smith profile=office caller_id="Alice Smith" send_as=+15551234567```'
            "\nQuote a value that has spaces. Without `profile=` the `default` profile applies."
        ),
        _context(f"handler=<type>:<value>: {escape(handler_values)}"),
    ]
    return SlackMessage(text=escape(reason or f"How to use {command}"), blocks=blocks)


def problem_message(error: Exception, request_id: str | None, command: str) -> SlackMessage:
    """Why it failed and what to change, in plain words; the broken options listed one by one."""
    problem, headers = problem_for(error, request_id)
    lines = [f":x: *{escape(problem.title)}*: {escape(problem.detail)}"]
    lines += [f"• {code(broken.field)}: {escape(broken.message)}" for broken in problem.errors or []]
    what_to_change = _WHAT_TO_CHANGE.get(ProblemType(problem.type), _ANYTHING_ELSE).format(command=escape(command))
    if "Retry-After" in headers:
        what_to_change += f" (SignalWire asked for {headers['Retry-After']} s.)"
    blocks: list[SectionBlock | ContextBlock | HeaderBlock] = [
        _section("\n".join(lines)),
        _section(f"*What to change:* {what_to_change}"),
    ]
    if request_id is not None:
        blocks.append(_context(f"Request id: {escape(request_id)}"))
    return SlackMessage(text=escape(f"{problem.title}: {problem.detail}"), blocks=blocks)


def response_url_refused_message() -> SlackMessage:
    """The command's `response_url` is not one this service may post to: nothing was started."""
    return SlackMessage(
        text="This command's answer could not be delivered.",
        blocks=[
            _section(
                ":x: *Not started*: this command's `response_url` is not a Slack address this service "
                "may post to, so its answer could not reach you. Nothing was done."
            ),
            _section("*What to change:* ask an operator to check the function's SLACK_RESPONSE_URL_PREFIXES."),
        ],
    )
