"""Adopt an existing endpoint and list the unmanaged ones, through the real handler (CONTRACT.md
section 9).

SignalWire is the emulator over real HTTP. An endpoint "made outside" is created the way a script
holding the project's credentials would make it: straight to SignalWire, past the service.
"""

import base64
import json
import threading
import time
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import pytest
import requests

from local.gateway import IamCaller, LambdaFunction, LocalLambdaContext
from local.signalwire_emulator import COLLECTION_PATH, Fault
from sip_provisioning.callers import workflow
from sip_provisioning.use_cases import list_unmanaged
from tests.integration.conftest import CALLER, INVENTORY_TABLE, SIP_DOMAIN, Answer, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

JSON = {"Content-Type": "application/json"}
ADMIN = CALLER
STRANGER = IamCaller(user_arn="arn:aws:iam::123456789012:user/mallory")
OUTSIDE_PASSWORD = "a-password-only-the-old-script-knew-42"
# An endpoint as the office profile would build it, but with the person's own caller id and number.
OFFICE_LIKE: dict[str, Any] = {
    "caller_id": "Ada Lovelace",
    "send_as": "+15551230001",
    "encryption": "optional",
    "codecs": ["G722", "PCMU", "PCMA"],
    "call_handler": "laml_webhooks",
    "call_request_url": "https://office.example.com/laml/desk",
    "call_request_method": "GET",
    "call_fallback_url": "https://office-fallback.example.com/laml/desk",
    "call_fallback_method": "GET",
    "call_status_callback_url": "https://office.example.com/laml/status",
    "call_status_callback_method": "POST",
}
RELAY_CONNECTOR = {"call_handler": "relay_connector"}


# -- helpers ------------------------------------------------------------------------------------


