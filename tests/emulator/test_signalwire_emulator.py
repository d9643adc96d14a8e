"""The local SignalWire emulator behaves like the SIP endpoints API it stands in for.

Every test talks to it over real HTTP on loopback, as the service's client will.
"""

import logging
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from local.signalwire_emulator import DUPLICATE_USERNAME_DETAIL, Fault, SignalWireEmulator

PROJECT_ID = "test-project"
API_TOKEN = "test-token-not-secret"
CREDENTIALS = (PROJECT_ID, API_TOKEN)
SIP_PATH = "/api/relay/rest/endpoints/sip"
TIMEOUT_SECONDS = 5.0
SHORT_READ_TIMEOUT_SECONDS = 0.2
HANG_SECONDS = 0.5

RESPONSE_KEYS = {
    "type",
    "id",
    "username",
    "caller_id",
    "send_as",
    "ciphers",
    "codecs",
    "encryption",
    "call_handler",
    "calling_handler_resource_id",
    "call_request_url",
    "call_request_method",
    "call_fallback_url",
    "call_fallback_method",
    "call_status_callback_url",
    "call_status_callback_method",
    "call_laml_application_id",
    "call_dialogflow_agent_id",
    "call_relay_topic",
    "call_relay_topic_status_callback_url",
    "call_relay_context",
    "call_relay_context_status_callback_url",
    "call_relay_application",
    "call_video_room_id",
    "call_flow_id",
    "call_flow_version",
    "call_ai_agent_id",
    "call_relay_script_url",
}

