"""The recorded API Gateway events in events/ get their expected answers from the real handler.

Each event goes through `http_api.lambda_handler` in-process, with SSM from moto seeded the
way `make run` seeds it (`local.seed`) and SignalWire played by the emulator over real HTTP.
The local gateway is held to the same recordings: the events it builds have their shape.
"""

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local.gateway import IamCaller, LambdaFunction, LocalLambdaContext, build_event
from local.signalwire_emulator import SignalWireEmulator
from tests.integration.conftest import SIP_DOMAIN, ProvisionerApi

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = REPOSITORY_ROOT / "events"
EVENT_FILES = sorted(EVENTS_DIR.glob("*.json"))

# The outcome of every event, kept beside the check that reads it: an event file added
# without a line here fails test_every_event_file_has_an_expected_status.
EXPECTED_STATUS = {
    "create-ai-agent.json": 201,
    "create-bad-json.json": 400,
    "create-dry-run.json": 200,
    "create-laml-webhooks.json": 201,
    "create-minimal.json": 201,
    "create-relay-script.json": 201,
    "create-unknown-profile.json": 422,
    "list-profiles.json": 200,
}
CREATING_EVENTS = [path for path in EVENT_FILES if EXPECTED_STATUS.get(path.name) == 201]
NON_CREATING_EVENTS = [path for path in EVENT_FILES if EXPECTED_STATUS.get(path.name) != 201]

# Powertools warns on every invocation that records no metric of its own; expected here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

type Handler = Callable[[dict[str, Any], LocalLambdaContext], dict[str, Any]]


def load_event(path: Path) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return event


def invoke(handler: Handler, event: dict[str, Any]) -> dict[str, Any]:
    return handler(event, LocalLambdaContext(LambdaFunction()))


def usernames_in(emulator: SignalWireEmulator) -> list[object]:
    return [endpoint["username"] for endpoint in emulator.endpoints]


@pytest.fixture
def lambda_handler(api: ProvisionerApi) -> Handler:
    """The deployed handler, composed afresh against moto SSM seeded like `make run` and the emulator."""
    handler: Handler = api.module.lambda_handler
    return handler


def test_every_event_file_has_an_expected_status() -> None:
    # Given the recorded events and the table of their outcomes
    files = {path.name for path in EVENT_FILES}
    # Then each names the other: no event goes unchecked, no expectation lacks its event
    assert files == set(EXPECTED_STATUS)


@pytest.mark.parametrize("event_file", EVENT_FILES, ids=lambda path: path.name)
def test_each_recorded_event_is_answered_with_its_expected_status(event_file: Path, lambda_handler: Handler) -> None:
    # Given an event as API Gateway sends it
    event = load_event(event_file)
    # When the handler runs it
    response = invoke(lambda_handler, event)
    # Then the status is the one the table gives
    assert response["statusCode"] == EXPECTED_STATUS[event_file.name], response["body"]


@pytest.mark.parametrize("event_file", CREATING_EVENTS, ids=lambda path: path.name)
def test_a_create_event_leaves_exactly_one_endpoint_with_its_username(
    event_file: Path, lambda_handler: Handler, emulator: SignalWireEmulator
) -> None:
    # Given a create event
    event = load_event(event_file)
    username = json.loads(event["body"])["username"]
    # When the handler runs it
    response = invoke(lambda_handler, event)
    # Then SignalWire holds one endpoint, with the requested username and the answered sip_uri
    assert usernames_in(emulator) == [username]
    assert json.loads(response["body"])["sip_uri"] == f"sip:{username}@{SIP_DOMAIN}"


@pytest.mark.parametrize("event_file", NON_CREATING_EVENTS, ids=lambda path: path.name)
def test_an_event_not_answered_201_creates_nothing(
    event_file: Path, lambda_handler: Handler, emulator: SignalWireEmulator
) -> None:
    # Given an event that must not create an endpoint
    event = load_event(event_file)
    # When the handler runs it
    invoke(lambda_handler, event)
    # Then SignalWire was never asked to create one
    assert emulator.create_requests_received() == 0
    assert emulator.endpoints == []


