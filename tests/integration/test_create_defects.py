"""POST /endpoints holes of issue 8, each through the real `lambda_handler` and the emulator's
fault switches (CONTRACT.md section 1, "Idempotency" and the query rule).

1. A key stays bound to its first body for 24 hours whatever that attempt's outcome, and no two
   endpoints ever get the same generated password.
2. Recovery after a lost answer never claims an endpoint another caller created.
3. A 422 that cannot be confirmed by a lookup is transient (503/504), never a validation error.
6. Lone surrogates anywhere in a request are a 4xx, never a 500, and never reach SignalWire.
7. Any query parameter but `dry_run` is a 422 naming it, and creates nothing.
8. A broken profile fails only the requests naming it; profiles may carry a `policy`.
"""

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import pytest
import requests

from local.gateway import IamCaller, LambdaFunction, LocalLambdaContext, build_event
from local.signalwire_emulator import COLLECTION_PATH, OPERATIONS, Fault
from reliability.harness import wait_until
from tests.integration.conftest import CALLER, IDEMPOTENCY_TABLE, PARAMETERS_PATH, Answer, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

ServiceLog = Callable[[], list[dict[str, Any]]]

OTHER_CALLER = IamCaller(user_arn="arn:aws:iam::123456789012:user/bob.helpdesk")
KEY = "onboarding-ida-desk-phone"
IDA = {"username": "ida"}
BOB = {"username": "bob"}
EVE = {"username": "eve"}
LONE_SURROGATES = "\\ud800" * 16  # as JSON escapes: 16 high surrogates, none of them paired
BROKEN_PROFILE = "lobby"
BROKEN_PARAMETER = f"{PARAMETERS_PATH}/profiles/{BROKEN_PROFILE}"


def keyed(key: str = KEY) -> dict[str, str]:
    return {"Content-Type": "application/json", "Idempotency-Key": key}


def wait_for_the_late_commit(api: ProvisionerApi) -> None:
    wait_until(lambda: api.emulator.creates_committed() == 1, timeout=5, what="the held create to commit")


def usernames(api: ProvisionerApi) -> list[object]:
    return [endpoint["username"] for endpoint in api.emulator.endpoints]


def signalwire_requests(api: ProvisionerApi) -> int:
    return sum(api.emulator.requests_received(operation) for operation in OPERATIONS)


def seed_endpoint(api: ProvisionerApi, settings: Mapping[str, Any]) -> None:
    """An endpoint created in SignalWire directly, outside the service."""
    response = requests.post(
        f"{api.emulator.base_url}{COLLECTION_PATH}",
        json=dict(settings),
        auth=(api.emulator.project_id, api.emulator.api_token),
        timeout=5,
    )
    response.raise_for_status()


def age_every_idempotency_record_past_its_window() -> None:
    """What 24 hours do to the idempotency table: every record's expiration is in the past."""
    dynamodb = boto3.client("dynamodb")
    for item in dynamodb.scan(TableName=IDEMPOTENCY_TABLE)["Items"]:
        dynamodb.update_item(
            TableName=IDEMPOTENCY_TABLE,
            Key={"id": item["id"]},
            UpdateExpression="SET expiration = :past",
            ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
        )


def raw_answer(api: ProvisionerApi, body: bytes, headers: Mapping[str, str], query: str = "") -> dict[str, Any]:
    """The handler's own result for POST /endpoints, its body still the text it wrote."""
    event = build_event("POST", "/endpoints", query, list(headers.items()), body, caller=CALLER)
    result: dict[str, Any] = api.module.lambda_handler(event, LocalLambdaContext(LambdaFunction()))
    return result


def audit_lines(service_log: ServiceLog, audit: str, caller: IamCaller) -> list[dict[str, Any]]:
    return [line for line in service_log() if line.get("audit") == audit and line.get("caller") == caller.user_arn]