def made_outside(api: ProvisionerApi, username: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """An endpoint created straight in SignalWire, past the service: unmanaged."""
    answer = requests.post(
        f"{api.emulator.base_url}{COLLECTION_PATH}",
        json={"username": username, "password": OUTSIDE_PASSWORD, **(RELAY_CONNECTOR if fields is None else fields)},
        auth=(api.emulator.project_id, api.emulator.api_token),
        timeout=5,
    )
    answer.raise_for_status()
    endpoint: dict[str, Any] = answer.json()
    return endpoint


def path(username: str, suffix: str = "") -> str:
    return f"/endpoints/{quote(username, safe='')}{suffix}"


def adopt(
    api: ProvisionerApi,
    username: str,
    body: object,
    *,
    dry_run: bool = False,
    key: str | None = None,
    caller: IamCaller = ADMIN,
) -> Answer:
    headers = {**JSON, "Idempotency-Key": key} if key else JSON
    query = "dry_run=true" if dry_run else ""
    return api.request("POST", path(username, "/adopt"), body, query=query, headers=headers, caller=caller)


def unmanaged(api: ProvisionerApi, query: str = "", caller: IamCaller = ADMIN) -> Answer:
    return api.request("GET", "/endpoints", query="managed=false" + (f"&{query}" if query else ""), caller=caller)


def upstream(api: ProvisionerApi, username: str) -> dict[str, Any]:
    [endpoint] = [e for e in api.emulator.endpoints if e["username"] == username]
    return endpoint


def inventory_items(username: str) -> list[dict[str, Any]]:
    answer = boto3.client("dynamodb").query(
        TableName=INVENTORY_TABLE,
        KeyConditionExpression="username = :u",
        ExpressionAttributeValues={":u": {"S": username}},
    )
    items: list[dict[str, Any]] = answer["Items"]
    return items


def upstream_writes(api: ProvisionerApi) -> int:
    return sum(api.emulator.requests_received(operation) for operation in ("create", "update", "delete"))


def problem(answer: Answer) -> tuple[int, str]:
    return answer.status, answer.body["type"]


def put_deployment_policy(api: ProvisionerApi, policy: dict[str, Any]) -> None:
    api.put_parameter("policy", json.dumps(policy))


# -- adopt --------------------------------------------------------------------------------------


def test_adopting_an_endpoint_made_outside_records_it_as_adopted_by_the_caller(api: ProvisionerApi) -> None:
    # Given an endpoint made outside the service
    endpoint = made_outside(api, "ada", OFFICE_LIKE)
    # When an admin adopts it into the office profile for an owner
    answer = adopt(api, "ada", {"profile": "office", "owner": "E1001"})
    # Then the answer is the endpoint, its SIP URI, managed, and a record of the adoption
    assert answer.status == 200, answer.body
    assert answer.body["endpoint"] == endpoint
    assert answer.body["sip_uri"] == f"sip:ada@{SIP_DOMAIN}"
    assert answer.body["managed"] is True
    record = answer.body["record"]
    assert (record["username"], record["endpoint_id"], record["status"]) == ("ada", endpoint["id"], "active")
    assert (record["created_via"], record["created_by"]) == ("adopted", ADMIN.user_arn)
    assert (record["profile"], record["owner"]) == ("office", "E1001")
    assert record["adopted_at"]
    assert record["password_secret_arn"] is None


def test_the_stored_request_is_username_profile_owner_and_the_endpoints_own_caller_id_and_send_as(
    api: ProvisionerApi,
) -> None:
    # Given an endpoint made outside with its own caller id and number
    made_outside(api, "ada", OFFICE_LIKE)
    # When it is adopted
    record = adopt(api, "ada", {"profile": "office", "owner": "E1001"}).body["record"]
    # Then the record's request holds what a profile cannot know, and nothing else
    assert record["request"] == {
        "username": "ada",
        "profile": "office",
        "owner": "E1001",
        "caller_id": "Ada Lovelace",
        "send_as": "+15551230001",
    }


def test_adopting_changes_nothing_in_signalwire(api: ProvisionerApi) -> None:
    # Given an endpoint made outside that differs from the profile it is adopted into
    made_outside(api, "ada", {**OFFICE_LIKE, "codecs": ["PCMU"]})
    before, writes_before = upstream(api, "ada"), upstream_writes(api)
    # When it is adopted
    answer = adopt(api, "ada", {"profile": "office"})
    # Then no write reached SignalWire: the endpoint, its password included, is as it was
    assert answer.status == 200, answer.body
    assert upstream_writes(api) == writes_before
    assert upstream(api, "ada") == before


def test_an_adopted_endpoint_in_line_with_its_profile_but_for_its_own_fields_has_no_drift(
    api: ProvisionerApi,
) -> None:
    # Given an endpoint made outside as the office profile builds it, with its own caller id and number
    made_outside(api, "ada", OFFICE_LIKE)
    # When it is adopted into the office profile
    answer = adopt(api, "ada", {"profile": "office"})
    # Then it has no drift: its own caller id and number are kept, not measured against the profile
    assert answer.body["drift"] == []


def test_the_drift_of_an_adopted_endpoint_is_what_differs_from_its_profile(api: ProvisionerApi) -> None:
    # Given an endpoint made outside whose codecs and request URL differ from the office profile
    made_outside(api, "ada", {**OFFICE_LIKE, "codecs": ["PCMU"], "call_request_url": "https://old.example.net/x"})
    # When it is adopted, and then looked up
    adopted = adopt(api, "ada", {"profile": "office"})
    looked_up = api.request("GET", path("ada"))
    # Then both name exactly those fields, expected as the profile builds them
    expected = [
        {"field": "codecs", "expected": ["G722", "PCMU", "PCMA"], "actual": ["PCMU"]},
        {
            "field": "call_request_url",
            "expected": "https://office.example.com/laml/desk",
            "actual": "https://old.example.net/x",
        },
    ]
    assert sorted(adopted.body["drift"], key=str) == sorted(expected, key=str)
    assert looked_up.body["drift"] == adopted.body["drift"]
    assert (looked_up.body["managed"], looked_up.body["record"]["created_via"]) == (True, "adopted")


def test_a_reset_after_adopt_gives_a_new_password_that_signalwire_holds(api: ProvisionerApi) -> None:
    # Given an adopted endpoint whose password the service never knew
    made_outside(api, "ada", OFFICE_LIKE)
    adopt(api, "ada", {"profile": "office"})
    # When its password is reset
    answer = api.request("POST", path("ada", "/password"), {})
    # Then a new generated password is answered, and it is the one SignalWire now holds
    assert answer.status == 200, answer.body
    assert answer.body["password"] != OUTSIDE_PASSWORD
    assert api.emulator.stored_password("ada") == answer.body["password"]


def test_an_adopted_endpoint_is_changed_disabled_and_deleted_as_any_managed_one(api: ProvisionerApi) -> None:
    # Given an adopted endpoint whose codecs drifted from its profile
    made_outside(api, "ada", {**OFFICE_LIKE, "codecs": ["PCMU"]})
    adopt(api, "ada", {"profile": "office"})
    # When the profile is re-applied, then it is disabled, then deleted
    patched = api.request("PATCH", path("ada"), {})
    disabled = api.request("POST", path("ada", "/disable"))
    deleted = api.request("DELETE", path("ada"))
    # Then each works: only the drifted field is sent, its own caller id stays, and it is gone at last
    assert (patched.status, patched.body["changed"]) == (200, ["codecs"])
    assert patched.body["endpoint"]["caller_id"] == "Ada Lovelace"
    assert (disabled.status, disabled.body["status"]) == (200, "disabled")
    assert deleted.status == 204
    assert api.emulator.endpoints == []


def test_a_dry_run_shows_the_record_it_would_write_and_the_drift_and_stores_nothing(api: ProvisionerApi) -> None:
    # Given an endpoint made outside whose codecs differ from the office profile
    made_outside(api, "ada", {**OFFICE_LIKE, "codecs": ["PCMU"]})
    writes_before = upstream_writes(api)
    # When its adoption is tried as a dry run
    answer = adopt(api, "ada", {"profile": "office", "owner": "E1001"}, dry_run=True)
    # Then the record and drift are shown, and nothing is stored or sent
    assert answer.status == 200, answer.body
    assert answer.body["dry_run"] is True
    assert answer.body["would_adopt"]["created_via"] == "adopted"
    assert answer.body["would_adopt"]["owner"] == "E1001"
    assert [drift["field"] for drift in answer.body["drift"]] == ["codecs"]
    assert set(answer.body) == {"dry_run", "would_adopt", "drift"}
    assert inventory_items("ada") == []
    assert upstream_writes(api) == writes_before


def test_adopting_a_username_signalwire_does_not_hold_is_endpoint_not_found(api: ProvisionerApi) -> None:
    # Given no endpoint named ada anywhere
    # When ada is adopted
    answer = adopt(api, "ada", {"profile": "office"})
    # Then it is a 404 and nothing is stored
    assert problem(answer) == (404, "endpoint-not-found")
    assert inventory_items("ada") == []


def test_adopting_an_endpoint_the_service_created_is_endpoint_already_managed(api: ProvisionerApi) -> None:
    # Given an endpoint the service created
    api.create({"username": "ada", "profile": "office"})
    record_before = inventory_items("ada")
    # When it is adopted
    answer = adopt(api, "ada", {"profile": "support"})
    # Then it is a 409 endpoint-already-managed, and its record is unchanged
    assert problem(answer) == (409, "endpoint-already-managed")
    assert inventory_items("ada") == record_before


def test_adopting_an_endpoint_twice_is_endpoint_already_managed_the_second_time(api: ProvisionerApi) -> None:
    # Given an endpoint made outside and adopted once
    made_outside(api, "ada", OFFICE_LIKE)
    first = adopt(api, "ada", {"profile": "office"})
    # When it is adopted again
    second = adopt(api, "ada", {"profile": "office", "owner": "E2002"})
    # Then the second is a 409, and the first record stands
    assert problem(second) == (409, "endpoint-already-managed")
    assert api.request("GET", path("ada")).body["record"] == first.body["record"]


def test_two_adopts_of_one_username_at_once_write_one_record_and_the_other_is_already_managed(
    api: ProvisionerApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an endpoint made outside, and SignalWire slow to answer the first adopt's lookup
    monkeypatch.setenv("SIGNALWIRE_READ_TIMEOUT", "10")  # slow, never lost
    made_outside(api, "ada", OFFICE_LIKE)
    api.emulator.inject_fault(Fault.HANG, operation="list", delay_seconds=1.0)
    answers: dict[str, Answer] = {}
    slow = threading.Thread(target=lambda: answers.update(slow=adopt(api, "ada", {"profile": "office"})))
    slow.start()
    deadline = time.monotonic() + 10
    while api.emulator.requests_received("list") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    # When a second adopt of ada runs while the first waits on SignalWire past its inventory read
    answers["fast"] = adopt(api, "ada", {"profile": "office", "owner": "E2002"})
    slow.join()
    # Then exactly one wrote the one current record, and the other is a 409
    outcomes = sorted(answer.status for answer in answers.values())
    assert outcomes == [200, 409], {name: answer.body for name, answer in answers.items()}
    [loser] = [answer for answer in answers.values() if answer.status == 409]
    [winner] = [answer for answer in answers.values() if answer.status == 200]
    assert loser.body["type"] == "endpoint-already-managed"
    assert len(inventory_items("ada")) == 1
    assert api.request("GET", path("ada")).body["record"] == winner.body["record"]


def test_a_username_the_service_deleted_and_someone_made_again_outside_is_adopted_its_old_record_kept(
    api: ProvisionerApi,
) -> None:
    # Given ada created by the service, deleted by it, then made again outside it
    api.create({"username": "ada", "profile": "office", "owner": "E1001"})
    api.request("DELETE", path("ada"))
    endpoint = made_outside(api, "ada", OFFICE_LIKE)
    # When ada is adopted
    answer = adopt(api, "ada", {"profile": "office", "owner": "E3003"})
    # Then the new record is the current one, and the deleted one is kept beside it
    assert answer.status == 200, answer.body
    assert answer.body["record"]["endpoint_id"] == endpoint["id"]
    deleted = api.request("GET", "/endpoints", query="status=deleted").body["endpoints"]
    current = api.request("GET", "/endpoints").body["endpoints"]
    assert [(e["username"], e["owner"]) for e in deleted] == [("ada", "E1001")]
    assert [(e["username"], e["owner"]) for e in current] == [("ada", "E3003")]
    assert len(inventory_items("ada")) == 2


def deleted_outside_and_made_again(api: ProvisionerApi, username: str) -> dict[str, Any]:
    """A managed endpoint deleted straight in SignalWire, and another made there under its username:
    the record's id is stale, and what SignalWire holds is not the service's."""
    assert api.create({"username": username, "profile": "office", "owner": "E1001"}).status == 201
    requests.delete(
        f"{api.emulator.base_url}{COLLECTION_PATH}/{upstream(api, username)['id']}",
        auth=(api.emulator.project_id, api.emulator.api_token),
        timeout=5,
    ).raise_for_status()
    return made_outside(api, username, OFFICE_LIKE)


def test_an_endpoint_made_outside_under_a_record_whose_endpoint_was_deleted_outside_is_adopted(
    api: ProvisionerApi,
) -> None:
    # Given ada created by the service, deleted in SignalWire behind its back, then made again there
    endpoint = deleted_outside_and_made_again(api, "ada")
    assert api.request("GET", path("ada")).body["managed"] is False
    # When ada is adopted
    answer = adopt(api, "ada", {"profile": "office", "owner": "E3003"})
    # Then the new endpoint is adopted, and the old record follows SignalWire: kept, deleted outside
    assert answer.status == 200, answer.body
    assert answer.body["record"]["endpoint_id"] == endpoint["id"]
    deleted = api.request("GET", "/endpoints", query="status=deleted").body["endpoints"]
    assert [(e["username"], e["owner"]) for e in deleted] == [("ada", "E1001")]
    assert api.request("GET", path("ada")).body["managed"] is True


def test_a_dry_run_under_a_record_whose_endpoint_was_deleted_outside_stores_nothing(api: ProvisionerApi) -> None:
    # Given ada created by the service, deleted in SignalWire behind its back, then made again there
    deleted_outside_and_made_again(api, "ada")
    items_before = inventory_items("ada")
    # When its adoption is tried as a dry run
    answer = adopt(api, "ada", {"profile": "office"}, dry_run=True)
    # Then the record it would get is shown, and the old record is untouched
    assert answer.status == 200, answer.body
    assert inventory_items("ada") == items_before


def test_a_username_whose_create_is_still_running_is_endpoint_already_managed(api: ProvisionerApi) -> None:
    # Given ada made outside, and a pending record of a create of ada still within its time
    made_outside(api, "ada", OFFICE_LIKE)
    put_pending(api, "ada", pending_until=int(time.time()) + 600)
    # When ada is adopted
    answer = adopt(api, "ada", {"profile": "office"})
    # Then it is a 409, and the pending record is untouched
    assert problem(answer) == (409, "endpoint-already-managed")
    assert [item["status"]["S"] for item in inventory_items("ada")] == ["pending"]


def test_a_pending_record_left_by_a_crash_that_proved_the_username_free_is_settled_as_managed_not_adopted(
    api: ProvisionerApi,
) -> None:
    # Given ada in SignalWire, and a pending record of a create whose time ran out, which had
    # proved the username free before its create left
    made_outside(api, "ada", OFFICE_LIKE)
    put_pending(api, "ada", pending_until=int(time.time()) - 1, username_was_free=True)
    # When ada is adopted
    answer = adopt(api, "ada", {"profile": "office"})
    # Then, as a create would, the pending record is settled: the crashed create made it, so it is managed
    assert problem(answer) == (409, "endpoint-already-managed")
    [item] = inventory_items("ada")
    assert (item["status"]["S"], item["created_via"]["S"]) == ("active", "http")


def test_a_pending_record_left_by_a_crash_without_proof_is_released_and_the_endpoint_adopted(
    api: ProvisionerApi,
) -> None:
    # Given ada in SignalWire, and a pending record of a create whose time ran out without proof
    # that the username was free (so the endpoint may have been there first)
    made_outside(api, "ada", OFFICE_LIKE)
    put_pending(api, "ada", pending_until=int(time.time()) - 1, username_was_free=False)
    # When ada is adopted
    answer = adopt(api, "ada", {"profile": "office"})
    # Then, as a create would, the reservation is released, and the endpoint is adopted
    assert answer.status == 200, answer.body
    [item] = inventory_items("ada")
    assert (item["status"]["S"], item["created_via"]["S"]) == ("active", "adopted")


def put_pending(api: ProvisionerApi, username: str, *, pending_until: int, username_was_free: bool = True) -> None:
    """A create's reservation as the service writes it before sending the create."""
    stamp = "2026-01-01T00:00:00.000000Z"
    boto3.client("dynamodb").put_item(
        TableName=INVENTORY_TABLE,
        Item={
            "username": {"S": username},
            "record": {"S": "current"},
            "listing": {"S": "endpoint"},
            "request": {"S": json.dumps({"username": username, "profile": "default"})},
            "profile": {"S": "default"},
            "created_by": {"S": ADMIN.user_arn},
            "created_via": {"S": "http"},
            "created_at": {"S": stamp},
            "updated_at": {"S": stamp},
            "status": {"S": "pending"},
            "attempt_id": {"S": "an-earlier-attempt"},
            "pending_until": {"N": str(pending_until)},
            "username_was_free": {"BOOL": username_was_free},
        },
    )


def test_an_unknown_profile_is_a_422_listing_the_known_ones(api: ProvisionerApi) -> None:
    # Given an endpoint made outside
    made_outside(api, "ada", OFFICE_LIKE)
    # When it is adopted into a profile that does not exist
    answer = adopt(api, "ada", {"profile": "no-such-profile"})
    # Then it is a 422 naming profile and listing the known ones, and nothing is stored
    assert problem(answer) == (422, "validation-error")
    [error] = answer.body["errors"]
    assert error["field"] == "profile"
    assert "default, office, onboarding, support, video-kiosk" in error["message"]
    assert inventory_items("ada") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "profile"),
        ({"profile": "office", "caller_id": "Someone"}, "caller_id"),
        ({"profile": "office", "password": "a-password-of-my-own-1"}, "password"),
        ({"profile": "office", "handler": {"type": "relay_connector"}}, "handler"),
    ],
    ids=["no-profile", "caller_id", "password", "handler"],
)
def test_a_body_without_profile_or_with_a_key_other_than_profile_and_owner_is_a_422(
    api: ProvisionerApi, body: dict[str, Any], field: str
) -> None:
    # Given an endpoint made outside
    made_outside(api, "ada", OFFICE_LIKE)
    # When the adopt body lacks profile or carries another key
    answer = adopt(api, "ada", body)
    # Then it is a 422 naming that key, and nothing is stored
    assert problem(answer) == (422, "validation-error")
    assert field in [error["field"] for error in answer.body["errors"]]
    assert inventory_items("ada") == []


