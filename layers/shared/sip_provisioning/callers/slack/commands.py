"""The text of the slash command, parsed into one command model each.

    create <username> [profile=<name>] [caller_id="<text>"] [send_as=<number|random>] [handler=<type>:<value>]
    show <username>
    reset-password <username>
    disable <username>
    delete <username> [confirm]
    adopt <username> profile=<name> [owner=<text>]
    profiles
    help

Words are separated by whitespace; double quotes (straight or curly) keep a value with spaces
together, and inside them a backslash escapes a quote or a backslash. The text is read as Slack
delivers it: `&`, `<` and `>` come HTML-escaped, and with "Escape channels, users, and links"
turned on a link comes as `<url|what was typed>`. The grammar only gives each value its place;
what a value may be is `EndpointRequest`'s to say, so a Slack create follows exactly the rules
of `POST /endpoints`, and a username given to the other verbs follows the same username rules.
"""

import re
from typing import Annotated, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic_core import ErrorDetails

from sip_provisioning.domain.errors import FieldError, RequestInvalid
from sip_provisioning.domain.request import AdoptRequest, EndpointRequest
from sip_provisioning.domain.signalwire import HANDLERS, CallHandler, Username

# Every form of the command, and what it does, in the order `help` lists them.
USAGE: tuple[tuple[str, str], ...] = (
    (
        'create <username> [profile=<name>] [caller_id="<text>"] [send_as=<number|random>] [handler=<type>:<value>]',
        "creates an endpoint; its password is shown to you once (or put in AWS Secrets Manager)",
    ),
    ("show <username>", "the endpoint as SignalWire holds it, its inventory record and any drift"),
    ("reset-password <username>", "a new generated password; enables a disabled endpoint again"),
    ("disable <username>", "a password nobody is given, so no device can register; reset-password enables it"),
    ("delete <username>", "shows what would be deleted, and changes nothing"),
    ("delete <username> confirm", "deletes the endpoint in SignalWire; its record stays, marked deleted"),
    (
        "adopt <username> profile=<name> [owner=<text>]",
        "admins: takes an endpoint made outside this service into its inventory, changing nothing in SignalWire",
    ),
    ("profiles", "the profiles you can create from"),
    ("help", "this list"),
)
VERBS = ("create", "show", "reset-password", "disable", "delete", "adopt", "profiles", "help")
CONFIRM = "confirm"

OPTIONS = ("profile", "caller_id", "send_as", "handler")
ADOPT_OPTIONS = ("profile", "owner")

_OPENING_QUOTES = frozenset('"“”„')
_CLOSING_QUOTES = frozenset('"“”')
_ESCAPABLE = _OPENING_QUOTES | _CLOSING_QUOTES | {"\\"}
# A link as Slack sends it, `<https://example.com/x|example.com/x>` or `<https://example.com/x>`:
# the label is what the user typed (Slack adds `http://` to a bare domain in the URL part).
_SLACK_LINK = re.compile(r"<((?:https?://|mailto:)[^|<>]*)(?:\|([^<>]*))?>")
_SLACK_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITY_TEXT = {"amp": "&", "lt": "<", "gt": ">"}
MAX_QUOTED_WORD = 40  # of a word echoed back in a message: enough to recognise it


class CommandNotUnderstood(Exception):
    """The text follows no form of `USAGE`. The message says what to change, in plain words."""


