"""Whose endpoint is it: issue 19, defects 1 and 2, through the real handler and the emulator
(CONTRACT.md section 1 "Idempotency", section 4 "cache of SignalWire's truth").

1. An endpoint that existed before a request's (or its key's) first create left is never
   claimed, however equal its settings: not by the recovery after a lost answer, with or
   without a key, and not by the settling of a stale `pending` reservation.
2. The inventory's endpoint id is a cache: when SignalWire deleted the endpoint, or another
   endpoint holds the username now, the service answers as SignalWire is. A managed endpoint
   gone from SignalWire may be created again (its record follows), `GET` of a username
   SignalWire holds is never `endpoint-not-found`, and no route touches an endpoint the
   record does not name.
"""

import json
import time
from typing import Any
from urllib.parse import quote

import boto3
import pytest
import requests

from local.gateway import LambdaFunction, LocalLambdaContext, build_event
from local.signalwire_emulator import COLLECTION_PATH, Fault
from tests.integration.conftest import CALLER, INVENTORY_TABLE, Answer, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

USERNAME = "ida"
KEY = "onboarding-ida"
THEIR_PASSWORD = "made-by-hand-password-1"
JSON = {"Content-Type": "application/json"}


def keyed(key: str = KEY) -> dict[str, str]:
    return {**JSON, "Idempotency-Key": key}


def path(username: str = USERNAME, suffix: str = "") -> str:
    return f"/endpoints/{quote(username, safe='')}{suffix}"


def problem(answer: Answer) -> tuple[int, str]:
    return answer.status, answer.body["type"] if isinstance(answer.body, dict) else repr(answer.body)


def signalwire(api: ProvisionerApi, method: str, suffix: str = "", body: object = None) -> requests.Response:
    """A call straight to SignalWire, past the service, as anyone with the project's credentials."""
    response = requests.request(
        method,
        f"{api.emulator.base_url}{COLLECTION_PATH}{suffix}",
        json=body,
        auth=(api.emulator.project_id, api.emulator.api_token),
        timeout=5,
    )
    response.raise_for_status()
    return response


def made_outside_as_the_request_would_be(api: ProvisionerApi, request: dict[str, Any]) -> dict[str, Any]:
    """An endpoint made outside the service with exactly the settings `request` would send."""
    preview = api.create(request, query="dry_run=true")
    assert preview.status == 200, preview.body
    settings = {**preview.body["payload"], "password": THEIR_PASSWORD}
    return dict(signalwire(api, "POST", body=settings).json())


def delete_outside(api: ProvisionerApi, username: str = USERNAME) -> None:
    [endpoint] = [e for e in api.emulator.endpoints if e["username"] == username]
    signalwire(api, "DELETE", f"/{endpoint['id']}")


def create_outside(api: ProvisionerApi, username: str = USERNAME) -> dict[str, Any]:
    body = {"username": username, "password": THEIR_PASSWORD, "call_handler": "relay_connector"}
    return dict(signalwire(api, "POST", body=body).json())


def inventory_items(username: str = USERNAME) -> list[dict[str, Any]]:
    """Every inventory item of the username (current and archived), as stored."""
    items = boto3.client("dynamodb").query(
        TableName=INVENTORY_TABLE,
        KeyConditionExpression="username = :u",
        ExpressionAttributeValues={":u": {"S": username}},
        ConsistentRead=True,
    )["Items"]
    return [{name: next(iter(value.values())) for name, value in item.items()} for item in items]


def managed_ids() -> list[str]:
    """The SignalWire ids the inventory says the service manages (live current records)."""
    return [
        str(item["endpoint_id"])
        for item in inventory_items()
        if item["record"] == "current" and item["status"] in ("active", "disabled") and "endpoint_id" in item
    ]


def assert_not_claimed(api: ProvisionerApi, theirs: dict[str, Any]) -> None:
    """The foreign endpoint is as its maker left it, and nothing of the service claims it."""
    looked_up = api.request("GET", path())
    assert looked_up.status == 200, looked_up.body
    assert (looked_up.body["managed"], looked_up.body["record"]) == (False, None)
    assert looked_up.body["endpoint"]["id"] == theirs["id"]
    assert theirs["id"] not in managed_ids()
    assert api.emulator.stored_password(USERNAME) == THEIR_PASSWORD


# -- 1. an endpoint that was there first is never claimed --------------------------------------------


