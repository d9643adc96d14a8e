"""SignalWire misbehaving, through the emulator's fault switches: every answer as the contract says.

Each test checks the answer (status, problem type, Retry-After where due), how many creates
SignalWire received, and which endpoints it holds afterwards: a create is retried only where it
cannot have happened or SignalWire said to come back, and a lost answer is settled by a lookup.
"""

import json
from typing import Any

import pytest
import requests

from local.gateway import IamCaller, LambdaFunction, LocalLambdaContext, build_event
from local.signalwire_emulator import COLLECTION_PATH, Fault
from reliability.harness import refusing_port, wait_until
from sip_provisioning.use_cases.create import MAX_CREATE_ATTEMPTS
from tests.integration.conftest import CALLER, Answer, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

IDA = {"username": "ida"}
KEY = "onboarding-ida-desk-phone"


def keyed(key: str = KEY) -> dict[str, str]:
    return {"Content-Type": "application/json", "Idempotency-Key": key}


def invoke(api: ProvisionerApi, body: object, function: LambdaFunction) -> tuple[Answer, LocalLambdaContext]:
    """POST /endpoints to the handler as a function with `function`'s timeout; the context comes back too."""
    event = build_event("POST", "/endpoints", "", [("Content-Type", "application/json")], json.dumps(body).encode())
    api.module.wiring().warm_up()  # Lambda's INIT, which the invocation's timeout does not count
    context = LocalLambdaContext(function)
    result = api.module.lambda_handler(event, context)
    return Answer(result["statusCode"], result["headers"], json.loads(result["body"])), context


