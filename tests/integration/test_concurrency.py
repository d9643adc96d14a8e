"""Idempotency under concurrency: many Lambda containers, one Idempotency-Key, one endpoint.

Each container is its own fresh copy of the function module (its own resolver and `service()`),
as Lambda runs concurrent requests in separate execution environments; they share DynamoDB,
SSM and SignalWire, as deployed containers do.
"""

import threading
import time
from collections.abc import Iterator

import pytest

from local.signalwire_emulator import Fault
from reliability import lambda_process
from reliability.harness import Container, Reply, Stack, create_event, running_stack, wait_until

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

CONTAINERS = 20
KEY = "onboarding-run-77-ida"
IDA = {"username": "ida"}
# Long enough for all 20 requests to reach the idempotency check while the first create runs.
CREATE_DELAY_SECONDS = 1.5
# Lambda timeout of the container that is cut off; its in-progress record blocks for this long.
CUT_OFF_TIMEOUT_SECONDS = 2.5


def send_all_at_once(containers: list[Container], body: object, key: str) -> list[Reply]:
    """One request per container, released together; the answers in container order."""
    start = threading.Barrier(len(containers))
    replies: list[Reply | None] = [None] * len(containers)

    def send(index: int) -> None:
        start.wait()
        replies[index] = containers[index].invoke(create_event(body, key=key))[0]

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(containers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(reply is not None for reply in replies), "a container raised instead of answering"
    return [reply for reply in replies if reply is not None]


@pytest.fixture
def stack() -> Iterator[Stack]:
    # SignalWire's read timeout well above the slowed create, so the create is slow, not lost.
    with running_stack(read_timeout=5 * CREATE_DELAY_SECONDS) as running:
        yield running


def test_twenty_concurrent_identical_requests_with_one_key_create_one_endpoint(stack: Stack) -> None:
    # Given 20 warm containers, and SignalWire taking its time over a create
    containers = [Container() for _ in range(CONTAINERS)]
    for container in containers:
        container.warm_up()
    stack.emulator.inject_fault(Fault.HANG, delay_seconds=CREATE_DELAY_SECONDS)
    # When the same keyed request reaches all of them at once
    replies = send_all_at_once(containers, IDA, KEY)
    # Then SignalWire got one create, and every caller got that endpoint or was told it is in progress
    created = [reply for reply in replies if reply.status == 201]
    in_progress = [reply for reply in replies if reply.problem_type == "idempotency-in-progress"]
    stored = stack.emulator.endpoints
    assert stack.emulator.create_requests_received() == 1
    assert [(e["username"], e["password"]) for e in stored] == [("ida", created[0].body["password"])]
    assert all(reply.body == created[0].body for reply in created)
    assert all((reply.status, reply.headers.get("Retry-After")) == (409, "1") for reply in in_progress)
    assert len(created) + len(in_progress) == CONTAINERS
    assert in_progress, "the requests did not overlap, so this run proved nothing about concurrency"


def test_a_container_cut_off_mid_create_blocks_its_key_only_until_its_timeout_has_passed() -> None:
    with running_stack(read_timeout=10, moto_server=True) as stack:
        # Given a container in another process whose create SignalWire holds, cut off mid-request
        retrying = Container()
        retrying.warm_up()
        stack.emulator.inject_fault(Fault.HANG, delay_seconds=CUT_OFF_TIMEOUT_SECONDS / 2)
        cut_off = lambda_process.start(create_event(IDA, key=KEY), CUT_OFF_TIMEOUT_SECONDS)
        wait_until(lambda: stack.emulator.create_requests_received() == 1, timeout=30, what="the create to arrive")
        create_arrived_at = time.monotonic()
        assert cut_off.poll() is None, f"the invocation ended by itself: {cut_off.communicate()[1]!r}"
        cut_off.kill()
        cut_off.wait()
        # When the caller retries at once, and again once the held create has committed and the
        # cut-off invocation's timeout has passed
        early, _ = retrying.invoke(create_event(IDA, key=KEY))
        wait_until(lambda: stack.emulator.creates_committed() == 1, timeout=10, what="the held create to commit")
        time.sleep(max(0.0, create_arrived_at + CUT_OFF_TIMEOUT_SECONDS + 0.5 - time.monotonic()))
        late, _ = retrying.invoke(create_event(IDA, key=KEY))
        # Then the early retry is told the key is in use; the late one finds the cut-off create's
        # endpoint and answers it with the password SignalWire holds, and it stays the only one
        assert (early.status, early.problem_type) == (409, "idempotency-in-progress")
        assert late.status == 201
        assert [(e["id"], e["password"]) for e in stack.emulator.endpoints] == [
            (late.body["endpoint"]["id"], late.body["password"])
        ]
