"""The recorded API Gateway events in events/ get their expected answers from the real handler.

Each event goes through `http_api.lambda_handler` in-process, with SSM from moto seeded the
way `make run` seeds it (`local.seed`) and SignalWire played by the emulator over real HTTP.
An event about an existing endpoint (look up, change, reset, disable, delete, list) runs after
the endpoints it needs were created through the same handler. The local gateway is held to the
same recordings: the events it builds have their shape.
"""

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
import requests

from local.export_openapi import OPENAPI_PATH
from local.gateway import IamCaller, LambdaFunction, LocalLambdaContext, build_event
from local.signalwire_emulator import COLLECTION_PATH, SignalWireEmulator
from tests.integration.conftest import SIP_DOMAIN, ProvisionerApi

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = REPOSITORY_ROOT / "events"
EVENT_FILES = sorted(EVENTS_DIR.glob("*.json"))

# The outcome of every event, kept beside the check that reads it: an event file added
# without a line here fails test_every_event_file_has_an_expected_status.
EXPECTED_STATUS = {
    "adopt-endpoint.json": 200,
    "create-ai-agent.json": 201,
    "create-bad-json.json": 400,
    "create-dry-run.json": 200,
    "create-laml-webhooks.json": 201,
    "create-minimal.json": 201,
    "create-relay-script.json": 201,
    "create-unknown-profile.json": 422,
    "delete-endpoint-dry-run.json": 200,
    "delete-endpoint.json": 204,
    "disable-endpoint.json": 200,
    "get-endpoint-encoded-username.json": 200,
    "get-endpoint-unknown.json": 404,
    "get-endpoint.json": 200,
    "list-endpoints.json": 200,
    "list-profiles.json": 200,
    "list-unmanaged-endpoints.json": 200,
    "patch-endpoint-dry-run.json": 200,
    "patch-endpoint.json": 200,
    "reset-password.json": 200,
}
# The endpoints an event needs before it runs: created through the handler from these bodies.
ADA = {"username": "ada.lovelace"}
PREREQUISITES: dict[str, list[dict[str, str]]] = {
    "delete-endpoint-dry-run.json": [ADA],
    "delete-endpoint.json": [ADA],
    "disable-endpoint.json": [ADA],
    "get-endpoint-encoded-username.json": [{"username": "lobby#2", "profile": "video-kiosk"}],
    "get-endpoint.json": [ADA],
    "list-endpoints.json": [{"username": "ada.lovelace", "profile": "office"}, {"username": "charles.babbage"}],
    "patch-endpoint-dry-run.json": [ADA],
    "patch-endpoint.json": [ADA],
    "reset-password.json": [ADA],
}
# The endpoints an event needs made outside the service (straight in SignalWire): unmanaged.
MADE_OUTSIDE: dict[str, list[str]] = {
    "adopt-endpoint.json": ["front-desk"],
    "list-unmanaged-endpoints.json": ["front-desk"],
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


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def create_event(body: dict[str, str]) -> dict[str, Any]:
    """A recorded create, carrying another body."""
    event = load_event(EVENTS_DIR / "create-minimal.json")
    event["body"] = json.dumps(body)
    event["headers"] = {**event["headers"], "content-length": str(len(event["body"].encode()))}
    return event


def request_event(method: str, path: str, query: str = "") -> dict[str, Any]:
    """A request the recordings do not hold (a check after an event), as the local gateway builds it."""
    return build_event(method, path, query, [("Accept", "application/json")], b"")


def prepare(handler: Handler, event_file: Path, emulator: SignalWireEmulator | None = None) -> list[dict[str, Any]]:
    """Create the endpoints the event needs (with `emulator`, those made outside too); the service's 201 answers."""
    for username in MADE_OUTSIDE.get(event_file.name, []):
        assert emulator is not None, f"{event_file.name} needs endpoints made outside: pass the emulator"
        requests.post(
            f"{emulator.base_url}{COLLECTION_PATH}",
            json={"username": username, "password": "made-by-an-old-script-1234", "call_handler": "relay_connector"},
            auth=(emulator.project_id, emulator.api_token),
            timeout=5,
        ).raise_for_status()
    created = [invoke(handler, create_event(body)) for body in PREREQUISITES.get(event_file.name, [])]
    assert [answer["statusCode"] for answer in created] == [201] * len(created), [a["body"] for a in created]
    return created


def run_prepared(handler: Handler, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The answer to the event `name`, run after its prerequisites, and theirs."""
    created = prepare(handler, EVENTS_DIR / name)
    return invoke(handler, load_event(EVENTS_DIR / name)), created


def inventory_record(handler: Handler, username: str) -> dict[str, Any]:
    """The endpoint's inventory record, as `GET /endpoints/{username}` answers it."""
    answer = invoke(handler, request_event("GET", f"/endpoints/{quote(username, safe='')}"))
    assert answer["statusCode"] == 200, answer["body"]
    record: dict[str, Any] = body_of(answer)["record"]
    return record


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
def test_each_recorded_event_is_answered_with_its_expected_status(
    event_file: Path, lambda_handler: Handler, emulator: SignalWireEmulator
) -> None:
    # Given an event as API Gateway sends it, and the endpoints it is about
    event = load_event(event_file)
    prepare(lambda_handler, event_file, emulator)
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
    # Given an event that must not create an endpoint, and the endpoints it is about
    event = load_event(event_file)
    prepare(lambda_handler, event_file, emulator)
    creates, usernames = emulator.create_requests_received(), usernames_in(emulator)
    # When the handler runs it
    invoke(lambda_handler, event)
    # Then SignalWire was never asked to create one
    assert emulator.create_requests_received() == creates
    assert set(usernames_in(emulator)) <= set(usernames)


@pytest.mark.parametrize("event_file", EVENT_FILES, ids=lambda path: path.name)
def test_each_event_is_a_route_of_the_openapi_document(event_file: Path) -> None:
    # Given a recorded event and the committed API document
    method, path = load_event(event_file)["routeKey"].split(" ", 1)
    document = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    # Then its route key names a documented operation
    assert method.lower() in document["paths"].get(path, {}), f"{method} {path} is not in docs/openapi.json"


def test_looking_up_an_endpoint_answers_it_managed_with_its_record_and_no_drift(lambda_handler: Handler) -> None:
    # Given an endpoint created from the default profile
    # When the recorded look-up runs
    response, created = run_prepared(lambda_handler, "get-endpoint.json")
    # Then it is SignalWire's endpoint, managed, its record active and in line with its profile
    view = body_of(response)
    assert (view["endpoint"]["username"], view["sip_uri"]) == ("ada.lovelace", f"sip:ada.lovelace@{SIP_DOMAIN}")
    assert view["managed"] is True
    assert view["record"]["status"] == "active"
    assert view["record"]["created_by"] == "arn:aws:iam::123456789012:user/onboarding-bot"
    assert view["drift"] == []
    assert body_of(created[0])["password"] not in response["body"]


def test_a_percent_encoded_username_is_looked_up_decoded(lambda_handler: Handler) -> None:
    # Given an endpoint whose username holds a character that is not unreserved
    # When the recorded look-up names it percent-encoded (lobby%232)
    response, _ = run_prepared(lambda_handler, "get-endpoint-encoded-username.json")
    # Then the endpoint of the decoded username is answered
    view = body_of(response)
    assert view["endpoint"]["username"] == "lobby#2"
    assert view["sip_uri"] == f"sip:lobby#2@{SIP_DOMAIN}"


def test_an_unknown_username_is_endpoint_not_found(lambda_handler: Handler) -> None:
    # Given no endpoint at all
    # When the recorded look-up of an unknown username runs
    response, _ = run_prepared(lambda_handler, "get-endpoint-unknown.json")
    # Then it is the endpoint-not-found problem
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert body_of(response)["type"] == "endpoint-not-found"


def test_a_patch_dry_run_names_the_changes_and_changes_nothing(
    lambda_handler: Handler, emulator: SignalWireEmulator
) -> None:
    # Given an endpoint created from the default profile
    # When the recorded dry run of a move to the office profile runs
    response, _ = run_prepared(lambda_handler, "patch-endpoint-dry-run.json")
    # Then it names each field that would change, from what to what, and nothing changed
    changes = {change["field"]: change for change in body_of(response)["changes"]}
    assert changes["caller_id"]["to"] == "Ada Lovelace"
    assert changes["call_request_url"] == {
        "field": "call_request_url",
        "from": "https://voice.example.com/laml/inbound",
        "to": "https://office.example.com/laml/desk",
    }
    assert emulator.requests_received("update") == 0
    assert inventory_record(lambda_handler, "ada.lovelace")["profile"] == "default"


def test_a_patch_changes_the_endpoint_and_then_its_record(
    lambda_handler: Handler, emulator: SignalWireEmulator
) -> None:
    # Given an endpoint created from the default profile
    # When the recorded change to the office profile, a caller id and an owner runs
    response, _ = run_prepared(lambda_handler, "patch-endpoint.json")
    # Then SignalWire holds the office settings and the record the changed request
    answer = body_of(response)
    assert answer["profile"] == "office"
    assert {"caller_id", "call_request_url", "codecs"} <= set(answer["changed"])
    assert emulator.endpoints[0]["caller_id"] == "Ada Lovelace"
    record = inventory_record(lambda_handler, "ada.lovelace")
    assert (record["profile"], record["owner"]) == ("office", "E-1815")
    # And a repeat under the same Idempotency-Key is the first answer again, with no second update
    updates = emulator.updates_committed()
    assert body_of(invoke(lambda_handler, load_event(EVENTS_DIR / "patch-endpoint.json"))) == answer
    assert emulator.updates_committed() == updates


def test_a_password_reset_answers_the_password_set_and_the_same_one_on_replay(
    lambda_handler: Handler, emulator: SignalWireEmulator
) -> None:
    # Given an endpoint, and its created password
    response, created = run_prepared(lambda_handler, "reset-password.json")
    # When the recorded reset has run
    reset = body_of(response)
    # Then the answer carries the new password SignalWire now holds
    assert set(reset) == {"username", "sip_uri", "password"}
    assert reset["password"] == emulator.stored_password("ada.lovelace")
    assert reset["password"] != body_of(created[0])["password"]
    # And its repeat under the same Idempotency-Key answers the same password again
    assert body_of(invoke(lambda_handler, load_event(EVENTS_DIR / "reset-password.json"))) == reset


def test_disabling_replaces_the_password_with_one_nobody_is_given(
    lambda_handler: Handler, emulator: SignalWireEmulator
) -> None:
    # Given an endpoint and the password it was created with
    response, created = run_prepared(lambda_handler, "disable-endpoint.json")
    # When the recorded disable has run
    # Then the answer says disabled, SignalWire holds another password, and the record is disabled
    assert body_of(response) == {"username": "ada.lovelace", "status": "disabled"}
    assert emulator.stored_password("ada.lovelace") != body_of(created[0])["password"]
    assert "password" not in response["body"]
    assert inventory_record(lambda_handler, "ada.lovelace")["status"] == "disabled"


def test_a_delete_dry_run_shows_the_record_and_deletes_nothing(
    lambda_handler: Handler, emulator: SignalWireEmulator
) -> None:
    # Given an endpoint
    # When the recorded delete dry run runs
    response, _ = run_prepared(lambda_handler, "delete-endpoint-dry-run.json")
    # Then it shows the record that would be deleted, and the endpoint is still there
    answer = body_of(response)
    assert answer["dry_run"] is True
    assert (answer["would_delete"]["username"], answer["would_delete"]["status"]) == ("ada.lovelace", "active")
    assert usernames_in(emulator) == ["ada.lovelace"]


def test_a_delete_removes_the_endpoint_and_keeps_its_record_as_deleted(
    lambda_handler: Handler, emulator: SignalWireEmulator
) -> None:
    # Given an endpoint
    # When the recorded delete runs
    response, _ = run_prepared(lambda_handler, "delete-endpoint.json")
    # Then it is gone from SignalWire, with an empty 204
    assert (response["statusCode"], response["body"]) == (204, "")
    assert emulator.endpoints == []
    # And its record stays, deleted, by whom: listed only when deleted ones are asked for
    listed = body_of(invoke(lambda_handler, request_event("GET", "/endpoints")))
    assert listed["endpoints"] == []
    deleted = body_of(invoke(lambda_handler, request_event("GET", "/endpoints", "status=deleted")))["endpoints"]
    assert [(record["username"], record["status"]) for record in deleted] == [("ada.lovelace", "deleted")]
    # And deleting it again is the same 204, with no second delete sent
    deletes = emulator.requests_received("delete")
    assert invoke(lambda_handler, load_event(EVENTS_DIR / "delete-endpoint.json"))["statusCode"] == 204
    assert emulator.requests_received("delete") == deletes


def test_listing_by_profile_answers_only_that_profiles_records(lambda_handler: Handler) -> None:
    # Given an endpoint from the office profile and one from the default profile
    # When the recorded list of the office profile runs
    response, _ = run_prepared(lambda_handler, "list-endpoints.json")
    # Then only the office one is listed, as a record summary, on one page
    answer = body_of(response)
    assert answer["next_cursor"] is None
    [summary] = answer["endpoints"]
    assert summary["username"] == "ada.lovelace"
    assert set(summary) == {"username", "profile", "owner", "status", "created_by", "created_at"}


@pytest.mark.parametrize("event_file", EVENT_FILES, ids=lambda path: path.name)
def test_the_gateway_builds_events_shaped_like_the_recorded_ones(event_file: Path) -> None:
    # Given a recorded event, and the same request made to the local gateway
    recorded = load_event(event_file)
    body = recorded.get("body", "").encode()
    headers = [(name, value) for name, value in recorded["headers"].items() if not name.startswith("x-")]
    # When the gateway builds its event for the path as sent (percent-encoded, below the stage)
    method = recorded["requestContext"]["http"]["method"]
    path = recorded["rawPath"].removeprefix("/" + recorded["requestContext"]["stage"])
    built = build_event(
        method,
        path,
        recorded["rawQueryString"],
        headers,
        body,
        route_key=recorded["routeKey"],
        path_parameters=recorded.get("pathParameters"),
    )
    # Then it has the same keys at every level API Gateway fills, and the same body and parameters
    assert built.keys() == recorded.keys()
    assert built["requestContext"].keys() == recorded["requestContext"].keys()
    assert built["requestContext"]["http"].keys() == recorded["requestContext"]["http"].keys()
    assert built["requestContext"]["authorizer"]["iam"].keys() == recorded["requestContext"]["authorizer"]["iam"].keys()
    assert set(built["headers"]) >= {"x-amzn-trace-id", "x-forwarded-for", "x-forwarded-proto"}
    assert (built.get("body"), built["isBase64Encoded"]) == (recorded.get("body"), recorded["isBase64Encoded"])
    assert built.get("queryStringParameters") == recorded.get("queryStringParameters")
    assert built["requestContext"]["http"]["path"] == path


@pytest.mark.parametrize(
    "event_file", [path for path in EVENT_FILES if "pathParameters" in load_event(path)], ids=lambda path: path.name
)
def test_a_recorded_path_is_the_percent_encoded_path_parameter(event_file: Path) -> None:
    # Given a recorded event of a route with a `{username}`
    recorded = load_event(event_file)
    username = recorded["pathParameters"]["username"]
    # Then its path holds that username as one percent-encoded segment (RFC 3986)
    segments = recorded["rawPath"].split("/")
    assert quote(username, safe="") in segments
    assert unquote(quote(username, safe="")) == username


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