def use_read_timeout(api: ProvisionerApi, monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    monkeypatch.setenv("SIGNALWIRE_READ_TIMEOUT", str(seconds))
    api.module.wiring.cache_clear()  # the next invocation builds the service with it


def test_a_signalwire_500_is_a_502_once_the_lookup_finds_nothing(api: ProvisionerApi) -> None:
    # Given SignalWire fails the create with a 500
    api.emulator.inject_fault(Fault.SERVER_ERROR)
    # When an endpoint is requested
    answer = api.create(IDA)
    # Then it is a 502, the create was not repeated, the username was looked up (before and after), nothing exists
    assert (answer.status, answer.body["type"]) == (502, "upstream-error")
    assert api.emulator.create_requests_received() == 1
    assert api.emulator.requests_received("list") == 2
    assert api.emulator.endpoints == []


def test_a_503_without_retry_after_is_a_502_once_the_lookup_finds_nothing(api: ProvisionerApi) -> None:
    # Given SignalWire answers the create 503 without saying when to come back
    api.emulator.inject_fault(Fault.SERVICE_UNAVAILABLE)
    # When an endpoint is requested
    answer = api.create(IDA)
    # Then it is any 5xx: not retried, looked up, answered 502
    assert (answer.status, answer.body["type"]) == (502, "upstream-error")
    assert api.emulator.create_requests_received() == 1
    assert api.emulator.endpoints == []


def test_a_503_with_retry_after_is_retried_and_creates_the_endpoint_once(api: ProvisionerApi) -> None:
    # Given SignalWire answers the first create 503 with Retry-After
    api.emulator.inject_fault(Fault.SERVICE_UNAVAILABLE, retry_after=1)
    # When an endpoint is requested
    answer = api.create(IDA)
    # Then the create is sent again after the wait and the caller gets the one endpoint
    assert answer.status == 201
    assert api.emulator.create_requests_received() == 2
    assert [(e["username"], e["password"]) for e in api.emulator.endpoints] == [("ida", answer.body["password"])]


def test_a_429_with_retry_after_is_retried_within_the_time_left_and_creates_the_endpoint_once(
    api: ProvisionerApi,
) -> None:
    # Given SignalWire rate-limits the first create
    api.emulator.inject_fault(Fault.RATE_LIMITED, retry_after=1)
    # When an endpoint is requested
    answer = api.create(IDA)
    # Then the second create succeeds and exactly one endpoint exists, with the password answered
    assert answer.status == 201
    assert api.emulator.create_requests_received() == 2
    assert [(e["username"], e["password"]) for e in api.emulator.endpoints] == [("ida", answer.body["password"])]


def test_a_429_that_persists_is_a_503_carrying_signalwires_retry_after(api: ProvisionerApi) -> None:
    # Given SignalWire rate-limits every create attempt
    api.emulator.inject_fault(Fault.RATE_LIMITED, times=MAX_CREATE_ATTEMPTS, retry_after=1)
    # When an endpoint is requested
    answer = api.create(IDA)
    # Then after the bounded attempts the caller is told when to come back, and nothing exists
    assert (answer.status, answer.body["type"]) == (503, "upstream-unavailable")
    assert answer.headers["Retry-After"] == "1"
    assert api.emulator.create_requests_received() == MAX_CREATE_ATTEMPTS
    assert api.emulator.endpoints == []


def test_a_retry_after_beyond_the_time_left_is_answered_at_once_as_a_503_with_that_retry_after(
    api: ProvisionerApi,
) -> None:
    # Given a function with a 4 s timeout, and SignalWire asking to come back in 30 s
    api.emulator.inject_fault(Fault.SERVICE_UNAVAILABLE, retry_after=30)
    # When an endpoint is requested
    answer, context = invoke(api, IDA, LambdaFunction(timeout_seconds=4))
    # Then the service does not wait: it passes SignalWire's Retry-After on, with time to spare
    assert (answer.status, answer.body["type"]) == (503, "upstream-unavailable")
    assert answer.headers["Retry-After"] == "30"
    assert api.emulator.create_requests_received() == 1
    assert context.get_remaining_time_in_millis() > 0


def test_a_create_that_hangs_past_the_read_timeout_is_a_504_once_the_lookup_finds_nothing(
    api: ProvisionerApi,
) -> None:
    # Given SignalWire holds the create for longer than the 0.5 s read timeout
    api.emulator.inject_fault(Fault.HANG, delay_seconds=2.0)
    # When an endpoint is requested
    answer = api.create(IDA)
    # Then the username was looked up (before and after), was not there yet, and the answer is a timeout
    assert (answer.status, answer.body["type"]) == (504, "upstream-timeout")
    assert api.emulator.create_requests_received() == 1
    assert api.emulator.requests_received("list") == 2
    assert api.emulator.endpoints == []


def test_a_keyed_retry_after_a_hung_create_committed_late_gets_the_endpoint_and_its_password(
    api: ProvisionerApi,
) -> None:
    # Given a keyed create that SignalWire holds past the read timeout and then commits
    api.emulator.inject_fault(Fault.HANG, delay_seconds=1.0)
    first = api.create(IDA, headers=keyed())
    wait_until(lambda: api.emulator.creates_committed() == 1, timeout=5, what="the hung create to commit")
    # When the onboarding workflow retries with the same key, as a 504 invites it to
    retried = api.create(IDA, headers=keyed())
    # Then it gets the endpoint with the password SignalWire holds for it
    assert (first.status, retried.status) == (504, 201)
    assert retried.body.get("password") == api.emulator.endpoints[0]["password"]


def test_an_unkeyed_repeat_after_a_hung_create_committed_late_is_a_409(api: ProvisionerApi) -> None:
    # Given a create without a key that SignalWire holds past the read timeout and then commits
    api.emulator.inject_fault(Fault.HANG, delay_seconds=1.0)
    first = api.create(IDA)
    wait_until(lambda: api.emulator.creates_committed() == 1, timeout=5, what="the hung create to commit")
    # When the same body is sent again without a key
    again = api.create(IDA)
    # Then nothing ties it to the first: the username is taken (the 504 said the outcome was unknown)
    assert (first.status, again.status, again.body["type"]) == (504, 409, "username-taken")
    assert len(api.emulator.endpoints) == 1


@pytest.mark.parametrize(
    ("key", "caller"),
    [
        pytest.param("onboarding-run-2-ida", CALLER, id="same caller, another key"),
        pytest.param(KEY, IamCaller(user_arn="arn:aws:iam::123456789012:user/mallory"), id="another caller"),
    ],
)
def test_a_keyed_create_for_a_username_created_under_another_key_is_a_409(
    api: ProvisionerApi, key: str, caller: IamCaller
) -> None:
    # Given "ida" created by a keyed request, with the default profile
    first = api.create(IDA, headers=keyed())
    # When "ida" is asked for again with the same settings under another key or by another caller
    again = api.create(IDA, headers=keyed(key), caller=caller)
    # Then the username is taken, and SignalWire still holds the first caller's password
    assert (first.status, again.status, again.body.get("type")) == (201, 409, "username-taken")
    assert [e["password"] for e in api.emulator.endpoints] == [first.body["password"]]


def test_a_closed_connection_is_a_504_once_the_lookup_finds_nothing(api: ProvisionerApi) -> None:
    # Given SignalWire closes the connection without answering the create
    api.emulator.inject_fault(Fault.CLOSE_CONNECTION)
    # When an endpoint is requested
    answer = api.create(IDA)
    # Then the create is not repeated blindly: looked up (before and after), not there, a timeout
    assert (answer.status, answer.body["type"]) == (504, "upstream-timeout")
    assert api.emulator.create_requests_received() == 1
    assert api.emulator.requests_received("list") == 2
    assert api.emulator.endpoints == []


def test_a_non_json_answer_is_a_502_once_the_lookup_finds_nothing(api: ProvisionerApi) -> None:
    # Given SignalWire (or a proxy before it) answers the create with an HTML page
    api.emulator.inject_fault(Fault.NON_JSON)
    # When an endpoint is requested
    answer = api.create(IDA)
    # Then it is an upstream error and nothing exists
    assert (answer.status, answer.body["type"]) == (502, "upstream-error")
    assert api.emulator.create_requests_received() == 1
    assert api.emulator.endpoints == []


def test_a_create_committed_without_an_answer_is_a_201_with_the_password_that_was_sent(api: ProvisionerApi) -> None:
    # Given SignalWire stores the create but the answer never arrives
    api.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE)
    # When an endpoint is requested
    answer = api.create(IDA)
    # Then the lookup finds it with the settings sent: it is answered as created, password included
    stored = api.emulator.endpoints
    assert answer.status == 201
    assert [(e["id"], e["password"]) for e in stored] == [(answer.body["endpoint"]["id"], answer.body["password"])]
    assert api.emulator.create_requests_received() == 1


