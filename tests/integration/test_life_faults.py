"""SignalWire misbehaving on the life-cycle routes' PUTs and DELETEs (CONTRACT.md section 4, "Faults").

The fault matrix of create, extended: a 500, a timeout (a hang past SIGNALWIRE_READ_TIMEOUT,
0.5 s in the `api` fixture), a dropped connection and a change committed whose answer was lost,
on update and delete. Each test checks the answer, how many changes SignalWire applied (never a
duplicate that matters, never one lost), and that the inventory and SignalWire still agree. Then
a create whose function gave up between the pending inventory write and its completion, settled
later by a look-up or a keyed retry.
"""

import json
import time
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from local.gateway import LambdaFunction, LocalLambdaContext, build_event
from local.signalwire_emulator import Fault
from reliability.harness import wait_until
from tests.integration.conftest import CALLER, INVENTORY_TABLE, Answer, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

USERNAME = "ida"
KEY = "offboarding-ida"
HANG_PAST_READ_TIMEOUT = 1.0  # the api fixture's read timeout is 0.5 s


def keyed(key: str = KEY) -> dict[str, str]:
    return {"Content-Type": "application/json", "Idempotency-Key": key}


def path(username: str = USERNAME, suffix: str = "") -> str:
    return f"/endpoints/{quote(username, safe='')}{suffix}"


def current_record(username: str = USERNAME) -> dict[str, Any] | None:
    """The username's current inventory item as stored (read straight from the table)."""
    item = boto3.client("dynamodb").get_item(
        TableName=INVENTORY_TABLE, Key={"username": {"S": username}, "record": {"S": "current"}}, ConsistentRead=True
    )
    if "Item" not in item:
        return None
    return {name: next(iter(value.values())) for name, value in item["Item"].items()}


def assert_inventory_and_signalwire_agree(api: ProvisionerApi) -> None:
    """0 lost records, 0 duplicates: every endpoint has its live record, every live record its endpoint."""
    endpoints = api.emulator.endpoints
    usernames = [e["username"] for e in endpoints]
    assert len(usernames) == len(set(usernames)), "a duplicate endpoint"
    for endpoint in endpoints:
        record = current_record(str(endpoint["username"]))
        assert record is not None, f"{endpoint['username']} has no record"
        assert (record["status"], record.get("endpoint_id")) in {
            ("active", endpoint["id"]),
            ("disabled", endpoint["id"]),
        }
    for item in boto3.client("dynamodb").scan(TableName=INVENTORY_TABLE)["Items"]:
        if item["record"]["S"] == "current" and item["status"]["S"] in ("active", "disabled"):
            assert item["username"]["S"] in usernames, f"{item['username']['S']} is live in the inventory only"


def created(api: ProvisionerApi, **request: Any) -> dict[str, Any]:
    answer = api.create({"username": USERNAME, "profile": "office", **request})
    assert answer.status == 201, answer.body
    return dict(answer.body)


def patch(api: ProvisionerApi, changes: object, **kwargs: Any) -> Answer:
    return api.request("PATCH", path(), changes, **kwargs)


def reset(api: ProvisionerApi, body: object = None, **kwargs: Any) -> Answer:
    return api.request("POST", path(suffix="/password"), {} if body is None else body, **kwargs)


def disable(api: ProvisionerApi, **kwargs: Any) -> Answer:
    return api.request("POST", path(suffix="/disable"), **kwargs)


def delete(api: ProvisionerApi, **kwargs: Any) -> Answer:
    return api.request("DELETE", path(), **kwargs)


def problem(answer: Answer) -> tuple[int, str]:
    return answer.status, answer.body["type"] if isinstance(answer.body, dict) else repr(answer.body)


def stored_caller_id(api: ProvisionerApi) -> object:
    [endpoint] = api.emulator.endpoints
    return endpoint["caller_id"]


def stored_request() -> dict[str, Any]:
    record = current_record()
    assert record is not None
    return dict(json.loads(record["request"]))


# -- PATCH: a PUT of settings, confirmed by a retrieve ---------------------------------------------


