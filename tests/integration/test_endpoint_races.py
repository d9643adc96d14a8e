"""Two writes racing on one endpoint (issue 19, "also check"): no 500, and the inventory ends as
SignalWire is.

Each request runs in its own Lambda container (a fresh copy of the function module) on one
stack, as concurrent requests do in AWS. SignalWire holds the first request's change for a
while (the emulator's HANG, well within the read timeout), and the second request runs from
start to end meanwhile: the first one's change lands last, after the second's record write.
"""

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.gateway import build_event
from local.signalwire_emulator import Fault
from reliability.harness import CALLER, INVENTORY_TABLE, Container, Reply, Stack, running_stack, wait_until

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

USERNAME = "ida"
HELD_SECONDS = 1.0
JSON = [("Content-Type", "application/json")]

type Route = tuple[str, str, object]
PATCH: Route = ("PATCH", "", {"caller_id": "Front Desk"})
RESET: Route = ("POST", "/password", {})
DISABLE: Route = ("POST", "/disable", None)
DELETE: Route = ("DELETE", "", None)


@pytest.fixture
def stack() -> Iterator[Stack]:
    # SignalWire's read timeout well above the held change, so it is slow, not lost.
    with running_stack(read_timeout=5 * HELD_SECONDS) as running:
        yield running


def send(container: Container, route: Route) -> Reply:
    method, suffix, body = route
    data = b"" if body is None else json.dumps(body).encode()
    return container.invoke(build_event(method, f"/endpoints/{USERNAME}{suffix}", "", JSON, data, caller=CALLER))[0]


def race(stack: Stack, held: Route, meanwhile: Route, operation: str) -> tuple[Reply, Reply]:
    """`held` sent first, its SignalWire `operation` held; `meanwhile` sent and answered in the
    meantime, from another container. Both answers, in that order."""
    first, second = Container(), Container()
    first.warm_up()
    second.warm_up()
    stack.emulator.inject_fault(Fault.HANG, operation=operation, delay_seconds=HELD_SECONDS)
    received = stack.emulator.requests_received(operation)
    answers: dict[str, Reply] = {}
    thread = threading.Thread(target=lambda: answers.update(held=send(first, held)))
    thread.start()
    wait_until(lambda: stack.emulator.requests_received(operation) > received, timeout=10, what="the held change")
    answers["meanwhile"] = send(second, meanwhile)
    thread.join()
    return answers["held"], answers["meanwhile"]


def created(stack: Stack) -> None:
    reply = Container().invoke(
        build_event("POST", "/endpoints", "", JSON, json.dumps({"username": USERNAME}).encode(), caller=CALLER)
    )[0]
    assert reply.status == 201, reply.body


def current_record() -> dict[str, Any]:
    item = boto3.client("dynamodb").get_item(
        TableName=INVENTORY_TABLE, Key={"username": {"S": USERNAME}, "record": {"S": "current"}}, ConsistentRead=True
    )["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


def assert_no_5xx(*replies: Reply) -> None:
    assert [reply.status for reply in replies if reply.status >= 500] == [], [reply.body for reply in replies]


def test_a_patch_landing_while_signalwire_holds_a_delete_ends_deleted_in_both(stack: Stack) -> None:
    # Given a managed endpoint
    created(stack)
    # When a DELETE is held by SignalWire while a PATCH of the endpoint runs
    deleted, patched = race(stack, DELETE, PATCH, "delete")
    # Then neither is a 500, and the endpoint is gone in SignalWire and deleted in the inventory
    assert_no_5xx(deleted, patched)
    assert deleted.status == 204
    assert stack.emulator.endpoints == []
    assert current_record()["status"] == "deleted"


def test_a_delete_landing_while_signalwire_holds_a_patch_ends_deleted_in_both(stack: Stack) -> None:
    # Given a managed endpoint
    created(stack)
    # When a PATCH is held by SignalWire while a DELETE of the endpoint runs
    patched, deleted = race(stack, PATCH, DELETE, "update")
    # Then neither is a 500: the PATCH finds nothing left to change, and the endpoint is deleted in both
    assert_no_5xx(patched, deleted)
    assert (deleted.status, patched.status, patched.problem_type) == (204, 404, "endpoint-not-found")
    assert stack.emulator.endpoints == []
    assert current_record()["status"] == "deleted"


@pytest.mark.parametrize("status_before", ["active", "disabled"])
def test_a_disable_landing_while_signalwire_holds_a_reset_ends_as_the_last_password_says(
    stack: Stack, status_before: str
) -> None:
    # Given a managed endpoint, active or disabled
    created(stack)
    if status_before == "disabled":
        assert send(Container(), DISABLE).status == 200
    # When a password reset is held by SignalWire while a disable runs
    reset, disabled = race(stack, RESET, DISABLE, "update")
    # Then neither is a 500, and the record is active exactly when SignalWire holds the reset's password
    assert_no_5xx(reset, disabled)
    assert reset.status == 200, reset.body
    holds_reset_password = stack.emulator.stored_password(USERNAME) == reset.body["password"]
    assert (current_record()["status"] == "active") == holds_reset_password


@pytest.mark.parametrize("status_before", ["active", "disabled"])
def test_a_reset_landing_while_signalwire_holds_a_disable_ends_as_the_last_password_says(
    stack: Stack, status_before: str
) -> None:
    # Given a managed endpoint, active or disabled
    created(stack)
    if status_before == "disabled":
        assert send(Container(), DISABLE).status == 200
    # When a disable is held by SignalWire while a password reset runs
    disabled, reset = race(stack, DISABLE, RESET, "update")
    # Then neither is a 500, and the record is active exactly when SignalWire holds the reset's password
    assert_no_5xx(disabled, reset)
    assert reset.status == 200, reset.body
    holds_reset_password = stack.emulator.stored_password(USERNAME) == reset.body["password"]
    assert (current_record()["status"] == "active") == holds_reset_password