class HandlerOption(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: CallHandler
    value: str | None = None


class CreateCommand(BaseModel):
    """`create <username> [options]`: the values as typed, checked by `to_endpoint_request`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["create"] = "create"
    username: str
    profile: str | None = None
    caller_id: str | None = None
    send_as: str | None = None
    handler: HandlerOption | None = None

    def to_endpoint_request(self) -> EndpointRequest:
        """The `POST /endpoints` request this command stands for; `RequestInvalid` naming each option it breaks."""
        body: dict[str, object] = {"username": self.username}
        for option in ("profile", "caller_id", "send_as"):
            if (value := getattr(self, option)) is not None:
                body[option] = value
        if self.handler is not None:
            handler: dict[str, object] = {"type": self.handler.type.value}
            key = HANDLERS[self.handler.type].value_key
            if key is not None:
                handler[key] = self.handler.value
            body["handler"] = handler
        try:
            return EndpointRequest.model_validate(body)
        except pydantic.ValidationError as invalid:
            raise RequestInvalid([_option_error(broken) for broken in invalid.errors()]) from None


class EndpointCommand(BaseModel):
    """A verb acting on one existing endpoint: the username as typed, checked by `checked_username`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str

    def checked_username(self) -> str:
        """The username, when it follows the rules every username follows; `RequestInvalid` naming it otherwise."""
        try:
            return _USERNAME.validate_python(self.username)
        except pydantic.ValidationError as invalid:
            raise RequestInvalid(
                [FieldError.from_pydantic("username", broken["msg"]) for broken in invalid.errors()],
                detail="The username breaks a rule, so no endpoint can have it.",
            ) from None


class ShowCommand(EndpointCommand):
    name: Literal["show"] = "show"


class ResetPasswordCommand(EndpointCommand):
    name: Literal["reset-password"] = "reset-password"


class DisableCommand(EndpointCommand):
    name: Literal["disable"] = "disable"


class DeleteCommand(EndpointCommand):
    """`delete <username>` previews; only `delete <username> confirm` deletes."""

    name: Literal["delete"] = "delete"
    confirmed: bool = False


class AdoptCommand(EndpointCommand):
    """`adopt <username> profile=<name> [owner=<text>]`: the values as typed, checked by `to_adopt_request`."""

    name: Literal["adopt"] = "adopt"
    profile: str
    owner: str | None = None

    def to_adopt_request(self) -> AdoptRequest:
        """The `POST .../adopt` body this command stands for; `RequestInvalid` naming each option it breaks."""
        try:
            return AdoptRequest.model_validate(self.model_dump(include={"profile", "owner"}, exclude_none=True))
        except pydantic.ValidationError as invalid:
            raise RequestInvalid([_option_error(broken) for broken in invalid.errors()]) from None


class ProfilesCommand(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: Literal["profiles"] = "profiles"


class HelpCommand(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: Literal["help"] = "help"


# The commands a job carries out after the answer within Slack's 3 seconds; in a job's JSON they
# are told apart by `name`.
JobCommand = CreateCommand | ShowCommand | ResetPasswordCommand | DisableCommand | DeleteCommand | AdoptCommand
TaggedJobCommand = Annotated[JobCommand, Field(discriminator="name")]
Command = JobCommand | ProfilesCommand | HelpCommand
_USERNAME: TypeAdapter[str] = TypeAdapter(Username)


def _option_error(broken: ErrorDetails) -> FieldError:
    """An error named by the option the user typed: `handler` for any key of the handler."""
    option = str(broken["loc"][0]) if broken["loc"] else "command"
    return FieldError.from_pydantic(option, broken["msg"])


def parse_command(text: str) -> Command:
    """The command in `text` as Slack delivers it; `CommandNotUnderstood` when it follows no form of `USAGE`."""
    words = _split_words(_as_typed(text))
    if not words:
        return HelpCommand()
    verb, arguments = words[0].lower(), words[1:]
    if verb == "help":
        return HelpCommand()
    if verb == "profiles":
        if arguments:
            raise CommandNotUnderstood("`profiles` takes nothing after it.")
        return ProfilesCommand()
    if verb == "create":
        return _create(arguments)
    if verb == "show":
        return ShowCommand(username=_only_username(verb, arguments))
    if verb == "reset-password":
        return ResetPasswordCommand(username=_only_username(verb, arguments))
    if verb == "disable":
        return DisableCommand(username=_only_username(verb, arguments))
    if verb == "delete":
        return _delete(arguments)
    if verb == "adopt":
        return _adopt(arguments)
    verbs = ", ".join(VERBS[:-1])
    raise CommandNotUnderstood(f"There is no command {_echo(words[0])}. The commands are {verbs} and {VERBS[-1]}.")


def as_word(value: str) -> str:
    """`value` written so that the grammar reads it back as one word, itself: bare when it can be,
    quoted (quotes and backslashes escaped) when it has spaces or quotes. For answers that say what
    to type next."""
    if value and not any(char.isspace() or char in _OPENING_QUOTES | _CLOSING_QUOTES for char in value):
        return value
    escaped = "".join(f"\\{char}" if char in _ESCAPABLE else char for char in value)
    return f'"{escaped}"'


def _as_typed(text: str) -> str:
    """Slack's escaping undone: links back to what was typed, then `&amp;`, `&lt;` and `&gt;` in one pass."""
    unlinked = _SLACK_LINK.sub(lambda link: link[2] if link[2] else link[1], text)
    return _SLACK_ENTITY.sub(lambda entity: _ENTITY_TEXT[entity[1]], unlinked)


def _split_words(text: str) -> list[str]:
    words: list[str] = []
    word: list[str] = []
    in_word = False  # a word can be empty (""), so "no characters yet" does not mean "no word"
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        elif char in _OPENING_QUOTES:
            in_word = True
            index = _read_quoted(text, index + 1, word)
        else:
            in_word = True
            word.append(char)
        index += 1
    if in_word:
        words.append("".join(word))
    return words


def _read_quoted(text: str, index: int, word: list[str]) -> int:
    """Append the quoted characters from `index` to `word`; return the index of the closing quote."""
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPABLE:
            word.append(text[index + 1])
            index += 2
        elif char in _CLOSING_QUOTES:
            return index
        else:
            word.append(char)
            index += 1
    raise CommandNotUnderstood('A quote is not closed: end a quoted value with ".')


def _create(arguments: list[str]) -> CreateCommand:
    if not arguments:
        raise CommandNotUnderstood("`create` needs a username: `create <username>`.")
    username, options = arguments[0], arguments[1:]
    if _option_name(username) in OPTIONS:
        raise CommandNotUnderstood("Give the username first, then the options: `create <username> [options]`.")
    given: dict[str, str] = {}
    for option in options:
        name = _option_name(option)
        if name not in OPTIONS:
            raise CommandNotUnderstood(
                f"{_echo(option)} is not an option. The options are {', '.join(f'{name}=' for name in OPTIONS)}."
            )
        if name in given:
            raise CommandNotUnderstood(f"`{name}=` is given twice; give it once.")
        given[name] = option.split("=", 1)[1]
    return CreateCommand(
        username=username,
        profile=given.get("profile"),
        caller_id=given.get("caller_id"),
        send_as=given.get("send_as"),
        handler=_handler(given["handler"]) if "handler" in given else None,
    )


def _only_username(verb: str, arguments: list[str]) -> str:
    if not arguments:
        raise CommandNotUnderstood(f"`{verb}` needs a username: `{verb} <username>`.")
    if len(arguments) > 1:
        raise CommandNotUnderstood(f"`{verb}` takes one username and nothing after it: `{verb} <username>`.")
    return arguments[0]


def _delete(arguments: list[str]) -> DeleteCommand:
    if not arguments:
        raise CommandNotUnderstood("`delete` needs a username: `delete <username>`, then `delete <username> confirm`.")
    username, rest = arguments[0], arguments[1:]
    if not rest:
        return DeleteCommand(username=username)
    if len(rest) == 1 and rest[0].lower() == CONFIRM:
        return DeleteCommand(username=username, confirmed=True)
    raise CommandNotUnderstood(f"`delete` takes a username and then only `{CONFIRM}`: `delete <username> {CONFIRM}`.")


def _adopt(arguments: list[str]) -> AdoptCommand:
    usage = "`adopt <username> profile=<name> [owner=<text>]`"
    if not arguments or _option_name(arguments[0]) in ADOPT_OPTIONS:
        raise CommandNotUnderstood(f"`adopt` needs a username first, then the profile: {usage}.")
    given: dict[str, str] = {}
    for option in arguments[1:]:
        name = _option_name(option)
        if name not in ADOPT_OPTIONS:
            raise CommandNotUnderstood(
                f"{_echo(option)} is not an option of `adopt`. The options are profile= and owner=: {usage}."
            )
        if name in given:
            raise CommandNotUnderstood(f"`{name}=` is given twice; give it once.")
        given[name] = option.split("=", 1)[1]
    if "profile" not in given:
        raise CommandNotUnderstood(f"`adopt` needs the profile to measure the endpoint against: {usage}.")
    return AdoptCommand(username=arguments[0], profile=given["profile"], owner=given.get("owner"))


def _echo(word: str) -> str:
    return f"'{word}'" if len(word) <= MAX_QUOTED_WORD else f"'{word[:MAX_QUOTED_WORD]}…'"


def _option_name(word: str) -> str | None:
    name, equals, _ = word.partition("=")
    return name.lower() if equals else None


def _handler(value: str) -> HandlerOption:
    type_name, colon, handler_value = value.partition(":")
    try:
        handler_type = CallHandler(type_name.lower())
    except ValueError:
        types = ", ".join(handler.value for handler in CallHandler)
        raise CommandNotUnderstood(f"{_echo(type_name)} is not a handler type. The types are {types}.") from None
    key = HANDLERS[handler_type].value_key
    if key is None:
        if handler_value:
            raise CommandNotUnderstood(f"`handler={handler_type.value}` takes no value.")
        return HandlerOption(type=handler_type)
    if not colon:
        raise CommandNotUnderstood(
            f"`handler={handler_type.value}` needs its {key}: `handler={handler_type.value}:<{key}>`."
        )
    return HandlerOption(type=handler_type, value=handler_value)
