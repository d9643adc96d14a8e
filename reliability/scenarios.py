"""Every fault scenario, defined once: what goes wrong, what the caller sends, what it must get.

`tests/integration/test_reliability_scenarios.py` asserts each one; `python -m reliability.report`
(`make reliability`) runs them all and prints the table. Faults that an onboarding workflow
recovers from are followed by its retry under the same Idempotency-Key: what must hold in the
end is one endpoint per username and its password in the caller's hands.
"""

import time
from collections.abc import Mapping
from typing import Any

from local.gateway import LambdaFunction
from local.signalwire_emulator import Fault
from reliability.harness import CALLER, OTHER_CALLER, Container, Stack, create_event, refusing_port, wait_until
from reliability.runner import Outcome, Request, Scenario, Step
from sip_provisioning.use_cases.create import MAX_CREATE_ATTEMPTS

IDA = {"username": "ida"}
BOB = {"username": "bob"}
EVE = {"username": "eve"}
KEY = "onboarding-run-1-ida"
HELPDESK_KEY = "helpdesk-ticket-77-eve"
CREATED = Outcome(201)
CONCURRENT_REQUESTS = 20
WRONG_TOKEN = "PTrevoked-token-0000"  # noqa: S105 - a token SignalWire does not accept


def problem(status: int, problem_type: str, retry_after: str | None = None) -> Outcome:
    return Outcome(status, problem_type, retry_after)


def one_by_one(*requests: Request) -> tuple[tuple[Request, ...], ...]:
    return tuple((request,) for request in requests)


def inject(fault: Fault, **options: Any) -> Step:
    def setup(stack: Stack) -> None:
        stack.emulator.inject_fault(fault, **options)

    return setup


def then(*steps: Step) -> Step:
    def setup(stack: Stack) -> None:
        for step in steps:
            step(stack)

    return setup


def seed(settings: Mapping[str, Any]) -> Step:
    def setup(stack: Stack) -> None:
        stack.seed_endpoint(settings)

    return setup


def ida(*allowed: Outcome, key: str | None = KEY, **options: Any) -> Request:
    """The onboarding workflow asking for "ida" with a generated password."""
    return Request(IDA, allowed, key=key, **options)


def reused_for_bob(**options: Any) -> Request:
    """The same caller sending ida's key again with another body (bob): the key is ida's for 24 hours."""
    return Request(BOB, (problem(422, "idempotency-key-reused"),), key=KEY, caller_mistake=True, **options)


def eve(*allowed: Outcome, **options: Any) -> Request:
    """A request for "eve", the onboarding workflow's unless `caller` says otherwise."""
    return Request(EVE, allowed, **options)


def mistake(body: Mapping[str, Any], outcome: Outcome, **options: Any) -> Request:
    """A request the caller got wrong: it must get a 4xx, never a 5xx."""
    return Request(body, (outcome,), caller_mistake=True, **options)


def fault_then_retry(name: str, fault: Fault, first: Outcome, **options: Any) -> Scenario:
    """SignalWire misbehaves once; the caller gets `first`, retries under the same key, gets the endpoint."""
    return Scenario(name, one_by_one(ida(first), ida(CREATED)), upstream_creates=2, setup=inject(fault, **options))


def wait_for_the_late_commit(stack: Stack) -> None:
    wait_until(lambda: stack.emulator.creates_committed() == 1, timeout=10, what="the held create to commit")


def refuse_connections(stack: Stack) -> None:
    port = stack.keep(refusing_port())
    stack.put_parameter("signalwire/space_url", f"http://127.0.0.1:{port}")


def reach_signalwire_again(stack: Stack) -> None:
    stack.put_parameter("signalwire/space_url", stack.emulator.base_url)


def revoke_the_token(stack: Stack) -> None:
    stack.put_parameter("signalwire/api_token", WRONG_TOKEN, kind="SecureString")


def restore_the_token(stack: Stack) -> None:
    stack.put_parameter("signalwire/api_token", stack.emulator.api_token, kind="SecureString")


def throttle_two_ssm_reads(stack: Stack) -> None:
    stack.ssm_reads.fail_next(2)


def fail_every_ssm_read(stack: Stack) -> None:
    stack.ssm_reads.fail_always()