@pytest.mark.parametrize(
    ("fault", "options", "expected"),
    [
        pytest.param(Fault.SERVER_ERROR, {}, (502, "upstream-error"), id="500"),
        pytest.param(Fault.NON_JSON, {}, (502, "upstream-error"), id="non-JSON 200"),
        pytest.param(Fault.SERVICE_UNAVAILABLE, {}, (502, "upstream-error"), id="503 without Retry-After"),
        pytest.param(Fault.CLOSE_CONNECTION, {}, (504, "upstream-timeout"), id="connection dropped"),
    ],
)
def test_a_patch_signalwire_did_not_apply_is_answered_as_failed_and_leaves_the_record_as_it_was(
    api: ProvisionerApi, fault: Fault, options: dict[str, Any], expected: tuple[int, str]
) -> None:
    # Given a managed endpoint, and SignalWire failing the update without applying it
    created(api)
    api.emulator.inject_fault(fault, operation="update", **options)
    # When its caller id is changed
    answer = patch(api, {"caller_id": "Ida"})
    # Then the answer says so, nothing was applied, and the record still holds the old request
    assert problem(answer) == expected
    assert api.emulator.updates_committed() == 0
    assert stored_caller_id(api) == "Example HQ"
    assert "caller_id" not in stored_request()
    assert_inventory_and_signalwire_agree(api)


def test_a_rate_limited_patch_is_a_503_with_retry_after_and_applies_nothing(api: ProvisionerApi) -> None:
    # Given SignalWire rate-limits the update
    created(api)
    api.emulator.inject_fault(Fault.RATE_LIMITED, operation="update", retry_after=7)
    # When a change is sent
    answer = patch(api, {"caller_id": "Ida"})
    # Then SignalWire's Retry-After is passed on and nothing was applied
    assert problem(answer) == (503, "upstream-unavailable")
    assert answer.headers["Retry-After"] == "7"
    assert api.emulator.updates_committed() == 0
    assert api.emulator.requests_received("update") == 1


def test_a_patch_committed_whose_answer_was_lost_is_confirmed_by_a_retrieve_and_answered_200(
    api: ProvisionerApi,
) -> None:
    # Given SignalWire applies the update and drops the connection before answering
    created(api)
    api.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE, operation="update")
    retrieves_before = api.emulator.requests_received("retrieve")
    # When the caller id is changed
    answer = patch(api, {"caller_id": "Ida"})
    # Then the service looked the endpoint up again, saw the change, answered 200 and recorded it, PUT once
    assert answer.status == 200, answer.body
    assert answer.body["changed"] == ["caller_id"]
    assert answer.body["endpoint"]["caller_id"] == "Ida"
    assert api.emulator.requests_received("update") == api.emulator.updates_committed() == 1
    assert api.emulator.requests_received("retrieve") == retrieves_before + 2  # the look-up, the confirmation
    assert stored_request()["caller_id"] == "Ida"
    assert api.request("GET", path()).body["drift"] == []
    assert_inventory_and_signalwire_agree(api)


def test_a_patch_clearing_a_field_committed_whose_answer_was_lost_is_confirmed(api: ProvisionerApi) -> None:
    # Given an endpoint with its own caller id, and SignalWire losing the answer to the update
    created(api, caller_id="Ida")
    api.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE, operation="update")
    # When the caller id is removed (back to the profile's)
    answer = patch(api, {"caller_id": None})
    # Then the retrieve confirms it and the record follows
    assert (answer.status, answer.body["changed"]) == (200, ["caller_id"])
    assert stored_caller_id(api) == "Example HQ"
    assert "caller_id" not in stored_request()


