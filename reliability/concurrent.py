"""Races over real execution environments: `make run` (python -m local.run) with every function in
environments of its own, up to its reserved concurrency, driven by callers at once.

Each scenario sends its requests at the same moment (threads behind one barrier) to one `make run`
whose SignalWire is an emulator in this process, then audits every username it touched:

- duplicates: endpoints SignalWire holds beyond one per username;
- lost: an endpoint answered (a 201's id, or a Slack answer naming its SIP URI) that SignalWire
  does not hold;
- orphans: an endpoint without a live inventory record, or a live record without its endpoint;
- unexplained 5xx: a final 5xx answer. The callers here retry what a client retries and count
  it: a throttle (API Gateway's 500 `{"message":"Internal Server Error"}` for a throttled
  function, which `make run` logs), and for SCIM a 503 (the service's "retry", which identity
  providers retry);
- inventory = SignalWire: every live record names the endpoint SignalWire holds for its username.

A scenario holds when all four counts are 0, the inventory equals SignalWire, and the answers are
the ones the scenario expects.
"""

import contextlib
import functools
import hashlib
import hmac
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlencode

import boto3
import requests

from local.signalwire_emulator import Fault, SignalWireEmulator
from local.slack_response_url import ResponseUrlStandIn
from local.stack import load_stack
from reliability.harness import REPOSITORY_ROOT

PROJECT = "concurrent-project"
TOKEN = "concurrent-token"  # noqa: S105 - the emulator's loopback credential
SLACK_SECRET = "concurrent-slack-signing-secret"  # noqa: S105 - a throwaway of this run
SLACK_TEAM = "T0RACES"
SCIM_TOKEN = "concurrent-scim-bearer-token"  # noqa: S105 - a throwaway of this run
TIMEOUT_SECONDS = 60.0
THROTTLE_RETRIES = 30
SCIM_RETRIES = 5
THROTTLE_BODY = {"message": "Internal Server Error"}
LIVE = {"active", "disabled"}
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


@dataclass
class Answer:
    status: int
    body: Any
    throttles: int = 0
    retried_503: int = 0


@dataclass
class Outcome:
    """What a scenario saw: every final answer, the usernames it touched, the endpoints it was given."""

    answers: list[Answer] = field(default_factory=list)
    usernames: set[str] = field(default_factory=set)
    given: dict[str, set[str]] = field(default_factory=dict)  # username -> endpoint ids answered
    announced: set[str] = field(default_factory=set)  # usernames an answer said exist, without an id
    mismatches: list[str] = field(default_factory=list)

    def give(self, username: str, endpoint_id: str) -> None:
        self.given.setdefault(username, set()).add(endpoint_id)


@dataclass(frozen=True)
class ConcurrentResult:
    name: str
    requests: int
    expected: str
    observed: str
    duplicates: int
    lost: int
    orphans: int
    unexplained_5xx: int
    inventory_matches: bool
    mismatches: tuple[str, ...]

    @property
    def holds(self) -> bool:
        counts = (self.duplicates, self.lost, self.orphans, self.unexplained_5xx)
        return not any(counts) and self.inventory_matches and not self.mismatches


