"""`sipctl.Client` against a scripted API on loopback HTTP: what it sends (path, query, keys,
signature) and how it retries (CONTRACT.md section 10). Time is the test's own: `sleep` records
each wait and moves the clock, so a test of a 60 s timeout takes no time."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.session
import pytest

from sipctl import (
    Client,
    EndpointNotFound,
    ServiceUnreachable,
    UpstreamError,
    UpstreamUnavailable,
    ValidationError,
)

PROBLEM = "application/problem+json"
CLOSE = "close the connection without answering"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedApi:
    """Answers each request with the next scripted answer: (status, headers, body) or CLOSE."""

    answers: list[tuple[int, dict[str, str], Any] | str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def answer(self, status: int, body: Any = None, **headers: str) -> None:
        self.answers.append((status, headers, body))

    def problem(self, status: int, problem_type: str, **headers: str) -> None:
        body = {"type": problem_type, "title": problem_type, "status": status, "detail": f"a {problem_type}"}
        self.answers.append((status, {"Content-Type": PROBLEM, **headers}, body))

    def keys(self) -> list[str | None]:
        return [request.headers.get("Idempotency-Key") for request in self.received]


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    scripted = ScriptedApi()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_one(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            scripted.received.append(Received(self.command, self.path, dict(self.headers), self.rfile.read(length)))
            answer = scripted.answers.pop(0)
            if answer == CLOSE:
                self.close_connection = True
                return
            assert not isinstance(answer, str)
            status, headers, body = answer
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = handle_one

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scripted.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield scripted
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class FakeTime:
    now: float = 0.0
    waits: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


def client(api: ScriptedApi, time: FakeTime, timeout: float = 60.0) -> Client:
    session = botocore.session.Session()
    session.set_credentials("AKIAEXAMPLE000000001", "example-secret")
    return Client(api.url, region="us-east-1", session=session, timeout=timeout, sleep=time.sleep, clock=time.clock)


DISABLED = {"username": "alice", "status": "disabled"}


def test_a_503_is_retried_after_its_retry_after_under_the_same_key(api: ScriptedApi, time: FakeTime) -> None:
    # Given an API that is unavailable once, asking for 7 s
    api.problem(503, "upstream-unavailable", **{"Retry-After": "7"})
    api.answer(200, DISABLED)
    # When an endpoint is disabled
    answer = client(api, time).disable("alice")
    # Then the client waited 7 s and sent the same Idempotency-Key twice
    assert answer == DISABLED
    assert time.waits == [7.0]
    [first, second] = api.keys()
    assert first is not None
    assert first == second


@pytest.mark.parametrize(
    ("status", "problem_type"),
    [
        (409, "idempotency-in-progress"),
        (429, "upstream-unavailable"),
        (503, "upstream-unavailable"),
        (504, "upstream-timeout"),
    ],
)
def test_each_transient_answer_is_retried(api: ScriptedApi, time: FakeTime, status: int, problem_type: str) -> None:
    # Given an API whose first answer is transient
    api.problem(status, problem_type)
    api.answer(200, DISABLED)
    # When an endpoint is disabled
    answer = client(api, time).disable("alice")
    # Then the second attempt's answer is the result
    assert answer == DISABLED
    assert len(api.received) == 2


def test_without_retry_after_the_waits_double_from_one_second(api: ScriptedApi, time: FakeTime) -> None:
    # Given an API that times out three times
    for _ in range(3):
        api.problem(504, "upstream-timeout")
    api.answer(200, DISABLED)
    # When an endpoint is disabled
    client(api, time).disable("alice")
    # Then the client waited 1, 2 and 4 s
    assert time.waits == [1.0, 2.0, 4.0]


def test_a_retry_that_would_end_after_the_timeout_is_not_made(api: ScriptedApi, time: FakeTime) -> None:
    # Given an API that asks for 20 s twice, and a timeout of 30 s
    api.problem(503, "upstream-unavailable", **{"Retry-After": "20"})
    api.problem(503, "upstream-unavailable", **{"Retry-After": "20"})
    # When an endpoint is disabled
    with pytest.raises(UpstreamUnavailable) as raised:
        client(api, time, timeout=30.0).disable("alice")
    # Then one retry was made, and the second answer's problem is raised
    assert time.waits == [20.0]
    assert raised.value.retry_after == 20.0


def test_a_refusal_is_raised_at_once_as_its_problem_class_with_its_field_errors(
    api: ScriptedApi, time: FakeTime
) -> None:
    # Given an API that refuses the request
    problem = {
        "type": "validation-error",
        "title": "Validation error",
        "status": 422,
        "detail": "The request breaks one or more rules.",
        "request_id": "r-1",
        "errors": [{"field": "username", "message": "must not contain whitespace"}],
    }
    api.answer(422, problem, **{"Content-Type": PROBLEM})
    # When an endpoint is created
    with pytest.raises(ValidationError) as raised:
        client(api, time).create("two words")
    # Then the problem is raised without a retry, carrying its fields
    assert time.waits == []
    assert (raised.value.status, raised.value.type, raised.value.request_id) == (422, "validation-error", "r-1")
    assert [(error.field, error.message) for error in raised.value.errors] == [
        ("username", "must not contain whitespace")
    ]


def test_a_502_is_not_retried(api: ScriptedApi, time: FakeTime) -> None:
    # Given an API whose SignalWire failed
    api.problem(502, "upstream-error")
    # When an endpoint is shown
    with pytest.raises(UpstreamError):
        client(api, time).show("alice")
    # Then it was asked once
    assert len(api.received) == 1


def test_an_answer_lost_on_the_way_back_is_retried_under_the_same_key(api: ScriptedApi, time: FakeTime) -> None:
    # Given an API that reads the request and closes the connection without answering, once
    api.answers.append(CLOSE)
    api.answer(201, {"endpoint": {}, "sip_uri": "sip:alice@example", "profile": "default", "password": "p"})
    # When an endpoint is created
    answer = client(api, time).create("alice")
    # Then the retry's answer is the result, under the first attempt's key
    assert answer["sip_uri"] == "sip:alice@example"
    [first, second] = api.keys()
    assert first == second


def test_an_api_that_cannot_be_reached_is_not_retried(time: FakeTime) -> None:
    # Given a URL where nothing listens
    session = botocore.session.Session()
    session.set_credentials("AKIAEXAMPLE000000001", "example-secret")
    unreachable = Client("http://127.0.0.1:9", region="us-east-1", session=session, sleep=time.sleep, clock=time.clock)
    # When the profiles are asked for
    with pytest.raises(ServiceUnreachable):
        unreachable.profiles()
    # Then the client gave up at once
    assert time.waits == []


def test_each_state_changing_call_has_a_key_of_its_own_unless_one_is_given(api: ScriptedApi, time: FakeTime) -> None:
    # Given an API that disables
    for _ in range(3):
        api.answer(200, DISABLED)
    sipctl = client(api, time)
    # When two commands run with new keys and one with a given key
    sipctl.disable("alice")
    sipctl.disable("alice")
    sipctl.disable("alice", idempotency_key="offboarding-alice")
    # Then each key is new but the given one
    first, second, given = api.keys()
    assert first != second
    assert given == "offboarding-alice"


def test_a_read_and_a_dry_run_send_no_key(api: ScriptedApi, time: FakeTime) -> None:
    # Given an API
    api.answer(200, {"endpoint": {}})
    api.answer(200, {"dry_run": True, "would_delete": {}})
    # When an endpoint is shown, and its delete dry-run
    client(api, time).show("alice")
    client(api, time).delete("alice", dry_run=True)
    # Then neither carried an Idempotency-Key
    assert api.keys() == [None, None]


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("ops/desk?#%41", "/endpoints/ops%2Fdesk%3F%23%2541"),
        ("café ☎", "/endpoints/caf%C3%A9%20%E2%98%8E"),
        ("..", "/endpoints/%2E%2E"),
        ("a.b-c_d~e", "/endpoints/a.b-c_d~e"),
    ],
)
def test_a_username_is_one_percent_encoded_path_segment(
    api: ScriptedApi, time: FakeTime, username: str, path: str
) -> None:
    # Given an API
    api.answer(404, {"type": "endpoint-not-found", "status": 404, "detail": "no"}, **{"Content-Type": PROBLEM})
    # When the username is shown
    with pytest.raises(EndpointNotFound):
        client(api, time).show(username)
    # Then the path it reached is the username as one segment, encoded once
    assert api.received[0].path == path


def test_the_request_is_signed_for_execute_api_with_the_body_it_sends(api: ScriptedApi, time: FakeTime) -> None:
    # Given an API
    api.answer(200, {"dry_run": True, "changes": []})
    # When a change is dry-run with a null (a key removed)
    client(api, time).update("alice", {"caller_id": None}, dry_run=True)
    # Then the query is as signed, the body is the JSON sent, and the signature is SigV4 for execute-api
    [request] = api.received
    assert request.path == "/endpoints/alice?dry_run=true"
    assert json.loads(request.body) == {"caller_id": None}
    assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE000000001/")
    assert "/us-east-1/execute-api/aws4_request" in request.headers["Authorization"]


def test_list_yields_every_endpoint_of_every_page(api: ScriptedApi, time: FakeTime) -> None:
    # Given an API with two pages, the first ending with a cursor holding characters to encode
    api.answer(200, {"endpoints": [{"username": "a"}, {"username": "b"}], "next_cursor": "c+/="})
    api.answer(200, {"endpoints": [{"username": "c"}], "next_cursor": None})
    # When every endpoint of an owner is listed, two a page
    usernames = [endpoint["username"] for endpoint in client(api, time).list(owner="e 1", limit=2)]
    # Then all three come, the second page asked for with the first's cursor
    assert usernames == ["a", "b", "c"]
    assert [request.path for request in api.received] == [
        "/endpoints?owner=e%201&limit=2",
        "/endpoints?owner=e%201&limit=2&cursor=c%2B%2F%3D",
    ]
