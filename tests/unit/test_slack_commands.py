"""The slash command's text grammar, and how a create becomes the very request `POST /endpoints` takes.

Texts are written as Slack delivers them: `&`, `<` and `>` HTML-escaped, links as `<url|typed>`.
"""

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sip_provisioning.callers.slack.commands import (
    OPTIONS,
    USAGE,
    VERBS,
    AdoptCommand,
    Command,
    CommandNotUnderstood,
    CreateCommand,
    DeleteCommand,
    DisableCommand,
    HandlerOption,
    HelpCommand,
    ProfilesCommand,
    ResetPasswordCommand,
    ShowCommand,
    as_word,
    parse_command,
)
from sip_provisioning.domain.errors import RequestInvalid
from sip_provisioning.domain.request import EndpointRequest
from sip_provisioning.domain.signalwire import HANDLERS, CallHandler

QUOTES = '"“”„'


def not_understood(text: str) -> str:
    with pytest.raises(CommandNotUnderstood) as raised:
        parse_command(text)
    return str(raised.value)


# -- help and profiles -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "help me please"])
def test_help_or_no_text_at_all_asks_for_help(text: str) -> None:
    # Given / When the text is parsed
    command = parse_command(text)
    # Then it is the help command
    assert command == HelpCommand()


def test_profiles_asks_for_the_profiles() -> None:
    # Given / When "profiles" is parsed
    command = parse_command("profiles")
    # Then it is the profiles command
    assert command == ProfilesCommand()


def test_profiles_with_anything_after_it_is_not_understood() -> None:
    # Given / When "profiles" with a word after it is parsed
    reason = not_understood("profiles office")
    # Then the reason says profiles takes nothing
    assert "takes nothing" in reason


def test_an_unknown_command_is_not_understood_and_the_commands_are_named() -> None:
    # Given / When a command the grammar does not have is parsed
    reason = not_understood("remove alice")
    # Then the reason names it and lists the commands
    assert "'remove'" in reason
    assert "create, show, reset-password, disable, delete, adopt, profiles and help" in reason


def test_the_usage_has_a_form_for_every_verb() -> None:
    # Given / When the usage's forms are read
    verbs = {form.split()[0] for form, _ in USAGE}
    # Then every verb the grammar knows has one, with what it does
    assert verbs == set(VERBS)
    assert all(does for _, does in USAGE)


# -- show, reset-password, disable, delete ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("show alice.smith", ShowCommand(username="alice.smith")),
        ("reset-password alice.smith", ResetPasswordCommand(username="alice.smith")),
        ("disable alice.smith", DisableCommand(username="alice.smith")),
        ("SHOW Alice.Smith", ShowCommand(username="Alice.Smith")),
    ],
    ids=["show", "reset-password", "disable", "verb-in-capitals"],
)
def test_a_verb_on_one_endpoint_reads_its_username_as_typed(text: str, command: Command) -> None:
    # Given / When the text is parsed
    parsed = parse_command(text)
    # Then it is that verb, on that username (its case kept: usernames are case-sensitive)
    assert parsed == command


@pytest.mark.parametrize("verb", ["show", "reset-password", "disable", "delete"])
def test_a_verb_on_one_endpoint_without_a_username_is_not_understood(verb: str) -> None:
    # Given / When the verb is parsed alone
    reason = not_understood(verb)
    # Then the reason asks for a username
    assert f"`{verb}` needs a username" in reason


@pytest.mark.parametrize("verb", ["show", "reset-password", "disable"])
def test_a_verb_on_one_endpoint_with_more_words_is_not_understood(verb: str) -> None:
    # Given / When the verb is given two words
    reason = not_understood(f"{verb} alice bob")
    # Then the reason says it takes one username
    assert "takes one username and nothing after it" in reason


def test_delete_without_confirm_only_asks_what_would_be_deleted() -> None:
    # Given / When a delete without `confirm` is parsed
    command = parse_command("delete alice.smith")
    # Then it is a delete that is not confirmed
    assert command == DeleteCommand(username="alice.smith", confirmed=False)


@pytest.mark.parametrize("confirm", ["confirm", "CONFIRM", "Confirm"])
def test_delete_with_confirm_in_any_case_is_confirmed(confirm: str) -> None:
    # Given / When a delete followed by `confirm` is parsed
    command = parse_command(f"delete alice.smith {confirm}")
    # Then it is a confirmed delete
    assert command == DeleteCommand(username="alice.smith", confirmed=True)


@pytest.mark.parametrize("text", ["delete alice yes", "delete alice confirm now", "delete alice --force"])
def test_delete_followed_by_anything_but_confirm_is_not_understood(text: str) -> None:
    # Given / When a delete is followed by a word that is not `confirm`
    reason = not_understood(text)
    # Then it is not understood (never taken for a confirmation), and says how to confirm
    assert "`delete <username> confirm`" in reason


