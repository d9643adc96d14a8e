"""The Slack slash command through the real `lambda_handler`, as API Gateway and Lambda run it.

SSM, DynamoDB and Secrets Manager come from moto seeded like `make run`, SignalWire is the
emulator over real HTTP. The function's asynchronous invocation of itself goes through the AWS
SDK to the local Lambda Invoke stand-in, which runs the job (create, show, reset-password,
disable, delete) in the background; the job posts its answer over real HTTP to a loopback
stand-in for the command's `response_url`.
"""

import base64
import importlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities.typing import LambdaContext

from local.gateway import LambdaFunction, LocalGateway, LocalLambdaContext, Route, build_event
from local.lambda_invoke import LocalLambdaService
from local.seed import SlackApp, seed_slack
from local.signalwire_emulator import COLLECTION_PATH, OPERATIONS
from local.slack_response_url import Post, ResponseUrlStandIn
from tests.integration.conftest import IDEMPOTENCY_TABLE, PARAMETERS_PATH, SECRETS_PREFIX, SIP_DOMAIN, ProvisionerApi
from tests.slack_helpers import (
    EVENTS_SIGNING_SECRET,
    form_fields,
    message_text,
    new_trigger_id,
    resigned,
    signed_headers,
    slash_command_body,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

SLACK_EVENT_FILE = Path(__file__).resolve().parents[2] / "events" / "slack" / "slash-command.json"
SLACK_FUNCTION = LambdaFunction(name="sip-provisioner-slack-command")
SLACK_ROUTE_KEY = "POST /chatops/slack"
SIGNING_SECRET = "slack-test-signing-secret-5f4e3d2c1b0a"
TEAM = "T0ALLOWED"
EVENTS_TEAM = "T024BE7LD"  # the team of the recorded event
OTHER_TEAM = "T0STRANGER"
USER = "U0ADA"
SLACK_CALLER = f"slack:{TEAM}:{USER}"
PROBLEM_JSON = "application/problem+json"
ADMIN_ARN = "arn:aws:iam::123456789012:user/alice.admin"  # the HTTP API's caller in these tests


@dataclass(frozen=True)
class SlackAnswer:
    status: int
    content_type: str
    body: Any  # the Slack message, or the problem details of a refusal


@dataclass
class SlackCommand:
    """Sends slash commands through API Gateway's event format to the real handler."""

    module: ModuleType
    api: ProvisionerApi
    lambda_service: LocalLambdaService
    response_url: ResponseUrlStandIn
    invocation_lock: threading.RLock

    def send(
        self,
        text: str,
        *,
        team_id: str = TEAM,
        trigger_id: str | None = None,
        response_url: str | None = None,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
    ) -> SlackAnswer:
        body = slash_command_body(
            text,
            team_id=team_id,
            user_id=USER,
            response_url=response_url or self.response_url.url(team_id),
            trigger_id=trigger_id,
        )
        return self.send_raw(body, signed_headers(body, secret, timestamp=timestamp))

    def send_raw(self, body: bytes, headers: dict[str, str]) -> SlackAnswer:
        event = build_event(
            "POST", "/chatops/slack", "", headers.items(), body, iam_authorizer=False, route_key=SLACK_ROUTE_KEY
        )
        return self.send_event(event)

    def send_event(self, event: dict[str, Any]) -> SlackAnswer:
        result = self.invoke(event)
        content_type = result["headers"]["Content-Type"]
        body = json.loads(result["body"]) if content_type in ("application/json", PROBLEM_JSON) else result["body"]
        return SlackAnswer(result["statusCode"], content_type, body)

    def invoke(self, event: dict[str, Any]) -> Any:
        with self.invocation_lock:  # one invocation at a time, the background jobs included
            return self.module.lambda_handler(event, LocalLambdaContext(SLACK_FUNCTION))

    @contextmanager
    def jobs_held(self) -> Iterator[None]:
        """No job runs inside this block: what happens before one can is observable."""
        with self.invocation_lock:
            yield

    def delivered(self, count: int) -> list[Post]:
        """The first `count` posts at the response_url, once the jobs that made them have finished."""
        posts = self.response_url.wait_for_posts(count)
        assert self.lambda_service.wait_until_idle()
        return posts

    def jobs(self) -> list[dict[str, Any]]:
        return [event for _, event in self.lambda_service.invocations]

    def signalwire_requests(self) -> int:
        return sum(self.api.emulator.requests_received(operation) for operation in OPERATIONS)

    def answer_to(self, text: str, **options: Any) -> dict[str, Any]:
        """What the job of `text` posts to the response_url (the one post after those so far)."""
        posts_before = len(self.response_url.posts)
        answer = self.send(text, **options)
        assert answer.status == 200, answer.body
        message: dict[str, Any] = self.delivered(posts_before + 1)[posts_before].message
        return message

    def signalwire_changes(self) -> int:
        return sum(self.api.emulator.committed(operation) for operation in ("create", "update", "delete"))

    def idempotency_records(self) -> int:
        count: int = boto3.client("dynamodb").scan(TableName=IDEMPOTENCY_TABLE, Select="COUNT")["Count"]
        return count


@pytest.fixture
def slack(api: ProvisionerApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackCommand]:
    seed_slack(api.ssm, PARAMETERS_PATH, SlackApp(SIGNING_SECRET, (TEAM, EVENTS_TEAM)))
    monkeypatch.setenv("SLACK_RESPONSE_URL_PREFIXES", "http://127.0.0.1:")
    module = importlib.import_module("functions.slack_command.slack_command")
    module.wiring.cache_clear()  # compose against this test's moto, settings and Lambda stand-in
    invocation_lock = threading.RLock()
    with (
        ResponseUrlStandIn() as response_url,
        LocalLambdaService([(SLACK_FUNCTION, module.lambda_handler)], invocation_lock=invocation_lock) as service,
    ):
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", service.base_url)
        yield SlackCommand(module, api, service, response_url, invocation_lock)
    module.wiring.cache_clear()


def blocks_text(answer: SlackAnswer) -> str:
    assert answer.content_type == "application/json", answer.body
    return message_text(answer.body)


# -- answered at once ----------------------------------------------------------------------------


def test_a_signed_help_is_answered_at_once_with_the_usage_for_the_requester_alone(slack: SlackCommand) -> None:
    # Given / When a signed `help` is sent
    answer = slack.send("help")
    # Then the usage comes back in the answer itself, ephemeral, and nothing else is started
    assert answer.status == 200
    assert answer.body["response_type"] == "ephemeral"
    assert "/sip create &lt;username&gt; [profile=&lt;name&gt;]" in blocks_text(answer)
    assert slack.jobs() == []
    assert slack.signalwire_requests() == 0


def test_help_lists_every_verb(slack: SlackCommand) -> None:
    # Given / When a signed `help` is sent
    text = blocks_text(slack.send("help"))
    # Then every verb's form is in the usage
    for form in ("show", "reset-password", "disable", "delete"):
        assert f"/sip {form} &lt;username&gt;" in text
    assert "/sip delete &lt;username&gt; confirm" in text
    assert "/sip profiles" in text


def test_a_signed_profiles_is_answered_at_once_with_every_profile(slack: SlackCommand) -> None:
    # Given / When a signed `profiles` is sent
    answer = slack.send("profiles")
    # Then each profile of the configuration is named, and SignalWire is not asked
    text = blocks_text(answer)
    assert answer.status == 200
    assert all(f"`{name}`" in text for name in ("default", "office", "support", "video-kiosk"))
    assert slack.jobs() == []
    assert slack.signalwire_requests() == 0


def test_text_that_is_not_understood_is_answered_with_the_reason_and_the_usage(slack: SlackCommand) -> None:
    # Given / When a signed command the grammar does not have is sent
    answer = slack.send("remove alice")
    # Then the answer says what is wrong and how to use the command: no error dump
    text = blocks_text(answer)
    assert answer.status == 200
    assert "There is no command 'remove'" in text
    assert "*Usage*" in text
    assert "Traceback" not in text


# Brackets as deep as Slack's 4,000 characters of text allow, in every place a command has.
DEEPLY_NESTED_TEXTS = {
    "the whole text": "[" * 1990 + "]" * 1990,
    "a username": "create " + '{"a":' * 650 + "}" * 650,
    "an option": "create ada.lovelace caller_id=" + "[" * 1900 + "]" * 1900,
    "a handler's value": "create ada.lovelace handler=laml_webhooks:" + "[" * 1900 + "]" * 1900,
}


@pytest.mark.parametrize("text", DEEPLY_NESTED_TEXTS.values(), ids=DEEPLY_NESTED_TEXTS.keys())
def test_text_nested_thousands_of_brackets_deep_is_answered_with_a_message_and_starts_nothing(
    slack: SlackCommand, text: str
) -> None:
    # Given / When a signed command whose text nests brackets as deep as the text allows
    answer = slack.send(text)
    # Then it is answered at once with a message saying what to change, and nothing is started
    assert answer.status == 200, answer.body
    assert "Traceback" not in blocks_text(answer)
    assert slack.jobs() == []
    assert slack.signalwire_requests() == 0


def test_a_create_breaking_a_rule_is_answered_at_once_naming_the_option_and_starts_nothing(
    slack: SlackCommand,
) -> None:
    # Given / When a signed create with a username SignalWire cannot take is sent
    answer = slack.send("create ada@example.com")
    # Then the answer names the option and what to change, and no job or SignalWire call happens
    text = blocks_text(answer)
    assert answer.status == 200
    assert "• `username`: must not contain '@'" in text
    assert "What to change:" in text
    assert slack.jobs() == []
    assert slack.signalwire_requests() == 0


def test_a_create_naming_an_unknown_profile_is_answered_at_once_with_the_known_profiles(slack: SlackCommand) -> None:
    # Given / When a signed create names a profile that does not exist
    answer = slack.send("create ada profile=lobby")
    # Then the answer lists the profiles there are, and nothing is started
    assert "known profiles: default, office, support, video-kiosk" in blocks_text(answer)
    assert slack.jobs() == []


# -- a create: working on it, then the answer at the response_url --------------------------------


def test_a_signed_create_is_answered_working_on_it_before_signalwire_is_asked(slack: SlackCommand) -> None:
    # Given no create job may run yet
    with slack.jobs_held():
        # When a signed create is sent
        answer = slack.send("create ada.lovelace profile=office")
        # Then the answer says the create goes on, one job is queued, and SignalWire was not asked
        assert answer.status == 200
        assert answer.body["response_type"] == "ephemeral"
        assert "Creating SIP endpoint `ada.lovelace`" in blocks_text(answer)
        assert len(slack.jobs()) == 1
        assert slack.signalwire_requests() == 0


def test_the_create_job_carries_no_secret(slack: SlackCommand) -> None:
    # Given / When a signed create is sent
    with slack.jobs_held():
        slack.send("create ada.lovelace")
        [job] = slack.jobs()
    # Then the job handed to the asynchronous invocation holds no signing secret
    assert SIGNING_SECRET not in json.dumps(job)
    assert set(job) == {"kind", "team_id", "user_id", "command_name", "trigger_id", "response_url", "command"}
    assert job["command"] == {
        "name": "create",
        "username": "ada.lovelace",
        "profile": None,
        "caller_id": None,
        "send_as": None,
        "handler": None,
    }


def test_the_create_job_posts_the_endpoint_its_sip_uri_and_password_to_the_response_url(slack: SlackCommand) -> None:
    # Given / When a signed create is sent
    slack.send('create ada.lovelace profile=office caller_id="Ada Lovelace"')
    # Then the answer arrives at the response_url: endpoint, SIP URI and the password SignalWire holds
    [post] = slack.delivered(1)
    [endpoint] = slack.api.emulator.endpoints
    text = message_text(post.message)
    assert post.content_type.startswith("application/json")
    assert post.message["response_type"] == "ephemeral"
    assert f"`sip:ada.lovelace@{SIP_DOMAIN}`" in text
    assert f"*Password*\n`{endpoint['password']}`" in text
    assert (endpoint["username"], endpoint["caller_id"]) == ("ada.lovelace", "Ada Lovelace")


def test_the_notification_text_of_the_created_message_never_holds_the_password(slack: SlackCommand) -> None:
    # Given / When an endpoint is created through Slack
    slack.send("create ada.lovelace")
    [post] = slack.delivered(1)
    # Then the `text` Slack shows in notifications names the endpoint, not its password
    [endpoint] = slack.api.emulator.endpoints
    assert "ada.lovelace" in post.message["text"]
    assert str(endpoint["password"]) not in post.message["text"]


def test_a_repeated_delivery_with_the_same_trigger_id_creates_one_endpoint_and_answers_the_same_password(
    slack: SlackCommand,
) -> None:
    # Given a create Slack delivers twice, with the same trigger_id (freshly signed each time)
    trigger_id = new_trigger_id()
    slack.send("create ada.lovelace", trigger_id=trigger_id)
    first = slack.delivered(1)[0]
    # When the second delivery arrives
    slack.send("create ada.lovelace", trigger_id=trigger_id)
    second = slack.delivered(2)[1]
    # Then SignalWire was asked to create once, and both answers show the one password
    assert slack.api.emulator.create_requests_received() == 1
    assert len(slack.api.emulator.endpoints) == 1
    assert message_text(second.message) == message_text(first.message)


def test_the_same_text_with_another_trigger_id_is_another_create(slack: SlackCommand) -> None:
    # Given an endpoint created through Slack
    slack.send("create ada.lovelace")
    slack.delivered(1)
    # When the user runs the same command again (Slack gives it a new trigger_id)
    slack.send("create ada.lovelace")
    [_, again] = slack.delivered(2)
    # Then it is a new create, refused in plain words because the username is taken
    text = message_text(again.message)
    assert "Username taken" in text
    assert "Pick another username" in text
    assert len(slack.api.emulator.endpoints) == 1


def test_a_failed_post_fails_the_job_and_its_retry_posts_the_first_answer_without_creating_again(
    slack: SlackCommand,
) -> None:
    # Given Slack's hooks failing every attempt of the first job
    slack.response_url.answer_with(503, 503, 503)
    slack.send("create ada.lovelace")
    failed_posts = slack.delivered(3)
    [job] = slack.jobs()
    # When Lambda retries the failed job (its EventInvokeConfig allows two retries)
    slack.invoke(job)
    # Then the retry posts the created endpoint with its password, and nothing was created twice
    [endpoint] = slack.api.emulator.endpoints
    delivered = slack.delivered(4)[3]
    assert message_text(delivered.message) == message_text(failed_posts[0].message)
    assert f"`{endpoint['password']}`" in message_text(delivered.message)
    assert slack.api.emulator.create_requests_received() == 1


@pytest.mark.parametrize(
    "response_url",
    [
        "https://hooks.slack.com/commands/T0ALLOWED/1234/abcd",  # Slack's, but not allowed in this deployment
        "https://collector.example.net/hooks",
        "http://127.0.0.1:80@collector.example.net/hooks",
        "http://127.0.0.1:8080\\@collector.example.net/hooks",
    ],
    ids=["not-in-the-allowlist", "elsewhere", "user-info-trick", "backslash-trick"],
)
def test_a_response_url_outside_the_allowlist_is_refused_and_nothing_is_started(
    slack: SlackCommand, response_url: str
) -> None:
    # Given / When a signed create names a response_url that is not under an allowed prefix
    answer = slack.send("create ada.lovelace", response_url=response_url)
    # Then the answer says nothing was started, no job runs, SignalWire is not asked, nothing is posted
    assert answer.status == 200
    assert "Nothing was done" in blocks_text(answer)
    assert slack.jobs() == []
    assert slack.signalwire_requests() == 0
    assert slack.response_url.posts == []


def test_a_create_job_naming_a_response_url_outside_the_allowlist_creates_and_posts_nothing(
    slack: SlackCommand,
) -> None:
    # Given a create job whose response_url is not allowed (only the function itself can send one)
    job = {
        "kind": "slack-command",
        "team_id": TEAM,
        "user_id": USER,
        "command_name": "/sip",
        "trigger_id": new_trigger_id(),
        "response_url": "https://collector.example.net/hooks",
        "command": {"name": "create", "username": "ada.lovelace"},
    }
    # When the function is invoked with it
    slack.invoke(job)
    # Then nothing is created and nothing is posted
    assert slack.signalwire_requests() == 0
    assert slack.response_url.posts == []


# -- show, reset-password, disable, delete: working on it, then the answer at the response_url ---


def created_over_http(slack: SlackCommand, username: str, **fields: str) -> dict[str, Any]:
    """An endpoint the service created for an HTTP caller (an admin while no policy is set)."""
    created = slack.api.create({"username": username, **fields})
    assert created.status == 201, created.body
    body: dict[str, Any] = created.body
    return body


def created_outside_the_service(slack: SlackCommand, username: str) -> None:
    emulator = slack.api.emulator
    answer = requests.post(
        f"{emulator.base_url}{COLLECTION_PATH}",
        json={
            "username": username,
            "password": "made-in-the-console-1234",
            "call_handler": "relay_connector",
        },
        auth=(emulator.project_id, emulator.api_token),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


def status_of(slack: SlackCommand, username: str) -> str:
    """The status of the username's current record, as `GET /endpoints` lists it."""
    for status in ("active", "disabled", "deleted"):
        listed = slack.api.request("GET", "/endpoints", query=f"status={status}")
        assert listed.status == 200, listed.body
        if any(record["username"] == username for record in listed.body["endpoints"]):
            return status
    raise AssertionError(f"no record of {username}")


LIFE_VERBS = [
    "show ada.lovelace",
    "reset-password ada.lovelace",
    "disable ada.lovelace",
    "delete ada.lovelace",
    "delete ada.lovelace confirm",
]
CHANGING_VERBS = ["reset-password ada.lovelace", "disable ada.lovelace", "delete ada.lovelace confirm"]


@pytest.mark.parametrize(
    ("text", "working"),
    [
        ("show ada.lovelace", "Looking up SIP endpoint `ada.lovelace`"),
        ("reset-password ada.lovelace", "Resetting the password of SIP endpoint `ada.lovelace`"),
        ("disable ada.lovelace", "Disabling SIP endpoint `ada.lovelace`"),
        ("delete ada.lovelace", "Checking what deleting `ada.lovelace` would remove"),
        ("delete ada.lovelace confirm", "Deleting SIP endpoint `ada.lovelace`"),
    ],
    ids=["show", "reset-password", "disable", "delete-preview", "delete"],
)
def test_a_verb_on_an_endpoint_is_answered_working_on_it_before_signalwire_is_asked(
    slack: SlackCommand, text: str, working: str
) -> None:
    # Given an endpoint, and no job may run yet
    created_over_http(slack, "ada.lovelace")
    requests_before = slack.signalwire_requests()
    with slack.jobs_held():
        # When a signed command on it is sent
        answer = slack.send(text)
        # Then the answer says what goes on, ephemeral, one job is queued, and SignalWire was not asked
        assert answer.status == 200
        assert answer.body["response_type"] == "ephemeral"
        assert working in blocks_text(answer)
        assert len(slack.jobs()) == 1
        assert slack.signalwire_requests() == requests_before


def test_the_job_of_a_verb_carries_the_command_as_typed_and_no_secret(slack: SlackCommand) -> None:
    # Given / When a signed reset-password is sent
    with slack.jobs_held():
        slack.send("reset-password ada.lovelace")
        [job] = slack.jobs()
    # Then the job holds the verb and the username, and neither a password nor the signing secret
    assert job["command"] == {"name": "reset-password", "username": "ada.lovelace"}
    assert job["kind"] == "slack-command"
    assert SIGNING_SECRET not in json.dumps(job)


@pytest.mark.parametrize("text", LIFE_VERBS, ids=["show", "reset", "disable", "delete-preview", "delete"])
def test_a_verb_on_a_username_no_endpoint_can_have_is_answered_at_once_and_starts_nothing(
    slack: SlackCommand, text: str
) -> None:
    # Given / When a signed command names a username that breaks the username rules
    answer = slack.send(text.replace("ada.lovelace", "ada@example.com"))
    # Then the answer names the username's rule, and no job or SignalWire call happens
    assert "• `username`: must not contain '@'" in blocks_text(answer)
    assert slack.jobs() == []
    assert slack.signalwire_requests() == 0


@pytest.mark.parametrize("text", LIFE_VERBS, ids=["show", "reset", "disable", "delete-preview", "delete"])
def test_a_verb_naming_a_response_url_outside_the_allowlist_is_refused_and_nothing_is_started(
    slack: SlackCommand, text: str
) -> None:
    # Given an endpoint
    created_over_http(slack, "ada.lovelace")
    changes_before = slack.signalwire_changes()
    # When a signed command on it names a response_url that is not allowed
    answer = slack.send(text, response_url="https://collector.example.net/hooks")
    # Then nothing was started, nothing changed, and nothing is posted
    assert "Nothing was done" in blocks_text(answer)
    assert slack.jobs() == []
    assert slack.signalwire_changes() == changes_before
    assert slack.response_url.posts == []


def test_a_show_posts_the_endpoint_and_its_record_and_no_password(slack: SlackCommand) -> None:
    # Given an endpoint created from the office profile for an owner
    created = created_over_http(slack, "ada.lovelace", profile="office", owner="E1234")
    # When a signed show of it is sent
    message = slack.answer_to("show ada.lovelace")
    # Then its id, SIP URI, status, profile and owner arrive, in line with its profile, without its password
    text = message_text(message)
    assert message["response_type"] == "ephemeral"
    assert f"*Endpoint id*\n`{created['endpoint']['id']}`" in text
    assert f"*SIP URI*\n`sip:ada.lovelace@{SIP_DOMAIN}`" in text
    assert "*Status*\n`active`" in text
    assert "*Profile*\n`office`" in text
    assert "*Owner*\n`E1234`" in text
    assert "In line with its profile" in text
    assert created["password"] not in text


def test_a_show_of_an_endpoint_changed_in_signalwire_lists_the_drift(slack: SlackCommand) -> None:
    # Given an endpoint whose caller id someone changed in SignalWire itself
    created = created_over_http(slack, "ada.lovelace", caller_id="Ada Lovelace")
    requests.put(
        f"{slack.api.emulator.base_url}{COLLECTION_PATH}/{created['endpoint']['id']}",
        json={"caller_id": "Countess"},
        auth=(slack.api.emulator.project_id, slack.api.emulator.api_token),
        timeout=10,
    ).raise_for_status()
    # When a signed show of it is sent
    text = message_text(slack.answer_to("show ada.lovelace"))
    # Then the field is listed with what its request builds and what SignalWire holds
    assert '• `caller_id`: expected `"Ada Lovelace"`, SignalWire has `"Countess"`' in text


def test_a_show_of_an_endpoint_the_service_did_not_create_says_it_will_not_change_it(slack: SlackCommand) -> None:
    # Given an endpoint made in SignalWire's console
    created_outside_the_service(slack, "ada.lovelace")
    # When a signed show of it is sent
    text = message_text(slack.answer_to("show ada.lovelace"))
    # Then it is shown, and said to be out of this service's hands
    assert "*Username*\n`ada.lovelace`" in text
    assert "did not create this endpoint" in text


def test_a_show_of_a_username_signalwire_does_not_have_says_so_in_plain_words(slack: SlackCommand) -> None:
    # Given / When a signed show of a username nobody has is sent
    text = message_text(slack.answer_to("show nobody.here"))
    # Then the answer says there is no such endpoint, and what to check
    assert "*Endpoint not found*" in text
    assert "Check the username's spelling" in text


def test_a_reset_posts_the_new_password_signalwire_now_holds(slack: SlackCommand) -> None:
    # Given an endpoint with its first password
    created = created_over_http(slack, "ada.lovelace")
    # When a signed reset-password of it is sent
    message = slack.answer_to("reset-password ada.lovelace")
    # Then SignalWire holds a new password, and that is the one posted, not in the notification text
    new_password = slack.api.emulator.stored_password("ada.lovelace")
    assert new_password is not None
    assert new_password != created["password"]
    assert f"*Password*\n`{new_password}`" in message_text(message)
    assert new_password not in message["text"]


def test_a_disable_locks_the_endpoint_with_a_password_nobody_is_shown(slack: SlackCommand) -> None:
    # Given an endpoint with its first password
    created = created_over_http(slack, "ada.lovelace")
    # When a signed disable of it is sent
    text = message_text(slack.answer_to("disable ada.lovelace"))
    # Then SignalWire holds another password, shown nowhere, and the record says disabled
    locked = slack.api.emulator.stored_password("ada.lovelace")
    assert locked not in (None, created["password"])
    assert str(locked) not in text
    assert "is disabled" in text
    assert status_of(slack, "ada.lovelace") == "disabled"


def test_a_reset_after_a_disable_enables_the_endpoint_again(slack: SlackCommand) -> None:
    # Given a disabled endpoint
    created_over_http(slack, "ada.lovelace")
    slack.answer_to("disable ada.lovelace")
    # When a signed reset-password of it is sent
    slack.answer_to("reset-password ada.lovelace")
    # Then its record is active again
    assert status_of(slack, "ada.lovelace") == "active"


def test_a_delete_without_confirm_says_what_would_be_deleted_and_changes_nothing(slack: SlackCommand) -> None:
    # Given an endpoint
    created = created_over_http(slack, "ada.lovelace", owner="E1234")
    changes_before = slack.signalwire_changes()
    # When a signed delete without `confirm` is sent
    text = message_text(slack.answer_to("delete ada.lovelace"))
    # Then the answer names the endpoint and says how to confirm, and nothing changed anywhere
    assert f"*Endpoint id*\n`{created['endpoint']['id']}`" in text
    assert "*Owner*\n`E1234`" in text
    assert "Nothing was deleted." in text
    assert "`/sip delete ada.lovelace confirm`" in text
    assert slack.signalwire_changes() == changes_before
    assert len(slack.api.emulator.endpoints) == 1
    assert status_of(slack, "ada.lovelace") == "active"


def test_a_delete_with_confirm_removes_the_endpoint_and_keeps_its_record_as_deleted(slack: SlackCommand) -> None:
    # Given an endpoint
    created_over_http(slack, "ada.lovelace")
    # When a signed `delete ... confirm` is sent
    text = message_text(slack.answer_to("delete ada.lovelace confirm"))
    # Then SignalWire no longer has it, the answer says so, and its record stays, deleted
    assert slack.api.emulator.endpoints == []
    assert "is deleted from SignalWire" in text
    assert status_of(slack, "ada.lovelace") == "deleted"


def test_a_change_to_an_endpoint_the_service_did_not_create_is_refused_and_changes_nothing(
    slack: SlackCommand,
) -> None:
    # Given an endpoint made in SignalWire's console
    created_outside_the_service(slack, "ada.lovelace")
    # When a signed disable of it is sent
    text = message_text(slack.answer_to("disable ada.lovelace"))
    # Then it is refused in plain words, and SignalWire still holds the console's password
    assert "*Endpoint not managed*" in text
    assert slack.api.emulator.stored_password("ada.lovelace") == "made-in-the-console-1234"


@pytest.mark.parametrize("text", CHANGING_VERBS, ids=["reset", "disable", "delete"])
def test_under_a_policy_a_slack_user_may_not_change_an_endpoint_someone_else_created(
    slack: SlackCommand, text: str
) -> None:
    # Given a deployment policy whose only admin is the HTTP caller, and an endpoint that admin created
    slack.api.put_parameter("policy", json.dumps({"admins": [ADMIN_ARN]}))
    created = created_over_http(slack, "ada.lovelace")
    changes_before = slack.signalwire_changes()
    # When the Slack user, neither admin nor creator, sends the command
    message = message_text(slack.answer_to(text))
    # Then it is refused naming the rule, and nothing changed
    assert "*Forbidden*" in message
    assert "deployment.admins" in message
    assert slack.signalwire_changes() == changes_before
    assert slack.api.emulator.stored_password("ada.lovelace") == created["password"]


def test_under_a_policy_a_slack_user_may_reset_an_endpoint_they_created_through_slack(slack: SlackCommand) -> None:
    # Given a deployment policy with no Slack admin, and an endpoint the Slack user created
    slack.api.put_parameter("policy", json.dumps({"admins": [ADMIN_ARN]}))
    slack.answer_to("create ada.lovelace")
    # When the same user resets its password
    text = message_text(slack.answer_to("reset-password ada.lovelace"))
    # Then it is done: the creator may manage what they created
    assert f"*Password*\n`{slack.api.emulator.stored_password('ada.lovelace')}`" in text


def test_a_create_delivered_to_secrets_manager_shows_the_secrets_arn_and_no_password(slack: SlackCommand) -> None:
    # Given a deployment whose policy delivers passwords to Secrets Manager
    slack.api.put_parameter("policy", json.dumps({"password_delivery": "secrets_manager"}))
    # When an endpoint is created through Slack
    text = message_text(slack.answer_to("create ada.lovelace"))
    # Then the answer names the secret holding the password, and the password is nowhere in it
    secret = boto3.client("secretsmanager").describe_secret(SecretId=f"{SECRETS_PREFIX}ada.lovelace")
    assert f"*Password secret*\n`{secret['ARN']}`" in text
    assert str(slack.api.emulator.stored_password("ada.lovelace")) not in text
    assert "*Password*" not in text


def test_a_reset_delivered_to_secrets_manager_shows_the_secrets_arn_and_no_password(slack: SlackCommand) -> None:
    # Given a deployment delivering passwords to Secrets Manager, and an endpoint the Slack user created
    slack.api.put_parameter("policy", json.dumps({"password_delivery": "secrets_manager"}))
    slack.answer_to("create ada.lovelace")
    # When its password is reset through Slack
    text = message_text(slack.answer_to("reset-password ada.lovelace"))
    # Then the answer names the secret, which holds the password SignalWire now has, shown nowhere
    secrets = boto3.client("secretsmanager")
    secret = secrets.describe_secret(SecretId=f"{SECRETS_PREFIX}ada.lovelace")
    password = slack.api.emulator.stored_password("ada.lovelace")
    assert f"*Password secret*\n`{secret['ARN']}`" in text
    assert json.loads(secrets.get_secret_value(SecretId=secret["ARN"])["SecretString"])["password"] == password
    assert str(password) not in text


@pytest.mark.parametrize("text", CHANGING_VERBS, ids=["reset", "disable", "delete"])
def test_a_failed_post_of_a_change_is_retried_with_the_first_answer_and_changes_nothing_twice(
    slack: SlackCommand, text: str
) -> None:
    # Given an endpoint, and Slack's hooks failing every attempt of the command's first job
    created_over_http(slack, "ada.lovelace")
    changes_before = slack.signalwire_changes()
    slack.response_url.answer_with(503, 503, 503)
    slack.send(text)
    failed_posts = slack.delivered(3)
    job = slack.jobs()[-1]
    # When Lambda retries the failed job
    slack.invoke(job)
    # Then the retry posts the first answer (a reset's password included), and SignalWire changed once
    delivered = slack.delivered(4)[3]
    assert message_text(delivered.message) == message_text(failed_posts[0].message)
    assert slack.signalwire_changes() == changes_before + 1


def test_a_job_queued_by_the_create_only_version_still_runs(slack: SlackCommand) -> None:
    # Given a create job as the version before the other verbs queued it (kind `slack-create`)
    job = {
        "kind": "slack-create",
        "team_id": TEAM,
        "user_id": USER,
        "command_name": "/sip",
        "trigger_id": new_trigger_id(),
        "response_url": slack.response_url.url(TEAM),
        "command": {"name": "create", "username": "ada.lovelace"},
    }
    # When an operator replays it to the function
    slack.invoke(job)
    # Then the endpoint is created and its answer posted
    [post] = slack.delivered(1)
    assert "SIP endpoint `ada.lovelace` created" in message_text(post.message)
    assert len(slack.api.emulator.endpoints) == 1


# -- Slack's own checks of the URL -----------------------------------------------------------------


def ssl_check_body() -> bytes:
    """What Slack posts to check a command URL's certificate: no command, no team, no user."""
    return urlencode({"ssl_check": "1", "token": "gIkuvaNzQIHg97ATvDxqgjtO"}).encode()


def test_a_signed_ssl_check_is_answered_200_with_an_empty_body_and_does_nothing(slack: SlackCommand) -> None:
    # Given / When Slack checks the command URL with a signed ssl_check form
    body = ssl_check_body()
    answer = slack.send_raw(body, signed_headers(body, SIGNING_SECRET))
    # Then it is answered 200 with nothing in the body, and nothing else happens
    assert (answer.status, answer.body) == (200, "")
    assert slack.jobs() == []
    assert slack.signalwire_requests() == 0
    assert slack.idempotency_records() == 0
    assert slack.response_url.posts == []


def test_an_unsigned_ssl_check_is_answered_200_and_does_nothing_as_bolt_answers_it(slack: SlackCommand) -> None:
    # Given / When an ssl_check form comes without Slack's signature (Bolt answers it before verifying)
    answer = slack.send_raw(ssl_check_body(), {"Content-Type": "application/x-www-form-urlencoded"})
    # Then it gets the same empty 200, which says nothing and starts nothing
    assert (answer.status, answer.body) == (200, "")
    assert slack.jobs() == []
    assert slack.signalwire_requests() == 0


def test_a_form_whose_ssl_check_is_not_1_is_read_as_a_command(slack: SlackCommand) -> None:
    # Given / When a signed form says ssl_check=0 and nothing else
    body = urlencode({"ssl_check": "0", "token": "gIkuvaNzQIHg97ATvDxqgjtO"}).encode()
    answer = slack.send_raw(body, signed_headers(body, SIGNING_SECRET))
    # Then it is no check: a form without a command's fields is refused as malformed
    assert (answer.status, answer.body["type"]) == (400, "malformed-request")


def test_every_field_slack_sends_with_a_command_from_an_enterprise_install_is_accepted(slack: SlackCommand) -> None:
    # Given the whole form Slack posts for a command in an Enterprise Grid workspace
    body = urlencode(
        {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "team_id": TEAM,
            "team_domain": "example",
            "enterprise_id": "E0ENTERPRISE",
            "enterprise_name": "Example Corp",
            "channel_id": "C2147483705",
            "channel_name": "it-help",
            "user_id": USER,
            "user_name": "ada",
            "command": "/sip",
            "text": "create ada.lovelace",
            "api_app_id": "A0SIPPROV01",
            "is_enterprise_install": "true",
            "response_url": slack.response_url.url(TEAM),
            "trigger_id": new_trigger_id(),
        }
    ).encode()
    # When it is sent, signed
    answer = slack.send_raw(body, signed_headers(body, SIGNING_SECRET))
    # Then no field is refused: the command is started and creates its endpoint
    assert answer.status == 200, answer.body
    assert "Creating SIP endpoint `ada.lovelace`" in blocks_text(answer)
    slack.delivered(1)
    assert [endpoint["username"] for endpoint in slack.api.emulator.endpoints] == ["ada.lovelace"]


# -- refused: nothing else happens ---------------------------------------------------------------


def unsigned(slack: SlackCommand) -> SlackAnswer:
    body = slash_command_body("create ada.lovelace", team_id=TEAM, user_id=USER, response_url=slack.response_url.url())
    return slack.send_raw(body, {"Content-Type": "application/x-www-form-urlencoded"})


def signed_with_another_secret(slack: SlackCommand) -> SlackAnswer:
    return slack.send("create ada.lovelace", secret="someone-elses-signing-secret")


def stale(slack: SlackCommand) -> SlackAnswer:
    return slack.send("create ada.lovelace", timestamp=int(time.time()) - 5 * 60 - 1)


def tampered(slack: SlackCommand) -> SlackAnswer:
    body = slash_command_body("help", team_id=TEAM, user_id=USER, response_url=slack.response_url.url())
    headers = signed_headers(body, SIGNING_SECRET)
    return slack.send_raw(body.replace(b"text=help", b"text=create+ada.lovelace"), headers)


def from_another_workspace(slack: SlackCommand) -> SlackAnswer:
    return slack.send("create ada.lovelace", team_id=OTHER_TEAM)


@pytest.mark.parametrize(
    ("send", "status", "problem_type"),
    [
        (unsigned, 401, "unauthorized"),
        (signed_with_another_secret, 401, "unauthorized"),
        (stale, 401, "unauthorized"),
        (tampered, 401, "unauthorized"),
        (from_another_workspace, 403, "forbidden"),
    ],
    ids=["unsigned", "wrong-secret", "stale", "body-tampered", "team-not-allowed"],
)
def test_a_request_not_provably_from_an_allowed_workspace_is_refused_and_nothing_else_happens(
    slack: SlackCommand, send: Any, status: int, problem_type: str
) -> None:
    # Given / When such a request is sent
    answer = send(slack)
    # Then it is refused with problem details, and no job, SignalWire call, idempotency record or post follows
    assert (answer.status, answer.content_type) == (status, PROBLEM_JSON)
    assert (answer.body["type"], answer.body["status"]) == (problem_type, status)
    assert "Traceback" not in json.dumps(answer.body)
    assert slack.jobs() == []
    assert slack.signalwire_requests() == 0
    assert slack.idempotency_records() == 0
    assert slack.response_url.posts == []


def not_a_slash_command(slack: SlackCommand) -> SlackAnswer:
    body = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
    return slack.send_raw(body, signed_headers(body, SIGNING_SECRET))


def not_set_up(slack: SlackCommand) -> SlackAnswer:
    slack.api.ssm.delete_parameters(
        Names=[f"{PARAMETERS_PATH}/slack/signing_secret", f"{PARAMETERS_PATH}/slack/allowed_team_ids"]
    )
    return slack.send("help")


@pytest.mark.parametrize(
    "send",
    [not_a_slash_command, unsigned, from_another_workspace, not_set_up],
    ids=["400-malformed", "401-unsigned", "403-team", "500-not-set-up"],
)
def test_every_refusal_is_a_problem_document_like_every_other_routes(slack: SlackCommand, send: Any) -> None:
    # Given / When a request refused before any command is read
    answer = send(slack)
    # Then the body has the members of the problem details every route answers, its status among them
    assert answer.content_type == PROBLEM_JSON
    assert set(answer.body) == {"type", "title", "status", "detail", "request_id"}
    assert answer.body["status"] == answer.status
    assert answer.body["request_id"]


def test_a_signed_body_that_is_not_a_slash_command_is_answered_400_naming_the_missing_fields(
    slack: SlackCommand,
) -> None:
    # Given / When a correctly signed body that lacks the slash command's fields is sent
    answer = not_a_slash_command(slack)
    # Then it is refused as malformed, naming the missing fields, and nothing is started
    assert (answer.status, answer.body["type"]) == (400, "malformed-request")
    assert "team_id" in answer.body["detail"]
    assert slack.jobs() == []


def test_a_request_from_a_workspace_not_allowed_is_refused_naming_the_rule(slack: SlackCommand) -> None:
    # Given / When a correctly signed request comes from a workspace not allowed
    answer = from_another_workspace(slack)
    # Then the refusal names the parameter that decides, and not the workspaces it allows
    assert (
        answer.body["detail"] == "Forbidden by slack/allowed_team_ids: this Slack workspace may not use this command."
    )
    assert TEAM not in json.dumps(answer.body)


def test_without_the_slack_parameters_every_request_is_refused_naming_the_missing_parameter(
    slack: SlackCommand,
) -> None:
    # Given / When a request arrives at a deployment whose Slack parameters were never put in SSM
    answer = not_set_up(slack)
    # Then it is answered 500 configuration-error naming the parameter, and nothing is started
    assert (answer.status, answer.body["type"]) == (500, "configuration-error")
    assert answer.body["detail"] == f"Parameter {PARAMETERS_PATH}/slack/signing_secret is missing."
    assert slack.jobs() == []


# -- the log -------------------------------------------------------------------------------------


def test_the_audit_line_of_a_slack_create_names_the_slack_team_and_user(slack: SlackCommand, service_log: Any) -> None:
    # Given / When an endpoint is created through Slack
    slack.send("create ada.lovelace")
    slack.delivered(1)
    # Then its audit line names the workspace and the person
    [audit] = [line for line in service_log() if line.get("audit") == "endpoint-created"]
    assert (audit["slack_team"], audit["slack_user"], audit["caller"]) == (TEAM, USER, f"slack:{TEAM}:{USER}")
    assert audit["username"] == "ada.lovelace"


@pytest.mark.parametrize(
    ("text", "audit_name"),
    [
        ("reset-password ada.lovelace", "password-reset"),
        ("disable ada.lovelace", "endpoint-disabled"),
        ("delete ada.lovelace confirm", "endpoint-deleted"),
    ],
    ids=["reset", "disable", "delete"],
)
def test_the_audit_line_of_a_slack_change_names_the_slack_caller_as_who_did_it(
    slack: SlackCommand, service_log: Any, text: str, audit_name: str
) -> None:
    # Given an endpoint
    created_over_http(slack, "ada.lovelace")
    # When it is changed through Slack
    slack.answer_to(text)
    # Then the audit line names the Slack caller as who did it
    [audit] = [line for line in service_log() if line.get("audit") == audit_name]
    assert (audit["by"], audit["slack_team"], audit["slack_user"]) == (SLACK_CALLER, TEAM, USER)


def test_no_password_a_reset_or_disable_sets_reaches_any_log(
    slack: SlackCommand, service_log: Any, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a reset whose first post fails and is retried, then a disable
    created_over_http(slack, "ada.lovelace")
    slack.response_url.answer_with(503, 503, 503)
    slack.send("reset-password ada.lovelace")
    slack.delivered(3)
    slack.invoke(slack.jobs()[-1])
    reset_password = slack.api.emulator.stored_password("ada.lovelace")
    slack.answer_to("disable ada.lovelace")
    locked = slack.api.emulator.stored_password("ada.lovelace")
    # When everything written is searched
    written = json.dumps(service_log()) + "".join(capfd.readouterr()) + caplog.text
    # Then neither password is anywhere in it
    assert str(reset_password) not in written
    assert str(locked) not in written


def test_neither_the_signing_secret_nor_the_generated_password_reaches_any_log(
    slack: SlackCommand, service_log: Any, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a refused request, a create and a repeated delivery of it
    signed_with_another_secret(slack)
    trigger_id = new_trigger_id()
    slack.send("create ada.lovelace", trigger_id=trigger_id)
    slack.delivered(1)
    slack.send("create ada.lovelace", trigger_id=trigger_id)
    slack.delivered(2)
    assert slack.lambda_service.wait_until_idle()
    # When everything written is searched
    [endpoint] = slack.api.emulator.endpoints
    written = json.dumps(service_log()) + "".join(capfd.readouterr()) + caplog.text
    # Then neither secret is anywhere in it
    assert SIGNING_SECRET not in written
    assert str(endpoint["password"]) not in written


# -- the recorded event and the local gateway ----------------------------------------------------


def load_slack_event() -> dict[str, Any]:
    event: dict[str, Any] = json.loads(SLACK_EVENT_FILE.read_text(encoding="utf-8"))
    return event


def test_the_recorded_slack_event_signed_afresh_creates_its_endpoint(slack: SlackCommand) -> None:
    # Given the recorded event, signed now, its response_url pointed at the loopback stand-in
    event = resigned(load_slack_event(), EVENTS_SIGNING_SECRET, response_url=slack.response_url.url(EVENTS_TEAM))
    slack.api.put_parameter("slack/signing_secret", EVENTS_SIGNING_SECRET, "SecureString")
    # When the handler runs it
    answer = slack.send_event(event)
    # Then it is answered working on it, and the endpoint it asks for is created and posted
    [post] = slack.delivered(1)
    [endpoint] = slack.api.emulator.endpoints
    assert "Creating SIP endpoint `ada.lovelace`" in blocks_text(answer)
    assert (endpoint["username"], endpoint["caller_id"]) == ("ada.lovelace", "Ada Lovelace")
    assert f"`{endpoint['password']}`" in message_text(post.message)


def test_the_recorded_slack_event_as_recorded_is_refused_as_a_stale_replay(slack: SlackCommand) -> None:
    # Given the recorded event with its original signature, long past
    slack.api.put_parameter("slack/signing_secret", EVENTS_SIGNING_SECRET, "SecureString")
    # When the handler runs it now
    answer = slack.send_event(load_slack_event())
    # Then it is refused: a captured request cannot be replayed later
    assert answer.status == 401
    assert slack.jobs() == []


def test_the_local_gateway_builds_slack_events_shaped_like_the_recorded_one() -> None:
    # Given the recorded event, and the same request made to the local gateway's Slack route
    recorded = load_slack_event()
    body = base64.b64decode(recorded["body"])
    headers = [(name, value) for name, value in recorded["headers"].items() if not name.startswith("x-amzn")]
    # When the gateway builds its event
    built = build_event("POST", "/chatops/slack", "", headers, body, iam_authorizer=False, route_key=SLACK_ROUTE_KEY)
    # Then it has the same keys at every level, no authorizer, and the same base64-encoded form body
    assert built.keys() == recorded.keys()
    assert built["requestContext"].keys() == recorded["requestContext"].keys()
    assert "authorizer" not in built["requestContext"]
    assert (built["routeKey"], built["requestContext"]["routeKey"]) == (SLACK_ROUTE_KEY, SLACK_ROUTE_KEY)
    assert (built["body"], built["isBase64Encoded"]) == (recorded["body"], True)
    assert form_fields(body)["team_id"] == EVENTS_TEAM


def test_the_local_gateway_sends_the_slack_route_to_its_own_function_without_an_iam_caller() -> None:
    # Given a gateway with a Slack route beside its default function, each recording its events
    events: dict[str, list[dict[str, Any]]] = {"default": [], "slack": []}

    def answering(name: str) -> Any:
        def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            events[name].append(event)
            return {"statusCode": 200, "body": name}

        return handler

    route = Route(answering("slack"), SLACK_FUNCTION, iam_authorizer=False)
    with LocalGateway(answering("default"), routes={SLACK_ROUTE_KEY: route}) as gateway:
        # When the Slack route, another method on its path and another path are requested
        requests.post(f"{gateway.base_url}/chatops/slack", data=b"a=1", timeout=10)
        requests.get(f"{gateway.base_url}/chatops/slack", timeout=10)
        requests.get(f"{gateway.base_url}/profiles", timeout=10)
    # Then only the Slack route reaches its function, without an authorizer; the rest reach the default one
    [slack_event] = events["slack"]
    assert "authorizer" not in slack_event["requestContext"]
    assert [event["routeKey"] for event in events["default"]] == ["$default", "$default"]
    assert all("iam" in event["requestContext"]["authorizer"] for event in events["default"])


# -- adopt (admins): working on it, then the answer at the response_url --------------------------


def test_an_adopt_is_answered_working_on_it_before_signalwire_is_asked(slack: SlackCommand) -> None:
    # Given an endpoint made in SignalWire's console, and no job may run yet
    created_outside_the_service(slack, "ada.lovelace")
    requests_before = slack.signalwire_requests()
    with slack.jobs_held():
        # When a signed adopt of it is sent
        answer = slack.send("adopt ada.lovelace profile=office owner=E1234")
        # Then the answer says it is being adopted, one job carries the command as typed, SignalWire was not asked
        assert answer.body["response_type"] == "ephemeral"
        assert "Adopting SIP endpoint `ada.lovelace`" in blocks_text(answer)
        [job] = slack.jobs()
        assert job["command"] == {"name": "adopt", "username": "ada.lovelace", "profile": "office", "owner": "E1234"}
        assert slack.signalwire_requests() == requests_before


def test_an_adopt_posts_the_record_its_drift_and_how_to_give_it_a_password_changing_nothing(
    slack: SlackCommand,
) -> None:
    # Given an endpoint made in SignalWire's console
    created_outside_the_service(slack, "ada.lovelace")
    changes_before = slack.signalwire_changes()
    # When a signed adopt of it into the office profile is sent
    text = message_text(slack.answer_to("adopt ada.lovelace profile=office owner=E1234"))
    # Then it is adopted by the Slack user, its drift from office is listed, the way to a known
    # password is given, no password is shown, and nothing changed in SignalWire
    assert "adopted into profile `office`" in text
    assert "*Owner*\n`E1234`" in text
    assert f"*Created by*\n`{SLACK_CALLER}`" in text
    assert "*Drift*" in text
    assert "`/sip reset-password ada.lovelace`" in text
    assert "made-in-the-console-1234" not in text
    assert slack.signalwire_changes() == changes_before
    record = slack.api.request("GET", "/endpoints/ada.lovelace").body["record"]
    assert (record["created_via"], record["created_by"]) == ("adopted", SLACK_CALLER)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("adopt ada.lovelace", "`adopt` needs the profile"),
        ("adopt", "`adopt` needs a username first"),
        ("adopt ada.lovelace profile=office caller_id=Ada", "'caller_id=Ada' is not an option of `adopt`"),
        ("adopt ada.lovelace profile=office profile=support", "`profile=` is given twice"),
    ],
    ids=["no-profile", "no-username", "other-option", "twice"],
)
def test_an_adopt_not_understood_is_answered_at_once_with_the_reason_and_starts_nothing(
    slack: SlackCommand, text: str, reason: str
) -> None:
    # Given / When a signed adopt that follows no form of the usage is sent
    answer = slack.send(text)
    # Then the reason and the usage are answered at once, and nothing is started
    assert reason in blocks_text(answer)
    assert "/sip adopt &lt;username&gt; profile=&lt;name&gt; [owner=&lt;text&gt;]" in blocks_text(answer)
    assert slack.jobs() == []


def test_an_adopt_naming_a_profile_no_profile_can_have_is_answered_at_once_naming_the_option(
    slack: SlackCommand,
) -> None:
    # Given / When a signed adopt names a profile that breaks the profile name rules
    answer = slack.send("adopt ada.lovelace profile=no/such")
    # Then the option is named at once, and nothing is started
    assert "• `profile`:" in blocks_text(answer)
    assert slack.jobs() == []


def test_an_adopt_delivered_twice_with_the_same_trigger_id_adopts_once_and_answers_the_same(
    slack: SlackCommand,
) -> None:
    # Given an endpoint made in SignalWire's console, and an adopt Slack delivers twice with one trigger_id
    created_outside_the_service(slack, "ada.lovelace")
    trigger_id = new_trigger_id()
    slack.send("adopt ada.lovelace profile=office", trigger_id=trigger_id)
    first = slack.delivered(1)[0]
    # When the second delivery arrives
    slack.send("adopt ada.lovelace profile=office", trigger_id=trigger_id)
    second = slack.delivered(2)[1]
    # Then both answers are the one adoption, not an "already managed" refusal
    assert "adopted into profile `office`" in message_text(first.message)
    assert message_text(second.message) == message_text(first.message)


def test_an_adopt_of_an_endpoint_the_service_manages_says_so_in_plain_words(slack: SlackCommand) -> None:
    # Given an endpoint the service created
    created_over_http(slack, "ada.lovelace")
    # When a signed adopt of it is sent
    text = message_text(slack.answer_to("adopt ada.lovelace profile=office"))
    # Then it is refused as already managed, pointing at show
    assert "*Endpoint already managed*" in text
    assert "`/sip show <username>`" in text


def test_under_a_policy_a_slack_user_who_is_not_an_admin_may_not_adopt(slack: SlackCommand) -> None:
    # Given a deployment policy with no Slack admin, and an endpoint made in SignalWire's console
    slack.api.put_parameter("policy", json.dumps({"admins": [ADMIN_ARN]}))
    created_outside_the_service(slack, "ada.lovelace")
    # When the Slack user adopts it
    text = message_text(slack.answer_to("adopt ada.lovelace profile=office"))
    # Then it is refused naming the rule, and the endpoint stays unmanaged
    assert "*Forbidden*" in text
    assert "deployment.admins" in text
    assert slack.api.request("GET", "/endpoints/ada.lovelace").body["managed"] is False


def test_under_a_policy_naming_a_slack_user_an_admin_they_may_adopt(slack: SlackCommand) -> None:
    # Given a deployment policy whose admins include the Slack user, and an endpoint made in the console
    slack.api.put_parameter("policy", json.dumps({"admins": [ADMIN_ARN, f"slack:{TEAM}:*"]}))
    created_outside_the_service(slack, "ada.lovelace")
    # When the Slack user adopts it
    text = message_text(slack.answer_to("adopt ada.lovelace profile=office"))
    # Then it is adopted
    assert "adopted into profile `office`" in text