@pytest.mark.parametrize("event_file", EVENT_FILES, ids=lambda path: path.name)
def test_the_gateway_builds_events_shaped_like_the_recorded_ones(event_file: Path) -> None:
    # Given a recorded event, and the same request made to the local gateway
    recorded = load_event(event_file)
    body = recorded.get("body", "").encode()
    headers = [(name, value) for name, value in recorded["headers"].items() if not name.startswith("x-")]
    # When the gateway builds its event
    method, path = recorded["routeKey"].split(" ", 1)
    built = build_event(method, path, recorded["rawQueryString"], headers, body)
    # Then it has the same keys at every level API Gateway fills, and the same body and parameters
    assert built.keys() == recorded.keys()
    assert built["requestContext"].keys() == recorded["requestContext"].keys()
    assert built["requestContext"]["http"].keys() == recorded["requestContext"]["http"].keys()
    assert built["requestContext"]["authorizer"]["iam"].keys() == recorded["requestContext"]["authorizer"]["iam"].keys()
    assert set(built["headers"]) >= {"x-amzn-trace-id", "x-forwarded-for", "x-forwarded-proto"}
    assert (built.get("body"), built["isBase64Encoded"]) == (recorded.get("body"), recorded["isBase64Encoded"])
    assert built.get("queryStringParameters") == recorded.get("queryStringParameters")


def test_the_gateway_reports_the_configured_iam_caller() -> None:
    # Given a gateway caller other than the default
    caller = IamCaller(user_arn="arn:aws:iam::210987654321:user/ops/eve", user_id="AIDAEVEEXAMPLE0000001")
    # When it builds an event
    event = build_event("GET", "/profiles", "", [], b"", caller=caller)
    # Then the IAM authorizer context names that caller and its account
    iam = event["requestContext"]["authorizer"]["iam"]
    assert (iam["userArn"], iam["accountId"], iam["callerId"]) == (caller.user_arn, "210987654321", caller.user_id)
    assert event["requestContext"]["accountId"] == "210987654321"


def test_the_gateway_gives_every_request_its_own_request_id() -> None:
    # Given two identical requests
    events = [build_event("GET", "/profiles", "", [], b"") for _ in range(2)]
    # Then their request ids differ
    assert events[0]["requestContext"]["requestId"] != events[1]["requestContext"]["requestId"]


def test_the_gateway_joins_repeated_headers_and_query_parameters_with_commas() -> None:
    # Given a header and a query parameter that repeat
    headers = [("Accept", "application/json"), ("X-Team", "a"), ("x-team", "b")]
    # When the gateway builds the event
    event = build_event("GET", "/profiles", "tag=x&tag=y&empty=", headers, b"")
    # Then names are lower case and repeats are comma-joined, as in payload format 2.0
    assert event["headers"]["x-team"] == "a,b"
    assert event["headers"]["accept"] == "application/json"
    assert event["queryStringParameters"] == {"tag": "x,y", "empty": ""}
    assert event["rawQueryString"] == "tag=x&tag=y&empty="


def test_the_gateway_moves_cookies_out_of_the_headers_into_the_cookies_list() -> None:
    # Given two Cookie headers
    headers = [("Cookie", "a=1; b=2"), ("Cookie", "c=3")]
    # When the gateway builds the event
    event = build_event("GET", "/profiles", "", headers, b"")
    # Then each cookie is an item of `cookies` and no cookie header remains
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/json; charset=utf-8", '{"username":"zoë"}'.encode(), ('{"username":"zoë"}', False)),
        ("text/plain", b"hello", ("hello", False)),
        ("application/x-www-form-urlencoded", b"a=1&b=2", (base64.b64encode(b"a=1&b=2").decode(), True)),
        ("application/octet-stream", b"\x00\x01", (base64.b64encode(b"\x00\x01").decode(), True)),
        ("application/json", b'{"username":"\xff"}', (base64.b64encode(b'{"username":"\xff"}').decode(), True)),
    ],
    ids=["json-as-text", "text-as-text", "form-as-base64", "binary-as-base64", "invalid-utf8-json-as-base64"],
)
def test_the_gateway_base64_encodes_every_body_that_is_not_utf8_text(
    content_type: str, body: bytes, expected: tuple[str, bool]
) -> None:
    # Given a body of some content type
    headers = [("Content-Type", content_type)]
    # When the gateway builds the event
    event = build_event("POST", "/endpoints", "", headers, body)
    # Then the bytes arrive intact, as text only when they are UTF-8 text
    assert (event["body"], event["isBase64Encoded"]) == expected


def test_a_request_without_a_body_has_no_body_key() -> None:
    # Given a GET without a body
    # When the gateway builds the event
    event = build_event("GET", "/profiles", "", [], b"")
    # Then `body` is absent and the flag is false, as API Gateway sends it
    assert "body" not in event
    assert event["isBase64Encoded"] is False