@given(st.text(min_size=1, max_size=40))
def test_a_username_written_as_a_word_parses_back_to_itself(username: str) -> None:
    # Given any username, written for an answer that says what to type next, as Slack delivers it
    text = slack_escaped(f"delete {as_word(username)} confirm")
    # When the text is parsed
    command = parse_command(text)
    # Then it names that very username
    assert command == DeleteCommand(username=username, confirmed=True)


def test_a_username_that_breaks_the_username_rules_is_refused_naming_the_username() -> None:
    # Given a show of a username no endpoint can have
    command = parse_command("show alice@example.com")
    assert isinstance(command, ShowCommand)
    # When its username is checked
    with pytest.raises(RequestInvalid) as raised:
        command.checked_username()
    # Then it is refused, naming the username and the rule, as a create's would be
    assert [error.field for error in raised.value.errors] == ["username"]
    assert "must not contain '@'" in raised.value.errors[0].message


# -- create ------------------------------------------------------------------------------------


def test_create_with_only_a_username_leaves_every_option_unset() -> None:
    # Given / When a bare create is parsed
    command = parse_command("create alice.smith")
    # Then only the username is set
    assert command == CreateCommand(username="alice.smith")


def test_create_reads_every_option() -> None:
    # Given a create with every option
    text = (
        'create alice.smith profile=office caller_id="Alice Smith" send_as=+15551234567 '
        "handler=laml_webhooks:https://voice.example.com/laml/alice"
    )
    # When it is parsed
    command = parse_command(text)
    # Then each option has its value
    assert command == CreateCommand(
        username="alice.smith",
        profile="office",
        caller_id="Alice Smith",
        send_as="+15551234567",
        handler=HandlerOption(type=CallHandler.LAML_WEBHOOKS, value="https://voice.example.com/laml/alice"),
    )


def test_options_may_come_in_any_order_and_any_case() -> None:
    # Given options in another order, their names and the verb in capitals
    text = "CREATE alice SEND_AS=random Profile=support"
    # When it is parsed
    command = parse_command(text)
    # Then the same values are read
    assert command == CreateCommand(username="alice", profile="support", send_as="random")


@pytest.mark.parametrize(
    ("text", "caller_id"),
    [
        ('create a caller_id="Ada Lovelace"', "Ada Lovelace"),
        ("create a caller_id=“Ada Lovelace”", "Ada Lovelace"),  # what Slack's clients type as quotes
        ('create a "caller_id=Ada Lovelace"', "Ada Lovelace"),
        ('create a caller_id="Ada \\"the Countess\\" L."', 'Ada "the Countess" L.'),
        ('create a caller_id="back\\\\slash"', "back\\slash"),
        ('create a caller_id="C:\\temp"', "C:\\temp"),  # a backslash before anything else is itself
        ('create a caller_id=Ada" "Lovelace', "Ada Lovelace"),
        ('create a caller_id=""', ""),
    ],
    ids=[
        "straight",
        "curly",
        "whole-word",
        "escaped-quotes",
        "escaped-backslash",
        "lone-backslash",
        "mid-word",
        "empty",
    ],
)
def test_quotes_keep_a_value_with_spaces_together(text: str, caller_id: str) -> None:
    # Given / When a create with a quoted value is parsed
    command = parse_command(text)
    # Then the value is read whole, without its quotes
    assert isinstance(command, CreateCommand)
    assert command.caller_id == caller_id


def test_an_unclosed_quote_is_not_understood() -> None:
    # Given / When a value's quote is never closed
    reason = not_understood('create alice caller_id="Alice Smith')
    # Then the reason says so
    assert "not closed" in reason


def test_slacks_html_escapes_are_undone_once() -> None:
    # Given a caller id typed as `R&D <lab> &lt;`, as Slack delivers it
    text = 'create a caller_id="R&amp;D &lt;lab&gt; &amp;lt;"'
    # When it is parsed
    command = parse_command(text)
    # Then it reads as typed
    assert isinstance(command, CreateCommand)
    assert command.caller_id == "R&D <lab> &lt;"


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("create a handler=laml_webhooks:<https://x.example/a?b=1&amp;c=2>", "https://x.example/a?b=1&c=2"),
        ("create a handler=laml_webhooks:<https://x.example/a|https://x.example/a>", "https://x.example/a"),
        ("create a handler=laml_webhooks:<http://x.example/a|x.example/a>", "x.example/a"),
    ],
    ids=["link", "labelled-link", "link-slack-completed"],
)
def test_a_link_slack_marked_up_reads_as_it_was_typed(text: str, url: str) -> None:
    # Given a handler URL Slack turned into link markup
    # When it is parsed
    command = parse_command(text)
    # Then the value is what the user typed (not the URL Slack completed)
    assert isinstance(command, CreateCommand)
    assert command.handler == HandlerOption(type=CallHandler.LAML_WEBHOOKS, value=url)


