"""What every invocation carries to a use case (`callers/invocation.py`), built from Lambda's context."""

from typing import Any, cast

from sip_provisioning.callers.invocation import Invocation
from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.records import CreatedVia
from sip_provisioning.use_cases.ports import Caller, Ports

PORTS = cast(Ports, object())
CALLER = Caller(identity="workflow", via=CreatedVia.WORKFLOW)


class FrozenContext:
    """A Lambda context whose invocation has exactly `remaining_ms` left, however long the test takes."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_an_invocation_may_hold_its_key_for_all_the_time_lambda_gives_it() -> None:
    # Given an invocation with 25 s left
    # When it is built from the context
    invocation = Invocation.of(FrozenContext(25_000), PORTS, CALLER, key="run-1")
    # Then a retry may take its key over only once those 25 s are gone
    assert invocation.busy_seconds == 25.0
    assert invocation.key == "run-1"


def test_an_invocations_deadline_keeps_the_answer_margin_back() -> None:
    # Given an invocation with 25 s left, between two deadlines Lambda's remaining time gives directly
    before = Deadline.before_timeout(25_000)
    # When the invocation is built from the context
    invocation = Invocation.of(FrozenContext(25_000), PORTS, CALLER)
    after = Deadline.before_timeout(25_000)
    # Then its deadline is that one: 25 s on, less the margin kept back to answer
    assert before.at <= invocation.deadline.at <= after.at


def test_a_keyed_verb_runs_with_the_invocations_ports_caller_deadline_key_and_busy_time() -> None:
    # Given an invocation under a key, and a keyed verb that records what it is given
    invocation = Invocation.of(FrozenContext(10_000), PORTS, CALLER, key="run-1")
    given: dict[str, Any] = {}

    def verb(ports: Ports, caller: Caller, username: str, deadline: Deadline, *, key: str, busy_seconds: float) -> str:
        given.update(ports=ports, caller=caller, username=username, deadline=deadline, key=key, busy=busy_seconds)
        return "answered"

    # When the verb is run once under the invocation
    answer = invocation.once(verb, "alice")
    # Then it got the bundle, its own arguments between the caller and the deadline
    assert answer == "answered"
    assert given == {
        "ports": PORTS,
        "caller": CALLER,
        "username": "alice",
        "deadline": invocation.deadline,
        "key": "run-1",
        "busy": 10.0,
    }


def test_a_keyed_invocation_is_the_same_invocation_under_another_key() -> None:
    # Given an invocation without a key
    unkeyed = Invocation.of(FrozenContext(10_000), PORTS, CALLER)
    # When a bulk row's key is put on it
    keyed = unkeyed.keyed("execution-1:alice")
    # Then only the key differs
    assert keyed.key == "execution-1:alice"
    assert (keyed.ports, keyed.caller, keyed.deadline, keyed.busy_seconds) == (
        unkeyed.ports,
        unkeyed.caller,
        unkeyed.deadline,
        unkeyed.busy_seconds,
    )