# For each call_handler, a complete set of the fields it requires.
HANDLER_REQUIRED_FIELDS: dict[str, dict[str, str]] = {
    "laml_webhooks": {
        "call_request_url": "https://example.test/voice",
        "call_fallback_url": "https://example.test/fallback",
        "call_status_callback_url": "https://example.test/status",
    },
    "laml_application": {"call_laml_application_id": "laml-app-1"},
    "dialogflow": {"call_dialogflow_agent_id": "agent-1"},
    "relay_topic": {
        "call_relay_topic": "office",
        "call_relay_topic_status_callback_url": "https://example.test/topic-status",
    },
    "relay_context": {
        "call_relay_context": "office",
        "call_relay_context_status_callback_url": "https://example.test/context-status",
    },
    "relay_application": {"call_relay_application": "my-relay-app"},
    "relay_connector": {},
    "video_room": {"call_video_room_id": "0f8fad5b-d9cb-469f-a165-70867728950e"},
    "call_flow": {"call_flow_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
    "ai_agent": {"call_ai_agent_id": "9b2f6c1e-3f4a-4d5b-8c6d-7e8f9a0b1c2d"},
    "relay_script": {"call_relay_script_url": "https://example.test/script.swml"},
}
HANDLER_AND_MISSING_FIELD = [
    (handler, missing) for handler, fields in HANDLER_REQUIRED_FIELDS.items() for missing in fields
]


@pytest.fixture
def emulator() -> Iterator[SignalWireEmulator]:
    """A fresh emulator per test (not the shared session one), so these tests also cover start and stop."""
    with SignalWireEmulator(project_id=PROJECT_ID, api_token=API_TOKEN) as running:
        yield running


def create(emulator: SignalWireEmulator, body: object, timeout: float = TIMEOUT_SECONDS) -> requests.Response:
    return requests.post(f"{emulator.base_url}{SIP_PATH}", json=body, auth=CREDENTIALS, timeout=timeout)


def list_endpoints(emulator: SignalWireEmulator, **params: str | int) -> requests.Response:
    return requests.get(f"{emulator.base_url}{SIP_PATH}", params=params, auth=CREDENTIALS, timeout=TIMEOUT_SECONDS)


def follow(url: str) -> requests.Response:
    return requests.get(url, auth=CREDENTIALS, timeout=TIMEOUT_SECONDS)


def error_details(response: requests.Response) -> list[str]:
    return [error["detail"] for error in response.json()["errors"]]


def create_named(emulator: SignalWireEmulator, *usernames: str) -> list[dict[str, Any]]:
    created = []
    for username in usernames:
        response = create(emulator, {"username": username, "password": f"pw-{username}"})
        assert response.status_code == 201
        created.append(response.json())
    return created


def update(
    emulator: SignalWireEmulator, endpoint_id: str, body: object, timeout: float = TIMEOUT_SECONDS
) -> requests.Response:
    return requests.put(f"{emulator.base_url}{SIP_PATH}/{endpoint_id}", json=body, auth=CREDENTIALS, timeout=timeout)


def delete(emulator: SignalWireEmulator, endpoint_id: str, timeout: float = TIMEOUT_SECONDS) -> requests.Response:
    return requests.delete(f"{emulator.base_url}{SIP_PATH}/{endpoint_id}", auth=CREDENTIALS, timeout=timeout)


def stored(emulator: SignalWireEmulator, username: str) -> dict[str, object]:
    (endpoint,) = [endpoint for endpoint in emulator.endpoints if endpoint["username"] == username]
    return endpoint


def request_operation(emulator: SignalWireEmulator, operation: str, endpoint_id: str) -> requests.Response:
    """One request of ``operation``; update and delete address ``endpoint_id``."""
    match operation:
        case "list":
            return list_endpoints(emulator)
        case "create":
            return create(emulator, {"username": "newcomer", "password": "pw-newcomer"})
        case "retrieve":
            return follow(f"{emulator.base_url}{SIP_PATH}/{endpoint_id}")
        case "update":
            return update(emulator, endpoint_id, {"caller_id": "Changed"})
        case "delete":
            return delete(emulator, endpoint_id)
    raise AssertionError(operation)


def wait_until(condition: Any, timeout: float = TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# -- authentication ---------------------------------------------------------------------------


def test_a_request_without_credentials_is_rejected_with_401(emulator):
    # Given no Authorization header
    # When listing
    response = requests.get(f"{emulator.base_url}{SIP_PATH}", timeout=TIMEOUT_SECONDS)

    # Then
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized"}


def test_a_request_with_a_wrong_api_token_is_rejected_with_401_and_stores_nothing(emulator):
    # Given the right project id with a wrong token
    # When creating
    response = requests.post(
        f"{emulator.base_url}{SIP_PATH}",
        json={"username": "alice", "password": "secret-1"},
        auth=(PROJECT_ID, "wrong-token"),
        timeout=TIMEOUT_SECONDS,
    )

    # Then
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized"}
    assert emulator.endpoints == []


# -- create -----------------------------------------------------------------------------------


def test_a_valid_create_answers_201_with_the_flat_endpoint_object(emulator):
    # Given a minimal body
    # When creating
    response = create(emulator, {"username": "alice", "password": "secret-1"})

    # Then every documented field is present, defaults applied, the rest null
    assert response.status_code == 201
    endpoint = response.json()
    assert set(endpoint) == RESPONSE_KEYS
    assert endpoint["type"] == "sip_endpoint"
    assert uuid.UUID(endpoint["id"]).version == 4
    assert endpoint["username"] == "alice"
    assert endpoint["ciphers"] == []
    assert endpoint["codecs"] == []
    assert endpoint["encryption"] == "default"
    assert endpoint["call_handler"] is None
    assert endpoint["calling_handler_resource_id"] is None
    assert endpoint["call_request_url"] is None


def test_the_password_is_never_returned_but_is_stored(emulator):
    # Given a create with a password
    response = create(emulator, {"username": "alice", "password": "secret-1"})

    # When reading the answer and the emulator's store
    # Then only the store has it
    assert "password" not in response.json()
    assert "secret-1" not in response.text
    assert emulator.endpoints[0]["password"] == "secret-1"


def test_a_create_echoes_every_field_it_was_sent(emulator):
    # Given a body using optional fields
    body = {
        "username": "bob",
        "password": "secret-1",
        "caller_id": "Bob",
        "send_as": "+15551230000",
        "ciphers": ["AEAD_AES_256_GCM_8"],
        "codecs": ["OPUS", "PCMU"],
        "encryption": "required",
        "call_handler": "call_flow",
        "call_flow_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "call_flow_version": "current_deployed",
        "call_request_method": "GET",
    }

    # When creating
    response = create(emulator, body)

    # Then
    assert response.status_code == 201
    endpoint = response.json()
    assert {name: endpoint[name] for name in body if name != "password"} == {
        name: value for name, value in body.items() if name != "password"
    }


@pytest.mark.parametrize("missing", ["username", "password"])
def test_a_create_without_a_required_field_is_rejected_with_422_in_signalwire_shape(emulator, missing):
    # Given a body lacking one required field
    body = {"username": "alice", "password": "secret-1"}
    del body[missing]

    # When creating
    response = create(emulator, body)

    # Then
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error == {
        "detail": f"{missing} can't be blank",
        "status": "422",
        "title": "Invalid Attribute",
        "code": "422",
    }
    assert emulator.endpoints == []


@pytest.mark.parametrize("username", ["al ice", "al\tice", "al\u00a0ice", "al\u2003ice", "alice@example"])
def test_a_username_with_whitespace_or_an_at_sign_is_rejected_with_422(emulator, username):
    # Given / When
    response = create(emulator, {"username": username, "password": "secret-1"})

    # Then
    assert response.status_code == 422
    assert error_details(response) == ["username must not contain whitespace or @"]


def test_a_non_string_username_is_rejected_with_422(emulator):
    # Given / When
    response = create(emulator, {"username": 42, "password": "secret-1"})

    # Then
    assert response.status_code == 422
    assert error_details(response) == ["username must be a string"]


def test_a_duplicate_username_is_rejected_with_422_and_the_documented_detail(emulator):
    # Given an existing endpoint
    create_named(emulator, "alice")

    # When creating another with the same username
    response = create(emulator, {"username": "alice", "password": "other-password"})

    # Then
    assert response.status_code == 422
    assert error_details(response) == [DUPLICATE_USERNAME_DETAIL]
    assert DUPLICATE_USERNAME_DETAIL == "Username has already been taken"
    assert len(emulator.endpoints) == 1


def test_an_unknown_field_is_rejected_with_422(emulator):
    # Given / When
    response = create(emulator, {"username": "alice", "password": "secret-1", "nickname": "al"})

    # Then
    assert response.status_code == 422
    assert error_details(response) == ["nickname is not a permitted attribute"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("encryption", "always"),
        ("call_handler", "voicemail"),
        ("call_request_method", "PUT"),
        ("call_fallback_method", "post"),
        ("call_status_callback_method", "DELETE"),
        ("call_flow_version", "latest"),
    ],
)
def test_a_value_outside_an_enum_is_rejected_with_422(emulator, field, value):
    # Given / When
    response = create(emulator, {"username": "alice", "password": "secret-1", field: value})

    # Then
    assert response.status_code == 422
    assert error_details(response)[0].startswith(f"{field} must be one of:")


@pytest.mark.parametrize(
    ("field", "values"), [("codecs", ["OPUS", "SPEEX"]), ("ciphers", ["AES_128_GCM"]), ("codecs", "OPUS")]
)
def test_a_codec_or_cipher_outside_the_allowed_list_is_rejected_with_422(emulator, field, values):
    # Given / When
    response = create(emulator, {"username": "alice", "password": "secret-1", field: values})

    # Then
    assert response.status_code == 422
    assert error_details(response)[0].startswith(f"{field} ")


@pytest.mark.parametrize("field", ["call_video_room_id", "call_flow_id", "call_ai_agent_id"])
def test_a_uuid_field_that_is_not_a_uuid_is_rejected_with_422(emulator, field):
    # Given / When
    response = create(emulator, {"username": "alice", "password": "secret-1", field: "room-42"})

    # Then
    assert response.status_code == 422
    assert error_details(response) == [f"{field} must be a UUID"]


@pytest.mark.parametrize(("handler", "missing"), HANDLER_AND_MISSING_FIELD)
def test_a_call_handler_without_one_of_its_required_fields_is_rejected_with_422(emulator, handler, missing):
    # Given a body with every field the handler requires but one
    fields = {name: value for name, value in HANDLER_REQUIRED_FIELDS[handler].items() if name != missing}
    body = {"username": "alice", "password": "secret-1", "call_handler": handler, **fields}

    # When creating
    response = create(emulator, body)

    # Then
    assert response.status_code == 422
    assert error_details(response) == [f"{missing} is required when call_handler is {handler}"]
    assert emulator.creates_committed() == 0


@pytest.mark.parametrize("handler", list(HANDLER_REQUIRED_FIELDS))
def test_a_call_handler_with_its_required_fields_is_created(emulator, handler):
    # Given
    body = {"username": "alice", "password": "secret-1", "call_handler": handler}
    body |= HANDLER_REQUIRED_FIELDS[handler]

    # When
    response = create(emulator, body)

    # Then
    assert response.status_code == 201
    assert response.json()["call_handler"] == handler


def test_a_required_handler_field_given_as_an_empty_string_counts_as_missing(emulator):
    # Given
    body = {"username": "alice", "password": "secret-1", "call_handler": "relay_application"}
    body["call_relay_application"] = ""

    # When
    response = create(emulator, body)

    # Then
    assert response.status_code == 422
    assert error_details(response) == ["call_relay_application is required when call_handler is relay_application"]


def test_a_body_that_is_not_json_is_rejected_with_422(emulator):
    # Given / When
    response = requests.post(
        f"{emulator.base_url}{SIP_PATH}",
        data=b"username=alice",
        headers={"Content-Type": "application/json"},
        auth=CREDENTIALS,
        timeout=TIMEOUT_SECONDS,
    )

    # Then
    assert response.status_code == 422
    assert error_details(response) == ["The request body must be valid JSON"]


def test_a_json_body_that_is_not_an_object_is_rejected_with_422(emulator):
    # Given / When
    response = create(emulator, ["alice", "secret-1"])

    # Then
    assert response.status_code == 422
    assert error_details(response) == ["The request body must be a JSON object"]


def test_concurrent_creates_of_one_username_store_exactly_one_endpoint(emulator):
    # Given 20 clients racing for one username
    def create_alice(attempt: int) -> int:
        return create(emulator, {"username": "alice", "password": f"secret-{attempt}"}).status_code

    # When
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(create_alice, range(20)))

    # Then
    assert sorted(statuses) == [201] + [422] * 19
    assert len(emulator.endpoints) == 1
    assert emulator.creates_committed() == 1
    assert emulator.create_requests_received() == 20


