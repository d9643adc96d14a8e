"""The project credentials go to the configured space and nowhere else (issue 8, defect 4).

The SignalWire client against loopback servers of the test's own: a "space" that answers what
the test tells it (a list page whose `links.next` points elsewhere, a 307 on create), and a
"foreign" server on another port (another origin) that records whatever reaches it.
"""

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from local.loopback import LoopbackServer
from sip_provisioning.adapters.signalwire_client import SignalWireClient, Timeouts
from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.signalwire import CreateSipEndpointPayload
from sip_provisioning.use_cases.ports import SignalWireFault, UnreadableAnswer

ENDPOINTS_PATH = "/api/relay/rest/endpoints/sip"
PROJECT_ID = "origin-project"
API_TOKEN = "PTorigin-api-token-0123456789"
PASSWORD = "the-endpoints-password-0123"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int
    document: object = None
    headers: tuple[tuple[str, str], ...] = ()


type Answerer = Callable[[Received], Reply]


class RecordingServer(LoopbackServer):
    """An HTTP server on 127.0.0.1 that records every request and answers with `answer`."""

    thread_name = "recording-server"

    def __init__(self, answer: Answerer = lambda _: Reply(200, {"data": [], "links": {}})) -> None:
        super().__init__("127.0.0.1", 0)
        self.answer = answer
        self._received: list[Received] = []
        self._lock = threading.Lock()

    def _make_server(self, address: tuple[str, int]) -> ThreadingHTTPServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", "0") or "0")
                request = Received(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
                with server._lock:
                    server._received.append(request)
                reply = server.answer(request)
                body = b"" if reply.document is None else json.dumps(reply.document).encode()
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return ThreadingHTTPServer(address, Handler)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)


@pytest.fixture
def space() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


@pytest.fixture
def foreign() -> Iterator[RecordingServer]:
    """Another origin: same host, another port."""
    with RecordingServer() as server:
        yield server


def client_for(space: RecordingServer) -> SignalWireClient:
    return SignalWireClient(space.base_url, PROJECT_ID, SecretStr(API_TOKEN), Timeouts(connect=1.0, read=2.0))


def ample() -> Deadline:
    return Deadline.after(10)


def endpoint(username: str, number: int) -> dict[str, object]:
    return {"type": "sip_endpoint", "id": f"00000000-0000-4000-8000-{number:012d}", "username": username}


def page(*endpoints: dict[str, object], next_link: str | None = None) -> Reply:
    return Reply(200, {"data": list(endpoints), "links": {"next": next_link} if next_link else {}})


def a_payload() -> CreateSipEndpointPayload:
    return CreateSipEndpointPayload.model_validate(
        {"username": "ida", "password": PASSWORD, "call_handler": "relay_connector"}
    )


def test_a_next_link_to_another_port_is_unreadable_and_the_other_origin_receives_nothing(
    space: RecordingServer, foreign: RecordingServer
) -> None:
    # Given a space whose list page says the next page is on another origin (another port)
    space.answer = lambda _: page(endpoint("ida", 1), next_link=f"{foreign.base_url}{ENDPOINTS_PATH}?page_number=1")
    # When the client looks the username up
    with pytest.raises(UnreadableAnswer):
        client_for(space).find_endpoints_by_username("ida", ample())
    # Then the link was not followed: the other origin got no request, so no credentials either
    assert foreign.received == []
    assert len(space.received) == 1


def test_a_next_link_to_another_host_is_unreadable_and_is_not_followed(space: RecordingServer) -> None:
    # Given a space whose list page points the next page at another host
    space.answer = lambda _: page(endpoint("ida", 1), next_link="http://collector.invalid/steal?page_number=1")
    # When the client looks the username up
    with pytest.raises(UnreadableAnswer):
        client_for(space).find_endpoints_by_username("ida", ample())
    # Then only the space was asked
    assert len(space.received) == 1


def test_a_next_link_with_another_scheme_on_the_same_host_and_port_is_not_followed(space: RecordingServer) -> None:
    # Given a space whose list page points the next page at https on the same host and port
    space.answer = lambda _: page(
        endpoint("ida", 1), next_link=f"https://127.0.0.1:{space.port}{ENDPOINTS_PATH}?page_number=1"
    )
    # When the client looks the username up
    with pytest.raises(UnreadableAnswer):
        client_for(space).find_endpoints_by_username("ida", ample())
    # Then it was refused before any request to it: only the first page was asked for
    assert len(space.received) == 1


def test_a_same_origin_relative_next_link_is_followed_with_the_credentials(space: RecordingServer) -> None:
    # Given a space whose first page links the second by a path of its own
    def answer(request: Received) -> Reply:
        if "page_number=1" in request.path:
            return page(endpoint("ida", 2))
        return page(endpoint("ida", 1), endpoint("ida.other", 3), next_link=f"{ENDPOINTS_PATH}?page_number=1")

    space.answer = answer
    # When the client looks the username up
    found = client_for(space).find_endpoints_by_username("ida", ample())
    # Then both pages were read, each with the space's credentials, and only exact matches kept
    assert [found_endpoint.id for found_endpoint in found] == [str(endpoint("ida", n)["id"]) for n in (1, 2)]
    assert [request.path.split("?")[0] for request in space.received] == [ENDPOINTS_PATH, ENDPOINTS_PATH]
    assert all(request.headers.get("Authorization", "").startswith("Basic ") for request in space.received)


@pytest.mark.parametrize("status", [307, 308])
def test_a_redirect_on_create_is_not_followed_and_the_password_never_reaches_the_location(
    space: RecordingServer, foreign: RecordingServer, status: int
) -> None:
    # Given a space that answers the create with a redirect that keeps the method and body
    space.answer = lambda _: Reply(status, headers=(("Location", f"{foreign.base_url}{ENDPOINTS_PATH}"),))
    # When an endpoint is created
    with pytest.raises(SignalWireFault):
        client_for(space).create_endpoint(a_payload(), ample())
    # Then the Location got nothing: neither the body with the password nor the credentials
    assert foreign.received == []
    [create] = space.received
    assert PASSWORD.encode() in create.body


def test_a_redirect_on_a_lookup_is_not_followed(space: RecordingServer, foreign: RecordingServer) -> None:
    # Given a space that redirects the list to another origin
    space.answer = lambda _: Reply(302, headers=(("Location", f"{foreign.base_url}{ENDPOINTS_PATH}"),))
    # When the client looks a username up
    with pytest.raises(SignalWireFault):
        client_for(space).find_endpoints_by_username("ida", ample())
    # Then nothing went to the other origin
    assert foreign.received == []