class LocalRun:
    """`python -m local.run` with its SignalWire an emulator of this process."""

    def __init__(self) -> None:
        self.emulator = SignalWireEmulator(project_id=PROJECT, api_token=TOKEN)
        self.lines: list[str] = []
        self.base_url = ""
        self.moto_url = ""
        self._process: subprocess.Popen[str] | None = None

    @contextmanager
    def running(self) -> Iterator["LocalRun"]:
        with self.emulator:
            environment = {
                name: value
                for name, value in os.environ.items()
                if not name.startswith(("SIGNALWIRE_", "LOCAL_", "SCIM_", "SLACK_", "AWS_"))
            }
            environment.update(
                PORT="0",
                PYTHONUNBUFFERED="1",
                SIGNALWIRE_SPACE_URL=self.emulator.base_url,
                SIGNALWIRE_PROJECT_ID=PROJECT,
                SIGNALWIRE_API_TOKEN=TOKEN,
                SLACK_SIGNING_SECRET=SLACK_SECRET,
                SLACK_ALLOWED_TEAM_IDS=SLACK_TEAM,
                SCIM_BEARER_TOKEN=SCIM_TOKEN,
            )
            environment.pop("PYTHONPATH", None)
            self._process = subprocess.Popen(
                [sys.executable, "-m", "local.run"],
                cwd=REPOSITORY_ROOT,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            started: queue.Queue[str] = queue.Queue()
            threading.Thread(target=self._read, args=(started,), daemon=True).start()
            while not self.base_url:
                line = started.get(timeout=120)
                if not line:
                    raise RuntimeError("make run exited:\n" + "".join(self.lines))
                if line.startswith("AWS (moto): "):
                    self.moto_url = line.removeprefix("AWS (moto): ").split(";", 1)[0]
                if line.startswith("Listening on "):
                    self.base_url = line.removeprefix("Listening on ").strip()
            try:
                yield self
            finally:
                self._process.terminate()
                self._process.wait(timeout=30)

    def _read(self, started: queue.Queue[str]) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self.lines.append(line)
            started.put(line)
        started.put("")

    def gateway_throttles(self) -> int:
        """Requests the local API Gateway answered 500 because their function was throttled."""
        return sum(1 for line in self.lines if " throttled (" in line and "answering 500" in line)

    def aws(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",  # noqa: S106 - moto takes any
        )

    def endpoints(self, username: str) -> list[dict[str, Any]]:
        response = requests.get(
            f"{self.emulator.base_url}/api/relay/rest/endpoints/sip",
            params={"filter_username": username, "page_size": "1000"},
            auth=(PROJECT, TOKEN),
            timeout=TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        return [endpoint for endpoint in response.json()["data"] if endpoint["username"] == username]

    def record(self, username: str) -> dict[str, Any] | None:
        table = load_stack().physical_ids["InventoryTable"]
        key = {"username": {"S": username}, "record": {"S": "current"}}
        item = self.aws("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return {name: next(iter(value.values())) for name, value in item.items()} if item else None

    def call(self, method: str, path: str, **arguments: Any) -> Answer:
        """One request, retried while it is throttled (as a client retries a 500), with the throttles counted."""
        throttles = 0
        while True:
            response = requests.request(method, f"{self.base_url}{path}", timeout=TIMEOUT_SECONDS, **arguments)
            body = _body(response)
            if response.status_code == 500 and body == THROTTLE_BODY and throttles < THROTTLE_RETRIES:
                throttles += 1
                time.sleep(0.2 * throttles)
                continue
            return Answer(response.status_code, body, throttles)


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def at_once(calls: Sequence[Callable[[], Answer]]) -> list[Answer]:
    gate = threading.Barrier(len(calls))

    def run(call: Callable[[], Answer]) -> Answer:
        gate.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def unique(purpose: str) -> str:
    return f"{purpose}-{uuid.uuid4().hex[:8]}"


def create(run: LocalRun, username: str, key: str | None = None) -> Answer:
    headers = {"Idempotency-Key": key} if key else {}
    return run.call("POST", "/endpoints", json={"username": username}, headers=headers)


def created(run: LocalRun, outcome: Outcome, username: str) -> None:
    """A username with an endpoint, before the race."""
    answer = create(run, username)
    if answer.status != 201:
        raise RuntimeError(f"setting up {username}: {answer.status} {answer.body}")
    outcome.usernames.add(username)
    outcome.give(username, answer.body["endpoint"]["id"])


def kinds(answers: Sequence[Answer]) -> list[str]:
    """Each answer as `status` or `status type` (the problem type), for comparing and showing."""
    return [
        f"{a.status} {a.body['type']}" if isinstance(a.body, dict) and "type" in a.body else str(a.status)
        for a in answers
    ]


def summary(answers: Sequence[Answer]) -> str:
    counted: dict[str, int] = {}
    for kind in kinds(answers):
        counted[kind] = counted.get(kind, 0) + 1
    throttles = sum(answer.throttles for answer in answers)
    retried_503 = sum(answer.retried_503 for answer in answers)
    text = ", ".join(f"{count} x {kind}" for kind, count in sorted(counted.items()))
    text += f" ({throttles} throttles retried)" if throttles else ""
    return text + (f" ({retried_503} x 503 retried, as an identity provider does)" if retried_503 else "")


# -- the scenarios ------------------------------------------------------------------------------


def same_key_creates(run: LocalRun) -> Outcome:
    outcome = Outcome()
    username, key = unique("same-key"), unique("key")
    outcome.usernames.add(username)
    outcome.answers = at_once([lambda: create(run, username, key)] * 50)
    endpoint_ids = set()
    for answer in outcome.answers:
        if answer.status == 201:
            endpoint_ids.add(answer.body["endpoint"]["id"])
            outcome.give(username, answer.body["endpoint"]["id"])
    passwords = {answer.body.get("password") for answer in outcome.answers if answer.status == 201}
    allowed = {"201", "409 idempotency-in-progress"}
    if not endpoint_ids or len(endpoint_ids) > 1 or len(passwords) > 1:
        outcome.mismatches.append(f"201s named {len(endpoint_ids)} endpoints and {len(passwords)} passwords")
    outcome.mismatches += sorted({kind for kind in kinds(outcome.answers) if kind not in allowed})
    return outcome


def one_username_many_keys(run: LocalRun) -> Outcome:
    outcome = Outcome()
    username = unique("one-name")
    outcome.usernames.add(username)
    keys = [unique("key") for _ in range(20)]
    outcome.answers = at_once([functools.partial(create, run, username, key) for key in keys])
    for answer in outcome.answers:
        if answer.status == 201:
            outcome.give(username, answer.body["endpoint"]["id"])
    if sorted(kinds(outcome.answers)) != ["201"] + ["409 username-taken"] * 19:
        outcome.mismatches.append("not 1 x 201 and 19 x 409 username-taken")
    return outcome


def patch_against_delete(run: LocalRun) -> Outcome:
    outcome = Outcome()
    usernames = [unique("patch-delete") for _ in range(5)]
    for username in usernames:
        created(run, outcome, username)
    calls: list[Callable[[], Answer]] = []
    for username in usernames:
        calls.append(functools.partial(run.call, "PATCH", f"/endpoints/{username}", json={"caller_id": "Raced"}))
        calls.append(functools.partial(run.call, "DELETE", f"/endpoints/{username}"))
    outcome.answers = at_once(calls)
    allowed = {"200", "204", "404 endpoint-not-found"}
    outcome.mismatches += sorted({kind for kind in kinds(outcome.answers) if kind not in allowed})
    deletes = outcome.answers[1::2]
    if any(answer.status != 204 for answer in deletes):
        outcome.mismatches.append("a DELETE was not 204")
    for username in usernames:  # deleted: nothing given may remain
        outcome.given.pop(username, None)
    return outcome


def reset_against_disable(run: LocalRun) -> Outcome:
    outcome = Outcome()
    usernames = [unique("reset-disable") for _ in range(5)]
    for username in usernames:
        created(run, outcome, username)
    calls: list[Callable[[], Answer]] = []
    for username in usernames:
        calls.append(functools.partial(run.call, "POST", f"/endpoints/{username}/password", json={}))
        calls.append(functools.partial(run.call, "POST", f"/endpoints/{username}/disable", json={}))
    outcome.answers = at_once(calls)
    allowed = {"200"}
    outcome.mismatches += sorted({kind for kind in kinds(outcome.answers) if kind not in allowed})
    return outcome


def scim(run: LocalRun, method: str, path: str, body: object = None) -> Answer:
    """A SCIM request as an identity provider sends it: a 503 (the service's "retry") is retried."""
    headers = {"Authorization": f"Bearer {SCIM_TOKEN}", "Content-Type": "application/scim+json"}
    data = json.dumps(body) if body is not None else None
    retried = 0
    while True:
        answer = run.call(method, f"/scim/v2{path}", headers=headers, data=data)
        if answer.status != 503 or retried >= SCIM_RETRIES:
            answer.retried_503 = retried
            return answer
        retried += 1
        time.sleep(0.5 * retried)


def scim_put_against_delete(run: LocalRun) -> Outcome:
    outcome = Outcome()
    users = []
    for _ in range(5):
        username = unique("scim")
        answer = scim(run, "POST", "/Users", {"schemas": [USER_SCHEMA], "userName": f"{username}@example.com"})
        if answer.status != 201:
            raise RuntimeError(f"setting up {username}: {answer.status} {answer.body}")
        outcome.usernames.add(username)
        users.append((username, answer.body["id"]))
    calls: list[Callable[[], Answer]] = []
    for username, user_id in users:
        replacement = {"schemas": [USER_SCHEMA], "userName": f"{username}@example.com", "displayName": "Raced"}
        calls.append(functools.partial(scim, run, "PUT", f"/Users/{user_id}", replacement))
        calls.append(functools.partial(scim, run, "DELETE", f"/Users/{user_id}"))
    outcome.answers = at_once(calls)
    allowed = {"200", "204", "404", "409"}
    outcome.mismatches += sorted({str(answer.status) for answer in outcome.answers} - allowed)
    return outcome


def slack_command(run: LocalRun, text: str, trigger_id: str, response_url: str) -> Answer:
    form = {
        "team_id": SLACK_TEAM,
        "team_domain": "races",
        "channel_id": "C0RACES",
        "user_id": "U0RACES",
        "user_name": "racer",
        "command": "/sip",
        "text": text,
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    body = urlencode(form).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(SLACK_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={signature}",
    }
    return run.call("POST", "/chatops/slack", data=body, headers=headers)


def slack_trigger_three_times(run: LocalRun) -> Outcome:
    outcome = Outcome()
    username = unique("slack")
    outcome.usernames.add(username)
    trigger_id = f"{int(time.time())}.{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex}"
    with ResponseUrlStandIn() as response_url:
        url = response_url.url(SLACK_TEAM)
        outcome.answers = at_once([lambda: slack_command(run, f"create {username}", trigger_id, url)] * 3)
        with contextlib.suppress(TimeoutError):
            response_url.wait_for_posts(1, timeout=TIMEOUT_SECONDS)
        time.sleep(2.0)  # let a duplicate job post, if one runs
    posts = [post.message for post in response_url.posts]
    if any(answer.status != 200 for answer in outcome.answers):
        outcome.mismatches.append("a delivery was not answered 200")
    if f"sip:{username}@" in json.dumps(posts):  # the job's answer names the endpoint
        outcome.announced.add(username)
    if username not in outcome.announced:
        outcome.mismatches.append(f"no answer posted to the response_url named the endpoint: {posts}")
    return outcome


def bulk_with_rate_limits(run: LocalRun) -> Outcome:
    outcome = Outcome()
    stack = load_stack()
    prefix = unique("bulk")
    usernames = [f"{prefix}-{index:02d}" for index in range(30)]
    outcome.usernames.update(usernames)
    bucket = stack.physical_ids["ImportsBucket"]
    key = f"imports/{prefix}.csv"
    rows = "".join(f"{username},,,,,,\n" for username in usernames)
    run.aws("s3").put_object(
        Bucket=bucket, Key=key, Body=f"username,profile,owner,caller_id,send_as,handler_type,handler_url\n{rows}"
    )
    run.emulator.inject_fault(Fault.RATE_LIMITED, times=10, retry_after=1)
    machine = stack.state_machines["BulkOnboardingStateMachine"].arn
    sfn = run.aws("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=machine,
        name=prefix,
        input=json.dumps({"source": {"bucket": bucket, "key": key}, "max_concurrency": 10}),
    )["executionArn"]
    deadline = time.monotonic() + 600
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            outcome.mismatches.append("the execution still runs after 600 s")
            break
        time.sleep(1.0)
    outcome.answers = [Answer(200 if described["status"] == "SUCCEEDED" else 500, described["status"])]
    summary_output = json.loads(described.get("output") or "{}")
    if described["status"] != "SUCCEEDED":
        outcome.mismatches.append(
            f"execution {described['status']}: {described.get('error')} {described.get('cause', '')[:300]}"
        )
    elif (summary_output.get("created"), summary_output.get("failed")) != (len(usernames), 0):
        outcome.mismatches.append(f"created {summary_output.get('created')}, failed {summary_output.get('failed')}")
    for username in usernames:
        for endpoint in run.endpoints(username):
            outcome.give(username, endpoint["id"])
    return outcome


@dataclass(frozen=True)
class ConcurrentScenario:
    name: str
    requests: int
    expected: str
    run: Callable[[LocalRun], Outcome]


CONCURRENT_SCENARIOS = (
    ConcurrentScenario(
        "50 creates, one key", 50, "1 endpoint; 201 (one endpoint, one password) or 409 in-progress", same_key_creates
    ),
    ConcurrentScenario(
        "20 creates, one username, 20 keys", 20, "1 endpoint; 1 x 201, 19 x 409 username-taken", one_username_many_keys
    ),
    ConcurrentScenario(
        "PATCH against DELETE, 5 endpoints",
        10,
        "every DELETE 204; PATCH 200 or 404 endpoint-not-found",
        patch_against_delete,
    ),
    ConcurrentScenario("reset against disable, 5 endpoints", 10, "every reset and disable 200", reset_against_disable),
    ConcurrentScenario(
        "SCIM PUT against DELETE, 5 users", 10, "PUT 200/404/409, DELETE 204/404", scim_put_against_delete
    ),
    ConcurrentScenario(
        "one Slack trigger delivered 3 times at once", 3, "3 x 200; 1 endpoint", slack_trigger_three_times
    ),
    ConcurrentScenario(
        "bulk of 30 rows at max_concurrency 10, 10 x 429",
        1,
        "SUCCEEDED; every row created once",
        bulk_with_rate_limits,
    ),
)


def audit(run: LocalRun, scenario: ConcurrentScenario, outcome: Outcome, throttles_logged: int) -> ConcurrentResult:
    duplicates = lost = orphans = 0
    matches = True
    for username in sorted(outcome.usernames):
        endpoints = run.endpoints(username)
        record = run.record(username)
        live = record is not None and record.get("status") in LIVE
        duplicates += max(0, len(endpoints) - 1)
        held = {endpoint["id"] for endpoint in endpoints}
        lost += len(outcome.given.get(username, set()) - held)
        lost += 1 if username in outcome.announced and not held else 0
        if bool(endpoints) != live:
            orphans += 1
        if live and (record or {}).get("endpoint_id") not in held:
            matches = False
        if not live and endpoints:
            matches = False
    # A retried 500 is a throttle only as far as the gateway logged throttles meanwhile.
    retried_500 = sum(answer.throttles for answer in outcome.answers)
    unexplained = sum(1 for answer in outcome.answers if answer.status >= 500) + max(0, retried_500 - throttles_logged)
    return ConcurrentResult(
        name=scenario.name,
        requests=scenario.requests,
        expected=scenario.expected,
        observed=summary(outcome.answers),
        duplicates=duplicates,
        lost=lost,
        orphans=orphans,
        unexplained_5xx=unexplained,
        inventory_matches=matches,
        mismatches=tuple(outcome.mismatches),
    )


def run_concurrent_scenarios(
    output: IO[str], scenarios: Sequence[ConcurrentScenario] = CONCURRENT_SCENARIOS
) -> list[ConcurrentResult]:
    """Every concurrent scenario on one `make run`, each on usernames of its own; `make run`'s
    output (the functions' logs) goes to `output`."""
    results = []
    local_run = LocalRun()
    with local_run.running() as run:
        for scenario in scenarios:
            throttles_before = run.gateway_throttles()
            try:
                outcome = scenario.run(run)
            except Exception as error:  # a scenario that cannot even be set up is a failed row
                outcome = Outcome(mismatches=[f"{type(error).__name__}: {error}"])
            time.sleep(0.5)  # the gateway's last log lines
            results.append(audit(run, scenario, outcome, run.gateway_throttles() - throttles_before))
    output.writelines(local_run.lines)
    return results


def concurrent_row(result: ConcurrentResult) -> tuple[str, ...]:
    """A row of `make reliability`'s table (its columns: duplicates, lost, 5xx)."""
    observed = result.observed + "".join(f"; {mismatch}" for mismatch in result.mismatches)
    observed += f"; {result.orphans} orphans" if result.orphans else ""
    observed += "" if result.inventory_matches else "; inventory differs from SignalWire"
    return (
        f"concurrent: {result.name}",
        str(result.requests),
        result.expected,
        observed,
        str(result.duplicates),
        str(result.lost),
        str(result.unexplained_5xx),
        "ok" if result.holds else "FAIL",
    )


if __name__ == "__main__":
    chosen = [scenario for scenario in CONCURRENT_SCENARIOS if not sys.argv[1:] or scenario.name in sys.argv[1:]]
    with tempfile.NamedTemporaryFile("w", prefix="concurrent-", suffix=".log", delete=False) as log:
        rows = [concurrent_row(result) for result in run_concurrent_scenarios(log, chosen)]
    print(f"make run's output: {log.name}")
    for row in rows:
        print(" | ".join(row))
    sys.exit(0 if all(row[-1] == "ok" for row in rows) else 1)