def test_an_endpoint_holding_a_value_no_request_may_hold_is_a_422_naming_it(api: ProvisionerApi) -> None:
    # Given an endpoint made outside whose number is not E.164
    made_outside(api, "ada", {**OFFICE_LIKE, "send_as": "5551230001"})
    # When it is adopted
    answer = adopt(api, "ada", {"profile": "office"})
    # Then it is a 422 naming the endpoint's field, and nothing is stored
    assert problem(answer) == (422, "validation-error")
    assert [error["field"] for error in answer.body["errors"]] == ["endpoint.send_as"]
    assert inventory_items("ada") == []


def test_a_caller_who_is_not_an_admin_may_not_adopt(api: ProvisionerApi) -> None:
    # Given a deployment policy whose only admin is alice, and an endpoint made outside
    put_deployment_policy(api, {"admins": [ADMIN.user_arn]})
    made_outside(api, "ada", OFFICE_LIKE)
    # When mallory adopts it, plainly and as a dry run
    answers = [adopt(api, "ada", {"profile": "office"}, caller=STRANGER, dry_run=dry) for dry in (False, True)]
    # Then both are 403 naming deployment.admins, and nothing is stored
    for answer in answers:
        assert problem(answer) == (403, "forbidden")
        assert "deployment.admins" in answer.body["detail"]
    assert inventory_items("ada") == []


