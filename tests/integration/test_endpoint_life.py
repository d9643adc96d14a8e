"""The endpoint's life after create, through the real handler (CONTRACT.md section 4).

Every route of section 4 and each of its errors: look up (with drift), list (filters, paging),
PATCH (only what changes reaches SignalWire), password reset, disable, delete (the record kept
as the audit trail), re-create after delete, `Idempotency-Key` on every state-changing route,
and percent-encoded usernames. SignalWire is the emulator over real HTTP; an out-of-band change
is made the way anyone holding the project's credentials would make it: straight to SignalWire.
"""

import json
from typing import Any
from urllib.parse import quote

import boto3
import pytest
import requests

from local.gateway import IamCaller
from local.signalwire_emulator import COLLECTION_PATH
from tests.integration.conftest import CALLER, INVENTORY_TABLE, SIP_DOMAIN, Answer, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

JSON = {"Content-Type": "application/json"}
CALLERS_PASSWORD = "a-password-the-caller-chose-1"
OTHER_CALLER = IamCaller(user_arn="arn:aws:iam::123456789012:user/bob.operator")


def path(username: str, suffix: str = "") -> str:
    """`/endpoints/{username}`, the username one percent-encoded path segment (RFC 3986)."""
    return f"/endpoints/{quote(username, safe='')}{suffix}"


def keyed(key: str) -> dict[str, str]:
    return {**JSON, "Idempotency-Key": key}


def look_up(api: ProvisionerApi, username: str) -> Answer:
    return api.request("GET", path(username))


def patch(api: ProvisionerApi, username: str, changes: object, **kwargs: Any) -> Answer:
    return api.request("PATCH", path(username), changes, **kwargs)


def reset(api: ProvisionerApi, username: str, body: object = None, **kwargs: Any) -> Answer:
    return api.request("POST", path(username, "/password"), {} if body is None else body, **kwargs)


def disable(api: ProvisionerApi, username: str, **kwargs: Any) -> Answer:
    return api.request("POST", path(username, "/disable"), **kwargs)


def delete(api: ProvisionerApi, username: str, **kwargs: Any) -> Answer:
    return api.request("DELETE", path(username), **kwargs)


def listed(api: ProvisionerApi, query: str = "") -> list[str]:
    answer = api.request("GET", "/endpoints", query=query)
    assert answer.status == 200, answer.body
    return [summary["username"] for summary in answer.body["endpoints"]]


def upstream(api: ProvisionerApi, username: str) -> dict[str, Any]:
    [endpoint] = [e for e in api.emulator.endpoints if e["username"] == username]
    return endpoint


def change_directly(api: ProvisionerApi, username: str, fields: dict[str, Any]) -> None:
    """An out-of-band change: a PUT straight to SignalWire, past the service."""
    endpoint_id = upstream(api, username)["id"]
    requests.put(
        f"{api.emulator.base_url}{COLLECTION_PATH}/{endpoint_id}",
        json=fields,
        auth=(api.emulator.project_id, api.emulator.api_token),
        timeout=5,
    ).raise_for_status()


def create_directly(api: ProvisionerApi, username: str) -> None:
    """An endpoint the service never created: unmanaged."""
    requests.post(
        f"{api.emulator.base_url}{COLLECTION_PATH}",
        json={"username": username, "password": "someone-elses-password", "call_handler": "relay_connector"},
        auth=(api.emulator.project_id, api.emulator.api_token),
        timeout=5,
    ).raise_for_status()


def problem_type(answer: Answer) -> tuple[int, str]:
    return answer.status, answer.body["type"] if isinstance(answer.body, dict) else answer.body


# -- GET /endpoints/{username} -----------------------------------------------------------------


def test_a_managed_endpoint_is_looked_up_with_its_record_and_no_drift(api: ProvisionerApi) -> None:
    # Given an endpoint the service created
    created = api.create({"username": "alice", "profile": "office", "owner": "E1001"})
    # When it is looked up
    answer = look_up(api, "alice")
    # Then SignalWire's object, the SIP URI, the record and an empty drift come back
    assert answer.status == 200
    assert answer.body["endpoint"] == created.body["endpoint"]
    assert answer.body["sip_uri"] == f"sip:alice@{SIP_DOMAIN}"
    assert answer.body["managed"] is True
    assert answer.body["drift"] == []
    record = answer.body["record"]
    assert (record["username"], record["endpoint_id"], record["status"]) == (
        "alice",
        created.body["endpoint"]["id"],
        "active",
    )


def test_the_record_holds_the_request_without_its_password_and_who_created_it_through_which_door(
    api: ProvisionerApi,
) -> None:
    # Given an endpoint created with the caller's own password, an owner and a profile
    api.create({"username": "alice", "profile": "office", "owner": "E1001", "password": CALLERS_PASSWORD})
    # When it is looked up
    record = look_up(api, "alice").body["record"]
    # Then the record says who made it, how, for whom and from what; no password anywhere in it
    assert record["request"] == {"username": "alice", "profile": "office", "owner": "E1001"}
    assert (record["created_by"], record["created_via"]) == (CALLER.user_arn, "http")
    assert (record["owner"], record["profile"]) == ("E1001", "office")
    assert record["created_at"]
    assert record["updated_at"]
    items = boto3.client("dynamodb").scan(TableName=INVENTORY_TABLE)["Items"]
    assert CALLERS_PASSWORD not in str(items)
    assert "password" not in str(items)


def test_a_generated_password_is_not_kept_in_the_inventory(api: ProvisionerApi) -> None:
    # Given an endpoint created with a generated password
    password = api.create({"username": "alice"}).body["password"]
    # When the inventory is read as it is stored
    items = boto3.client("dynamodb").scan(TableName=INVENTORY_TABLE)["Items"]
    # Then the password is nowhere in it
    assert password not in str(items)


def test_an_out_of_band_change_shows_as_drift_with_the_expected_and_actual_values(api: ProvisionerApi) -> None:
    # Given a managed endpoint whose caller id and codecs someone changed straight in SignalWire
    api.create({"username": "alice", "profile": "office"})
    change_directly(api, "alice", {"caller_id": "Mallory", "codecs": ["PCMU"]})
    # When it is looked up
    answer = look_up(api, "alice")
    # Then each differing field is listed with what the profile builds and what SignalWire holds
    assert answer.status == 200
    drift = {entry["field"]: (entry["expected"], entry["actual"]) for entry in answer.body["drift"]}
    assert drift == {"caller_id": ("Example HQ", "Mallory"), "codecs": (["G722", "PCMU", "PCMA"], ["PCMU"])}


