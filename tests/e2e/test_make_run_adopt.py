"""Adopting under `make run`: the route from the template, the HTTP API's own role (its batch read
of the inventory) and SignalWire's pages as the emulator serves them (CONTRACT.md section 9)."""

import requests

from local.run import EMULATOR_API_TOKEN
from tests.e2e.test_make_run import REQUEST_TIMEOUT_SECONDS, SIP_ENDPOINTS_PATH, LocalRun, unique_username


def made_outside(run: LocalRun, username: str) -> None:
    """An endpoint created straight in SignalWire, past the service."""
    requests.post(
        f"{run.emulator_url}{SIP_ENDPOINTS_PATH}",
        json={"username": username, "password": "made-by-an-old-script-1234", "call_handler": "relay_connector"},
        auth=(run.emulator_project, EMULATOR_API_TOKEN),
        timeout=REQUEST_TIMEOUT_SECONDS,
    ).raise_for_status()


def unmanaged_usernames(run: LocalRun) -> list[str]:
    """Every unmanaged endpoint, following next_cursor to the end."""
    usernames: list[str] = []
    params = {"managed": "false", "limit": "100"}
    while True:
        answer = requests.get(f"{run.base_url}/endpoints", params=params, timeout=REQUEST_TIMEOUT_SECONDS)
        assert answer.status_code == 200, answer.text
        usernames += [endpoint["username"] for endpoint in answer.json()["endpoints"]]
        if answer.json()["next_cursor"] is None:
            return usernames
        params = {**params, "cursor": answer.json()["next_cursor"]}


def test_an_endpoint_made_outside_is_listed_unmanaged_then_adopted_then_reset(local_run: LocalRun) -> None:
    # Given an endpoint made outside the service
    username = unique_username("adopt")
    made_outside(local_run, username)
    listed_before = unmanaged_usernames(local_run)
    # When it is adopted into the default profile, and its password reset
    adopted = requests.post(
        f"{local_run.base_url}/endpoints/{username}/adopt", json={"profile": "default"}, timeout=REQUEST_TIMEOUT_SECONDS
    )
    reset = requests.post(
        f"{local_run.base_url}/endpoints/{username}/password", json={}, timeout=REQUEST_TIMEOUT_SECONDS
    )
    # Then it was listed unmanaged and is no longer, it is recorded as adopted, and it has a new password
    assert username in listed_before
    assert adopted.status_code == 200, adopted.text
    assert adopted.json()["record"]["created_via"] == "adopted"
    assert username not in unmanaged_usernames(local_run)
    assert reset.status_code == 200, reset.text
    assert reset.json()["password"]