def test_an_admin_the_deployment_policy_names_may_adopt(api: ProvisionerApi) -> None:
    # Given a deployment policy whose only admin is alice, and an endpoint made outside
    put_deployment_policy(api, {"admins": [ADMIN.user_arn]})
    made_outside(api, "ada", OFFICE_LIKE)
    # When alice adopts it
    answer = adopt(api, "ada", {"profile": "office"})
    # Then it is adopted
    assert answer.status == 200, answer.body


@pytest.mark.parametrize(
    ("fault", "status", "problem_type"),
    [
        ({"fault": Fault.RATE_LIMITED, "retry_after": 7}, 503, "upstream-unavailable"),
        ({"fault": Fault.HANG, "delay_seconds": 1.0}, 504, "upstream-timeout"),
        ({"fault": Fault.SERVER_ERROR}, 502, "upstream-error"),
    ],
    ids=["rate-limited", "no-answer", "server-error"],
)
def test_a_signalwire_lookup_that_fails_is_answered_as_its_fault_and_nothing_is_stored(
    api: ProvisionerApi, fault: dict[str, Any], status: int, problem_type: str
) -> None:
    # Given an endpoint made outside, and SignalWire failing its lookup
    made_outside(api, "ada", OFFICE_LIKE)
    api.emulator.inject_fault(operation="list", **fault)
    # When it is adopted
    answer = adopt(api, "ada", {"profile": "office"})
    # Then the fault's problem is answered, and nothing is stored
    assert problem(answer) == (status, problem_type)
    assert inventory_items("ada") == []
    if status == 503:
        assert answer.headers["Retry-After"] == "7"