def test_create_without_a_username_is_not_understood() -> None:
    # Given / When a create without a username is parsed
    reason = not_understood("create")
    # Then the reason asks for one
    assert "needs a username" in reason


def test_an_option_in_the_username_place_is_not_taken_for_a_username() -> None:
    # Given a create whose first word is an option (the username forgotten)
    # When it is parsed
    reason = not_understood("create profile=office")
    # Then it is not understood, rather than an endpoint named "profile=office"
    assert "username first" in reason


def test_a_second_username_or_an_unknown_option_is_not_understood() -> None:
    # Given / When a create with a word that is no option is parsed
    reason = not_understood("create alice bob")
    # Then the reason names the word and lists the options
    assert "'bob' is not an option" in reason
    assert "profile=, caller_id=, send_as=, handler=" in reason


def test_an_option_given_twice_is_not_understood() -> None:
    # Given / When a create repeats an option
    reason = not_understood("create alice profile=office profile=support")
    # Then the reason names it
    assert "`profile=` is given twice" in reason


def test_a_very_long_unknown_word_is_echoed_cut_short() -> None:
    # Given / When a create has a very long word that is no option
    reason = not_understood(f"create alice {'x' * 500}")
    # Then the reason quotes only its start
    assert len(reason) < 200


# -- handler=<type>:<value> --------------------------------------------------------------------


def test_the_handler_value_may_hold_colons() -> None:
    # Given / When a handler value with colons of its own is parsed
    command = parse_command("create a handler=relay_topic:office:desk:7")
    # Then only the first colon separates the type
    assert isinstance(command, CreateCommand)
    assert command.handler == HandlerOption(type=CallHandler.RELAY_TOPIC, value="office:desk:7")


def test_relay_connector_takes_no_value() -> None:
    # Given / When relay_connector is named alone, and with a value
    command = parse_command("create a handler=relay_connector")
    reason = not_understood("create a handler=relay_connector:x")
    # Then alone it is read, and with a value it is not understood
    assert isinstance(command, CreateCommand)
    assert command.handler == HandlerOption(type=CallHandler.RELAY_CONNECTOR)
    assert "takes no value" in reason


def test_a_handler_type_that_needs_a_value_without_one_is_not_understood() -> None:
    # Given / When a handler type that takes a value is named without one
    reason = not_understood("create a handler=video_room")
    # Then the reason shows the form with its key
    assert "handler=video_room:<room_id>" in reason


def test_an_unknown_handler_type_is_not_understood_and_the_types_are_named() -> None:
    # Given / When a handler type that does not exist is named
    reason = not_understood("create a handler=pstn:+15551234567")
    # Then the reason lists the types
    assert "'pstn' is not a handler type" in reason
    assert ", ".join(handler.value for handler in CallHandler) in reason


# -- the request a create stands for -----------------------------------------------------------


def test_a_create_becomes_the_same_request_as_the_json_body_with_those_values() -> None:
    # Given a create with every option
    command = parse_command(
        'create alice profile=support caller_id="Alice" send_as=random '
        "handler=ai_agent:6f1c2a5e-3b7d-4c8e-9a10-2d4b6f8e0c13"
    )
    assert isinstance(command, CreateCommand)
    # When it becomes a request
    request = command.to_endpoint_request()
    # Then it is what POST /endpoints makes of the same values
    assert request == EndpointRequest.model_validate(
        {
            "username": "alice",
            "profile": "support",
            "caller_id": "Alice",
            "send_as": "random",
            "handler": {"type": "ai_agent", "agent_id": "6f1c2a5e-3b7d-4c8e-9a10-2d4b6f8e0c13"},
        }
    )


def test_a_create_without_a_profile_gets_the_default_profile() -> None:
    # Given / When a bare create becomes a request
    request = CreateCommand(username="alice").to_endpoint_request()
    # Then the profile is the default, as for POST /endpoints
    assert request.profile == "default"


def test_a_create_breaking_the_request_rules_names_each_option_it_breaks() -> None:
    # Given a create whose username, send_as and handler value break the rules
    command = parse_command("create alice@example.com send_as=555 handler=video_room:not-a-uuid")
    assert isinstance(command, CreateCommand)
    # When it becomes a request
    with pytest.raises(RequestInvalid) as raised:
        command.to_endpoint_request()
    # Then each broken option is named as the user typed it
    assert [error.field for error in raised.value.errors] == ["username", "send_as", "handler"]
    assert "must not contain '@'" in raised.value.errors[0].message