def test_a_profile_changed_since_the_create_shows_as_drift(api: ProvisionerApi) -> None:
    # Given an endpoint created from the office profile, and the profile's caller id changed since
    api.create({"username": "alice", "profile": "office"})
    profile = {
        "caller_id": "Example HQ Reception",
        "call_handler": "laml_webhooks",
        "call_request_url": "https://office.example.com/laml/desk",
    }
    api.put_parameter("profiles/office", json.dumps(profile))
    # When it is looked up
    drift = look_up(api, "alice").body["drift"]
    # Then the drift names the caller id (expected as the profile is now) among what differs
    assert {"field": "caller_id", "expected": "Example HQ Reception", "actual": "Example HQ"} in drift


def test_an_endpoint_the_service_did_not_create_is_looked_up_as_unmanaged(api: ProvisionerApi) -> None:
    # Given an endpoint made straight in SignalWire
    create_directly(api, "outsider")
    # When it is looked up
    answer = look_up(api, "outsider")
    # Then it is shown, unmanaged, with no record and no drift
    assert answer.status == 200
    assert answer.body["endpoint"]["username"] == "outsider"
    assert (answer.body["managed"], answer.body["record"], answer.body["drift"]) == (False, None, [])
    assert "password" not in answer.body["endpoint"]


def test_looking_up_an_unknown_username_is_a_404(api: ProvisionerApi) -> None:
    # Given no endpoint "nobody"
    # When it is looked up
    answer = look_up(api, "nobody")
    # Then it is endpoint-not-found, as problem+json
    assert problem_type(answer) == (404, "endpoint-not-found")
    assert answer.headers["Content-Type"] == "application/problem+json"


# -- GET /endpoints -----------------------------------------------------------------------------


def test_the_inventory_lists_by_username_without_deleted_records_by_default(api: ProvisionerApi) -> None:
    # Given three endpoints, one of them deleted
    for username in ("carol", "alice", "bob"):
        api.create({"username": username})
    assert delete(api, "bob").status == 204
    # When the inventory is listed
    answer = api.request("GET", "/endpoints")
    # Then the others come sorted by username, as summaries, and no cursor
    assert answer.status == 200
    assert [s["username"] for s in answer.body["endpoints"]] == ["alice", "carol"]
    assert answer.body["next_cursor"] is None
    assert set(answer.body["endpoints"][0]) == {"username", "profile", "owner", "status", "created_by", "created_at"}


def test_the_inventory_is_filtered_by_profile(api: ProvisionerApi) -> None:
    # Given endpoints of two profiles
    api.create({"username": "alice", "profile": "office"})
    api.create({"username": "bob"})
    api.create({"username": "carol", "profile": "office"})
    # When the office ones are asked for
    # Then only they are listed
    assert listed(api, "profile=office") == ["alice", "carol"]
    assert listed(api, "profile=support") == []


def test_the_inventory_is_filtered_by_owner(api: ProvisionerApi) -> None:
    # Given endpoints of two owners, and one without an owner
    api.create({"username": "alice", "owner": "E1001"})
    api.create({"username": "alice.phone2", "owner": "E1001"})
    api.create({"username": "bob", "owner": "E2002"})
    api.create({"username": "carol"})
    # When one owner's are asked for
    # Then only theirs are listed
    assert listed(api, "owner=E1001") == ["alice", "alice.phone2"]


def test_the_inventory_is_filtered_by_profile_and_owner_together(api: ProvisionerApi) -> None:
    # Given one owner's endpoints of two profiles
    api.create({"username": "alice", "owner": "E1001", "profile": "office"})
    api.create({"username": "alice.2", "owner": "E1001"})
    api.create({"username": "bob", "owner": "E2002", "profile": "office"})
    # When both filters are given
    # Then only records matching both are listed
    assert listed(api, "profile=office&owner=E1001") == ["alice"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [("active", ["alice"]), ("disabled", ["bob"]), ("deleted", ["carol"])],
)
def test_the_inventory_is_filtered_by_status(api: ProvisionerApi, status: str, expected: list[str]) -> None:
    # Given an active, a disabled and a deleted endpoint
    for username in ("alice", "bob", "carol"):
        api.create({"username": username})
    assert disable(api, "bob").status == 200
    assert delete(api, "carol").status == 204
    # When one status is asked for
    # Then only the records in it are listed, each with that status
    answer = api.request("GET", "/endpoints", query=f"status={status}")
    assert [s["username"] for s in answer.body["endpoints"]] == expected
    assert {s["status"] for s in answer.body["endpoints"]} == {status}


def test_the_inventory_pages_with_an_opaque_cursor_until_every_record_was_listed_once(api: ProvisionerApi) -> None:
    # Given five endpoints
    usernames = [f"user{n}" for n in range(5)]
    for username in reversed(usernames):
        api.create({"username": username})
    # When they are listed two at a time, following the cursor
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        query = "limit=2" + (f"&cursor={quote(cursor, safe='')}" if cursor else "")
        answer = api.request("GET", "/endpoints", query=query)
        assert answer.status == 200
        pages.append([s["username"] for s in answer.body["endpoints"]])
        cursor = answer.body["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 10
    # Then no page is larger than the limit, and together they list every record once, in order
    assert all(len(page) <= 2 for page in pages)
    assert [username for page in pages for username in page] == usernames
    assert pages[0] == ["user0", "user1"]


def test_a_filtered_list_pages_too(api: ProvisionerApi) -> None:
    # Given three office endpoints among others
    for username in ("a", "b", "c", "d", "e"):
        api.create({"username": username, "profile": "office" if username in "ace" else "default"})
    # When the office ones are listed one at a time
    first = api.request("GET", "/endpoints", query="profile=office&limit=1")
    second = api.request("GET", "/endpoints", query=f"profile=office&limit=1&cursor={first.body['next_cursor']}")
    # Then the cursor goes on within the filter
    assert [s["username"] for s in first.body["endpoints"]] == ["a"]
    assert [s["username"] for s in second.body["endpoints"]] == ["c"]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("cursor=not-a-cursor", id="garbage"),
        pytest.param("cursor=WyJieV9wcm9maWxlIiwge31d", id="another index's cursor"),
        pytest.param("cursor=e30", id="base64 of an object"),
    ],
)
def test_a_cursor_this_list_did_not_answer_is_a_422_naming_it(api: ProvisionerApi, query: str) -> None:
    # Given an inventory
    api.create({"username": "alice"})
    # When a made-up cursor is sent
    answer = api.request("GET", "/endpoints", query=query)
    # Then it is a validation error naming the cursor
    assert problem_type(answer) == (422, "validation-error")
    assert [e["field"] for e in answer.body["errors"]] == ["cursor"]