@pytest.mark.parametrize("headers", [JSON, keyed()], ids=["without a key", "with a key"])
def test_an_endpoint_made_outside_with_the_requests_settings_is_not_claimed_when_the_create_answer_is_lost(
    api: ProvisionerApi, headers: dict[str, str]
) -> None:
    # Given ida made outside the service with exactly the settings the request would send
    theirs = made_outside_as_the_request_would_be(api, {"username": USERNAME})
    # And SignalWire dropping the answer to the next create (whether it committed or not)
    api.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE)
    # When ida is requested
    answer = api.create({"username": USERNAME}, headers=headers)
    # Then the username is taken: no 201, no password SignalWire does not hold, nothing claimed
    assert problem(answer) == (409, "username-taken")
    assert_not_claimed(api, theirs)


def test_a_keyed_retry_after_the_username_was_found_taken_does_not_claim_it_either(api: ProvisionerApi) -> None:
    # Given ida made outside with the request's settings, and a keyed request told it is taken
    theirs = made_outside_as_the_request_would_be(api, {"username": USERNAME})
    first = api.create({"username": USERNAME}, headers=keyed())
    # When the workflow retries under the same key, SignalWire dropping the create's answer
    api.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE)
    retried = api.create({"username": USERNAME}, headers=keyed())
    # Then the retry is taken too, and the endpoint stays theirs
    assert problem(first) == problem(retried) == (409, "username-taken")
    assert_not_claimed(api, theirs)


def create_giving_up(api: ProvisionerApi, function: LambdaFunction) -> Answer:
    """POST /endpoints for ida by a function with `function`'s (short) timeout."""
    event = build_event("POST", "/endpoints", "", list(JSON.items()), json.dumps({"username": USERNAME}).encode())
    api.module.wiring().warm_up()  # Lambda's INIT, which the invocation's timeout does not count
    result = api.module.lambda_handler(event, LocalLambdaContext(function))
    return Answer(result["statusCode"], result["headers"], json.loads(result["body"]))


def test_a_create_that_gave_up_over_an_endpoint_made_outside_leaves_nothing_that_settles_into_a_claim(
    api: ProvisionerApi,
) -> None:
    # Given ida made outside with the request's settings, and a create whose function gives up
    # while SignalWire holds it
    theirs = made_outside_as_the_request_would_be(api, {"username": USERNAME})
    api.emulator.inject_fault(Fault.HANG, delay_seconds=1.0)
    create_giving_up(api, LambdaFunction(timeout_seconds=3))
    # When the username is looked up once any reservation it left has run out of time
    for item in inventory_items():
        while item.get("status") == "pending" and time.time() <= float(item["pending_until"]):
            time.sleep(0.1)
    # Then nothing settled into a claim: the endpoint is still theirs
    assert_not_claimed(api, theirs)


def test_a_stale_pending_reservation_without_proof_the_username_was_free_is_released_not_settled_into_a_claim(
    api: ProvisionerApi,
) -> None:
    # Given a pending reservation of ida whose attempt is long over, as a service that did not
    # look first left it, and ida made outside with the settings that attempt would have sent
    theirs = made_outside_as_the_request_would_be(api, {"username": USERNAME})
    stamp = "2026-01-01T00:00:00.000000Z"
    pending = {
        "username": USERNAME,
        "record": "current",
        "listing": "endpoint",
        "request": json.dumps({"profile": "default", "username": USERNAME}),
        "profile": "default",
        "created_by": CALLER.user_arn,
        "created_via": "http",
        "created_at": stamp,
        "updated_at": stamp,
        "status": "pending",
        "attempt_id": "an-attempt-long-over",
    }
    item = {name: {"S": value} for name, value in pending.items()}
    item["pending_until"] = {"N": str(int(time.time()) - 60)}
    boto3.client("dynamodb").put_item(TableName=INVENTORY_TABLE, Item=item)
    # When the username is looked up, which settles the reservation
    # Then the endpoint is not claimed, and the reservation is gone
    assert_not_claimed(api, theirs)
    assert inventory_items() == []


def test_a_create_whose_answer_was_lost_still_claims_its_own_endpoint(api: ProvisionerApi) -> None:
    # Given SignalWire commits the create of ida and drops its answer, the username free before
    api.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE)
    # When ida is requested
    answer = api.create({"username": USERNAME})
    # Then the endpoint found after the lost answer is this create's: 201 with the password SignalWire holds
    assert answer.status == 201, answer.body
    assert answer.body["password"] == api.emulator.stored_password(USERNAME)
    assert managed_ids() == [answer.body["endpoint"]["id"]]


# -- 2. the inventory's id is a cache of SignalWire's truth -------------------------------------------


