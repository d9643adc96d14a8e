"""The answers the slash command gives, as Slack messages: ephemeral (the requester alone sees
them) and laid out in Block Kit, with a plain `text` for notifications that never holds a secret.

Every value that came from a person or from configuration is escaped for Slack's mrkdwn.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sip_provisioning.problems import ProblemType, problem_for
from sip_provisioning.responses import EndpointCreated, ProfileList
from sip_provisioning.slack.commands import HANDLER_VALUE_KEYS, USAGE

# Block Kit limits: 3000 characters in a section's text, 2000 in a field, 50 blocks a message.
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_PROFILE_BLOCKS = 40


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
    ProblemType.IDEMPOTENCY_IN_PROGRESS: "Slack delivered this command twice; the first delivery is still at work "
    "and answers here.",
    ProblemType.IDEMPOTENCY_KEY_REUSED: "Run the command again.",
    ProblemType.UPSTREAM_UNAVAILABLE: "SignalWire is busy or out of reach: run the command again in a minute.",
    ProblemType.UPSTREAM_TIMEOUT: "Whether the endpoint was created is not known: ask an operator to check "
    "before you run the command again.",
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
    """The endpoint, where to register it, and its generated password: shown once, to the requester alone."""
    username = created.endpoint.username
    fields = [
        _field("Username", code(username)),
        _field("SIP URI", code(created.sip_uri)),
        _field("Profile", code(created.profile)),
        _field("Endpoint id", code(created.endpoint.id)),
    ]
    if created.password is not None:
        fields.insert(2, _field("Password", code(created.password)))
    return SlackMessage(
        text=f"SIP endpoint {escape(username)} created.",  # notifications show it: no password here
        blocks=[
            _section(f":white_check_mark: SIP endpoint {code(username)} created."),
            SectionBlock(fields=fields),
            _context(
                "Only you can see this message. The password is shown this once: put it in your password manager now."
            ),
        ],
    )


def working_message(username: str) -> SlackMessage:
    """The answer within Slack's 3 seconds: the create goes on, its result follows at the `response_url`."""
    return SlackMessage(
        text=f"Creating SIP endpoint {escape(username)}…",
        blocks=[
            _section(
                f":hourglass_flowing_sand: Creating SIP endpoint {code(username)}… "
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
    """How to use the command; with `reason`, first what was wrong with the text given."""
    usage = "\n".join(f"{command} {form}" for form in USAGE)
    handler_values = ", ".join(
        f"{handler_type.value}:<{key}>" if key else handler_type.value
        for handler_type, key in HANDLER_VALUE_KEYS.items()
    )
    blocks: list[SectionBlock | ContextBlock | HeaderBlock] = []
    if reason is not None:
        blocks.append(_section(f":warning: {escape(reason)}"))
    blocks += [
        _section(f"*Usage*\n```{escape(usage)}```"),
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
                "may post to, so its answer could not reach you. Nothing was created."
            ),
            _section("*What to change:* ask an operator to check the function's SLACK_RESPONSE_URL_PREFIXES."),
        ],
    )