def test_a_cursor_of_an_unfiltered_list_is_refused_by_a_filtered_one(api: ProvisionerApi) -> None:
    # Given a cursor answered by the unfiltered list
    for username in ("a", "b", "c"):
        api.create({"username": username, "profile": "office"})
    cursor = api.request("GET", "/endpoints", query="limit=1").body["next_cursor"]
    assert cursor
    # When it is sent to the list filtered by profile
    answer = api.request("GET", "/endpoints", query=f"profile=office&limit=1&cursor={cursor}")
    # Then it is refused, not silently restarted
    assert problem_type(answer) == (422, "validation-error")


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"), ("status=pending", "status")],
)
def test_a_limit_or_status_outside_the_contract_is_a_422_naming_it(api: ProvisionerApi, query: str, field: str) -> None:
    # Given / When a list is asked for with a bad limit or status
    answer = api.request("GET", "/endpoints", query=query)
    # Then it is a validation error naming the parameter
    assert problem_type(answer) == (422, "validation-error")
    assert field in [e["field"] for e in answer.body["errors"]]


# -- PATCH /endpoints/{username} ----------------------------------------------------------------


def test_changing_the_caller_id_sends_signalwire_that_field_alone(api: ProvisionerApi) -> None:
    # Given a managed endpoint
    api.create({"username": "alice", "profile": "office"})
    updates_before = api.emulator.requests_received("update")
    # When its caller id is changed
    answer = patch(api, "alice", {"caller_id": "Alice Smith"})
    # Then SignalWire got one update, of that field only, and the answer says so
    assert answer.status == 200, answer.body
    assert answer.body["changed"] == ["caller_id"]
    assert answer.body["endpoint"]["caller_id"] == "Alice Smith"
    assert (answer.body["profile"], answer.body["sip_uri"]) == ("office", f"sip:alice@{SIP_DOMAIN}")
    assert api.emulator.requests_received("update") == updates_before + 1
    assert upstream(api, "alice")["caller_id"] == "Alice Smith"
    # And the stored request holds it, with no drift
    after = look_up(api, "alice").body
    assert after["record"]["request"]["caller_id"] == "Alice Smith"
    assert after["drift"] == []


def test_null_removes_a_key_back_to_the_profiles_value(api: ProvisionerApi) -> None:
    # Given an office endpoint created with its own caller id
    api.create({"username": "alice", "profile": "office", "caller_id": "Alice"})
    # When the caller id is set to null
    answer = patch(api, "alice", {"caller_id": None})
    # Then the profile's caller id is back, and the request no longer holds one
    assert answer.status == 200
    assert answer.body["changed"] == ["caller_id"]
    assert upstream(api, "alice")["caller_id"] == "Example HQ"
    assert "caller_id" not in look_up(api, "alice").body["record"]["request"]


def test_null_for_a_field_no_profile_sets_clears_it_in_signalwire(api: ProvisionerApi) -> None:
    # Given a default-profile endpoint with its own caller id (the default profile sets none)
    api.create({"username": "alice", "caller_id": "Alice"})
    # When the caller id is set to null
    answer = patch(api, "alice", {"caller_id": None})
    # Then SignalWire was told to clear it
    assert answer.status == 200
    assert answer.body["changed"] == ["caller_id"]
    assert upstream(api, "alice")["caller_id"] is None
    assert look_up(api, "alice").body["drift"] == []


def test_changing_the_profile_clears_the_other_handlers_fields(api: ProvisionerApi) -> None:
    # Given a default-profile (LaML webhooks) endpoint
    api.create({"username": "alice"})
    # When it moves to the support profile (an AI agent)
    answer = patch(api, "alice", {"profile": "support"})
    # Then the webhook fields are cleared and the agent's set, with no drift left
    assert answer.status == 200, answer.body
    stored = upstream(api, "alice")
    assert (stored["call_handler"], stored["call_request_url"]) == ("ai_agent", None)
    assert stored["call_ai_agent_id"] == "6f1c2a5e-3b7d-4c8e-9a10-2d4b6f8e0c13"
    assert {"call_handler", "call_request_url", "call_ai_agent_id"} <= set(answer.body["changed"])
    view = look_up(api, "alice").body
    assert (view["record"]["profile"], view["drift"]) == ("support", [])
    assert listed(api, "profile=support") == ["alice"]


OFFICE_HANDLER_FIELDS = (
    "call_fallback_url",
    "call_fallback_method",
    "call_status_callback_url",
    "call_status_callback_method",
    "call_request_method",
)


def test_a_patch_giving_the_handler_url_alone_keeps_the_profiles_other_handler_fields(api: ProvisionerApi) -> None:
    # Given an office endpoint, whose profile sets the LaML webhooks' fallback and status callback
    api.create({"username": "alice", "profile": "office"})
    before = upstream(api, "alice")
    # When a PATCH gives a handler of the same type with just a url
    url = "https://office.example.com/laml/alice"
    answer = patch(api, "alice", {"handler": {"type": "laml_webhooks", "url": url}})
    # Then only the url changed: the profile's fallback, status callback and methods stay
    assert answer.status == 200, answer.body
    assert answer.body["changed"] == ["call_request_url"]
    after = upstream(api, "alice")
    assert after["call_request_url"] == url
    assert {field: after[field] for field in OFFICE_HANDLER_FIELDS} == {
        field: before[field] for field in OFFICE_HANDLER_FIELDS
    }
    # And the stored request holds only what the caller gave, with no drift
    view = look_up(api, "alice").body
    assert view["record"]["request"]["handler"] == {"type": "laml_webhooks", "url": url}
    assert view["drift"] == []


def test_a_patch_giving_every_handler_url_keeps_the_profiles_methods_and_shows_no_drift(api: ProvisionerApi) -> None:
    # Given an office endpoint, whose profile sets every LaML webhooks method to GET or POST
    api.create({"username": "alice", "profile": "office"})
    # When a PATCH gives the same handler type with its three urls and no method
    handler = {
        "type": "laml_webhooks",
        "url": "https://office.example.com/laml/alice",
        "fallback_url": "https://office-fallback.example.com/laml/alice",
        "status_callback_url": "https://office.example.com/laml/alice-status",
    }
    answer = patch(api, "alice", {"handler": handler})
    # Then the urls changed and the profile's methods stayed
    assert answer.status == 200, answer.body
    assert answer.body["changed"] == ["call_fallback_url", "call_request_url", "call_status_callback_url"]
    after = upstream(api, "alice")
    assert (after["call_request_method"], after["call_fallback_method"], after["call_status_callback_method"]) == (
        "GET",
        "GET",
        "POST",
    )
    # And the service's own change is not drift
    assert look_up(api, "alice").body["drift"] == []