def test_concurrent_creates_of_distinct_usernames_are_all_stored(emulator):
    # Given / When
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(
            pool.map(lambda n: create(emulator, {"username": f"user{n}", "password": "pw"}).status_code, range(20))
        )

    # Then
    assert statuses == [201] * 20
    assert sorted(endpoint["username"] for endpoint in emulator.endpoints) == sorted(f"user{n}" for n in range(20))


# -- list -------------------------------------------------------------------------------------


def test_a_list_answers_newest_first_with_self_and_first_links(emulator):
    # Given
    create_named(emulator, "first", "second", "third")

    # When
    response = list_endpoints(emulator)

    # Then
    assert response.status_code == 200
    document = response.json()
    assert [endpoint["username"] for endpoint in document["data"]] == ["third", "second", "first"]
    assert set(document["links"]) == {"self", "first"}
    assert all("password" not in endpoint for endpoint in document["data"])


def test_a_list_filters_by_username_substring(emulator):
    # Given
    create_named(emulator, "alice", "malice", "bob")

    # When
    response = list_endpoints(emulator, filter_username="lic")

    # Then
    assert [endpoint["username"] for endpoint in response.json()["data"]] == ["malice", "alice"]


def test_a_list_filters_by_caller_id_substring(emulator):
    # Given
    for username, caller_id in [("a1", "Front Desk"), ("a2", "Back Office"), ("a3", "Front Office")]:
        create(emulator, {"username": username, "password": "pw", "caller_id": caller_id})
    create_named(emulator, "no-caller-id")

    # When
    response = list_endpoints(emulator, filter_caller_id="Office")

    # Then
    assert [endpoint["username"] for endpoint in response.json()["data"]] == ["a3", "a2"]


