"""The Slack slash command through the real `lambda_handler`, as API Gateway and Lambda run it.

SSM and DynamoDB come from moto seeded like `make run`, SignalWire is the emulator over real
HTTP. The function's asynchronous invocation of itself goes through the AWS SDK to the local
Lambda Invoke stand-in, which runs the create job in the background; the job posts its answer
over real HTTP to a loopback stand-in for the command's `response_url`.
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

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities.typing import LambdaContext

from local.gateway import LambdaFunction, LocalGateway, LocalLambdaContext, Route, build_event
from local.lambda_invoke import LocalLambdaService
from local.seed import SlackApp, seed_slack
from local.signalwire_emulator import OPERATIONS
from tests.integration.conftest import IDEMPOTENCY_TABLE, PARAMETERS_PATH, SIP_DOMAIN, ProvisionerApi
from tests.slack_helpers import (
    EVENTS_SIGNING_SECRET,
    Post,
    ResponseUrlStandIn,
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
PLAIN_TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class SlackAnswer:
    status: int
    content_type: str
    body: Any  # the Slack message for JSON, else the text


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
        body = json.loads(result["body"]) if content_type == "application/json" else result["body"]
        return SlackAnswer(result["statusCode"], content_type, body)

    def invoke(self, event: dict[str, Any]) -> Any:
        with self.invocation_lock:  # one invocation at a time, the background create jobs included
            return self.module.lambda_handler(event, LocalLambdaContext(SLACK_FUNCTION))

    @contextmanager
    def jobs_held(self) -> Iterator[None]:
        """No create job runs inside this block: what happens before one can is observable."""
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

    def idempotency_records(self) -> int:
        count: int = boto3.client("dynamodb").scan(TableName=IDEMPOTENCY_TABLE, Select="COUNT")["Count"]
        return count


@pytest.fixture
def slack(api: ProvisionerApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackCommand]:
    seed_slack(api.ssm, PARAMETERS_PATH, SlackApp(SIGNING_SECRET, (TEAM, EVENTS_TEAM)))
    monkeypatch.setenv("SLACK_RESPONSE_URL_PREFIXES", "http://127.0.0.1:")
    module = importlib.import_module("functions.slack_command.slack_command")
    caches = (module.wiring, module.settings, module.lambda_client)
    for cached in caches:  # compose against this test's moto, settings and Lambda stand-in
        cached.cache_clear()
    invocation_lock = threading.RLock()
    with (
        ResponseUrlStandIn() as response_url,
        LocalLambdaService([(SLACK_FUNCTION, module.lambda_handler)], invocation_lock=invocation_lock) as service,
    ):
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", service.base_url)
        yield SlackCommand(module, api, service, response_url, invocation_lock)
    for cached in caches:
        cached.cache_clear()


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
    answer = slack.send("delete alice")
    # Then the answer says what is wrong and how to use the command: no error dump
    text = blocks_text(answer)
    assert answer.status == 200
    assert "There is no command 'delete'" in text
    assert "*Usage*" in text
    assert "Traceback" not in text


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
    assert "Nothing was created" in blocks_text(answer)
    assert slack.jobs() == []
    assert slack.signalwire_requests() == 0
    assert slack.response_url.posts == []


def test_a_create_job_naming_a_response_url_outside_the_allowlist_creates_and_posts_nothing(
    slack: SlackCommand,
) -> None:
    # Given a create job whose response_url is not allowed (only the function itself can send one)
    job = {
        "kind": "slack-create",
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
    ("send", "status"),
    [(unsigned, 401), (signed_with_another_secret, 401), (stale, 401), (tampered, 401), (from_another_workspace, 403)],
    ids=["unsigned", "wrong-secret", "stale", "body-tampered", "team-not-allowed"],
)
def test_a_request_not_provably_from_an_allowed_workspace_is_refused_and_nothing_else_happens(
    slack: SlackCommand, send: Any, status: int
) -> None:
    # Given / When such a request is sent
    answer = send(slack)
    # Then it is refused in plain text, and no job, SignalWire call, idempotency record or post follows
    assert (answer.status, answer.content_type) == (status, PLAIN_TEXT)
    assert "Traceback" not in answer.body
    assert slack.jobs() == []
    assert slack.signalwire_requests() == 0
    assert slack.idempotency_records() == 0
    assert slack.response_url.posts == []


def test_a_signed_body_that_is_not_a_slash_command_is_answered_400(slack: SlackCommand) -> None:
    # Given a correctly signed body that lacks the slash command's fields
    body = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
    # When it is sent
    answer = slack.send_raw(body, signed_headers(body, SIGNING_SECRET))
    # Then it is refused as malformed, naming the missing fields, and nothing is started
    assert answer.status == 400
    assert "team_id" in answer.body
    assert slack.jobs() == []


def test_without_the_slack_parameters_every_request_is_refused_as_not_set_up(slack: SlackCommand) -> None:
    # Given a deployment whose Slack parameters were never put in SSM
    slack.api.ssm.delete_parameters(
        Names=[f"{PARAMETERS_PATH}/slack/signing_secret", f"{PARAMETERS_PATH}/slack/allowed_team_ids"]
    )
    # When a request arrives
    answer = slack.send("help")
    # Then it is answered 500 in plain words, and nothing is started
    assert (answer.status, answer.body) == (500, "The Slack command is not set up on this service.")
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
