"""What Slack posts for a slash command, and the job the command's function hands itself for the
verbs that need SignalWire (create, show, reset-password, disable, delete)."""

from typing import Annotated, Literal
from urllib.parse import parse_qsl

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from sip_provisioning.callers.slack.commands import TaggedJobCommand

# Slack's ids (T0123ABCD, U0456EFGH, ...) are upper-case letters and digits.
SlackId = Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,32}$")]
# The trigger id is the idempotency key of a command, so it follows the Idempotency-Key rules.
TriggerId = Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,255}$")]
MAX_FORM_FIELDS = 50  # Slack sends about 12
# What tells a job apart from API Gateway's events, which have no `kind`. Jobs queued by the
# version that ran only creates say `slack-create`: they still run (an operator may replay one
# from the on-failure queue for 14 days).
JOB_KIND: Literal["slack-command"] = "slack-command"
EARLIER_JOB_KIND: Literal["slack-create"] = "slack-create"
JOB_KINDS = frozenset({JOB_KIND, EARLIER_JOB_KIND})


class MalformedSlashCommand(Exception):
    """A signed body that is not a slash command's form. The message names fields, never values."""


class SlashCommandPayload(BaseModel):
    """The fields of Slack's form this service uses (Slack sends more: they are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    team_id: SlackId
    user_id: SlackId
    user_name: str = Field(default="", max_length=256)
    command: str = Field(min_length=2, max_length=64, pattern=r"^/\S+$")
    text: str = Field(default="", max_length=4000)
    response_url: str = Field(min_length=1, max_length=2048)
    trigger_id: TriggerId

    @classmethod
    def from_form(cls, raw_body: bytes) -> "SlashCommandPayload":
        """The payload in an `application/x-www-form-urlencoded` body; `MalformedSlashCommand` if it is not one."""
        fields: dict[str, str] = {}
        for name, value in _form_pairs(raw_body):
            if name in fields:
                raise MalformedSlashCommand(f"The form repeats the field '{name[:64]}'.")
            fields[name] = value
        try:
            return cls.model_validate(fields)
        except pydantic.ValidationError as invalid:
            broken = sorted({str(error["loc"][0]) for error in invalid.errors() if error["loc"]})
            raise MalformedSlashCommand(f"The form lacks or breaks the field(s) {', '.join(broken)}.") from None

    @property
    def caller(self) -> str:
        """The idempotency scope and audit identity of the person who ran the command."""
        return slack_caller(self.team_id, self.user_id)


def is_ssl_check(raw_body: bytes) -> bool:
    """Whether the body is Slack's check of the command URL's certificate: a form with `ssl_check=1`
    (beside it Slack sends only a verification token), recognised by that field alone, as Bolt does."""
    try:
        return ("ssl_check", "1") in _form_pairs(raw_body)
    except MalformedSlashCommand:
        return False


def _form_pairs(raw_body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(
            raw_body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict"
        )
    except ValueError:  # UnicodeDecodeError among them
        raise MalformedSlashCommand("The body is not a form of UTF-8 text.") from None


def slack_caller(team_id: str, user_id: str) -> str:
    return f"slack:{team_id}:{user_id}"


class CommandJob(BaseModel):
    """A command the function carries out after answering Slack: an asynchronous invocation of itself.

    It carries what the command and its answer need, and nothing secret: the function reads the
    signing secret from SSM itself, and no command takes a password (a reset generates one).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["slack-command", "slack-create"] = JOB_KIND
    team_id: SlackId
    user_id: SlackId
    command_name: str
    trigger_id: TriggerId
    response_url: str
    command: TaggedJobCommand

    @property
    def caller(self) -> str:
        return slack_caller(self.team_id, self.user_id)


# The name tests/unit/test_template.py imports; the job is no longer a create's alone.
CreateJob = CommandJob