def test_a_create_committed_without_an_answer_keeps_the_callers_own_password(api: ProvisionerApi) -> None:
    # Given SignalWire stores the create but the answer never arrives
    api.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE)
    # When an endpoint is requested with the caller's own password
    answer = api.create({"username": "ida", "password": "idas-own-password-1"})
    # Then it is a 201 without a password field, and SignalWire holds the caller's password
    assert answer.status == 201
    assert "password" not in answer.body
    assert [e["password"] for e in api.emulator.endpoints] == ["idas-own-password-1"]


def test_wrong_credentials_are_a_502_and_create_nothing(api: ProvisionerApi) -> None:
    # Given an API token in SSM that SignalWire does not accept
    api.put_parameter("signalwire/api_token", "PTrevoked-token-0000", kind="SecureString")
    # When an endpoint is requested
    answer = api.create(IDA)
    # Then it is an upstream error: the lookup before the create was refused, so no create was sent
    assert (answer.status, answer.body["type"]) == (502, "upstream-error")
    assert api.emulator.create_requests_received() == 0
    assert api.emulator.requests_received("list") == 1
    assert api.emulator.endpoints == []


def test_an_unreachable_signalwire_is_a_503_and_no_create_is_tried(api: ProvisionerApi) -> None:
    with refusing_port() as port:
        # Given a space URL whose port refuses connections, so no create can have been sent
        api.put_parameter("signalwire/space_url", f"http://127.0.0.1:{port}")
        # When an endpoint is requested
        answer = api.create(IDA)
    # Then the lookup before any create could not be made, and the caller is told to come back
    assert (answer.status, answer.body["type"]) == (503, "upstream-unavailable")
    assert answer.headers["Retry-After"] == "1"
    assert api.emulator.endpoints == []