def seed_as_requested(body: Mapping[str, Any]) -> Step:
    """An endpoint made outside the service with exactly the settings `body` would send."""

    def setup(stack: Stack) -> None:
        preview, _ = Container().invoke(create_event(body, query="dry_run=true"))
        stack.seed_endpoint({**preview.body["payload"], "password": "made-by-hand-password-1"})

    return setup


def leave_a_pending_reservation_without_proof(stack: Stack) -> None:
    """A pending reservation of ida whose attempt is long over, as a version that did not look
    the username up before its create left it (no proof the username was free)."""
    stamp = "2026-01-01T00:00:00.000000Z"
    text = {
        "username": "ida",
        "record": "current",
        "listing": "endpoint",
        "request": '{"profile": "default", "username": "ida"}',
        "profile": "default",
        "created_by": CALLER.user_arn,
        "created_via": "http",
        "created_at": stamp,
        "updated_at": stamp,
        "status": "pending",
        "attempt_id": "an-attempt-long-over",
    }
    stack.put_inventory_item(
        {**{name: {"S": value} for name, value in text.items()}, "pending_until": {"N": str(int(time.time()) - 60)}}
    )


def delete_ida_directly(stack: Stack) -> None:
    stack.delete_endpoint_directly("ida")


def on_ida(method: str, suffix: str, body: Mapping[str, Any] | None, outcome: Outcome, **options: Any) -> Request:
    """A life-cycle route on ida."""
    return Request(body, (outcome,), method=method, path=f"/endpoints/ida{suffix}", **options)


def look_up_ida(*allowed: Outcome, **options: Any) -> Request:
    return Request(None, allowed, method="GET", path="/endpoints/ida", **options)