def test_a_null_handler_key_in_a_patch_is_not_given_so_the_profiles_value_stays(api: ProvisionerApi) -> None:
    # Given an office endpoint, whose profile sets the fallback method GET
    api.create({"username": "alice", "profile": "office"})
    # When a PATCH gives the same handler type with a url and a null fallback method
    url = "https://office.example.com/laml/alice"
    answer = patch(api, "alice", {"handler": {"type": "laml_webhooks", "url": url, "fallback_method": None}})
    # Then only the url changed, and null, as everywhere in a PATCH, leaves the profile's value
    assert answer.status == 200, answer.body
    assert answer.body["changed"] == ["call_request_url"]
    assert upstream(api, "alice")["call_fallback_method"] == "GET"
    view = look_up(api, "alice").body
    assert view["record"]["request"]["handler"] == {"type": "laml_webhooks", "url": url}
    assert view["drift"] == []


def test_an_empty_patch_reapplies_the_profile_and_fixes_drift(api: ProvisionerApi) -> None:
    # Given a managed endpoint changed out of band
    api.create({"username": "alice", "profile": "office"})
    change_directly(api, "alice", {"caller_id": "Mallory", "codecs": ["PCMU"]})
    # When an empty PATCH is sent
    answer = patch(api, "alice", {})
    # Then the drifted fields are put back, and the endpoint is in line again
    assert answer.status == 200
    assert answer.body["changed"] == ["caller_id", "codecs"]
    assert (upstream(api, "alice")["caller_id"], upstream(api, "alice")["codecs"]) == (
        "Example HQ",
        ["G722", "PCMU", "PCMA"],
    )
    assert look_up(api, "alice").body["drift"] == []


def test_a_patch_that_changes_nothing_sends_signalwire_nothing(api: ProvisionerApi) -> None:
    # Given a managed endpoint in line with its profile
    api.create({"username": "alice", "profile": "office", "caller_id": "Alice"})
    updates_before = api.emulator.requests_received("update")
    # When a PATCH repeats what it already holds, and then an empty PATCH
    repeated = patch(api, "alice", {"caller_id": "Alice", "profile": "office"})
    empty = patch(api, "alice", {})
    # Then both answer changed [] and no update reached SignalWire
    assert (repeated.status, repeated.body["changed"]) == (200, [])
    assert (empty.status, empty.body["changed"]) == (200, [])
    assert api.emulator.requests_received("update") == updates_before


def test_changing_the_owner_changes_the_record_and_sends_signalwire_nothing(api: ProvisionerApi) -> None:
    # Given an endpoint owned by E1001
    api.create({"username": "alice", "owner": "E1001"})
    # When its owner changes
    answer = patch(api, "alice", {"owner": "E2002"})
    # Then nothing reached SignalWire, and the inventory lists it under the new owner only
    assert (answer.status, answer.body["changed"]) == (200, [])
    assert api.emulator.requests_received("update") == 0
    assert listed(api, "owner=E2002") == ["alice"]
    assert listed(api, "owner=E1001") == []


def test_a_dry_run_patch_shows_the_changes_and_changes_nothing(api: ProvisionerApi) -> None:
    # Given a managed office endpoint
    api.create({"username": "alice", "profile": "office"})
    record_before = look_up(api, "alice").body["record"]
    # When a caller id change is sent as a dry run
    answer = patch(api, "alice", {"caller_id": "Alice Smith"}, query="dry_run=true")
    # Then it lists each change from/to, and neither SignalWire nor the record changed
    assert answer.status == 200
    assert answer.body == {
        "dry_run": True,
        "changes": [{"field": "caller_id", "from": "Example HQ", "to": "Alice Smith"}],
    }
    assert api.emulator.requests_received("update") == 0
    assert upstream(api, "alice")["caller_id"] == "Example HQ"
    assert look_up(api, "alice").body["record"] == record_before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"handler": {"type": "dialogflow"}}, "call_dialogflow_agent_id", id="handler lacks its agent"),
        pytest.param({"send_as": "12345"}, "send_as", id="send_as not E.164"),
        pytest.param({"caller_id": ""}, "caller_id", id="empty caller id"),
        pytest.param({"handler": {"type": "laml_webhooks", "url": "ftp://x"}}, "handler.url", id="not http"),
    ],
)
def test_a_patch_breaking_a_create_rule_is_a_422_and_changes_nothing(
    api: ProvisionerApi, changes: dict[str, Any], field: str
) -> None:
    # Given a managed endpoint
    api.create({"username": "alice"})
    before = upstream(api, "alice")
    record_before = look_up(api, "alice").body["record"]
    # When a PATCH would make it break a create rule
    answer = patch(api, "alice", changes)
    # Then it is a 422 naming the field, and nothing changed anywhere
    assert problem_type(answer) == (422, "validation-error")
    assert any(field in error["field"] or field in error["message"] for error in answer.body["errors"]), answer.body
    assert api.emulator.requests_received("update") == 0
    assert upstream(api, "alice") == before
    assert look_up(api, "alice").body["record"] == record_before


def test_a_patch_naming_an_unknown_profile_is_a_422_listing_the_known_ones(api: ProvisionerApi) -> None:
    # Given a managed endpoint
    api.create({"username": "alice"})
    # When it is moved to a profile that does not exist
    answer = patch(api, "alice", {"profile": "no-such-profile"})
    # Then it is a 422 that lists the known profiles, and nothing was sent
    assert problem_type(answer) == (422, "validation-error")
    assert "office" in str(answer.body)
    assert api.emulator.requests_received("update") == 0


@pytest.mark.parametrize("key", ["username", "password", "codecs", "unknown"])
def test_a_patch_with_a_key_it_does_not_take_is_a_422(api: ProvisionerApi, key: str) -> None:
    # Given a managed endpoint
    api.create({"username": "alice"})
    # When a PATCH carries a key outside profile, caller_id, send_as, handler and owner
    answer = patch(api, "alice", {key: "x" * 16})
    # Then it is a 422 naming that key, and nothing was sent
    assert problem_type(answer) == (422, "validation-error")
    assert key in [e["field"] for e in answer.body["errors"]]
    assert api.emulator.requests_received("update") == 0


# -- POST /endpoints/{username}/password ----------------------------------------------------------


def test_a_reset_generates_a_new_password_that_signalwire_then_holds(api: ProvisionerApi) -> None:
    # Given a managed endpoint
    old = api.create({"username": "alice"}).body["password"]
    # When its password is reset with an empty body
    answer = reset(api, "alice")
    # Then a new generated password is answered, and it is the one SignalWire holds
    assert answer.status == 200
    assert answer.body["username"] == "alice"
    assert answer.body["sip_uri"] == f"sip:alice@{SIP_DOMAIN}"
    assert len(answer.body["password"]) >= 24
    assert answer.body["password"] != old
    assert api.emulator.stored_password("alice") == answer.body["password"]