def emitted_metrics(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Names of the metrics flushed to stdout as CloudWatch EMF since the last call."""
    names: list[str] = []
    for line in capsys.readouterr().out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        for directive in json.loads(line)["_aws"].get("CloudWatchMetrics", []):
            names.extend(metric["Name"] for metric in directive["Metrics"])
    return names


def problem_of(answer: Answer) -> tuple[int, str]:
    return answer.status, answer.body["type"]


# -- 1. one key, one body, one endpoint, one password ----------------------------------------------


def test_a_key_whose_create_timed_out_and_committed_late_refuses_another_username_and_creates_nothing(
    api: ProvisionerApi,
) -> None:
    # Given a keyed create of ida that SignalWire holds past the read timeout, then commits
    api.emulator.inject_fault(Fault.HANG, delay_seconds=1.0)
    first = api.create(IDA, headers=keyed())
    wait_for_the_late_commit(api)
    # When the same caller sends the same key with another username
    second = api.create(BOB, headers=keyed())
    # Then the key is still bound to ida: the other body is refused and never sent
    assert problem_of(first) == (504, "upstream-timeout")
    assert problem_of(second) == (422, "idempotency-key-reused")
    assert usernames(api) == ["ida"]
    assert api.emulator.create_requests_received() == 1


def test_a_key_whose_create_was_refused_as_taken_refuses_another_username_and_creates_nothing(
    api: ProvisionerApi,
) -> None:
    # Given ida already taken, and a keyed create of ida answered 409
    assert api.create(IDA).status == 201
    first = api.create(IDA, headers=keyed())
    creates_before = api.emulator.create_requests_received()
    # When the same caller sends the same key with another username
    second = api.create(BOB, headers=keyed())
    # Then the failed first attempt still holds the key: nothing is created for bob
    assert problem_of(first) == (409, "username-taken")
    assert problem_of(second) == (422, "idempotency-key-reused")
    assert usernames(api) == ["ida"]
    assert api.emulator.create_requests_received() == creates_before


def test_two_keys_never_yield_the_same_generated_password(api: ProvisionerApi) -> None:
    # Given two keyed creates of two usernames
    first = api.create(IDA, headers=keyed("onboarding-1"))
    second = api.create(BOB, headers=keyed("onboarding-2"))
    # When their generated passwords are compared
    passwords = {first.body["password"], second.body["password"]}
    # Then they differ, and each is the one SignalWire holds
    assert (first.status, second.status) == (201, 201)
    assert len(passwords) == 2
    assert passwords == {api.emulator.stored_password("ida"), api.emulator.stored_password("bob")}


def test_a_key_used_again_after_its_24_hours_gives_the_new_endpoint_another_password(api: ProvisionerApi) -> None:
    # Given ida created under a key whose 24 hours have since passed
    first = api.create(IDA, headers=keyed())
    age_every_idempotency_record_past_its_window()
    # When the same caller sends the same key again for bob
    second = api.create(BOB, headers=keyed())
    # Then bob is created with a password of its own, not ida's
    assert (first.status, second.status) == (201, 201)
    assert second.body["password"] != first.body["password"]
    assert api.emulator.stored_password("bob") == second.body["password"]
    assert api.emulator.stored_password("ida") == first.body["password"]


# -- 2. someone else's endpoint is never answered as ours --------------------------------------------


def test_a_lost_answer_for_a_username_another_caller_created_is_a_409_without_an_audit_line(
    api: ProvisionerApi, service_log: ServiceLog
) -> None:
    # Given caller A created eve through the service
    created = api.create(EVE)
    # When caller B asks for eve while SignalWire drops the create's connection unanswered
    api.emulator.inject_fault(Fault.CLOSE_CONNECTION)
    answer = api.create(EVE, caller=OTHER_CALLER)
    # Then B is told the username is taken: no 201, no audit line, A's endpoint and password untouched
    assert created.status == 201
    assert problem_of(answer) == (409, "username-taken")
    assert "password" not in answer.body
    assert audit_lines(service_log, "endpoint-created", OTHER_CALLER) == []
    assert audit_lines(service_log, "endpoint-created", CALLER) != []
    assert usernames(api) == ["eve"]
    assert api.emulator.stored_password("eve") == created.body["password"]


def test_a_keyed_request_for_a_username_another_caller_created_is_a_409_again_on_its_retry(
    api: ProvisionerApi,
) -> None:
    # Given caller A created eve, and caller B's keyed create of eve lost its answer
    created = api.create(EVE)
    api.emulator.inject_fault(Fault.CLOSE_CONNECTION)
    first = api.create(EVE, headers=keyed(), caller=OTHER_CALLER)
    # When B retries under the same key
    retried = api.create(EVE, headers=keyed(), caller=OTHER_CALLER)
    # Then the 409 stands: no 201 with A's endpoint is replayed to B
    assert created.status == 201
    assert problem_of(first) == (409, "username-taken")
    assert problem_of(retried) == (409, "username-taken")
    assert usernames(api) == ["eve"]


# -- 3. an unconfirmed outcome is transient, never a validation error --------------------------------


def test_a_keyed_retry_meeting_its_own_late_commit_while_the_lookup_fails_is_transient_never_a_422(
    api: ProvisionerApi,
) -> None:
    # Given a keyed create that committed but lost its answer while the lookup after it failed (504)
    api.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE)
    api.emulator.inject_fault(Fault.SERVER_ERROR, operation="list", after=1)
    first = api.create(IDA, headers=keyed())
    # When the workflow retries under the same key, SignalWire answers 422 (taken) and the lookup fails again
    api.emulator.inject_fault(Fault.SERVER_ERROR, operation="list")
    retried = api.create(IDA, headers=keyed())
    # Then the retry is told to come back, not that its request is invalid
    assert problem_of(first) == (504, "upstream-timeout")
    assert retried.status in (503, 504)
    assert retried.body["type"] in ("upstream-unavailable", "upstream-timeout")
    assert usernames(api) == ["ida"]


def test_a_keyed_retry_after_two_unconfirmed_answers_gets_the_endpoint_and_its_password(api: ProvisionerApi) -> None:
    # Given a keyed create committed late, and a retry whose 422 could not be confirmed
    api.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE)
    api.emulator.inject_fault(Fault.SERVER_ERROR, operation="list", times=2, after=1)
    api.create(IDA, headers=keyed())
    api.create(IDA, headers=keyed())
    # When the workflow retries once more, SignalWire healthy
    answer = api.create(IDA, headers=keyed())
    # Then it gets the one endpoint with the password SignalWire holds
    assert answer.status == 201
    assert answer.body["password"] == api.emulator.stored_password("ida")
    assert usernames(api) == ["ida"]


def test_a_username_lookup_failing_before_the_create_is_an_upstream_problem_and_sends_no_create(
    api: ProvisionerApi,
) -> None:
    # Given ida made outside the service, and SignalWire's username lookup failing
    seed_endpoint(api, {"username": "ida", "password": "made-elsewhere-1", "call_handler": "relay_connector"})
    api.emulator.inject_fault(Fault.SERVER_ERROR, operation="list")
    creates_before = api.emulator.create_requests_received()
    # When ida is requested
    answer = api.create(IDA)
    # Then the caller is told SignalWire failed, never that its request is invalid, and nothing was sent
    assert problem_of(answer) == (502, "upstream-error")
    assert api.emulator.create_requests_received() == creates_before


# -- 6. lone surrogates are bad input, never a crash --------------------------------------------------


def test_a_repeated_key_that_is_a_lone_surrogate_is_a_400_problem_and_nothing_is_sent(api: ProvisionerApi) -> None:
    # Given a body repeating a key that is a lone surrogate
    body = b'{"\\ud800": 1, "\\ud800": 2}'
    # When it is sent
    result = raw_answer(api, body, {"Content-Type": "application/json"})
    # Then it is a 400 problem in valid UTF-8 text that does not echo the key, and SignalWire is not asked
    text = result["body"]
    text.encode("utf-8")
    assert (result["statusCode"], json.loads(text)["type"]) == (400, "malformed-request")
    assert result["headers"]["Content-Type"] == "application/problem+json"
    assert "\\ud800" not in text.lower()
    assert signalwire_requests(api) == 0


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": KEY}], ids=["unkeyed", "keyed"])
def test_a_password_of_lone_surrogates_is_a_4xx_problem_naming_it_and_nothing_is_sent(
    api: ProvisionerApi, headers: dict[str, str]
) -> None:
    # Given a password made of lone surrogates
    body = ('{"username": "ida", "password": "' + LONE_SURROGATES + '"}').encode()
    # When it is sent, with or without an Idempotency-Key
    result = raw_answer(api, body, {"Content-Type": "application/json", **headers})
    # Then it is a 4xx problem naming the password, never echoing it, and SignalWire is not asked
    text = result["body"]
    text.encode("utf-8")
    problem = json.loads(text)
    assert 400 <= result["statusCode"] < 500
    assert problem["type"] in ("malformed-request", "validation-error")
    assert "password" in [error["field"] for error in problem.get("errors", [])]
    assert "\\ud800" not in text.lower()
    assert signalwire_requests(api) == 0
    assert api.emulator.endpoints == []


# -- 7. a typo never provisions ------------------------------------------------------------------------


@pytest.mark.parametrize("parameter", ["dryRun", "dry-run", "DRY_RUN"])
def test_a_misspelled_dry_run_is_a_422_naming_it_and_creates_nothing(api: ProvisionerApi, parameter: str) -> None:
    # Given a create with a misspelled dry_run
    query = f"{parameter}=true"
    # When it is sent
    answer = api.create(IDA, query=query)
    # Then it is a 422 naming the parameter, and SignalWire is not asked
    assert problem_of(answer) == (422, "validation-error")
    assert [error["field"] for error in answer.body["errors"]] == [parameter]
    assert signalwire_requests(api) == 0
    assert api.emulator.endpoints == []


def test_a_misspelled_dry_run_under_a_key_is_a_422_and_the_key_stays_free(api: ProvisionerApi) -> None:
    # Given a keyed create with a misspelled dry_run, refused
    refused = api.create(IDA, query="dryRun=true", headers=keyed())
    # When the same key is sent without it
    created = api.create(IDA, headers=keyed())
    # Then the refusal created nothing and bound nothing: the real create goes through once
    assert problem_of(refused) == (422, "validation-error")
    assert created.status == 201
    assert api.emulator.create_requests_received() == 1


def test_an_unknown_query_parameter_on_get_profiles_is_a_422_naming_it(api: ProvisionerApi) -> None:
    # Given / When GET /profiles is sent with a parameter it does not take
    answer = api.request("GET", "/profiles", query="verbose=1")
    # Then it is a 422 naming it
    assert problem_of(answer) == (422, "validation-error")
    assert [error["field"] for error in answer.body["errors"]] == ["verbose"]


def test_an_unknown_query_parameter_on_an_endpoint_route_is_a_422_and_signalwire_is_not_asked(
    api: ProvisionerApi,
) -> None:
    # Given / When GET /endpoints/{username} is sent with a parameter it does not take
    answer = api.request("GET", "/endpoints/ida", query="dryRun=true")
    # Then it is a 422 naming it, answered before anything is looked up
    assert problem_of(answer) == (422, "validation-error")
    assert [error["field"] for error in answer.body["errors"]] == ["dryRun"]
    assert signalwire_requests(api) == 0


# -- 8. one broken profile fails only the requests naming it ------------------------------------------


@pytest.fixture
def broken_profile(api: ProvisionerApi) -> str:
    """A profile parameter that breaks the profile rules (an unknown call_handler)."""
    api.put_parameter(f"profiles/{BROKEN_PROFILE}", json.dumps({"call_handler": "carrier_pigeon"}))
    return BROKEN_PROFILE


def test_with_one_broken_profile_a_request_naming_another_creates_the_endpoint(
    api: ProvisionerApi, broken_profile: str
) -> None:
    # Given one broken profile
    # When an endpoint is requested from another profile
    answer = api.create({"username": "ida", "profile": "office"})
    # Then it is created
    assert answer.status == 201
    assert usernames(api) == ["ida"]


def test_with_one_broken_profile_get_profiles_lists_the_valid_ones(api: ProvisionerApi, broken_profile: str) -> None:
    # Given one broken profile
    # When the profiles are listed
    answer = api.request("GET", "/profiles")
    # Then every valid profile is listed, and the broken one is not
    assert answer.status == 200
    assert [profile["name"] for profile in answer.body["profiles"]] == ["default", "office", "support", "video-kiosk"]


def test_a_request_naming_the_broken_profile_is_a_500_naming_its_parameter_with_a_log_line_and_metric(
    api: ProvisionerApi, broken_profile: str, service_log: ServiceLog, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given one broken profile
    capsys.readouterr()
    # When an endpoint is requested from it
    answer = api.create({"username": "ida", "profile": broken_profile})
    # Then it is a configuration error naming the parameter, with a log line and a metric for the operator
    assert problem_of(answer) == (500, "configuration-error")
    assert BROKEN_PARAMETER in answer.body["detail"]
    assert "carrier_pigeon" not in answer.body["detail"]
    assert any(line.get("parameter") == BROKEN_PARAMETER for line in service_log())
    assert "BrokenProfiles" in emitted_metrics(capsys)
    assert signalwire_requests(api) == 0


def test_a_profile_with_a_policy_is_accepted_and_its_policy_never_reaches_signalwire(api: ProvisionerApi) -> None:
    # Given a profile carrying a policy that lets this caller use it
    api.put_parameter(
        "profiles/kiosk",
        json.dumps(
            {
                "description": "Lobby kiosk",
                "call_handler": "relay_connector",
                "policy": {"callers": [CALLER.user_arn], "handler_types": ["relay_connector"]},
            }
        ),
    )
    # When an endpoint is requested from it, first as a dry run
    preview = api.create({"username": "ida", "profile": "kiosk"}, query="dry_run=true")
    answer = api.create({"username": "ida", "profile": "kiosk"})
    # Then it is created, and neither the payload nor SignalWire's endpoint holds the policy
    assert (preview.status, answer.status) == (200, 201)
    assert "policy" not in preview.body["payload"]
    assert "policy" not in answer.body["endpoint"]
    [endpoint] = api.emulator.endpoints
    assert endpoint["call_handler"] == "relay_connector"
    assert "policy" not in endpoint
