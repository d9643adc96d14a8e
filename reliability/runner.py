"""What a scenario is, how it runs against a fresh stack, and how its outcome is judged.

A scenario sends rounds of requests: a round of one is an ordinary request, a wider round is
sent all at once, each request from its own warm container. The answers are then held against
what the contract allows, and the emulator's state against what the service promises:

- duplicates: endpoints beyond one per username, plus create calls SignalWire received beyond
  those the scenario allows (a retry after a 429, a refused connection, a caller's own retry).
  SignalWire refuses a second endpoint with a taken username, so a create sent twice shows as
  an extra call rather than as a second endpoint;
- lost: endpoints the service created for which no caller holds the right password (no 201 for
  the endpoint carried it, replays included, and it is not the caller's own); a 201 whose
  password is not the one SignalWire holds is a mismatch of its own;
- foreign endpoints claimed: endpoints made outside the service (seeded) that the service
  treats as its own: named by a 201, shown as managed by a GET, or named by a live inventory record;
- 5xx for caller mistakes: requests the caller got wrong that were answered with a 5xx.
"""

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from local.gateway import IamCaller, LambdaFunction
from reliability.harness import (
    CALLER,
    DEFAULT_FUNCTION,
    JSON,
    Container,
    Reply,
    Stack,
    create_event,
    running_stack,
)

type Step = Callable[[Stack], None]


def nothing(_: Stack) -> None:
    """No setup: SignalWire and SSM behave."""


@dataclass(frozen=True)
class Outcome:
    """One answer as a caller tells answers apart: status, problem type, Retry-After."""

    status: int
    problem: str | None = None
    retry_after: str | None = None

    @classmethod
    def of(cls, reply: Reply) -> "Outcome":
        return cls(reply.status, reply.problem_type, reply.headers.get("Retry-After"))

    def __str__(self) -> str:
        text = f"{self.status} {self.problem}" if self.problem else str(self.status)
        return f"{text} RA={self.retry_after}" if self.retry_after else text


@dataclass(frozen=True)
class Request:
    """One request of a scenario (POST /endpoints unless `method` and `path` say otherwise), and
    the answers the contract allows for it."""

    body: Mapping[str, Any] | None
    allowed: tuple[Outcome, ...]
    key: str | None = None
    raw_body: bytes | None = None  # sent instead of `body` when given
    content_type: str = JSON
    query: str = ""
    function: LambdaFunction = DEFAULT_FUNCTION
    before: Step = nothing  # what changes just before it is sent (a fault cleared, a hang over)
    caller_mistake: bool = False
    caller: IamCaller = CALLER  # who sends it (IAM): the onboarding workflow unless said otherwise
    method: str = "POST"
    path: str = "/endpoints"

    @property
    def username(self) -> str | None:
        username = (self.body or {}).get("username")
        return username if isinstance(username, str) else None


@dataclass(frozen=True)
class Scenario:
    name: str
    rounds: tuple[tuple[Request, ...], ...]
    upstream_creates: int  # create calls SignalWire should receive, setup's own excluded
    setup: Step = nothing
    read_timeout: float = 0.5

    @property
    def requests(self) -> list[Request]:
        return [request for round_ in self.rounds for request in round_]


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    replies: tuple[tuple[Reply, ...], ...]
    upstream_creates: int
    duplicates: int
    lost: int
    foreign_claimed: int
    server_errors_for_mistakes: int
    mismatches: tuple[str, ...] = field(default=())

    @property
    def holds(self) -> bool:
        return (
            not self.mismatches
            and self.duplicates == self.lost == self.foreign_claimed == self.server_errors_for_mistakes == 0
        )

    @property
    def expected(self) -> str:
        rounds = [
            _summary([" | ".join(map(str, request.allowed)) for request in round_]) for round_ in self.scenario.rounds
        ]
        return f"{' → '.join(rounds)}; creates {self.scenario.upstream_creates}"

    @property
    def observed(self) -> str:
        rounds = [_summary([str(Outcome.of(reply)) for reply in round_]) for round_ in self.replies]
        return f"{' → '.join(rounds)}; creates {self.upstream_creates}"


def _summary(outcomes: list[str]) -> str:
    """One outcome as it is; a round of many as counts, e.g. `1 x 201 + 19 x 409 idempotency-in-progress`."""
    if len(outcomes) == 1:
        return outcomes[0]
    return " + ".join(
        f"{count} x ({text})" if " | " in text else f"{count} x {text}" for text, count in Counter(outcomes).items()
    )