def test_a_reset_with_a_given_password_sets_it_and_does_not_echo_it(api: ProvisionerApi) -> None:
    # Given a managed endpoint
    api.create({"username": "alice"})
    # When a password is given
    answer = reset(api, "alice", {"password": CALLERS_PASSWORD})
    # Then SignalWire holds it and the answer does not repeat it
    assert answer.status == 200
    assert "password" not in answer.body
    assert CALLERS_PASSWORD not in str(answer.body)
    assert api.emulator.stored_password("alice") == CALLERS_PASSWORD


@pytest.mark.parametrize(
    "body",
    [{"password": "short"}, {"password": "x" * 129}, {"username": "bob"}, {"password_typo": "long-enough-pw-1"}],
)
def test_a_reset_with_a_body_it_does_not_take_is_a_422_and_changes_nothing(
    api: ProvisionerApi, body: dict[str, Any]
) -> None:
    # Given a managed endpoint
    api.create({"username": "alice"})
    before = api.emulator.stored_password("alice")
    # When the reset body breaks a rule
    answer = reset(api, "alice", body)
    # Then it is a 422 and the password is unchanged
    assert problem_type(answer) == (422, "validation-error")
    assert api.emulator.stored_password("alice") == before


def test_a_reset_enables_a_disabled_endpoint(api: ProvisionerApi) -> None:
    # Given a disabled endpoint
    api.create({"username": "alice"})
    assert disable(api, "alice").status == 200
    # When its password is reset
    answer = reset(api, "alice")
    # Then it holds the new password and is active again
    assert answer.status == 200
    assert api.emulator.stored_password("alice") == answer.body["password"]
    assert look_up(api, "alice").body["record"]["status"] == "active"
    assert listed(api, "status=active") == ["alice"]
    assert listed(api, "status=disabled") == []


def test_two_resets_never_generate_the_same_password(api: ProvisionerApi) -> None:
    # Given a managed endpoint
    created = api.create({"username": "alice"}).body["password"]
    # When it is reset twice, once under a key
    first = reset(api, "alice").body["password"]
    second = reset(api, "alice", headers=keyed("reset-alice-1")).body["password"]
    # Then every password is new
    assert len({created, first, second}) == 3


# -- POST /endpoints/{username}/disable -----------------------------------------------------------


def test_disabling_sets_a_password_nobody_was_given_and_the_status_disabled(api: ProvisionerApi) -> None:
    # Given a managed endpoint with its password
    given = api.create({"username": "alice"}).body["password"]
    # When it is disabled
    answer = disable(api, "alice")
    # Then the answer says disabled, carries no password, and SignalWire holds one nobody was given
    assert (answer.status, answer.body) == (200, {"username": "alice", "status": "disabled"})
    held = api.emulator.stored_password("alice")
    assert held is not None
    assert held != given
    assert held not in str(answer.body)
    view = look_up(api, "alice").body
    assert (view["record"]["status"], view["managed"]) == ("disabled", True)
    assert listed(api, "status=disabled") == ["alice"]


def test_disabling_a_disabled_endpoint_again_changes_its_password_again(api: ProvisionerApi) -> None:
    # Given a disabled endpoint
    api.create({"username": "alice"})
    disable(api, "alice")
    first = api.emulator.stored_password("alice")
    # When it is disabled again
    answer = disable(api, "alice")
    # Then it stays disabled, with yet another unknown password
    assert answer.status == 200
    assert api.emulator.stored_password("alice") != first
    assert look_up(api, "alice").body["record"]["status"] == "disabled"


def test_a_disabled_endpoint_is_still_listed_by_default(api: ProvisionerApi) -> None:
    # Given an active and a disabled endpoint
    api.create({"username": "alice"})
    api.create({"username": "bob"})
    disable(api, "bob")
    # When the inventory is listed without a status
    # Then both are there
    assert listed(api) == ["alice", "bob"]


# -- DELETE /endpoints/{username} -----------------------------------------------------------------


def test_deleting_removes_the_endpoint_and_keeps_the_record_as_deleted(api: ProvisionerApi) -> None:
    # Given a managed endpoint
    api.create({"username": "alice", "owner": "E1001"})
    # When it is deleted
    answer = delete(api, "alice")
    # Then it is a 204 with no body, SignalWire has no such endpoint, and the record says who deleted it
    assert (answer.status, answer.body) == (204, "")
    assert api.emulator.endpoints == []
    assert api.emulator.deletes_committed() == 1
    assert listed(api) == []
    answer = api.request("GET", "/endpoints", query="status=deleted")
    [summary] = answer.body["endpoints"]
    assert (summary["username"], summary["status"], summary["owner"]) == ("alice", "deleted", "E1001")
    [item] = [
        i for i in boto3.client("dynamodb").scan(TableName=INVENTORY_TABLE)["Items"] if i["username"]["S"] == "alice"
    ]
    assert item["status"]["S"] == "deleted"
    assert item["deleted_by"]["S"] == CALLER.user_arn
    assert item["deleted_at"]["S"]


def test_deleting_again_is_a_204_and_sends_signalwire_no_delete(api: ProvisionerApi) -> None:
    # Given an endpoint the service deleted
    api.create({"username": "alice"})
    assert delete(api, "alice").status == 204
    # When it is deleted again
    again = delete(api, "alice")
    # Then it is 204 again, and SignalWire got no second delete
    assert again.status == 204
    assert api.emulator.requests_received("delete") == 1


def test_a_looked_up_deleted_endpoint_is_a_404(api: ProvisionerApi) -> None:
    # Given an endpoint the service deleted
    api.create({"username": "alice"})
    delete(api, "alice")
    # When it is looked up
    # Then SignalWire does not have it: endpoint-not-found
    assert problem_type(look_up(api, "alice")) == (404, "endpoint-not-found")


def test_a_dry_run_delete_shows_the_record_and_deletes_nothing(api: ProvisionerApi) -> None:
    # Given a managed endpoint
    created = api.create({"username": "alice", "owner": "E1001"})
    # When it is deleted as a dry run
    answer = delete(api, "alice", query="dry_run=true")
    # Then the answer shows the record that would be deleted, and nothing was
    assert answer.status == 200
    assert answer.body["dry_run"] is True
    would = answer.body["would_delete"]
    assert (would["username"], would["endpoint_id"], would["status"], would["owner"]) == (
        "alice",
        created.body["endpoint"]["id"],
        "active",
        "E1001",
    )
    assert api.emulator.requests_received("delete") == 0
    assert len(api.emulator.endpoints) == 1
    assert look_up(api, "alice").body["record"]["status"] == "active"