def test_a_repeat_under_one_key_answers_the_first_adopt_again(api: ProvisionerApi) -> None:
    # Given an endpoint adopted under an Idempotency-Key
    made_outside(api, "ada", OFFICE_LIKE)
    first = adopt(api, "ada", {"profile": "office"}, key="adopt-ada-1")
    # When the same request comes again under that key
    again = adopt(api, "ada", {"profile": "office"}, key="adopt-ada-1")
    # Then the first answer comes again, not a 409
    assert (first.status, again.status) == (200, 200)
    assert again.body == first.body


def test_a_key_of_an_adopt_reused_for_another_username_or_operation_is_idempotency_key_reused(
    api: ProvisionerApi,
) -> None:
    # Given ada adopted under a key, and grace made outside
    made_outside(api, "ada", OFFICE_LIKE)
    made_outside(api, "grace", OFFICE_LIKE)
    adopt(api, "ada", {"profile": "office"}, key="adopt-1")
    # When the key comes again with an adopt of grace, and with a reset of ada
    other_username = adopt(api, "grace", {"profile": "office"}, key="adopt-1")
    other_operation = api.request("POST", path("ada", "/password"), {}, headers={**JSON, "Idempotency-Key": "adopt-1"})
    # Then both are refused, and neither ran
    assert problem(other_username) == (422, "idempotency-key-reused")
    assert problem(other_operation) == (422, "idempotency-key-reused")
    assert inventory_items("grace") == []
    assert api.emulator.stored_password("ada") == OUTSIDE_PASSWORD