def test_a_patch_that_hangs_past_the_read_timeout_is_a_504_and_a_keyed_retry_settles_it(api: ProvisionerApi) -> None:
    # Given a keyed PATCH whose update SignalWire holds past the read timeout, then applies
    created(api)
    api.emulator.inject_fault(Fault.HANG, operation="update", delay_seconds=HANG_PAST_READ_TIMEOUT)
    first = patch(api, {"caller_id": "Ida"}, headers=keyed())
    wait_until(lambda: api.emulator.updates_committed() == 1, timeout=5, what="the hung update to commit")
    # When the caller retries under the same key, as the 504 invites
    retried = patch(api, {"caller_id": "Ida"}, headers=keyed())
    # Then the first could not confirm (504); the retry sees the change applied, records it, applies nothing twice
    assert problem(first) == (504, "upstream-timeout")
    assert retried.status == 200, retried.body
    assert retried.body["endpoint"]["caller_id"] == "Ida"
    assert api.emulator.updates_committed() == 1
    assert stored_request()["caller_id"] == "Ida"
    assert api.request("GET", path()).body["drift"] == []


def test_a_retry_after_an_unconfirmed_patch_applies_the_change_once(api: ProvisionerApi) -> None:
    # Given a PATCH whose connection SignalWire dropped before applying it (answered 504)
    created(api)
    api.emulator.inject_fault(Fault.CLOSE_CONNECTION, operation="update")
    first = patch(api, {"caller_id": "Ida"})
    # When the same change is sent again
    again = patch(api, {"caller_id": "Ida"})
    # Then it is applied once, and recorded
    assert problem(first) == (504, "upstream-timeout")
    assert (again.status, again.body["changed"]) == (200, ["caller_id"])
    assert api.emulator.updates_committed() == 1
    assert stored_request()["caller_id"] == "Ida"


# -- POST .../password and .../disable: a PUT of a password, re-sent when lost -------------------


@pytest.mark.parametrize(
    ("fault", "options"),
    [
        pytest.param(Fault.COMMIT_THEN_CLOSE, {}, id="committed, answer lost"),
        pytest.param(Fault.CLOSE_CONNECTION, {}, id="connection dropped"),
        pytest.param(Fault.SERVER_ERROR, {}, id="500"),
        pytest.param(Fault.NON_JSON, {}, id="non-JSON 200"),
        pytest.param(Fault.HANG, {"delay_seconds": HANG_PAST_READ_TIMEOUT}, id="hang"),
    ],
)
def test_a_lost_password_put_is_sent_again_and_answers_the_password_signalwire_holds(
    api: ProvisionerApi, fault: Fault, options: dict[str, Any]
) -> None:
    # Given SignalWire loses (or fails) the first password update
    old = created(api)["password"]
    api.emulator.inject_fault(fault, operation="update", **options)
    # When the password is reset
    answer = reset(api)
    # Then the same PUT was sent again, and the answered password is the one SignalWire holds
    assert answer.status == 200, answer.body
    assert api.emulator.requests_received("update") == 2
    assert answer.body["password"] != old
    if fault is Fault.HANG:
        wait_until(lambda: api.emulator.updates_committed() == 2, timeout=5, what="the hung update to commit")
    assert api.emulator.stored_password(USERNAME) == answer.body["password"]
    assert_inventory_and_signalwire_agree(api)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        pytest.param(Fault.SERVER_ERROR, (502, "upstream-error"), id="500 twice"),
        pytest.param(Fault.CLOSE_CONNECTION, (504, "upstream-timeout"), id="dropped twice"),
    ],
)
def test_a_password_put_failing_twice_is_answered_as_failed_and_gives_no_password(
    api: ProvisionerApi, fault: Fault, expected: tuple[int, str]
) -> None:
    # Given SignalWire fails the update and its re-send
    old = created(api)["password"]
    api.emulator.inject_fault(fault, operation="update", times=2)
    # When the password is reset
    answer = reset(api)
    # Then it fails, SignalWire still holds the old password, and the answer carries none
    assert problem(answer) == expected
    assert "password" not in answer.body
    assert api.emulator.stored_password(USERNAME) == old


def test_a_keyed_reset_retried_after_an_unconfirmed_answer_sets_and_answers_one_password(
    api: ProvisionerApi,
) -> None:
    # Given a keyed reset whose PUT and its re-send were both lost after being applied
    created(api)
    api.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE, operation="update", times=2)
    first = reset(api, headers=keyed())
    # When the caller retries under the same key
    retried = reset(api, headers=keyed())
    # Then the retry answers the very password SignalWire already holds (the first attempt's)
    assert problem(first) == (504, "upstream-timeout")
    assert retried.status == 200
    assert retried.body["password"] == api.emulator.stored_password(USERNAME)