def test_a_managed_endpoint_deleted_outside_can_be_created_again_and_its_record_follows(api: ProvisionerApi) -> None:
    # Given a managed ida that someone deleted straight in SignalWire
    first = api.create({"username": USERNAME, "owner": "E1001"})
    delete_outside(api)
    # When ida is created again
    again = api.create({"username": USERNAME, "owner": "E1001"})
    # Then it is created; the current record names the new endpoint, the old one is kept as deleted
    assert again.status == 201, again.body
    assert again.body["endpoint"]["id"] != first.body["endpoint"]["id"]
    view = api.request("GET", path()).body
    assert (view["managed"], view["record"]["endpoint_id"]) == (True, again.body["endpoint"]["id"])
    deleted = [item for item in inventory_items() if item["record"] != "current"]
    assert [(item["status"], item["endpoint_id"]) for item in deleted] == [("deleted", first.body["endpoint"]["id"])]


def test_a_username_taken_over_outside_is_looked_up_as_signalwire_holds_it_unmanaged(api: ProvisionerApi) -> None:
    # Given a managed ida deleted straight in SignalWire, and ida made there again by someone else
    api.create({"username": USERNAME})
    delete_outside(api)
    theirs = create_outside(api)
    # When ida is looked up
    answer = api.request("GET", path())
    # Then it is their endpoint, as SignalWire has it, not managed
    assert answer.status == 200, answer.body
    assert (answer.body["endpoint"]["id"], answer.body["managed"], answer.body["record"]) == (theirs["id"], False, None)
    assert answer.body["drift"] == []


def test_a_managed_endpoint_deleted_outside_is_looked_up_as_not_found(api: ProvisionerApi) -> None:
    # Given a managed ida deleted straight in SignalWire
    api.create({"username": USERNAME})
    delete_outside(api)
    # When ida is looked up
    # Then SignalWire has no such endpoint
    assert problem(api.request("GET", path())) == (404, "endpoint-not-found")


CHANGING_ROUTES: list[tuple[str, str, object]] = [
    ("PATCH", "", {"caller_id": "X"}),
    ("POST", "/password", {}),
    ("POST", "/disable", None),
    ("DELETE", "", None),
]


@pytest.mark.parametrize(
    ("method", "suffix", "body"), CHANGING_ROUTES, ids=[f"{m} {s or '/'}" for m, s, _ in CHANGING_ROUTES]
)
def test_a_username_taken_over_outside_is_not_managed_on_every_changing_route_and_stays_untouched(
    api: ProvisionerApi, method: str, suffix: str, body: object
) -> None:
    # Given a managed ida deleted straight in SignalWire, and ida made there again by someone else
    api.create({"username": USERNAME})
    delete_outside(api)
    create_outside(api)
    before = api.emulator.endpoints
    updates_before = api.emulator.requests_received("update")
    # When a route that would change it is called
    answer = api.request(method, path(suffix=suffix), body)
    # Then it is not the service's to change: 409, and their endpoint is as it was
    assert problem(answer) == (409, "endpoint-not-managed")
    assert api.emulator.endpoints == before
    assert (api.emulator.requests_received("update"), api.emulator.requests_received("delete")) == (updates_before, 1)


@pytest.mark.parametrize(
    ("method", "suffix", "body"), CHANGING_ROUTES[:3], ids=[f"{m} {s or '/'}" for m, s, _ in CHANGING_ROUTES[:3]]
)
def test_a_managed_endpoint_deleted_outside_is_not_found_on_the_routes_that_change_it(
    api: ProvisionerApi, method: str, suffix: str, body: object
) -> None:
    # Given a managed ida deleted straight in SignalWire
    api.create({"username": USERNAME})
    delete_outside(api)
    # When a route that would change it is called
    answer = api.request(method, path(suffix=suffix), body)
    # Then SignalWire has no such endpoint, and nothing was sent to change one
    assert problem(answer) == (404, "endpoint-not-found")
    assert api.emulator.requests_received("update") == 0


def test_a_username_taken_over_outside_is_taken_for_a_create(api: ProvisionerApi) -> None:
    # Given a managed ida deleted straight in SignalWire, and ida made there again by someone else
    api.create({"username": USERNAME})
    delete_outside(api)
    theirs = create_outside(api)
    # When ida is created
    answer = api.create({"username": USERNAME})
    # Then the username is taken, and their endpoint is theirs
    assert problem(answer) == (409, "username-taken")
    assert_not_claimed(api, theirs)