def test_an_idempotency_key_is_scoped_to_the_caller(api: ProvisionerApi) -> None:
    # Given ada adopted by alice under a key, and grace made outside
    other_admin = IamCaller(user_arn="arn:aws:iam::123456789012:user/bob.admin")
    made_outside(api, "ada", OFFICE_LIKE)
    made_outside(api, "grace", OFFICE_LIKE)
    adopt(api, "ada", {"profile": "office"}, key="adopt-1")
    # When bob adopts grace under the same key
    answer = adopt(api, "grace", {"profile": "office"}, key="adopt-1", caller=other_admin)
    # Then it is bob's own request, and runs
    assert answer.status == 200, answer.body
    assert answer.body["record"]["created_by"] == other_admin.user_arn


def test_no_password_is_in_the_adopt_answers_the_record_or_the_log(api: ProvisionerApi, service_log: Any) -> None:
    # Given an endpoint made outside with a password
    made_outside(api, "ada", OFFICE_LIKE)
    # When it is adopted (dry run first), then its password reset
    answers = [
        adopt(api, "ada", {"profile": "office"}, dry_run=True),
        adopt(api, "ada", {"profile": "office"}),
        api.request("GET", path("ada")),
    ]
    new_password = api.request("POST", path("ada", "/password"), {}).body["password"]
    # Then neither password is in an answer of adopt, the inventory or a log line
    stored = boto3.client("dynamodb").scan(TableName=INVENTORY_TABLE)["Items"]
    for text in [*(json.dumps(answer.body) for answer in answers), str(stored), json.dumps(service_log())]:
        assert OUTSIDE_PASSWORD not in text
        assert new_password not in text
    assert "password" not in json.dumps(answers[1].body["record"]["request"])


# -- GET /endpoints?managed=false ----------------------------------------------------------------


def test_managed_false_lists_the_endpoints_signalwire_holds_and_the_inventory_does_not(api: ProvisionerApi) -> None:
    # Given two endpoints made outside, one created by the service, and one adopted
    first = made_outside(api, "outside-1")
    second = made_outside(api, "outside-2", OFFICE_LIKE)
    api.create({"username": "managed-1"})
    made_outside(api, "adopted-1")
    adopt(api, "adopted-1", {"profile": "default"})
    # When the unmanaged are listed
    answer = unmanaged(api)
    # Then only the two made outside come back, newest first, with their id and handler
    assert answer.status == 200, answer.body
    assert answer.body == {
        "endpoints": [
            {"username": "outside-2", "id": second["id"], "call_handler": "laml_webhooks"},
            {"username": "outside-1", "id": first["id"], "call_handler": "relay_connector"},
        ],
        "next_cursor": None,
    }


def test_an_endpoint_made_again_outside_under_a_username_the_service_deleted_is_listed_as_unmanaged(
    api: ProvisionerApi,
) -> None:
    # Given ada created and deleted by the service, then made again outside it
    api.create({"username": "ada"})
    api.request("DELETE", path("ada"))
    made_outside(api, "ada")
    # When the unmanaged are listed
    listed = [endpoint["username"] for endpoint in unmanaged(api).body["endpoints"]]
    # Then ada is among them
    assert listed == ["ada"]


def test_an_endpoint_made_outside_under_a_record_whose_endpoint_was_deleted_outside_is_listed_as_unmanaged(
    api: ProvisionerApi,
) -> None:
    # Given ada created by the service, deleted in SignalWire behind its back, then made again there
    endpoint = deleted_outside_and_made_again(api, "ada")
    # When the unmanaged are listed
    listed = unmanaged(api).body["endpoints"]
    # Then the endpoint SignalWire holds now is among them: the record names another
    assert listed == [{"username": "ada", "id": endpoint["id"], "call_handler": "laml_webhooks"}]