def test_a_reset_of_a_disabled_endpoint_committed_whose_answer_was_lost_enables_it(api: ProvisionerApi) -> None:
    # Given a disabled endpoint, and SignalWire losing the answer to the reset's PUT
    created(api)
    assert disable(api).status == 200
    api.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE, operation="update")
    # When its password is reset
    answer = reset(api)
    # Then it answers the password SignalWire holds and the record is active again
    assert answer.status == 200
    assert api.emulator.stored_password(USERNAME) == answer.body["password"]
    record = current_record()
    assert record is not None
    assert record["status"] == "active"


def test_a_failed_reset_of_a_disabled_endpoint_leaves_it_disabled(api: ProvisionerApi) -> None:
    # Given a disabled endpoint, and SignalWire failing the reset's PUT and its re-send
    created(api)
    assert disable(api).status == 200
    locked = api.emulator.stored_password(USERNAME)
    api.emulator.inject_fault(Fault.SERVER_ERROR, operation="update", times=2)
    # When its password is reset
    answer = reset(api)
    # Then it fails and the endpoint stays disabled, with the password nobody knows
    assert problem(answer) == (502, "upstream-error")
    record = current_record()
    assert record is not None
    assert record["status"] == "disabled"
    assert api.emulator.stored_password(USERNAME) == locked


@pytest.mark.parametrize(
    ("fault", "options"),
    [
        pytest.param(Fault.COMMIT_THEN_CLOSE, {}, id="committed, answer lost"),
        pytest.param(Fault.CLOSE_CONNECTION, {}, id="connection dropped"),
        pytest.param(Fault.SERVER_ERROR, {}, id="500"),
        pytest.param(Fault.HANG, {"delay_seconds": HANG_PAST_READ_TIMEOUT}, id="hang"),
    ],
)
def test_a_lost_disable_put_is_sent_again_and_the_endpoint_is_disabled(
    api: ProvisionerApi, fault: Fault, options: dict[str, Any]
) -> None:
    # Given SignalWire loses (or fails) the first update of the disable
    given = created(api)["password"]
    api.emulator.inject_fault(fault, operation="update", **options)
    # When the endpoint is disabled
    answer = disable(api)
    # Then it is disabled: a password nobody was given, and the record says so
    assert (answer.status, answer.body) == (200, {"username": USERNAME, "status": "disabled"})
    if fault is Fault.HANG:
        wait_until(lambda: api.emulator.updates_committed() == 2, timeout=5, what="the hung update to commit")
    assert api.emulator.stored_password(USERNAME) not in (given, None)
    record = current_record()
    assert record is not None
    assert record["status"] == "disabled"
    assert_inventory_and_signalwire_agree(api)


def test_a_disable_failing_twice_is_a_502_and_the_endpoint_stays_active(api: ProvisionerApi) -> None:
    # Given SignalWire fails the disable's update and its re-send
    given = created(api)["password"]
    api.emulator.inject_fault(Fault.SERVER_ERROR, operation="update", times=2)
    # When the endpoint is disabled
    answer = disable(api)
    # Then it fails and nothing pretends otherwise: the record is active, the password the one given
    assert problem(answer) == (502, "upstream-error")
    record = current_record()
    assert record is not None
    assert record["status"] == "active"
    assert api.emulator.stored_password(USERNAME) == given