def test_following_next_links_visits_every_endpoint_once_newest_first(emulator):
    # Given 7 endpoints and pages of 3
    usernames = [f"user{n}" for n in range(7)]
    create_named(emulator, *usernames)

    # When following links.next from the first page
    pages = [list_endpoints(emulator, page_size=3).json()]
    while "next" in pages[-1]["links"] and len(pages) <= 7:  # the bound keeps a broken next link from looping
        pages.append(follow(pages[-1]["links"]["next"]).json())

    # Then
    assert [len(page["data"]) for page in pages] == [3, 3, 1]
    assert [endpoint["username"] for page in pages for endpoint in page["data"]] == usernames[::-1]
    assert "prev" not in pages[0]["links"]
    assert all("prev" in page["links"] for page in pages[1:])


def test_following_a_prev_link_returns_the_previous_page(emulator):
    # Given the second page of 7 endpoints in pages of 3
    create_named(emulator, *(f"user{n}" for n in range(7)))
    first_page = list_endpoints(emulator, page_size=3).json()
    second_page = follow(first_page["links"]["next"]).json()

    # When
    previous = follow(second_page["links"]["prev"]).json()

    # Then
    assert previous["data"] == first_page["data"]


def test_page_links_keep_the_filters(emulator):
    # Given 4 matching endpoints and one that does not match
    create_named(emulator, "desk1", "desk2", "desk3", "desk4", "other")

    # When following next with a filter and pages of 2
    first_page = list_endpoints(emulator, filter_username="desk", page_size=2).json()
    second_page = follow(first_page["links"]["next"]).json()

    # Then
    assert [endpoint["username"] for endpoint in second_page["data"]] == ["desk2", "desk1"]
    assert "next" not in second_page["links"]


def test_the_default_page_size_is_50(emulator):
    # Given 51 endpoints
    create_named(emulator, *(f"user{n}" for n in range(51)))

    # When
    document = list_endpoints(emulator).json()

    # Then
    assert len(document["data"]) == 50
    assert "next" in document["links"]


@pytest.mark.parametrize("page_token", [None, "made-up-token"])
def test_a_later_page_without_an_issued_page_token_is_rejected_with_422(emulator, page_token):
    # Given
    create_named(emulator, *(f"user{n}" for n in range(4)))
    params: dict[str, str | int] = {"page_size": 2, "page_number": 1}
    if page_token is not None:
        params["page_token"] = page_token

    # When
    response = list_endpoints(emulator, **params)

    # Then
    assert response.status_code == 422
    assert error_details(response) == ["page_token is missing or invalid for this page_number"]


@pytest.mark.parametrize("page_size", [0, 1001, "ten"])
def test_a_page_size_outside_1_to_1000_is_rejected_with_422(emulator, page_size):
    # Given / When
    response = list_endpoints(emulator, page_size=page_size)

    # Then
    assert response.status_code == 422
    assert error_details(response) == ["page_size must be an integer from 1 to 1000"]


# -- retrieve, update, delete -----------------------------------------------------------------


def test_retrieve_answers_the_stored_endpoint(emulator):
    # Given
    (created,) = create_named(emulator, "alice")

    # When
    response = follow(f"{emulator.base_url}{SIP_PATH}/{created['id']}")

    # Then
    assert response.status_code == 200
    assert response.json() == created


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_an_unknown_id_answers_404(emulator, method):
    # Given / When
    response = requests.request(
        method,
        f"{emulator.base_url}{SIP_PATH}/{uuid.uuid4()}",
        json={"caller_id": "x"} if method == "PUT" else None,
        auth=CREDENTIALS,
        timeout=TIMEOUT_SECONDS,
    )

    # Then
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/relay/rest/endpoints"), ("PATCH", SIP_PATH)])
def test_an_unknown_path_or_method_answers_404(emulator, method, path):
    # Given / When
    response = requests.request(method, f"{emulator.base_url}{path}", auth=CREDENTIALS, timeout=TIMEOUT_SECONDS)

    # Then
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


def test_update_changes_only_the_fields_sent(emulator):
    # Given
    created = create(emulator, {"username": "alice", "password": "secret-1", "caller_id": "Alice"}).json()

    # When
    response = requests.put(
        f"{emulator.base_url}{SIP_PATH}/{created['id']}",
        json={"caller_id": "Alice Smith", "password": "secret-2"},
        auth=CREDENTIALS,
        timeout=TIMEOUT_SECONDS,
    )

    # Then
    assert response.status_code == 200
    assert response.json() == created | {"caller_id": "Alice Smith"}
    assert emulator.endpoints[0]["password"] == "secret-2"


def test_update_applies_the_create_rules_to_the_result(emulator):
    # Given
    (created,) = create_named(emulator, "alice")

    # When switching to a handler without the fields it requires
    response = requests.put(
        f"{emulator.base_url}{SIP_PATH}/{created['id']}",
        json={"call_handler": "ai_agent"},
        auth=CREDENTIALS,
        timeout=TIMEOUT_SECONDS,
    )

    # Then
    assert response.status_code == 422
    assert error_details(response) == ["call_ai_agent_id is required when call_handler is ai_agent"]
    assert emulator.endpoints[0]["call_handler"] is None


def test_update_to_another_endpoints_username_is_rejected_with_422(emulator):
    # Given
    _, bob = create_named(emulator, "alice", "bob")

    # When
    response = requests.put(
        f"{emulator.base_url}{SIP_PATH}/{bob['id']}",
        json={"username": "alice"},
        auth=CREDENTIALS,
        timeout=TIMEOUT_SECONDS,
    )

    # Then
    assert response.status_code == 422
    assert error_details(response) == [DUPLICATE_USERNAME_DETAIL]


