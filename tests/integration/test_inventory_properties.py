"""For any sequence of create / patch / reset / disable / delete, the inventory and SignalWire agree.

Each example runs a short random sequence of life-cycle requests over a few usernames through the
real handler, against the emulator, and after every step checks, through the API alone
(`GET /endpoints?status=...` and `GET /endpoints/{username}`), that:
- an `active` or `disabled` record has its endpoint in SignalWire, with the same id;
- a `deleted` record (or none) has no endpoint in SignalWire;
- every answer is the one a simple model of the endpoint's life predicts.
"""

import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from local.signalwire_emulator import Fault
from tests.integration.conftest import Answer, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

USERNAMES = ("u0", "u1")
PROFILES = ("default", "office")
CHANGES: tuple[dict[str, Any], ...] = (
    {"caller_id": "Desk A"},
    {"caller_id": None},
    {"profile": "office"},
    {"profile": None},
    {},
)
LIVE = ("active", "disabled")

# Every example works under its own owner and usernames: the fixture's moto is shared by all
# examples of the test (the emulator is reset for each), so each example reads only what it made.
_examples = itertools.count()

operations = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(USERNAMES), st.sampled_from(PROFILES)),
    st.tuples(st.just("patch"), st.sampled_from(USERNAMES), st.sampled_from(range(len(CHANGES)))),
    st.tuples(st.just("reset"), st.sampled_from(USERNAMES), st.booleans()),
    st.tuples(st.just("disable"), st.sampled_from(USERNAMES), st.none()),
    st.tuples(st.just("delete"), st.sampled_from(USERNAMES), st.none()),
)


@dataclass
class Model:
    """What the inventory should say of each username: its current status and how many deletes."""

    status: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(USERNAMES))
    deleted_records: dict[str, int] = field(default_factory=lambda: dict.fromkeys(USERNAMES, 0))


def path(username: str, suffix: str = "") -> str:
    return f"/endpoints/{quote(username, safe='')}{suffix}"


def run(api: ProvisionerApi, owner: str, operation: tuple[str, str, Any]) -> Answer:
    verb, name, argument = operation
    username = f"{owner}/{name}"
    if verb == "create":
        return api.create({"username": username, "profile": argument, "owner": owner})
    if verb == "patch":
        return api.request("PATCH", path(username), CHANGES[argument])
    if verb == "reset":
        body = {"password": "a-password-given-by-the-caller"} if argument else {}
        return api.request("POST", path(username, "/password"), body)
    if verb == "disable":
        return api.request("POST", path(username, "/disable"))
    return api.request("DELETE", path(username))


def expect(model: Model, operation: tuple[str, str, Any]) -> int:
    """The status the model predicts, updating the model as the service should."""
    verb, name, _ = operation
    status = model.status[name]
    if verb == "create":
        if status in LIVE:
            return 409
        model.status[name] = "active"
        return 201
    if status not in LIVE:
        if verb == "delete" and status == "deleted":
            return 204
        return 404
    if verb == "patch":
        return 200
    if verb == "reset":
        model.status[name] = "active"
        return 200
    if verb == "disable":
        model.status[name] = "disabled"
        return 200
    model.status[name] = "deleted"
    model.deleted_records[name] += 1
    return 204


def listed(api: ProvisionerApi, owner: str, status: str) -> list[str]:
    usernames: list[str] = []
    cursor: str | None = None
    while True:
        query = f"owner={quote(owner, safe='')}&status={status}&limit=100"
        if cursor:
            query += f"&cursor={quote(cursor, safe='')}"
        answer = api.request("GET", "/endpoints", query=query)
        assert answer.status == 200, answer.body
        usernames.extend(summary["username"] for summary in answer.body["endpoints"])
        cursor = answer.body["next_cursor"]
        if cursor is None:
            return usernames