# -- DELETE: confirmed by a retrieve ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        pytest.param(Fault.SERVER_ERROR, (502, "upstream-error"), id="500"),
        pytest.param(Fault.SERVICE_UNAVAILABLE, (502, "upstream-error"), id="503 without Retry-After"),
        pytest.param(Fault.CLOSE_CONNECTION, (504, "upstream-timeout"), id="connection dropped"),
        pytest.param(Fault.NON_JSON, (502, "upstream-error"), id="non-JSON 200 from a proxy"),
    ],
)
def test_a_delete_signalwire_did_not_perform_is_answered_as_failed_and_the_record_stays_active(
    api: ProvisionerApi, fault: Fault, expected: tuple[int, str]
) -> None:
    # Given SignalWire (or a proxy in front of it) fails the delete without performing it
    created(api)
    api.emulator.inject_fault(fault, operation="delete")
    # When the endpoint is deleted
    answer = delete(api)
    # Then the answer says it failed, the endpoint is still there and so is its active record
    assert problem(answer) == expected
    assert api.emulator.deletes_committed() == 0
    assert len(api.emulator.endpoints) == 1
    record = current_record()
    assert record is not None
    assert record["status"] == "active"
    assert_inventory_and_signalwire_agree(api)


def test_a_rate_limited_delete_is_a_503_with_retry_after(api: ProvisionerApi) -> None:
    # Given SignalWire rate-limits the delete
    created(api)
    api.emulator.inject_fault(Fault.RATE_LIMITED, operation="delete", retry_after=9)
    # When the endpoint is deleted
    answer = delete(api)
    # Then Retry-After is passed on, and the endpoint and its record stay
    assert problem(answer) == (503, "upstream-unavailable")
    assert answer.headers["Retry-After"] == "9"
    assert len(api.emulator.endpoints) == 1
    assert_inventory_and_signalwire_agree(api)


def test_a_delete_committed_whose_answer_was_lost_is_confirmed_and_answered_204(api: ProvisionerApi) -> None:
    # Given SignalWire deletes the endpoint and drops the connection before answering
    created(api)
    api.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE, operation="delete")
    # When the endpoint is deleted
    answer = delete(api)
    # Then a retrieve found it gone: 204, one delete, the record deleted
    assert answer.status == 204
    assert api.emulator.requests_received("delete") == api.emulator.deletes_committed() == 1
    assert api.emulator.endpoints == []
    record = current_record()
    assert record is not None
    assert record["status"] == "deleted"


def test_a_delete_that_hangs_past_the_read_timeout_is_a_504_and_a_retry_records_the_delete(
    api: ProvisionerApi,
) -> None:
    # Given a keyed delete SignalWire holds past the read timeout, then performs
    created(api)
    api.emulator.inject_fault(Fault.HANG, operation="delete", delay_seconds=HANG_PAST_READ_TIMEOUT)
    first = delete(api, headers=keyed())
    wait_until(lambda: api.emulator.deletes_committed() == 1, timeout=5, what="the hung delete to commit")
    # When the workflow retries under the same key
    retried = delete(api, headers=keyed())
    # Then the first was unconfirmed; the retry sees it gone, records it deleted and deletes nothing more
    assert problem(first) == (504, "upstream-timeout")
    assert retried.status == 204
    assert api.emulator.requests_received("delete") == 1
    record = current_record()
    assert record is not None
    assert record["status"] == "deleted"


def test_a_retry_after_an_unconfirmed_delete_deletes_once_and_records_it(api: ProvisionerApi) -> None:
    # Given a delete whose connection SignalWire dropped before performing it (answered 504)
    created(api)
    api.emulator.inject_fault(Fault.CLOSE_CONNECTION, operation="delete")
    first = delete(api)
    # When the endpoint is deleted again
    again = delete(api)
    # Then it is deleted once, and the record says so
    assert problem(first) == (504, "upstream-timeout")
    assert again.status == 204
    assert api.emulator.deletes_committed() == 1
    record = current_record()
    assert record is not None
    assert record["status"] == "deleted"


# -- the look-up before any change -----------------------------------------------------------------