def test_delete_answers_204_without_a_body_and_removes_the_endpoint(emulator):
    # Given
    (created,) = create_named(emulator, "alice")
    url = f"{emulator.base_url}{SIP_PATH}/{created['id']}"

    # When
    response = requests.delete(url, auth=CREDENTIALS, timeout=TIMEOUT_SECONDS)

    # Then
    assert response.status_code == 204
    assert response.content == b""
    assert follow(url).status_code == 404
    assert emulator.endpoints == []


def test_an_update_sending_null_clears_that_field_to_null(emulator):
    # Given an endpoint with a caller id and a send_as
    body = {"username": "alice", "password": "secret-1", "caller_id": "Alice", "send_as": "+15551230000"}
    created = create(emulator, body).json()

    # When
    response = update(emulator, created["id"], {"caller_id": None})

    # Then only the field sent null is cleared
    assert response.status_code == 200
    assert response.json() == created | {"caller_id": None}
    assert stored(emulator, "alice")["caller_id"] is None
    assert stored(emulator, "alice")["send_as"] == "+15551230000"


@pytest.mark.parametrize(
    ("field", "value", "default"),
    [
        ("ciphers", ["AEAD_AES_256_GCM_8"], []),
        ("codecs", ["OPUS"], []),
        ("encryption", "required", "default"),
    ],
)
def test_an_update_sending_null_for_a_field_with_a_create_default_restores_the_default(emulator, field, value, default):
    # Given an endpoint with the field set
    created = create(emulator, {"username": "alice", "password": "secret-1", field: value}).json()

    # When
    response = update(emulator, created["id"], {field: None})

    # Then it is back to what a create without it stores, never null
    assert response.status_code == 200
    assert response.json()[field] == default


@pytest.mark.parametrize("field", ["username", "password"])
def test_an_update_cannot_clear_the_username_or_the_password(emulator, field):
    # Given
    (created,) = create_named(emulator, "alice")

    # When
    response = update(emulator, created["id"], {field: None, "caller_id": "Alice"})

    # Then
    assert response.status_code == 422
    assert error_details(response) == [f"{field} can't be blank"]
    assert stored(emulator, "alice") == created | {"password": "pw-alice"}


def test_switching_handler_with_null_for_the_old_handlers_fields_clears_them(emulator):
    # Given an endpoint on laml_webhooks
    body = {"username": "alice", "password": "secret-1", "call_handler": "laml_webhooks"}
    created = create(emulator, body | HANDLER_REQUIRED_FIELDS["laml_webhooks"]).json()

    # When switching to relay_script, sending null for every laml_webhooks field
    cleared = dict.fromkeys(HANDLER_REQUIRED_FIELDS["laml_webhooks"])
    changes = {"call_handler": "relay_script", **HANDLER_REQUIRED_FIELDS["relay_script"], **cleared}
    response = update(emulator, created["id"], changes)

    # Then
    assert response.status_code == 200
    assert response.json() == created | changes


@pytest.mark.parametrize(("handler", "required"), HANDLER_AND_MISSING_FIELD)
def test_clearing_a_field_the_handler_requires_is_rejected_with_422_and_changes_nothing(emulator, handler, required):
    # Given an endpoint on the handler with all its required fields
    body = {"username": "alice", "password": "secret-1", "call_handler": handler}
    created = create(emulator, body | HANDLER_REQUIRED_FIELDS[handler]).json()

    # When clearing one of them along with another change
    response = update(emulator, created["id"], {required: None, "caller_id": "Alice"})

    # Then
    assert response.status_code == 422
    assert error_details(response) == [f"{required} is required when call_handler is {handler}"]
    assert stored(emulator, "alice") == created | {"password": "secret-1"}
    assert emulator.updates_committed() == 0


def test_clearing_the_call_handler_leaves_its_fields_as_they_were(emulator):
    # Given
    body = {"username": "alice", "password": "secret-1", "call_handler": "relay_application"}
    created = create(emulator, body | HANDLER_REQUIRED_FIELDS["relay_application"]).json()

    # When
    response = update(emulator, created["id"], {"call_handler": None})

    # Then
    assert response.status_code == 200
    assert response.json() == created | {"call_handler": None}


def test_a_rejected_duplicate_username_update_changes_none_of_the_other_fields_sent(emulator):
    # Given
    _, bob = create_named(emulator, "alice", "bob")

    # When
    response = update(emulator, bob["id"], {"username": "alice", "caller_id": "Bob", "password": "new-pw"})

    # Then
    assert response.status_code == 422
    assert error_details(response) == [DUPLICATE_USERNAME_DETAIL]
    assert stored(emulator, "bob") == bob | {"password": "pw-bob"}


def test_an_update_to_the_endpoints_own_username_is_accepted(emulator):
    # Given
    (alice,) = create_named(emulator, "alice")

    # When
    response = update(emulator, alice["id"], {"username": "alice", "caller_id": "Alice"})

    # Then
    assert response.status_code == 200
    assert response.json() == alice | {"caller_id": "Alice"}


def test_an_updated_password_is_stored_but_never_returned(emulator):
    # Given
    (alice,) = create_named(emulator, "alice")

    # When
    response = update(emulator, alice["id"], {"password": "rotated-secret-2"})

    # Then
    assert response.status_code == 200
    assert "password" not in response.json()
    assert "rotated-secret-2" not in response.text
    assert emulator.stored_password("alice") == "rotated-secret-2"


def test_an_update_field_that_is_wrong_on_its_own_is_rejected_with_422_as_on_create(emulator):
    # Given
    (alice,) = create_named(emulator, "alice")

    # When
    response = update(emulator, alice["id"], {"call_flow_id": "flow-1", "codecs": None})

    # Then
    assert response.status_code == 422
    assert error_details(response) == ["call_flow_id must be a UUID"]
    assert stored(emulator, "alice") == alice | {"password": "pw-alice"}