def assert_agree(api: ProvisionerApi, owner: str, model: Model) -> None:
    upstream = {str(e["username"]): e for e in api.emulator.endpoints if str(e["username"]).startswith(f"{owner}/")}
    by_status = {status: listed(api, owner, status) for status in ("active", "disabled", "deleted")}
    for name in USERNAMES:
        username = f"{owner}/{name}"
        status = model.status[name]
        for listed_status, usernames in by_status.items():
            expected_count = model.deleted_records[name] if listed_status == "deleted" else int(status == listed_status)
            assert usernames.count(username) == expected_count, (username, listed_status, by_status)
        view = api.request("GET", path(username))
        if status in LIVE:
            assert username in upstream, f"{username} is {status} in the inventory but not in SignalWire"
            assert view.status == 200, view.body
            record = view.body["record"]
            assert view.body["managed"] is True
            assert (record["status"], record["endpoint_id"]) == (status, upstream[username]["id"])
            assert "password" not in record["request"]
        else:
            assert username not in upstream, f"{username} is in SignalWire without a live record"
            assert view.status == 404, view.body


@settings(
    max_examples=15,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
)
@given(sequence=st.lists(operations, min_size=1, max_size=8))
def test_for_any_sequence_of_life_cycle_requests_the_inventory_and_signalwire_agree(
    api: ProvisionerApi, sequence: list[tuple[str, str, Any]]
) -> None:
    # Given a fresh owner and usernames, and a model of what each should be
    api.emulator.reset()  # what other examples made is theirs: each reads only its own owner's
    owner = f"owner{next(_examples)}"
    model = Model()
    for operation in sequence:
        # When each request of the sequence is sent
        answer = run(api, owner, operation)
        note(f"{operation}: {answer.status}")
        # Then its answer is the predicted one, and the inventory and SignalWire agree
        assert answer.status == expect(model, operation), (operation, answer.body)
        assert_agree(api, owner, model)


# SignalWire failing a step's update or delete, in the ways whose outcome the service must find out.
faults = st.one_of(
    st.none(), st.sampled_from([Fault.SERVER_ERROR, Fault.CLOSE_CONNECTION, Fault.COMMIT_THEN_CLOSE, Fault.NON_JSON])
)
ANSWERS_UNDER_FAULTS = {200, 201, 204, 404, 409, 502, 503, 504}


def assert_agree_whatever_failed(api: ProvisionerApi, owner: str) -> None:
    """No model: whatever SignalWire did, each endpoint has exactly one live record with its id,
    and no live record lacks its endpoint."""
    upstream = {str(e["username"]): e for e in api.emulator.endpoints if str(e["username"]).startswith(f"{owner}/")}
    live = listed(api, owner, "active") + listed(api, owner, "disabled")
    for name in USERNAMES:
        username = f"{owner}/{name}"
        assert live.count(username) == int(username in upstream), (username, live, sorted(upstream))
        if username in upstream:
            view = api.request("GET", path(username))
            assert view.status == 200, view.body
            assert (view.body["managed"], view.body["record"]["endpoint_id"]) == (True, upstream[username]["id"])


@settings(
    max_examples=15,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
)
@given(sequence=st.lists(st.tuples(operations, faults), min_size=1, max_size=8))
# A proxy answering a DELETE with a 200 page while SignalWire deleted nothing.
@example(sequence=[(("create", "u0", "default"), None), (("delete", "u0", None), Fault.NON_JSON)])
def test_for_any_sequence_with_signalwire_failing_updates_and_deletes_no_record_is_lost(
    api: ProvisionerApi, sequence: list[tuple[tuple[str, str, Any], Fault | None]]
) -> None:
    # Given a fresh owner and usernames, and SignalWire with no fault left from another example
    api.emulator.reset()
    owner = f"faulty{next(_examples)}"
    for operation, fault in sequence:
        # When each request is sent, SignalWire perhaps failing the update or delete it makes
        if fault is not None:
            api.emulator.inject_fault(fault, operation="delete" if operation[0] == "delete" else "update")
        answer = run(api, owner, operation)
        note(f"{operation} with SignalWire {fault or 'well'}: {answer.status}")
        # Then the answer is one the contract allows, and the inventory and SignalWire still agree
        assert answer.status in ANSWERS_UNDER_FAULTS, (operation, fault, answer.body)
        assert_agree_whatever_failed(api, owner)