def run_scenario(scenario: Scenario) -> ScenarioResult:
    """Run `scenario` against a fresh stack and judge what happened."""
    with running_stack(read_timeout=scenario.read_timeout) as stack:
        scenario.setup(stack)
        containers = [Container() for _ in range(max(len(round_) for round_ in scenario.rounds))]
        for container in containers:
            container.warm_up()
        creates_before = stack.emulator.create_requests_received()
        replies = tuple(_send(stack, round_, containers) for round_ in scenario.rounds)
        return _judge(scenario, stack, replies, stack.emulator.create_requests_received() - creates_before)


def _send(stack: Stack, round_: tuple[Request, ...], containers: list[Container]) -> tuple[Reply, ...]:
    for request in round_:
        request.before(stack)
    if len(round_) == 1:
        return (_invoke(round_[0], containers[0]),)
    return tuple(_all_at_once(round_, containers))


def _invoke(request: Request, container: Container) -> Reply:
    event = create_event(
        request.body,
        key=request.key,
        raw_body=request.raw_body,
        content_type=request.content_type,
        query=request.query,
        caller=request.caller,
        method=request.method,
        path=request.path,
    )
    return container.invoke(event, request.function)[0]


def _all_at_once(round_: tuple[Request, ...], containers: list[Container]) -> list[Reply]:
    start = threading.Barrier(len(round_))
    replies: dict[int, Reply] = {}

    def send(index: int) -> None:
        start.wait()
        replies[index] = _invoke(round_[index], containers[index])

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(round_))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(replies) != len(round_):
        raise RuntimeError("a container raised instead of answering")
    return [replies[index] for index in range(len(round_))]


def _password_held(request: Request, reply: Reply) -> object:
    """The password a caller holds after a 201: the generated one it shows, or the caller's own."""
    return reply.body.get("password", (request.body or {}).get("password"))


def _judge(
    scenario: Scenario, stack: Stack, replies: tuple[tuple[Reply, ...], ...], upstream_creates: int
) -> ScenarioResult:
    sent = [
        (request, reply)
        for round_, answers in zip(scenario.rounds, replies, strict=True)
        for request, reply in zip(round_, answers, strict=True)
    ]
    mismatches = [
        f"request {index + 1}: {Outcome.of(reply)} is not one of {' | '.join(map(str, request.allowed))}"
        for index, (request, reply) in enumerate(sent)
        if Outcome.of(reply) not in request.allowed
    ]
    if upstream_creates != scenario.upstream_creates:
        mismatches.append(f"SignalWire received {upstream_creates} creates, not {scenario.upstream_creates}")
    created = [(request, reply) for request, reply in sent if reply.status == 201]
    stored = {str(endpoint["id"]): endpoint for endpoint in stack.emulator.endpoints}
    for request, reply in created:
        endpoint = stored.get(reply.body["endpoint"]["id"])
        if endpoint is None and reply.body["endpoint"]["id"] in stack.deleted_directly_ids:
            continue  # the scenario deleted it behind the service's back
        if endpoint is None:
            mismatches.append(f"a 201 names endpoint {reply.body['endpoint']['id']}, which SignalWire does not hold")
        elif _password_held(request, reply) != endpoint["password"]:
            mismatches.append(f"a 201 for {endpoint['username']} carries a password SignalWire does not hold")
    for key in {request.key for request, _ in created if request.key is not None}:
        if len({str(reply.body) for request, reply in created if request.key == key}) > 1:
            mismatches.append(f"the 201s for Idempotency-Key {key} differ")
    endpoints_per_username = Counter(endpoint["username"] for endpoint in stored.values())
    duplicates = sum(count - 1 for count in endpoints_per_username.values()) + max(
        0, upstream_creates - scenario.upstream_creates
    )
    lost = sum(
        1
        for endpoint_id, endpoint in stored.items()
        if endpoint["username"] not in stack.seeded_usernames
        and not any(
            reply.body["endpoint"]["id"] == endpoint_id and _password_held(request, reply) == endpoint["password"]
            for request, reply in created
        )
    )
    claimed = {str(reply.body["endpoint"]["id"]) for _, reply in created} | stack.managed_ids()
    claimed |= {
        str(reply.body["endpoint"]["id"])
        for _, reply in sent
        if reply.status == 200 and isinstance(reply.body, dict) and reply.body.get("managed") is True
    }
    foreign_claimed = len(claimed & stack.seeded_ids)
    server_errors = sum(1 for request, reply in sent if request.caller_mistake and reply.status >= 500)
    return ScenarioResult(
        scenario, replies, upstream_creates, duplicates, lost, foreign_claimed, server_errors, tuple(mismatches)
    )
