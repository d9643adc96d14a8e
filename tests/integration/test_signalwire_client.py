"""The SignalWire client against the emulator over real HTTP: answers mapped to typed errors."""

import pytest
from pydantic import SecretStr

from local.signalwire_emulator import Fault, SignalWireEmulator
from sip_provisioning.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from sip_provisioning.signalwire.client import PayloadRejected, SignalWireClient, Timeouts
from sip_provisioning.signalwire.models import CreateSipEndpointPayload

FAST = Timeouts(connect=0.5, read=0.3)


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
    endpoint = client_for(emulator).create_endpoint(payload())
    # Then the answer is the stored endpoint, and the password was sent but not returned
    assert endpoint.username == "alice.smith"
    assert endpoint.call_relay_script_url == "https://swml.example/s.yaml"
    assert "password" not in endpoint.model_dump()
    assert emulator.endpoints[0]["password"] == "a-long-enough-password"


def test_a_duplicate_username_is_a_payload_rejection(emulator: SignalWireEmulator) -> None:
    # Given an existing endpoint
    client = client_for(emulator)
    client.create_endpoint(payload())
    # When the same username is created again
    with pytest.raises(PayloadRejected) as raised:
        client.create_endpoint(payload())
    # Then SignalWire's 422 details are carried
    assert raised.value.details == ["Username has already been taken"]


def test_finding_by_username_returns_exact_matches_only_across_pages(emulator: SignalWireEmulator) -> None:
    # Given endpoints whose usernames contain one another
    client = client_for(emulator)
    for name in ["bob", "bobby", "jimbob", "bob.two"]:
        client.create_endpoint(payload(name))
    # When endpoints named exactly "bob" are looked up
    found = client.find_endpoints_by_username("bob")
    # Then only the exact match comes back
    assert [endpoint.username for endpoint in found] == ["bob"]


@pytest.mark.parametrize("fault", [Fault.SERVER_ERROR, Fault.NON_JSON, Fault.SERVICE_UNAVAILABLE])
def test_a_server_error_or_unreadable_answer_is_an_upstream_error(emulator: SignalWireEmulator, fault: Fault) -> None:
    # Given SignalWire answers 5xx or non-JSON
    emulator.inject_fault(fault)
    # When an endpoint is created
    # Then it is an upstream error
    with pytest.raises(UpstreamError):
        client_for(emulator).create_endpoint(payload())


def test_wrong_credentials_are_an_upstream_error_that_does_not_reveal_the_token(emulator: SignalWireEmulator) -> None:
    # Given a wrong API token
    client = client_for(emulator, token="PTwrong-token-value")
    # When an endpoint is created
    with pytest.raises(UpstreamError) as raised:
        client.create_endpoint(payload())
    # Then the error says so without the token
    assert "credentials" in str(raised.value)
    assert "PTwrong-token-value" not in str(raised.value)


def test_a_rate_limit_is_unavailable_with_signalwires_retry_after(emulator: SignalWireEmulator) -> None:
    # Given SignalWire rate-limits with Retry-After: 7
    emulator.inject_fault(Fault.RATE_LIMITED, retry_after=7)
    # When an endpoint is created
    with pytest.raises(UpstreamUnavailable) as raised:
        client_for(emulator).create_endpoint(payload())
    # Then the retry delay is carried
    assert raised.value.retry_after == 7


def test_an_answer_slower_than_the_read_timeout_is_an_upstream_timeout(emulator: SignalWireEmulator) -> None:
    # Given SignalWire hangs past the read timeout
    emulator.inject_fault(Fault.HANG, delay_seconds=1.0)
    # When an endpoint is created
    # Then it is a timeout
    with pytest.raises(UpstreamTimeout):
        client_for(emulator).create_endpoint(payload())


def test_a_closed_connection_is_unavailable(emulator: SignalWireEmulator) -> None:
    # Given SignalWire closes the connection without answering
    emulator.inject_fault(Fault.CLOSE_CONNECTION)
    # When an endpoint is created
    # Then it is unavailable
    with pytest.raises(UpstreamUnavailable):
        client_for(emulator).create_endpoint(payload())


def test_an_unreachable_signalwire_is_unavailable() -> None:
    # Given nothing listens at the space URL
    with SignalWireEmulator() as stopped:
        url = stopped.base_url
    client = SignalWireClient(url, "p", SecretStr("t"), FAST)
    # When an endpoint is created
    # Then it is unavailable
    with pytest.raises(UpstreamUnavailable):
        client.create_endpoint(payload())