ROUTES = [
    ("GET", "", None),
    ("PATCH", "", {"caller_id": "Ida"}),
    ("POST", "/password", {}),
    ("POST", "/disable", None),
    ("DELETE", "", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES, ids=[f"{m} {s or '/'}" for m, s, _ in ROUTES])
@pytest.mark.parametrize(
    ("fault", "options", "expected"),
    [
        pytest.param(Fault.SERVER_ERROR, {}, (502, "upstream-error"), id="500"),
        pytest.param(Fault.HANG, {"delay_seconds": HANG_PAST_READ_TIMEOUT}, (504, "upstream-timeout"), id="hang"),
        pytest.param(Fault.RATE_LIMITED, {"retry_after": 4}, (503, "upstream-unavailable"), id="429"),
    ],
)
def test_a_failed_look_up_before_a_route_acts_changes_nothing(
    api: ProvisionerApi,
    method: str,
    suffix: str,
    body: object,
    fault: Fault,
    options: dict[str, Any],
    expected: tuple[int, str],
) -> None:
    # Given a managed endpoint, and SignalWire failing the retrieve every route starts with
    created(api)
    api.emulator.inject_fault(fault, operation="retrieve", **options)
    # When a route is called
    answer = api.request(method, path(suffix=suffix), body)
    # Then the fault is answered and nothing was sent that changes anything
    assert problem(answer) == expected
    assert (api.emulator.requests_received("update"), api.emulator.requests_received("delete")) == (0, 0)
    assert_inventory_and_signalwire_agree(api)


# -- every wait fits the function's time -----------------------------------------------------------


def invoke(api: ProvisionerApi, method: str, route: str, body: object, function: LambdaFunction) -> tuple[Answer, int]:
    """A request to the handler as a function with `function`'s timeout, and the milliseconds left after."""
    data = b"" if body is None else json.dumps(body).encode()
    event = build_event(method, route, "", [("Content-Type", "application/json")], data, caller=CALLER)
    api.module.wiring().warm_up()  # Lambda's INIT, which the invocation's timeout does not count
    context = LocalLambdaContext(function)
    result = api.module.lambda_handler(event, context)
    text = result.get("body") or ""
    return Answer(result["statusCode"], result["headers"], json.loads(text) if text else text), (
        context.get_remaining_time_in_millis()
    )


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES[1:], ids=[f"{m} {s or '/'}" for m, s, _ in ROUTES[1:]])
def test_a_change_signalwire_holds_longer_than_the_function_lives_is_answered_in_time(
    api: ProvisionerApi, monkeypatch: pytest.MonkeyPatch, method: str, suffix: str, body: object
) -> None:
    # Given a read timeout longer than the 3 s function, and SignalWire holding every update and delete
    created(api)
    monkeypatch.setenv("SIGNALWIRE_READ_TIMEOUT", "10")
    api.module.wiring.cache_clear()
    api.emulator.inject_fault(Fault.HANG, operation="update", times=5, delay_seconds=6.0)
    api.emulator.inject_fault(Fault.HANG, operation="delete", times=5, delay_seconds=6.0)
    # When the route is called
    answer, remaining_ms = invoke(api, method, path(suffix=suffix), body, LambdaFunction(timeout_seconds=3))
    # Then the service's own timeout answer comes back while the function still has time left
    assert problem(answer) == (504, "upstream-timeout")
    assert remaining_ms > 0


# -- a crash between the pending inventory write and its completion ---------------------------------


def create_giving_up(api: ProvisionerApi, function: LambdaFunction, headers: dict[str, str] | None = None) -> Answer:
    data = json.dumps({"username": USERNAME}).encode()
    event = build_event("POST", "/endpoints", "", list((headers or keyed()).items()), data, caller=CALLER)
    api.module.wiring().warm_up()  # Lambda's INIT, which the invocation's timeout does not count
    result = api.module.lambda_handler(event, LocalLambdaContext(function))
    return Answer(result["statusCode"], result["headers"], json.loads(result["body"]))


def wait_out_the_pending_window() -> None:
    record = current_record()
    assert record is not None
    assert record["status"] == "pending"
    while time.time() <= float(record["pending_until"]):
        time.sleep(0.1)