def test_a_dry_run_delete_of_an_endpoint_already_deleted_is_still_a_dry_run_answer(api: ProvisionerApi) -> None:
    # Given an endpoint the service deleted
    api.create({"username": "alice"})
    assert delete(api, "alice").status == 204
    # When it is deleted again as a dry run
    answer = delete(api, "alice", query="dry_run=true")
    # Then the answer has the dry-run shape, and nothing was sent
    assert answer.status == 200
    assert answer.body.get("dry_run") is True, answer.body
    assert api.emulator.requests_received("delete") == 1


def test_deleting_a_disabled_endpoint_deletes_it(api: ProvisionerApi) -> None:
    # Given a disabled endpoint
    api.create({"username": "alice"})
    disable(api, "alice")
    # When it is deleted
    # Then it is gone and its record deleted
    assert delete(api, "alice").status == 204
    assert api.emulator.endpoints == []
    assert listed(api, "status=deleted") == ["alice"]


def test_an_endpoint_deleted_outside_the_service_is_deleted_in_the_record_too(api: ProvisionerApi) -> None:
    # Given a managed endpoint someone deleted straight in SignalWire
    api.create({"username": "alice"})
    requests.delete(
        f"{api.emulator.base_url}{COLLECTION_PATH}/{upstream(api, 'alice')['id']}",
        auth=(api.emulator.project_id, api.emulator.api_token),
        timeout=5,
    ).raise_for_status()
    # When the service is asked to delete it
    answer = delete(api, "alice")
    # Then the record follows: 204, deleted
    assert answer.status == 204
    assert listed(api, "status=deleted") == ["alice"]


def test_a_deleted_username_can_be_created_again_and_the_old_record_stays_listed_as_deleted(
    api: ProvisionerApi,
) -> None:
    # Given an endpoint created for E1001, then deleted
    first = api.create({"username": "alice", "owner": "E1001"})
    assert delete(api, "alice").status == 204
    # When the username is created again, for a returning employee
    second = api.create({"username": "alice", "owner": "E1001", "profile": "office"})
    # Then a new current record is active with the new endpoint, and the old one is still listed as deleted
    assert second.status == 201, second.body
    view = look_up(api, "alice").body
    assert view["record"]["status"] == "active"
    assert view["record"]["endpoint_id"] == second.body["endpoint"]["id"] != first.body["endpoint"]["id"]
    assert view["record"]["profile"] == "office"
    assert listed(api) == ["alice"]
    deleted = api.request("GET", "/endpoints", query="status=deleted").body["endpoints"]
    assert [(s["username"], s["status"], s["profile"]) for s in deleted] == [("alice", "deleted", "default")]
    # And deleting the new one keeps both records
    assert delete(api, "alice").status == 204
    assert listed(api, "status=deleted") == ["alice", "alice"]


def test_a_username_not_deleted_cannot_be_created_again(api: ProvisionerApi) -> None:
    # Given a disabled endpoint
    api.create({"username": "alice"})
    disable(api, "alice")
    # When it is created again
    answer = api.create({"username": "alice"})
    # Then the username is taken, and the disabled record stays
    assert problem_type(answer) == (409, "username-taken")
    assert look_up(api, "alice").body["record"]["status"] == "disabled"


# -- 404 and 409 on every route ------------------------------------------------------------------

ROUTES: list[tuple[str, str, object]] = [
    ("GET", "", None),
    ("PATCH", "", {"caller_id": "X"}),
    ("POST", "/password", {}),
    ("POST", "/disable", None),
    ("DELETE", "", None),
]
CHANGING_ROUTES = ROUTES[1:]


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES, ids=[f"{m} {s or '/'}" for m, s, _ in ROUTES])
def test_an_unknown_username_is_a_404_on_every_route(
    api: ProvisionerApi, method: str, suffix: str, body: object
) -> None:
    # Given no endpoint "nobody" anywhere
    # When any route is asked about it
    answer = api.request(method, path("nobody", suffix), body)
    # Then it is endpoint-not-found, and SignalWire was changed in no way
    assert problem_type(answer) == (404, "endpoint-not-found")
    assert (api.emulator.requests_received("update"), api.emulator.requests_received("delete")) == (0, 0)


@pytest.mark.parametrize(
    ("method", "suffix", "body"), CHANGING_ROUTES, ids=[f"{m} {s or '/'}" for m, s, _ in CHANGING_ROUTES]
)
def test_an_unmanaged_endpoint_is_a_409_on_every_changing_route(
    api: ProvisionerApi, method: str, suffix: str, body: object
) -> None:
    # Given an endpoint made straight in SignalWire
    create_directly(api, "outsider")
    before = api.emulator.endpoints
    # When a route that would change it is called
    answer = api.request(method, path("outsider", suffix), body)
    # Then it is endpoint-not-managed, and the endpoint is untouched
    assert problem_type(answer) == (409, "endpoint-not-managed")
    assert api.emulator.endpoints == before
    assert (api.emulator.requests_received("update"), api.emulator.requests_received("delete")) == (0, 0)


@pytest.mark.parametrize(
    ("method", "suffix", "body"), CHANGING_ROUTES, ids=[f"{m} {s or '/'}" for m, s, _ in CHANGING_ROUTES]
)
def test_an_endpoint_recreated_outside_the_service_after_its_delete_is_unmanaged(
    api: ProvisionerApi, method: str, suffix: str, body: object
) -> None:
    # Given a username the service deleted, then someone created straight in SignalWire
    api.create({"username": "alice"})
    delete(api, "alice")
    create_directly(api, "alice")
    before = api.emulator.endpoints
    # When a route that would change it is called
    answer = api.request(method, path("alice", suffix), body)
    # Then it is endpoint-not-managed (the deleted record is not theirs), and nothing changed
    assert problem_type(answer) == (409, "endpoint-not-managed")
    assert api.emulator.endpoints == before
    assert look_up(api, "alice").body["managed"] is False


def test_a_dry_run_of_a_changing_route_on_an_unmanaged_endpoint_is_a_409(api: ProvisionerApi) -> None:
    # Given an endpoint made straight in SignalWire
    create_directly(api, "outsider")
    # When a PATCH or DELETE is tried as a dry run
    # Then neither pretends it could act
    assert problem_type(patch(api, "outsider", {}, query="dry_run=true")) == (409, "endpoint-not-managed")
    assert problem_type(delete(api, "outsider", query="dry_run=true")) == (409, "endpoint-not-managed")


# -- percent-encoded usernames -------------------------------------------------------------------