def test_a_create_does_not_take_null_for_a_field(emulator):
    # Given / When
    response = create(emulator, {"username": "alice", "password": "secret-1", "caller_id": None})

    # Then a create leaves out what it does not set
    assert response.status_code == 422
    assert error_details(response) == ["caller_id must be a string"]


# -- faults -----------------------------------------------------------------------------------


def test_a_server_error_fault_answers_500_and_stores_nothing(emulator):
    # Given
    emulator.inject_fault(Fault.SERVER_ERROR)

    # When
    response = create(emulator, {"username": "alice", "password": "secret-1"})

    # Then
    assert response.status_code == 500
    assert response.json() == {"error": "Internal Server Error"}
    assert emulator.endpoints == []


def test_a_service_unavailable_fault_answers_503_with_the_given_retry_after(emulator):
    # Given
    emulator.inject_fault(Fault.SERVICE_UNAVAILABLE, retry_after=7)

    # When
    response = create(emulator, {"username": "alice", "password": "secret-1"})

    # Then
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert emulator.endpoints == []


def test_a_rate_limited_fault_answers_429_with_the_given_retry_after(emulator):
    # Given
    emulator.inject_fault(Fault.RATE_LIMITED, retry_after=2)

    # When
    response = create(emulator, {"username": "alice", "password": "secret-1"})

    # Then
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert emulator.endpoints == []


def test_a_rate_limited_fault_without_retry_after_sends_no_retry_after_header(emulator):
    # Given
    emulator.inject_fault(Fault.RATE_LIMITED)

    # When
    response = create(emulator, {"username": "alice", "password": "secret-1"})

    # Then
    assert response.status_code == 429
    assert "Retry-After" not in response.headers


def test_a_hang_fault_outlasts_the_clients_read_timeout(emulator):
    # Given
    emulator.inject_fault(Fault.HANG, delay_seconds=HANG_SECONDS)

    # When / Then
    with pytest.raises(requests.exceptions.ReadTimeout):
        create(emulator, {"username": "alice", "password": "secret-1"}, timeout=SHORT_READ_TIMEOUT_SECONDS)


def test_a_hung_request_is_performed_and_answered_after_the_delay(emulator):
    # Given
    emulator.inject_fault(Fault.HANG, delay_seconds=HANG_SECONDS)

    # When a patient client waits
    response = create(emulator, {"username": "alice", "password": "secret-1"})

    # Then
    assert response.status_code == 201
    assert emulator.creates_committed() == 1


def test_a_close_connection_fault_drops_the_connection_without_an_answer_and_stores_nothing(emulator):
    # Given
    emulator.inject_fault(Fault.CLOSE_CONNECTION)

    # When / Then
    with pytest.raises(requests.exceptions.ConnectionError):
        create(emulator, {"username": "alice", "password": "secret-1"})
    assert emulator.endpoints == []
    assert emulator.create_requests_received() == 1


def test_a_non_json_fault_answers_200_with_an_html_page_and_stores_nothing(emulator):
    # Given
    emulator.inject_fault(Fault.NON_JSON)

    # When
    response = create(emulator, {"username": "alice", "password": "secret-1"})

    # Then
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html"
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()
    assert emulator.endpoints == []


def test_commit_then_close_stores_the_endpoint_although_the_client_gets_a_connection_error(emulator):
    # Given
    emulator.inject_fault(Fault.COMMIT_THEN_CLOSE)

    # When / Then
    with pytest.raises(requests.exceptions.ConnectionError):
        create(emulator, {"username": "alice", "password": "secret-1"})
    assert [endpoint["username"] for endpoint in emulator.endpoints] == ["alice"]
    assert emulator.creates_committed() == 1


def test_a_fault_applies_to_the_given_number_of_requests_only(emulator):
    # Given
    emulator.inject_fault(Fault.SERVER_ERROR, times=2)

    # When
    statuses = [create(emulator, {"username": "alice", "password": "pw"}).status_code for _ in range(3)]

    # Then
    assert statuses == [500, 500, 201]


def test_a_fault_after_some_requests_lets_those_through_first(emulator):
    # Given a list fault that lets the first list through
    emulator.inject_fault(Fault.SERVER_ERROR, operation="list", after=1)

    # When three lists arrive
    statuses = [list_endpoints(emulator).status_code for _ in range(3)]

    # Then only the second misbehaves
    assert statuses == [200, 500, 200]


def test_a_create_fault_leaves_other_operations_alone(emulator):
    # Given
    emulator.inject_fault(Fault.SERVER_ERROR)

    # When
    list_status = list_endpoints(emulator).status_code
    create_status = create(emulator, {"username": "alice", "password": "pw"}).status_code

    # Then
    assert (list_status, create_status) == (200, 500)


def test_a_fault_for_any_operation_applies_to_the_next_request_whatever_it_is(emulator):
    # Given
    emulator.inject_fault(Fault.SERVICE_UNAVAILABLE, operation=None)

    # When
    list_status = list_endpoints(emulator).status_code
    create_status = create(emulator, {"username": "alice", "password": "pw"}).status_code

    # Then
    assert (list_status, create_status) == (503, 201)


def test_faults_queue_in_the_order_they_were_injected(emulator):
    # Given
    emulator.inject_fault(Fault.RATE_LIMITED, retry_after=1)
    emulator.inject_fault(Fault.SERVER_ERROR)

    # When
    statuses = [create(emulator, {"username": "alice", "password": "pw"}).status_code for _ in range(3)]

    # Then
    assert statuses == [429, 500, 201]