def test_a_create_whose_function_gave_up_is_settled_to_active_by_a_later_look_up(api: ProvisionerApi) -> None:
    # Given a create whose function gave up (504) while SignalWire held it, then committed it late
    api.emulator.inject_fault(Fault.HANG, delay_seconds=HANG_PAST_READ_TIMEOUT)
    first = create_giving_up(api, LambdaFunction(timeout_seconds=3), headers={"Content-Type": "application/json"})
    assert problem(first) == (504, "upstream-timeout")
    wait_until(lambda: api.emulator.creates_committed() == 1, timeout=5, what="the hung create to commit")
    record = current_record()
    assert record is not None
    assert record["status"] == "pending"
    wait_out_the_pending_window()
    # When the endpoint is looked up
    answer = api.request("GET", path())
    # Then the pending record is settled: active, with SignalWire's endpoint id
    assert answer.status == 200, answer.body
    [endpoint] = api.emulator.endpoints
    assert answer.body["managed"] is True
    assert (answer.body["record"]["status"], answer.body["record"]["endpoint_id"]) == ("active", endpoint["id"])
    assert [s["username"] for s in api.request("GET", "/endpoints").body["endpoints"]] == [USERNAME]
    assert_inventory_and_signalwire_agree(api)


def test_a_create_whose_function_gave_up_is_settled_by_a_keyed_retry_with_its_password(api: ProvisionerApi) -> None:
    # Given a keyed create whose function gave up (504) while SignalWire held it, then committed it late
    api.emulator.inject_fault(Fault.HANG, delay_seconds=HANG_PAST_READ_TIMEOUT)
    first = api.create({"username": USERNAME}, headers=keyed())
    wait_until(lambda: api.emulator.creates_committed() == 1, timeout=5, what="the hung create to commit")
    # When the caller retries under the same key
    retried = api.create({"username": USERNAME}, headers=keyed())
    # Then it gets the endpoint and its password, and the record is active with the endpoint's id
    assert problem(first) == (504, "upstream-timeout")
    assert retried.status == 201, retried.body
    [endpoint] = api.emulator.endpoints
    assert retried.body["password"] == endpoint["password"]
    assert api.emulator.creates_committed() == 1
    record = current_record()
    assert record is not None
    assert (record["status"], record["endpoint_id"]) == ("active", endpoint["id"])
    assert_inventory_and_signalwire_agree(api)


def test_an_unkeyed_create_after_a_late_committed_one_is_taken_and_settles_the_record(api: ProvisionerApi) -> None:
    # Given an unkeyed create whose function gave up while SignalWire held it, then committed it late
    api.emulator.inject_fault(Fault.HANG, delay_seconds=HANG_PAST_READ_TIMEOUT)
    create_giving_up(api, LambdaFunction(timeout_seconds=3), headers={"Content-Type": "application/json"})
    wait_until(lambda: api.emulator.creates_committed() == 1, timeout=5, what="the hung create to commit")
    wait_out_the_pending_window()
    # When someone asks for the same username again
    again = api.create({"username": USERNAME})
    # Then it is taken, and the endpoint has its record (settled, never released)
    assert problem(again) == (409, "username-taken")
    record = current_record()
    assert record is not None
    assert record["status"] == "active"
    assert_inventory_and_signalwire_agree(api)


def test_a_keyed_retry_claims_a_create_that_committed_after_its_pending_record_was_settled_away(
    api: ProvisionerApi,
) -> None:
    # Given a keyed create held by SignalWire longer than its function lived, whose pending record a
    # look-up settled (and released) before the create committed
    api.emulator.inject_fault(Fault.HANG, delay_seconds=5.0)
    first = create_giving_up(api, LambdaFunction(timeout_seconds=3))
    assert problem(first) == (504, "upstream-timeout")
    wait_out_the_pending_window()
    assert problem(api.request("GET", path())) == (404, "endpoint-not-found")
    wait_until(lambda: api.emulator.creates_committed() == 1, timeout=10, what="the hung create to commit")
    # When the caller retries under the same key
    retried = api.create({"username": USERNAME}, headers=keyed())
    # Then the endpoint its earlier attempt created is claimed, with its password, and has its record
    assert retried.status == 201, retried.body
    assert retried.body["password"] == api.emulator.stored_password(USERNAME)
    assert_inventory_and_signalwire_agree(api)