def test_a_lost_answer_for_a_username_held_with_other_settings_is_a_409(api: ProvisionerApi) -> None:
    # Given "ida" already exists in SignalWire with settings other than the request's
    other = {
        "username": "ida",
        "password": "someone-elses-password",
        "call_handler": "relay_script",
        "call_relay_script_url": "https://swml.example.com/other.yaml",
    }
    requests.post(
        f"{api.emulator.base_url}{COLLECTION_PATH}",
        json=other,
        auth=(api.emulator.project_id, api.emulator.api_token),
        timeout=5,
    ).raise_for_status()
    # And the answer to the create is lost
    api.emulator.inject_fault(Fault.CLOSE_CONNECTION)
    # When "ida" is requested
    answer = api.create(IDA)
    # Then the lookup before the create found it: the username is taken, and only theirs exists
    assert (answer.status, answer.body["type"]) == (409, "username-taken")
    assert api.emulator.create_requests_received() == 1  # theirs: ours was never sent
    assert [(e["username"], e["password"]) for e in api.emulator.endpoints] == [("ida", "someone-elses-password")]


@pytest.mark.parametrize("create_fault", [Fault.CLOSE_CONNECTION, Fault.SERVER_ERROR])
def test_a_lost_create_whose_lookup_also_fails_is_a_504(api: ProvisionerApi, create_fault: Fault) -> None:
    # Given the create's outcome is unknown and the lookup fails too
    api.emulator.inject_fault(create_fault)
    api.emulator.inject_fault(Fault.SERVER_ERROR, operation="list", after=1)
    # When an endpoint is requested
    answer = api.create(IDA)
    # Then the service cannot say whether it exists: a timeout, after one create and a lookup before and after
    assert (answer.status, answer.body["type"]) == (504, "upstream-timeout")
    assert api.emulator.create_requests_received() == 1
    assert api.emulator.requests_received("list") == 2


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        pytest.param([(Fault.HANG, {"delay_seconds": 5.0})], (504, "upstream-timeout"), id="create hangs"),
        pytest.param(
            [(Fault.CLOSE_CONNECTION, {}), (Fault.HANG, {"operation": "list", "delay_seconds": 5.0})],
            (504, "upstream-timeout"),
            id="lookup hangs",
        ),
        pytest.param(
            [(Fault.RATE_LIMITED, {"times": MAX_CREATE_ATTEMPTS, "retry_after": 1})],
            (503, "upstream-unavailable"),
            id="rate limited",
        ),
    ],
)
def test_every_answer_leaves_time_on_the_lambda_clock(
    api: ProvisionerApi,
    monkeypatch: pytest.MonkeyPatch,
    faults: list[tuple[Fault, dict[str, Any]]],
    expected: tuple[int, str],
) -> None:
    # Given a read timeout longer than the whole 3 s function timeout, and SignalWire misbehaving
    use_read_timeout(api, monkeypatch, 10.0)
    for fault, options in faults:
        api.emulator.inject_fault(fault, **options)
    # When an endpoint is requested
    answer, context = invoke(api, IDA, LambdaFunction(timeout_seconds=3))
    # Then the service's own answer comes back while the function still has time left
    assert (answer.status, answer.body["type"]) == expected
    assert context.get_remaining_time_in_millis() > 0