OVER_16_KIB = b'{"username": "ida", "caller_id": "' + b"x" * (16 * 1024) + b'"}'
MADE_OUTSIDE_THE_SERVICE = {"username": "ida", "password": "made-by-hand-password-1", "call_handler": "relay_connector"}
UNCONFIRMED = (problem(503, "upstream-unavailable", "1"), problem(504, "upstream-timeout"))
HELD_WITH_OTHER_SETTINGS = {
    "username": "ida",
    "password": "someone-elses-password",
    "call_handler": "relay_script",
    "call_relay_script_url": "https://swml.example.com/other.yaml",
}

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("create, all healthy", one_by_one(ida(CREATED)), upstream_creates=1),
    Scenario("same key, same body: replayed", one_by_one(ida(CREATED), ida(CREATED)), upstream_creates=1),
    Scenario(
        "same key, other body",
        one_by_one(
            ida(CREATED),
            Request(
                {"username": "ida", "profile": "office"},
                (problem(422, "idempotency-key-reused"),),
                key=KEY,
                caller_mistake=True,
            ),
        ),
        upstream_creates=1,
    ),
    Scenario(
        "dry run under a key, then the create",
        one_by_one(ida(Outcome(200), query="dry_run=true"), ida(CREATED)),
        upstream_creates=1,
    ),
    Scenario(
        "caller mistakes",
        one_by_one(
            mistake({}, problem(400, "malformed-request"), raw_body=b'{"username": "ida",}'),
            mistake({}, problem(413, "payload-too-large"), raw_body=OVER_16_KIB),
            mistake(IDA, problem(415, "unsupported-media-type"), content_type="text/plain"),
            mistake({"username": "i da"}, problem(422, "validation-error")),
            mistake({"username": "ida", "profile": "nope"}, problem(422, "validation-error")),
            mistake(IDA, problem(422, "validation-error"), key="not a valid key"),
            mistake({"username": "taken"}, problem(409, "username-taken")),
        ),
        upstream_creates=0,  # the taken username is found before any create is sent
        setup=seed({"username": "taken", "password": "taken-password-1", "call_handler": "relay_connector"}),
    ),
    fault_then_retry("SignalWire 500", Fault.SERVER_ERROR, problem(502, "upstream-error")),
    fault_then_retry("SignalWire 503 without Retry-After", Fault.SERVICE_UNAVAILABLE, problem(502, "upstream-error")),
    Scenario(
        "SignalWire 503 with Retry-After: waited out",
        one_by_one(ida(CREATED)),
        upstream_creates=2,
        setup=inject(Fault.SERVICE_UNAVAILABLE, retry_after=1),
    ),
    Scenario(
        "SignalWire 429 with Retry-After: waited out",
        one_by_one(ida(CREATED)),
        upstream_creates=2,
        setup=inject(Fault.RATE_LIMITED, retry_after=1),
    ),
    Scenario(
        "SignalWire 429 on every attempt",
        one_by_one(ida(problem(503, "upstream-unavailable", "1")), ida(CREATED)),
        upstream_creates=MAX_CREATE_ATTEMPTS + 1,
        setup=inject(Fault.RATE_LIMITED, times=MAX_CREATE_ATTEMPTS, retry_after=1),
    ),
    Scenario(
        "Retry-After beyond the time left",
        one_by_one(
            ida(problem(503, "upstream-unavailable", "30"), function=LambdaFunction(timeout_seconds=4)), ida(CREATED)
        ),
        upstream_creates=2,
        setup=inject(Fault.SERVICE_UNAVAILABLE, retry_after=30),
    ),
    Scenario(
        "create hangs past the read timeout, commits late",
        one_by_one(ida(problem(504, "upstream-timeout")), ida(CREATED, before=wait_for_the_late_commit)),
        upstream_creates=2,
        setup=inject(Fault.HANG, delay_seconds=1.0),
    ),
    fault_then_retry("connection closed, no answer", Fault.CLOSE_CONNECTION, problem(504, "upstream-timeout")),
    fault_then_retry("non-JSON answer", Fault.NON_JSON, problem(502, "upstream-error")),
    Scenario(
        "create committed, answer lost",
        one_by_one(ida(CREATED), ida(CREATED)),
        upstream_creates=1,
        setup=inject(Fault.COMMIT_THEN_CLOSE),
    ),
    Scenario(
        "create committed, answer lost, no key",
        one_by_one(ida(CREATED, key=None)),
        upstream_creates=1,
        setup=inject(Fault.COMMIT_THEN_CLOSE),
    ),
    Scenario(
        "answer lost, lookup fails too",
        one_by_one(ida(problem(504, "upstream-timeout")), ida(CREATED)),
        upstream_creates=2,
        setup=then(inject(Fault.CLOSE_CONNECTION), inject(Fault.SERVER_ERROR, operation="list", after=1)),
    ),
    Scenario(
        "answer lost, username held with other settings",
        one_by_one(ida(problem(409, "username-taken"))),
        upstream_creates=0,  # found before the create is sent
        setup=then(seed(HELD_WITH_OTHER_SETTINGS), inject(Fault.CLOSE_CONNECTION)),
    ),
    Scenario(
        "username created earlier under another key",
        one_by_one(ida(CREATED), ida(problem(409, "username-taken"), key="onboarding-run-2-ida")),
        upstream_creates=1,  # the inventory knows the username is taken: the second is never sent
    ),
    Scenario(
        "wrong API token",
        one_by_one(ida(problem(502, "upstream-error")), ida(CREATED, before=restore_the_token)),
        upstream_creates=1,  # the lookup before the first create was refused: that create was never sent
        setup=revoke_the_token,
    ),
    Scenario(
        "SignalWire unreachable",
        one_by_one(ida(problem(503, "upstream-unavailable", "1")), ida(CREATED, before=reach_signalwire_again)),
        upstream_creates=1,  # the refused attempts never reached it
        setup=refuse_connections,
    ),
    Scenario(
        "SSM throttling twice",
        one_by_one(ida(CREATED, before=throttle_two_ssm_reads)),
        upstream_creates=1,
    ),
    Scenario(
        "SSM failing after the cache expired",
        one_by_one(ida(CREATED, before=fail_every_ssm_read)),
        upstream_creates=1,
    ),
    Scenario(
        f"{CONCURRENT_REQUESTS} identical keyed requests at once, then retried",
        (
            (ida(CREATED, problem(409, "idempotency-in-progress", "1")),) * CONCURRENT_REQUESTS,
            (ida(CREATED),) * CONCURRENT_REQUESTS,
        ),
        upstream_creates=1,
        setup=inject(Fault.HANG, delay_seconds=1.5),  # the first create is slow, so all 20 overlap it
        read_timeout=5.0,
    ),
    # Issue 8, defect 1: a key is bound to its first body for 24 hours, whatever that attempt's outcome.
    Scenario(
        "late commit, then the same key for another username",
        one_by_one(
            ida(problem(504, "upstream-timeout")),
            reused_for_bob(before=wait_for_the_late_commit),
            ida(CREATED),
        ),
        upstream_creates=2,  # the held create, then the retry's (refused as taken, its own found)
        setup=inject(Fault.HANG, delay_seconds=1.0),
    ),
    Scenario(
        "409, then the same key for another username",
        one_by_one(ida(problem(409, "username-taken")), reused_for_bob()),
        upstream_creates=0,
        setup=seed(MADE_OUTSIDE_THE_SERVICE),
    ),
    # Defect 2: recovery never claims an endpoint another caller created through the service.
    Scenario(
        "answer lost for a username another caller created",
        one_by_one(
            eve(CREATED, key=None),
            eve(
                problem(409, "username-taken"),
                key=HELPDESK_KEY,
                caller=OTHER_CALLER,
                before=inject(Fault.CLOSE_CONNECTION),
            ),
            eve(problem(409, "username-taken"), key=HELPDESK_KEY, caller=OTHER_CALLER),
        ),
        upstream_creates=1,  # the other caller's creates are refused before they are sent
    ),
    # Defect 3: a 422 that the lookup cannot confirm is transient, never a validation error.
    Scenario(
        "answer lost, then the retry's 422 unconfirmed too",
        one_by_one(ida(problem(504, "upstream-timeout")), ida(*UNCONFIRMED), ida(CREATED)),
        upstream_creates=3,  # the lost one, then one per retry (SignalWire takes no idempotency key)
        setup=then(inject(Fault.COMMIT_THEN_CLOSE), inject(Fault.SERVER_ERROR, operation="list", times=2, after=1)),
    ),
    Scenario(
        "username made elsewhere, the lookup before the create fails",
        one_by_one(ida(problem(502, "upstream-error")), ida(problem(409, "username-taken"))),
        upstream_creates=0,
        setup=then(seed(MADE_OUTSIDE_THE_SERVICE), inject(Fault.SERVER_ERROR, operation="list")),
    ),
    # Issue 19, defect 1: an endpoint that was there before the create is never claimed.
    Scenario(
        "made outside with the request's settings, create answer lost",
        one_by_one(ida(problem(409, "username-taken")), ida(problem(409, "username-taken"))),
        upstream_creates=0,  # found before any create is sent
        setup=then(seed_as_requested(IDA), inject(Fault.COMMIT_THEN_CLOSE, times=2)),
    ),
    Scenario(
        "made outside with the request's settings, create answer lost, no key",
        one_by_one(ida(problem(409, "username-taken"), key=None)),
        upstream_creates=0,
        setup=then(seed_as_requested(IDA), inject(Fault.COMMIT_THEN_CLOSE)),
    ),
    Scenario(
        "made outside first, the create's function gives up, then looked up",
        one_by_one(
            ida(problem(409, "username-taken"), key=None, function=LambdaFunction(timeout_seconds=3)),
            look_up_ida(Outcome(200)),
        ),
        upstream_creates=0,
        setup=then(seed_as_requested(IDA), inject(Fault.HANG, delay_seconds=2.0)),
    ),
    Scenario(
        "stale pending reservation over an endpoint made outside, then looked up",
        one_by_one(look_up_ida(Outcome(200)), ida(problem(409, "username-taken"))),
        upstream_creates=0,
        setup=then(seed_as_requested(IDA), leave_a_pending_reservation_without_proof),
    ),
    # Issue 19, defect 2: the inventory's id is a cache of SignalWire's truth.
    Scenario(
        "deleted behind the service's back, then created again",
        one_by_one(ida(CREATED, key=None), ida(CREATED, key=None, before=delete_ida_directly)),
        upstream_creates=2,
    ),
    Scenario(
        "username taken over behind the service's back",
        one_by_one(
            ida(CREATED, key=None),
            look_up_ida(Outcome(200), before=then(delete_ida_directly, seed(MADE_OUTSIDE_THE_SERVICE))),
            ida(problem(409, "username-taken"), key=None),
            on_ida("PATCH", "", {"caller_id": "Front Desk"}, problem(409, "endpoint-not-managed")),
            on_ida("POST", "/disable", None, problem(409, "endpoint-not-managed")),
            on_ida("DELETE", "", None, problem(409, "endpoint-not-managed")),
        ),
        upstream_creates=2,  # ours, then theirs, made behind the service's back
    ),
)