@pytest.mark.parametrize(
    "arguments",
    [
        {"fault": Fault.SERVER_ERROR, "times": 0},
        {"fault": Fault.SERVER_ERROR, "operation": "upsert"},
        {"fault": Fault.SERVER_ERROR, "retry_after": 3},
        {"fault": Fault.HANG},
        {"fault": Fault.NON_JSON, "delay_seconds": 1.0},
    ],
)
def test_an_inconsistent_fault_is_refused(emulator, arguments):
    # Given / When / Then
    with pytest.raises(ValueError):  # noqa: PT011 -- the message is not part of the contract
        emulator.inject_fault(**arguments)


@pytest.mark.parametrize("operation", ["list", "create", "retrieve", "update", "delete"])
@pytest.mark.parametrize(
    ("fault", "status"),
    [(Fault.SERVER_ERROR, 500), (Fault.SERVICE_UNAVAILABLE, 503), (Fault.RATE_LIMITED, 429), (Fault.NON_JSON, 200)],
)
def test_an_answering_fault_applies_to_every_operation_and_performs_nothing(emulator, operation, fault, status):
    # Given an endpoint and a fault for the operation
    (alice,) = create_named(emulator, "alice")
    emulator.inject_fault(fault, operation=operation)

    # When
    response = request_operation(emulator, operation, alice["id"])

    # Then
    assert response.status_code == status
    assert emulator.endpoints == [alice | {"password": "pw-alice"}]
    assert emulator.requests_received(operation) == (2 if operation == "create" else 1)


@pytest.mark.parametrize("operation", ["list", "create", "retrieve", "update", "delete"])
def test_a_close_connection_fault_applies_to_every_operation_and_performs_nothing(emulator, operation):
    # Given
    (alice,) = create_named(emulator, "alice")
    emulator.inject_fault(Fault.CLOSE_CONNECTION, operation=operation)

    # When / Then
    with pytest.raises(requests.exceptions.ConnectionError):
        request_operation(emulator, operation, alice["id"])
    assert emulator.endpoints == [alice | {"password": "pw-alice"}]


def test_commit_then_close_on_update_applies_the_change_although_the_client_gets_a_connection_error(emulator):
    # Given
    (alice,) = create_named(emulator, "alice")
    emulator.inject_fault(Fault.COMMIT_THEN_CLOSE, operation="update")

    # When / Then
    with pytest.raises(requests.exceptions.ConnectionError):
        update(emulator, alice["id"], {"caller_id": None, "password": "rotated-pw"})
    assert stored(emulator, "alice") == alice | {"caller_id": None, "password": "rotated-pw"}
    assert emulator.requests_received("update") == 1
    assert emulator.updates_committed() == 1


def test_commit_then_close_on_delete_removes_the_endpoint_although_the_client_gets_a_connection_error(emulator):
    # Given
    (alice,) = create_named(emulator, "alice")
    emulator.inject_fault(Fault.COMMIT_THEN_CLOSE, operation="delete")

    # When / Then
    with pytest.raises(requests.exceptions.ConnectionError):
        delete(emulator, alice["id"])
    assert emulator.endpoints == []
    assert emulator.requests_received("delete") == 1
    assert emulator.deletes_committed() == 1


def test_commit_then_close_on_an_update_the_create_rules_reject_changes_nothing(emulator):
    # Given
    (alice,) = create_named(emulator, "alice")
    emulator.inject_fault(Fault.COMMIT_THEN_CLOSE, operation="update")

    # When / Then
    with pytest.raises(requests.exceptions.ConnectionError):
        update(emulator, alice["id"], {"call_handler": "ai_agent"})
    assert stored(emulator, "alice") == alice | {"password": "pw-alice"}
    assert emulator.updates_committed() == 0


def test_a_hung_update_is_applied_after_the_client_has_given_up(emulator):
    # Given
    (alice,) = create_named(emulator, "alice")
    emulator.inject_fault(Fault.HANG, operation="update", delay_seconds=HANG_SECONDS)

    # When the client times out
    with pytest.raises(requests.exceptions.ReadTimeout):
        update(emulator, alice["id"], {"caller_id": "Alice"}, timeout=SHORT_READ_TIMEOUT_SECONDS)

    # Then the change still lands once the hang ends
    wait_until(lambda: emulator.updates_committed() == 1)
    assert emulator.endpoints == [alice | {"caller_id": "Alice", "password": "pw-alice"}]


def test_a_hung_delete_is_done_after_the_client_has_given_up(emulator):
    # Given
    (alice,) = create_named(emulator, "alice")
    emulator.inject_fault(Fault.HANG, operation="delete", delay_seconds=HANG_SECONDS)

    # When the client times out
    with pytest.raises(requests.exceptions.ReadTimeout):
        delete(emulator, alice["id"], timeout=SHORT_READ_TIMEOUT_SECONDS)

    # Then the endpoint still goes once the hang ends
    wait_until(lambda: emulator.deletes_committed() == 1)
    assert emulator.endpoints == []


def test_a_fault_for_one_operation_leaves_the_other_operations_alone(emulator):
    # Given
    (alice,) = create_named(emulator, "alice")
    emulator.inject_fault(Fault.SERVER_ERROR, operation="delete")

    # When
    statuses = [request_operation(emulator, op, alice["id"]).status_code for op in ("list", "retrieve", "update")]
    delete_status = delete(emulator, alice["id"]).status_code

    # Then
    assert (statuses, delete_status) == ([200, 200, 200], 500)


# -- counters and reset -----------------------------------------------------------------------