@pytest.mark.parametrize("username", ["a/b", "a?b", "a#b", "a%b", "a%2Fb", "ümlaut", "a+b"])
def test_a_username_holding_reserved_characters_is_one_percent_encoded_segment_on_every_route(
    api: ProvisionerApi, username: str
) -> None:
    # Given an endpoint whose username holds a character that is not unreserved
    created = api.create({"username": username})
    assert created.status == 201, created.body
    # When each route names it percent-encoded
    looked_up = look_up(api, username)
    patched = patch(api, username, {"caller_id": "Encoded"})
    reset_answer = reset(api, username)
    disabled = disable(api, username)
    deleted = delete(api, username)
    # Then each acts on that endpoint and no other
    assert (looked_up.status, looked_up.body["endpoint"]["username"]) == (200, username)
    assert looked_up.body["sip_uri"] == f"sip:{username}@{SIP_DOMAIN}"
    assert (patched.status, patched.body["changed"]) == (200, ["caller_id"])
    assert (reset_answer.status, reset_answer.body["username"]) == (200, username)
    assert (disabled.status, disabled.body["username"]) == (200, username)
    assert deleted.status == 204
    assert api.emulator.endpoints == []
    assert listed(api, "status=deleted") == [username]


def test_an_encoded_slash_never_reaches_another_username(api: ProvisionerApi) -> None:
    # Given endpoints "a" and "a/b"
    api.create({"username": "a"})
    api.create({"username": "a/b"})
    # When "a/b" is deleted through its encoded segment
    assert delete(api, "a/b").status == 204
    # Then "a" is untouched
    assert [e["username"] for e in api.emulator.endpoints] == ["a"]


def test_an_unencoded_slash_is_not_a_username(api: ProvisionerApi) -> None:
    # Given an endpoint "a"
    api.create({"username": "a"})
    # When "/endpoints/a/b" (two segments) is deleted
    answer = api.request("DELETE", "/endpoints/a/b")
    # Then no route answers it, and "a" is untouched
    assert problem_type(answer) == (404, "not-found")
    assert api.emulator.requests_received("delete") == 0
    assert [e["username"] for e in api.emulator.endpoints] == ["a"]


# -- Idempotency-Key on every state-changing route ------------------------------------------------


def test_a_keyed_patch_repeated_replays_its_answer_and_sends_nothing_more(api: ProvisionerApi) -> None:
    # Given a keyed PATCH that was answered
    api.create({"username": "alice"})
    first = patch(api, "alice", {"caller_id": "Alice"}, headers=keyed("patch-1"))
    # When it is repeated
    again = patch(api, "alice", {"caller_id": "Alice"}, headers=keyed("patch-1"))
    # Then the same status and body come back, and SignalWire got one update
    assert (again.status, again.body) == (first.status, first.body) == (200, first.body)
    assert first.body["changed"] == ["caller_id"]
    assert api.emulator.requests_received("update") == 1


def test_a_keyed_reset_repeated_replays_the_same_generated_password(api: ProvisionerApi) -> None:
    # Given a keyed reset that was answered with a generated password
    api.create({"username": "alice"})
    first = reset(api, "alice", headers=keyed("reset-1"))
    # When it is repeated
    again = reset(api, "alice", headers=keyed("reset-1"))
    # Then the same password comes back, the one SignalWire holds, and it was set once
    assert (again.status, again.body) == (200, first.body)
    assert again.body["password"] == api.emulator.stored_password("alice")
    assert api.emulator.requests_received("update") == 1


def test_a_keyed_reset_keeps_no_password_in_the_idempotency_record(api: ProvisionerApi) -> None:
    # Given a keyed reset answered with a generated password
    api.create({"username": "alice"})
    password = reset(api, "alice", headers=keyed("reset-1")).body["password"]
    # When every record the service keeps is read
    dynamodb = boto3.client("dynamodb")
    tables = dynamodb.list_tables()["TableNames"]
    stored = str([dynamodb.scan(TableName=table)["Items"] for table in tables])
    # Then the password is in none of them
    assert password not in stored


def test_a_keyed_reset_with_a_given_password_repeated_does_not_echo_it(api: ProvisionerApi) -> None:
    # Given a keyed reset with the caller's own password
    api.create({"username": "alice"})
    first = reset(api, "alice", {"password": CALLERS_PASSWORD}, headers=keyed("reset-1"))
    # When it is repeated
    again = reset(api, "alice", {"password": CALLERS_PASSWORD}, headers=keyed("reset-1"))
    # Then it replays without the password, which was set once
    assert (again.status, again.body) == (200, first.body)
    assert "password" not in again.body
    assert api.emulator.requests_received("update") == 1


def test_a_keyed_disable_repeated_replays_and_changes_the_password_once(api: ProvisionerApi) -> None:
    # Given a keyed disable that was answered
    api.create({"username": "alice"})
    first = disable(api, "alice", headers=keyed("disable-1"))
    held = api.emulator.stored_password("alice")
    # When it is repeated
    again = disable(api, "alice", headers=keyed("disable-1"))
    # Then it replays, and the password was changed once
    assert (
        (again.status, again.body) == (first.status, first.body) == (200, {"username": "alice", "status": "disabled"})
    )
    assert api.emulator.stored_password("alice") == held
    assert api.emulator.requests_received("update") == 1


def test_a_keyed_delete_repeated_is_a_204_and_sends_one_delete(api: ProvisionerApi) -> None:
    # Given a keyed delete that was answered
    api.create({"username": "alice"})
    first = delete(api, "alice", headers=keyed("delete-1"))
    # When it is repeated
    again = delete(api, "alice", headers=keyed("delete-1"))
    # Then both are 204 with no body, after one delete
    assert (first.status, first.body, again.status, again.body) == (204, "", 204, "")
    assert api.emulator.requests_received("delete") == 1


def test_a_keyed_delete_repeated_after_a_re_create_does_not_delete_the_new_endpoint(api: ProvisionerApi) -> None:
    # Given a keyed delete that was answered, and the username created again since
    api.create({"username": "alice"})
    delete(api, "alice", headers=keyed("offboard-alice"))
    api.create({"username": "alice"})
    # When the delete is repeated under its key (a workflow retrying late)
    again = delete(api, "alice", headers=keyed("offboard-alice"))
    # Then it replays its answer and the returning employee's endpoint stays
    assert again.status == 204
    assert [e["username"] for e in api.emulator.endpoints] == ["alice"]
    assert look_up(api, "alice").body["record"]["status"] == "active"


KEYED_OPERATIONS: dict[str, tuple[str, str, object]] = {
    "create": ("POST", "", None),
    "patch": ("PATCH", "", {"caller_id": "Keyed"}),
    "reset": ("POST", "/password", {}),
    "disable": ("POST", "/disable", None),
    "delete": ("DELETE", "", None),
}


def send(api: ProvisionerApi, operation: str, username: str, key: str, caller: IamCaller = CALLER) -> Answer:
    method, suffix, body = KEYED_OPERATIONS[operation]
    if operation == "create":
        return api.create({"username": username}, headers=keyed(key), caller=caller)
    return api.request(method, path(username, suffix), body, headers=keyed(key), caller=caller)