@pytest.mark.parametrize("port", ["99999", "0", "-1", "0x50", "", "+80", "00080"])
def test_a_create_whose_handler_url_gives_an_impossible_port_is_refused_naming_the_handler(port: str) -> None:
    # Given a create whose webhook URL gives a port that is not decimal 1 to 65535
    command = parse_command(f"create alice.smith handler=relay_script:https://hooks.example.com:{port}/script")
    assert isinstance(command, CreateCommand)
    # When it becomes a request
    with pytest.raises(RequestInvalid) as raised:
        command.to_endpoint_request()
    # Then it is refused by the rule POST /endpoints holds URLs to, naming the handler option
    assert [error.field for error in raised.value.errors] == ["handler"]
    assert "from 1 to 65535" in raised.value.errors[0].message


# -- properties --------------------------------------------------------------------------------


def slack_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quoted(value: str) -> str:
    escaped = "".join(f"\\{char}" if char in QUOTES or char == "\\" else char for char in value)
    return f'"{escaped}"'


@st.composite
def written(draw: st.DrawFn, value: str) -> str:
    """`value` as a user may write it: quoted, or bare when nothing in it needs quotes."""
    bare_is_possible = value and not any(char.isspace() or char in QUOTES for char in value)
    return value if bare_is_possible and draw(st.booleans()) else quoted(value)


separators = st.text(alphabet=" \t\n\u00a0", min_size=1, max_size=3)
values = st.text(max_size=40)
handlers = st.sampled_from(list(CallHandler)).flatmap(
    lambda handler_type: st.builds(
        HandlerOption,
        type=st.just(handler_type),
        value=st.none() if HANDLERS[handler_type].value_key is None else values,
    )
)


@given(
    username=values,
    options=st.fixed_dictionaries(
        {},
        optional={"profile": values, "caller_id": values, "send_as": values, "handler": handlers},
    ),
    data=st.data(),
)
def test_a_well_formed_create_parses_back_to_the_values_it_was_written_from(
    username: str, options: dict[str, object], data: st.DataObject
) -> None:
    # Given a create written from generated values, options in any order and case, as Slack delivers it
    assume(not any(username.lower().startswith(f"{option}=") for option in OPTIONS))
    words = ["create", data.draw(written(username))]
    for name in data.draw(st.permutations(sorted(options))):
        value = options[name]
        if isinstance(value, HandlerOption):
            value = value.type.value if value.value is None else f"{value.type.value}:{value.value}"
        key = data.draw(st.sampled_from([name, name.upper()]))
        words.append(f"{key}={data.draw(written(str(value)))}")
    text = "".join(f"{word}{data.draw(separators)}" for word in words)
    # When it is parsed
    command = parse_command(slack_escaped(text))
    # Then it has exactly those values
    assert command == CreateCommand(username=username, **options)


GRAMMAR_FRAGMENTS = (
    *("create", "profiles", "help", " ", "\t", "\n", "\u00a0", "=", ":", '"', "“", "”", "\\", "é"),
    *("show", "reset-password", "disable", "delete", "confirm"),
    *("profile=", "caller_id=", "send_as=", "handler=", "laml_webhooks:", "relay_connector"),
    *("&amp;", "&lt;", "&gt;", "<https://x.example|x>", "<", ">", "alice", "+15551234567", "random"),
)


@given(st.one_of(st.text(), st.lists(st.sampled_from(GRAMMAR_FRAGMENTS)).map("".join)))
def test_any_text_parses_to_a_command_or_is_not_understood(text: str) -> None:
    # Given any text at all, grammar-like or not
    # When it is parsed
    outcome: object
    try:
        outcome = parse_command(text)
    except CommandNotUnderstood as not_understood:
        outcome = str(not_understood)
    # Then it is one of the commands, or not understood with a reason to show
    assert isinstance(outcome, Command) or (isinstance(outcome, str) and outcome)


def test_an_adopt_holds_its_username_profile_and_owner_as_typed() -> None:
    # Given / When an adopt with a quoted owner is parsed
    command = parse_command('adopt ada.lovelace profile=office owner="Ada L."')
    # Then it is an adopt of that username, its options in place, and its body that of the route
    assert command == AdoptCommand(username="ada.lovelace", profile="office", owner="Ada L.")
    assert isinstance(command, AdoptCommand)
    assert command.to_adopt_request().model_dump(exclude_none=True) == {"profile": "office", "owner": "Ada L."}