def test_counters_count_faulted_creates_as_received_but_not_committed(emulator):
    # Given
    emulator.inject_fault(Fault.SERVER_ERROR)
    emulator.inject_fault(Fault.CLOSE_CONNECTION)

    # When three creates arrive and only the last gets through
    create(emulator, {"username": "alice", "password": "pw"})
    with pytest.raises(requests.exceptions.ConnectionError):
        create(emulator, {"username": "alice", "password": "pw"})
    create(emulator, {"username": "alice", "password": "pw"})

    # Then
    assert emulator.create_requests_received() == 3
    assert emulator.creates_committed() == 1


def test_requests_are_counted_per_operation(emulator):
    # Given
    (created,) = create_named(emulator, "alice")
    url = f"{emulator.base_url}{SIP_PATH}/{created['id']}"

    # When
    list_endpoints(emulator)
    list_endpoints(emulator)
    follow(url)
    requests.put(url, json={"caller_id": "A"}, auth=CREDENTIALS, timeout=TIMEOUT_SECONDS)
    requests.delete(url, auth=CREDENTIALS, timeout=TIMEOUT_SECONDS)

    # Then
    counts = {op: emulator.requests_received(op) for op in ("list", "create", "retrieve", "update", "delete")}
    assert counts == {"list": 2, "create": 1, "retrieve": 1, "update": 1, "delete": 1}


def test_reset_clears_endpoints_faults_and_counters(emulator):
    # Given state of every kind
    create_named(emulator, "alice")
    emulator.inject_fault(Fault.SERVER_ERROR)

    # When
    emulator.reset()

    # Then
    assert emulator.endpoints == []
    assert emulator.create_requests_received() == 0
    assert emulator.creates_committed() == 0
    assert create(emulator, {"username": "alice", "password": "pw"}).status_code == 201


def test_a_request_hung_across_a_reset_is_dropped_without_being_performed(emulator):
    # Given a create hanging while the test resets the emulator
    emulator.inject_fault(Fault.HANG, delay_seconds=HANG_SECONDS)
    with ThreadPoolExecutor(max_workers=1) as pool:
        hung = pool.submit(create, emulator, {"username": "alice", "password": "pw"})
        while emulator.create_requests_received() == 0:
            time.sleep(0.01)  # the hang starts once the request is counted
        emulator.reset()

        # When the hang ends
        # Then the client gets no answer and nothing is stored
        with pytest.raises(requests.exceptions.ConnectionError):
            hung.result()
    assert emulator.endpoints == []


def test_only_applied_updates_and_deletes_count_as_committed(emulator):
    # Given
    (alice,) = create_named(emulator, "alice")

    # When one update is rejected, one applied, one delete misses and one removes
    update(emulator, alice["id"], {"call_handler": "ai_agent"})
    update(emulator, alice["id"], {"caller_id": "Alice"})
    delete(emulator, str(uuid.uuid4()))
    delete(emulator, alice["id"])

    # Then
    assert (emulator.requests_received("update"), emulator.updates_committed()) == (2, 1)
    assert (emulator.requests_received("delete"), emulator.deletes_committed()) == (2, 1)
    assert emulator.committed("create") == emulator.creates_committed() == 1


def test_committed_is_refused_for_an_operation_that_changes_nothing(emulator):
    # Given / When / Then
    with pytest.raises(ValueError):  # noqa: PT011 -- the message is not part of the contract
        emulator.committed("list")


def test_stored_password_reads_the_current_password_of_a_username(emulator):
    # Given
    (alice,) = create_named(emulator, "alice")
    update(emulator, alice["id"], {"password": "reset-pw"})

    # When / Then
    assert emulator.stored_password("alice") == "reset-pw"
    assert emulator.stored_password("nobody") is None


def test_reset_clears_the_update_and_delete_counters(emulator):
    # Given
    alice, bob = create_named(emulator, "alice", "bob")
    update(emulator, alice["id"], {"caller_id": "Alice"})
    delete(emulator, bob["id"])

    # When
    emulator.reset()

    # Then
    assert (emulator.requests_received("update"), emulator.updates_committed()) == (0, 0)
    assert (emulator.requests_received("delete"), emulator.deletes_committed()) == (0, 0)


# -- logging and the command line -------------------------------------------------------------


def test_the_request_log_names_method_path_and_status_but_no_secret(emulator, caplog):
    # Given
    caplog.set_level(logging.DEBUG, logger="local.signalwire_emulator")

    # When
    create(emulator, {"username": "alice", "password": "sip-password-1"})

    # Then
    assert f"POST {SIP_PATH} 201" in caplog.text
    assert "sip-password-1" not in caplog.text
    assert API_TOKEN not in caplog.text
    assert "Authorization" not in caplog.text


def test_the_command_line_serves_until_sigterm():
    # Given the emulator started as `make run` starts it
    repository_root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(  # noqa: S603 -- fixed arguments
        [
            sys.executable,
            "-m",
            "local.signalwire_emulator",
            "--port",
            "0",
            "--project-id",
            PROJECT_ID,
            "--api-token",
            API_TOKEN,
        ],
        cwd=repository_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline().strip()
        base_url = banner.removeprefix("SignalWire emulator on ")

        # When
        response = requests.get(f"{base_url}{SIP_PATH}", auth=CREDENTIALS, timeout=TIMEOUT_SECONDS)
        process.send_signal(signal.SIGTERM)

        # Then
        assert banner.startswith("SignalWire emulator on http://127.0.0.1:")
        assert response.status_code == 200
        assert process.wait(timeout=TIMEOUT_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