PAIRS = [(a, b) for a in KEYED_OPERATIONS for b in KEYED_OPERATIONS if a != b and "create" not in (a, b)] + [
    ("create", "patch"),
    ("create", "disable"),
]


@pytest.mark.parametrize(("first", "then"), PAIRS, ids=[f"{a} then {b}" for a, b in PAIRS])
def test_another_operation_under_the_same_key_is_refused_and_runs_nothing(
    api: ProvisionerApi, first: str, then: str
) -> None:
    # Given a managed endpoint and a key used for one operation on it
    if first != "create":
        api.create({"username": "alice"})
    assert send(api, first, "alice", "key-1").status in (200, 201, 204)
    if first == "delete":
        api.create({"username": "alice"})  # something left to act on
    updates, deletes = api.emulator.requests_received("update"), api.emulator.requests_received("delete")
    # When another operation on the same username comes under the same key
    answer = send(api, then, "alice", "key-1")
    # Then it is idempotency-key-reused, and SignalWire got nothing for it
    assert problem_type(answer) == (422, "idempotency-key-reused")
    assert (api.emulator.requests_received("update"), api.emulator.requests_received("delete")) == (updates, deletes)


@pytest.mark.parametrize("operation", ["patch", "reset", "disable", "delete"])
def test_the_same_operation_on_another_username_under_the_same_key_is_refused(
    api: ProvisionerApi, operation: str
) -> None:
    # Given two managed endpoints and a key used for one operation on the first
    api.create({"username": "alice"})
    api.create({"username": "bob"})
    assert send(api, operation, "alice", "key-1").status in (200, 204)
    before = api.emulator.endpoints
    # When the same operation on the other username comes under the same key
    answer = send(api, operation, "bob", "key-1")
    # Then it is idempotency-key-reused and bob is untouched
    assert problem_type(answer) == (422, "idempotency-key-reused")
    assert [e for e in api.emulator.endpoints if e["username"] == "bob"] == [
        e for e in before if e["username"] == "bob"
    ]


def test_a_keyed_patch_with_another_body_under_the_same_key_is_refused(api: ProvisionerApi) -> None:
    # Given a keyed PATCH that was answered
    api.create({"username": "alice"})
    patch(api, "alice", {"caller_id": "Alice"}, headers=keyed("patch-1"))
    # When the key comes with another change
    answer = patch(api, "alice", {"caller_id": "Someone else"}, headers=keyed("patch-1"))
    # Then it is refused, and the first change stands
    assert problem_type(answer) == (422, "idempotency-key-reused")
    assert upstream(api, "alice")["caller_id"] == "Alice"


def test_a_keyed_reset_with_another_password_under_the_same_key_is_refused(api: ProvisionerApi) -> None:
    # Given a keyed reset with a given password
    api.create({"username": "alice"})
    reset(api, "alice", {"password": CALLERS_PASSWORD}, headers=keyed("reset-1"))
    # When the key comes with another password
    answer = reset(api, "alice", {"password": CALLERS_PASSWORD + "x"}, headers=keyed("reset-1"))
    # Then it is refused, and the first password stands
    assert problem_type(answer) == (422, "idempotency-key-reused")
    assert api.emulator.stored_password("alice") == CALLERS_PASSWORD


@pytest.mark.parametrize("operation", ["patch", "reset", "disable", "delete"])
def test_a_key_is_scoped_to_its_caller(api: ProvisionerApi, operation: str) -> None:
    # Given two managed endpoints, and alice's caller using a key on one
    api.create({"username": "alice"})
    api.create({"username": "bob"})
    assert send(api, operation, "alice", "shared-key").status in (200, 204)
    # When another caller uses the same key on the other
    answer = send(api, operation, "bob", "shared-key", caller=OTHER_CALLER)
    # Then it runs as its own request
    assert answer.status in (200, 204), answer.body


def test_a_keyed_request_that_failed_runs_again_under_its_key(api: ProvisionerApi) -> None:
    # Given a keyed PATCH refused as invalid over today's profiles (a 422)
    api.create({"username": "alice"})
    assert patch(api, "alice", {"profile": "no-such"}, headers=keyed("patch-1")).status == 422
    # When it is repeated under the same key
    again = patch(api, "alice", {"profile": "no-such"}, headers=keyed("patch-1"))
    # Then it is judged again (still a 422), never replaced by another request
    assert problem_type(again) == (422, "validation-error")


# -- unknown query parameters --------------------------------------------------------------------

QUERY_ROUTES: list[tuple[str, str, object]] = [
    ("GET", "", None),
    ("PATCH", "", {"caller_id": "X"}),
    ("POST", "/password", {}),
    ("POST", "/disable", None),
    ("DELETE", "", None),
]


@pytest.mark.parametrize(
    ("method", "suffix", "body"), QUERY_ROUTES, ids=[f"{m} {s or '/'}" for m, s, _ in QUERY_ROUTES]
)
def test_an_unknown_query_parameter_is_a_422_naming_it_and_changes_nothing(
    api: ProvisionerApi, method: str, suffix: str, body: object
) -> None:
    # Given a managed endpoint
    api.create({"username": "alice"})
    before = api.emulator.endpoints
    # When a route is called with a misspelled dry run
    answer = api.request(method, path("alice", suffix), body, query="dryRun=true")
    # Then it is a 422 naming it, and the endpoint is untouched
    assert problem_type(answer) == (422, "validation-error")
    assert [e["field"] for e in answer.body["errors"]] == ["dryRun"]
    assert api.emulator.endpoints == before
    assert look_up(api, "alice").body["record"]["status"] == "active"


def test_an_unknown_query_parameter_on_the_list_is_a_422_naming_it(api: ProvisionerApi) -> None:
    # Given / When the list is asked for with a parameter it does not take
    answer = api.request("GET", "/endpoints", query="state=active")
    # Then it is a 422 naming it
    assert problem_type(answer) == (422, "validation-error")
    assert [e["field"] for e in answer.body["errors"]] == ["state"]


@pytest.mark.parametrize("route", ["password", "disable"])
def test_dry_run_is_not_a_parameter_of_reset_or_disable(api: ProvisionerApi, route: str) -> None:
    # Given a managed endpoint
    api.create({"username": "alice"})
    before = api.emulator.stored_password("alice")
    # When reset or disable is sent with dry_run (which they do not take)
    answer = api.request("POST", path("alice", f"/{route}"), {}, query="dry_run=true")
    # Then it is refused rather than run for real
    assert problem_type(answer) == (422, "validation-error")
    assert api.emulator.stored_password("alice") == before