def test_the_unmanaged_are_paged_by_cursor_over_signalwires_pages_each_once(
    api: ProvisionerApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SignalWire pages of 2, and 7 unmanaged endpoints among 4 managed ones
    monkeypatch.setattr(list_unmanaged, "UPSTREAM_PAGE_SIZE", 2)
    expected: list[str] = []
    for number in range(11):
        if number % 3 == 1:
            api.create({"username": f"managed-{number:02}"})
        else:
            made_outside(api, f"outside-{number:02}")
            expected.insert(0, f"outside-{number:02}")
    # When they are listed 3 at a time, following each next_cursor
    pages: list[list[str]] = []
    query = "limit=3"
    while True:
        answer = unmanaged(api, query)
        assert answer.status == 200, answer.body
        pages.append([endpoint["username"] for endpoint in answer.body["endpoints"]])
        if answer.body["next_cursor"] is None:
            break
        query = f"limit=3&cursor={answer.body['next_cursor']}"
    # Then every unmanaged endpoint comes once, newest first, no page longer than the limit
    assert [username for page in pages for username in page] == expected
    assert all(len(page) <= 3 for page in pages)


def test_a_page_of_unmanaged_reads_a_bounded_number_of_signalwire_pages_and_may_come_back_short(
    api: ProvisionerApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SignalWire pages of 1, and one unmanaged endpoint behind more managed ones than a request reads
    monkeypatch.setattr(list_unmanaged, "UPSTREAM_PAGE_SIZE", 1)
    made_outside(api, "outside-old")
    for number in range(list_unmanaged.MAX_PAGES_PER_REQUEST + 1):
        api.create({"username": f"managed-{number}"})
    reads_before = api.emulator.requests_received("list")
    # When the unmanaged are listed, and the next page followed
    first = unmanaged(api)
    reads_of_first = api.emulator.requests_received("list") - reads_before
    second = unmanaged(api, f"cursor={first.body['next_cursor']}")
    # Then the first page is empty with a cursor after its bounded reads, and the next finds it
    assert (first.body["endpoints"], reads_of_first) == ([], list_unmanaged.MAX_PAGES_PER_REQUEST)
    assert [endpoint["username"] for endpoint in second.body["endpoints"]] == ["outside-old"]
    assert second.body["next_cursor"] is None


def valid_cursor(api: ProvisionerApi) -> str:
    made_outside(api, "outside-1")
    made_outside(api, "outside-2")
    cursor: str = unmanaged(api, "limit=1").body["next_cursor"]
    assert cursor
    return cursor


def test_a_cursor_does_not_carry_the_signalwire_space_address(
    api: ProvisionerApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SignalWire pages of 1, and two unmanaged endpoints
    monkeypatch.setattr(list_unmanaged, "UPSTREAM_PAGE_SIZE", 1)
    # When a cursor is issued that goes on at SignalWire's next page
    cursor = valid_cursor(api)
    # Then nothing in it names where SignalWire is
    decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert urlsplit(api.emulator.base_url).netloc.encode() not in decoded


@pytest.mark.parametrize(
    "tamper",
    [
        lambda cursor: cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"),
        lambda cursor: cursor[:10],
        lambda _cursor: "bm90LWEtY3Vyc29y",
        lambda cursor: cursor + "=",
    ],
    ids=["changed", "cut", "made-up", "respelled"],
)
def test_a_cursor_the_service_did_not_issue_is_a_422_naming_cursor(api: ProvisionerApi, tamper: Any) -> None:
    # Given a cursor the service issued
    cursor = valid_cursor(api)
    # When a changed one is sent
    answer = unmanaged(api, f"limit=1&cursor={quote(tamper(cursor), safe='')}")
    # Then it is a 422 naming cursor
    assert problem(answer) == (422, "validation-error")
    assert [error["field"] for error in answer.body["errors"]] == ["cursor"]


def test_a_cursor_issued_to_another_caller_is_a_422(api: ProvisionerApi) -> None:
    # Given a cursor issued to alice
    cursor = valid_cursor(api)
    # When bob, also an admin, sends it
    answer = unmanaged(api, f"limit=1&cursor={cursor}", caller=IamCaller(user_arn="arn:aws:iam::1:user/bob"))
    # Then it is a 422 naming cursor
    assert problem(answer) == (422, "validation-error")
    assert [error["field"] for error in answer.body["errors"]] == ["cursor"]


def test_a_cursor_of_the_inventory_list_is_not_a_cursor_of_the_unmanaged_list(api: ProvisionerApi) -> None:
    # Given a cursor of the inventory's list
    api.create({"username": "managed-1"})
    api.create({"username": "managed-2"})
    cursor = api.request("GET", "/endpoints", query="limit=1").body["next_cursor"]
    # When it is sent to the unmanaged list
    answer = unmanaged(api, f"cursor={quote(cursor, safe='')}")
    # Then it is a 422 naming cursor
    assert problem(answer) == (422, "validation-error")
    assert [error["field"] for error in answer.body["errors"]] == ["cursor"]


@pytest.mark.parametrize("query", ["profile=office", "owner=E1001", "status=active"])
def test_an_inventory_filter_with_managed_false_is_a_422_naming_it(api: ProvisionerApi, query: str) -> None:
    # Given an endpoint made outside
    made_outside(api, "outside-1")
    # When the unmanaged are listed with an inventory filter
    answer = unmanaged(api, query)
    # Then it is a 422 naming the filter
    assert problem(answer) == (422, "validation-error")
    assert [error["field"] for error in answer.body["errors"]] == [query.split("=")[0]]


def test_managed_true_lists_the_inventory_as_without_it(api: ProvisionerApi) -> None:
    # Given one endpoint created by the service and one made outside
    api.create({"username": "managed-1"})
    made_outside(api, "outside-1")
    # When the list is asked with managed=true
    answer = api.request("GET", "/endpoints", query="managed=true")
    # Then it is the inventory's list
    assert [summary["username"] for summary in answer.body["endpoints"]] == ["managed-1"]


def test_a_caller_who_is_not_an_admin_may_not_list_the_unmanaged(api: ProvisionerApi) -> None:
    # Given a deployment policy whose only admin is alice, and an endpoint made outside
    put_deployment_policy(api, {"admins": [ADMIN.user_arn]})
    made_outside(api, "outside-1")
    # When mallory lists the unmanaged
    answer = unmanaged(api, caller=STRANGER)
    # Then it is a 403 naming deployment.admins, and SignalWire was not asked
    assert problem(answer) == (403, "forbidden")
    assert "deployment.admins" in answer.body["detail"]
    assert api.emulator.requests_received("list") == 0


def test_a_signalwire_list_that_fails_is_answered_as_its_fault(api: ProvisionerApi) -> None:
    # Given SignalWire rate-limiting its list
    made_outside(api, "outside-1")
    api.emulator.inject_fault(Fault.RATE_LIMITED, operation="list", retry_after=3)
    # When the unmanaged are listed
    answer = unmanaged(api)
    # Then it is a 503 with SignalWire's Retry-After
    assert problem(answer) == (503, "upstream-unavailable")
    assert answer.headers["Retry-After"] == "3"


# -- the workflow entry's adopt action ------------------------------------------------------------


def invoke_adopt(workflow_module: Any, username: str, key: str = "adopt-run-1", **fields: Any) -> dict[str, Any]:
    context = LocalLambdaContext(LambdaFunction(name="sip-provisioner-workflow", timeout_seconds=25.0))
    event = {"action": "adopt", "username": username, "idempotency_key": key, "profile": "office", **fields}
    answer: dict[str, Any] = workflow_module.lambda_handler(event, context)
    return answer


def test_the_workflow_adopt_action_answers_the_routes_body_recorded_as_caller_workflow(
    api: ProvisionerApi, workflow_module: Any
) -> None:
    # Given an endpoint made outside, and no deployment policy (every caller an admin)
    endpoint = made_outside(api, "ada", OFFICE_LIKE)
    # When a workflow adopts it for an owner
    body = invoke_adopt(workflow_module, "ada", owner="E1001")
    # Then it answers the route's body, the record made by the workflow caller
    assert set(body) == {"endpoint", "sip_uri", "managed", "record", "drift"}
    assert body["endpoint"] == endpoint
    assert (body["record"]["created_by"], body["record"]["created_via"]) == ("workflow", "adopted")
    assert body["record"]["owner"] == "E1001"


def test_a_workflow_adopt_repeated_under_its_key_answers_the_first_again(
    api: ProvisionerApi, workflow_module: Any
) -> None:
    # Given an endpoint a workflow adopted under a key
    made_outside(api, "ada", OFFICE_LIKE)
    first = invoke_adopt(workflow_module, "ada")
    # When the same invocation is retried
    again = invoke_adopt(workflow_module, "ada")
    # Then the first answer comes again
    assert again == first


def test_a_workflow_adopt_of_an_endpoint_the_service_manages_raises_endpoint_already_managed(
    api: ProvisionerApi, workflow_module: Any
) -> None:
    # Given an endpoint the service created
    api.create({"username": "ada"})
    # When a workflow adopts it
    with pytest.raises(workflow.WorkflowFailure) as raised:
        invoke_adopt(workflow_module, "ada")
    # Then it fails with the error name a state machine matches
    assert type(raised.value).__name__ == "EndpointAlreadyManaged"


def test_under_a_policy_whose_admins_leave_workflows_out_a_workflow_adopt_raises_forbidden(
    api: ProvisionerApi, workflow_module: Any
) -> None:
    # Given a deployment policy whose only admin is alice, and an endpoint made outside
    put_deployment_policy(api, {"admins": [ADMIN.user_arn]})
    made_outside(api, "ada", OFFICE_LIKE)
    # When a workflow adopts it
    with pytest.raises(workflow.WorkflowFailure) as raised:
        invoke_adopt(workflow_module, "ada")
    # Then it fails as Forbidden, and nothing is stored
    assert type(raised.value).__name__ == "Forbidden"
    assert inventory_items("ada") == []


def test_a_workflow_adopt_without_a_profile_raises_validation_error_naming_it(
    api: ProvisionerApi, workflow_module: Any
) -> None:
    # Given an endpoint made outside
    made_outside(api, "ada", OFFICE_LIKE)
    # When a workflow adopts it without a profile
    context = LocalLambdaContext(LambdaFunction(name="sip-provisioner-workflow", timeout_seconds=25.0))
    with pytest.raises(workflow.WorkflowFailure) as raised:
        workflow_module.lambda_handler({"action": "adopt", "username": "ada", "idempotency_key": "k-1"}, context)
    # Then it fails as ValidationError naming profile
    assert type(raised.value).__name__ == "ValidationError"
    assert '"field":"profile"' in str(raised.value)
