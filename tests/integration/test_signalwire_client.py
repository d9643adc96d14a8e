"""The SignalWire client against the emulator over real HTTP: answers mapped to typed errors."""

import time

import pytest
from pydantic import SecretStr

from local.signalwire_emulator import Fault, SignalWireEmulator
from sip_provisioning.adapters.signalwire_client import SignalWireClient, Timeouts
from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.signalwire import CreateSipEndpointPayload
from sip_provisioning.use_cases.ports import (
    AnswerLost,
    CredentialsRejected,
    NotSent,
    PayloadRejected,
    RateLimited,
    ServerFailed,
    UnreadableAnswer,
)

FAST = Timeouts(connect=0.5, read=0.3)


def ample() -> Deadline:
    return Deadline.after(10)


def client_for(emulator: SignalWireEmulator, token: str | None = None) -> SignalWireClient:
    return SignalWireClient(emulator.base_url, emulator.project_id, SecretStr(token or emulator.api_token), FAST)


def payload(username: str = "alice.smith") -> CreateSipEndpointPayload:
    return CreateSipEndpointPayload.model_validate(
        {
            "username": username,
            "password": "a-long-enough-password",
            "call_handler": "relay_script",
            "call_relay_script_url": "https://swml.example/s.yaml",
        }
    )


def test_a_created_endpoint_comes_back_as_signalwires_flat_object_without_password(
    emulator: SignalWireEmulator,
) -> None:
    # Given the emulator
    # When an endpoint is created
    endpoint = client_for(emulator).create_endpoint(payload(), ample())
    # Then the answer is the stored endpoint, and the password was sent but not returned
    assert endpoint.username == "alice.smith"
    assert endpoint.call_relay_script_url == "https://swml.example/s.yaml"
    assert "password" not in endpoint.model_dump()
    assert emulator.endpoints[0]["password"] == "a-long-enough-password"


def test_one_client_reuses_its_connection_across_requests(emulator: SignalWireEmulator) -> None:
    # Given one client
    client = client_for(emulator)
    # When it makes three requests
    client.create_endpoint(payload("first"), ample())
    client.create_endpoint(payload("second"), ample())
    client.find_endpoints_by_username("first", ample())
    # Then they shared one TCP connection
    assert emulator.connections_accepted() == 1


def test_a_duplicate_username_is_a_payload_rejection(emulator: SignalWireEmulator) -> None:
    # Given an existing endpoint
    client = client_for(emulator)
    client.create_endpoint(payload(), ample())
    # When the same username is created again
    with pytest.raises(PayloadRejected) as raised:
        client.create_endpoint(payload(), ample())
    # Then SignalWire's 422 details are carried
    assert raised.value.details == ["Username has already been taken"]


def test_finding_by_username_returns_exact_matches_only_across_pages(emulator: SignalWireEmulator) -> None:
    # Given endpoints whose usernames contain one another
    client = client_for(emulator)
    for name in ["bob", "bobby", "jimbob", "bob.two"]:
        client.create_endpoint(payload(name), ample())
    # When endpoints named exactly "bob" are looked up
    found = client.find_endpoints_by_username("bob", ample())
    # Then only the exact match comes back
    assert [endpoint.username for endpoint in found] == ["bob"]


@pytest.mark.parametrize("fault", [Fault.SERVER_ERROR, Fault.SERVICE_UNAVAILABLE])
def test_a_5xx_without_retry_after_is_a_server_failure(emulator: SignalWireEmulator, fault: Fault) -> None:
    # Given SignalWire answers 500 or a bare 503
    emulator.inject_fault(fault)
    # When an endpoint is created
    # Then the outcome is unknown: a server failure
    with pytest.raises(ServerFailed):
        client_for(emulator).create_endpoint(payload(), ample())


def test_a_non_json_answer_is_unreadable(emulator: SignalWireEmulator) -> None:
    # Given SignalWire answers an HTML page
    emulator.inject_fault(Fault.NON_JSON)
    # When an endpoint is created
    # Then the answer is unreadable
    with pytest.raises(UnreadableAnswer):
        client_for(emulator).create_endpoint(payload(), ample())


def test_wrong_credentials_are_rejected_without_revealing_the_token(emulator: SignalWireEmulator) -> None:
    # Given a wrong API token
    client = client_for(emulator, token="PTwrong-token-value")
    # When an endpoint is created
    with pytest.raises(CredentialsRejected) as raised:
        client.create_endpoint(payload(), ample())
    # Then the error says so without the token
    assert "credentials" in str(raised.value)
    assert "PTwrong-token-value" not in str(raised.value)


@pytest.mark.parametrize(("fault", "status"), [(Fault.RATE_LIMITED, 429), (Fault.SERVICE_UNAVAILABLE, 503)])
def test_a_429_or_a_503_with_retry_after_is_a_rate_limit_carrying_the_delay(
    emulator: SignalWireEmulator, fault: Fault, status: int
) -> None:
    # Given SignalWire says to come back in 7 s
    emulator.inject_fault(fault, retry_after=7)
    # When an endpoint is created
    with pytest.raises(RateLimited) as raised:
        client_for(emulator).create_endpoint(payload(), ample())
    # Then the delay and status are carried
    assert (raised.value.status, raised.value.retry_after) == (status, 7)


def test_an_answer_slower_than_the_read_timeout_is_a_lost_answer(emulator: SignalWireEmulator) -> None:
    # Given SignalWire hangs past the read timeout
    emulator.inject_fault(Fault.HANG, delay_seconds=1.0)
    # When an endpoint is created
    # Then the answer is lost (the request was sent)
    with pytest.raises(AnswerLost):
        client_for(emulator).create_endpoint(payload(), ample())


@pytest.mark.parametrize("fault", [Fault.CLOSE_CONNECTION, Fault.COMMIT_THEN_CLOSE])
def test_a_connection_closed_after_the_request_is_a_lost_answer(emulator: SignalWireEmulator, fault: Fault) -> None:
    # Given SignalWire closes the connection without answering
    emulator.inject_fault(fault)
    # When an endpoint is created
    # Then the answer is lost (the request was sent)
    with pytest.raises(AnswerLost):
        client_for(emulator).create_endpoint(payload(), ample())


def test_a_refused_connection_is_not_sent() -> None:
    # Given nothing listens at the space URL
    with SignalWireEmulator() as stopped:
        url = stopped.base_url
    client = SignalWireClient(url, "p", SecretStr("t"), FAST)
    # When an endpoint is created
    # Then the request never left
    with pytest.raises(NotSent):
        client.create_endpoint(payload(), ample())


def test_a_spent_deadline_sends_nothing(emulator: SignalWireEmulator) -> None:
    # Given no time left
    # When an endpoint is created
    with pytest.raises(NotSent):
        client_for(emulator).create_endpoint(payload(), Deadline.after(0))
    # Then SignalWire received nothing
    assert emulator.create_requests_received() == 0


def test_the_read_timeout_never_exceeds_the_deadline(emulator: SignalWireEmulator) -> None:
    # Given a 30 s read timeout but a 0.3 s deadline, and SignalWire hanging 5 s
    client = SignalWireClient(emulator.base_url, emulator.project_id, SecretStr(emulator.api_token), Timeouts(1, 30))
    emulator.inject_fault(Fault.HANG, delay_seconds=5.0)
    started = time.monotonic()
    # When an endpoint is created
    with pytest.raises(AnswerLost):
        client.create_endpoint(payload(), Deadline.after(0.3))
    # Then the call gave up at the deadline, long before the hang ended (a bound, not a speed target)
    assert time.monotonic() - started < 2.5
