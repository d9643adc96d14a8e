"""`python -m local.run` (what `make run` starts) serves the API as a user meets it.

The server runs as a subprocess on a free port; the tests drive it over HTTP like a user and
look at the SignalWire emulator it started through the emulator's own HTTP API.
"""

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from local.export_openapi import OPENAPI_PATH, render_openapi
from local.gateway import MAX_REQUEST_BODY_BYTES
from local.run import EMULATOR_API_TOKEN, EMULATOR_SIP_DOMAIN

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
REQUEST_TIMEOUT_SECONDS = 15.0
LISTENING_LINE = re.compile(r"Listening on (?P<url>http://127\.0\.0\.1:\d+)")
EMULATOR_LINE = re.compile(r"SignalWire emulator: (?P<url>http://\S+) \(project (?P<project>[^,]+), api token ")
SIP_ENDPOINTS_PATH = "/api/relay/rest/endpoints/sip"
PROBLEM_JSON = "application/problem+json"
PROFILE_FILES = sorted(path.stem for path in (REPOSITORY_ROOT / "config" / "profiles").glob("*.json"))


@dataclass
class LocalRun:
    process: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)
    base_url: str = ""
    emulator_url: str = ""
    emulator_project: str = ""

    def read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put("")  # end of output: the process has exited

    def wait_until_listening(self) -> None:
        """Read startup lines until `Listening on ...`; fail with the output if it never comes."""
        while not self.base_url:
            try:
                line = self.lines.get(timeout=STARTUP_TIMEOUT_SECONDS)
            except queue.Empty:
                pytest.fail(f"no Listening line within {STARTUP_TIMEOUT_SECONDS} s:\n{''.join(self.output)}")
            if emulator := EMULATOR_LINE.match(line):
                self.emulator_url, self.emulator_project = emulator["url"], emulator["project"]
            if listening := LISTENING_LINE.fullmatch(line.strip()):
                self.base_url = listening["url"]
            if not line:
                pytest.fail(f"local.run exited with {self.process.wait()}:\n{''.join(self.output)}")

    def emulator_endpoints_named(self, username: str) -> list[dict[str, Any]]:
        response = requests.get(
            f"{self.emulator_url}{SIP_ENDPOINTS_PATH}",
            params={"filter_username": username, "page_size": "1000"},
            auth=(self.emulator_project, EMULATOR_API_TOKEN),
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        return [endpoint for endpoint in response.json()["data"] if endpoint["username"] == username]

    def aws(self, service: str) -> Any:
        """A client of the moto server the run started, at the endpoint it printed (any credentials)."""
        [moto_line] = [line for line in self.output if line.startswith("AWS (moto): ")]
        endpoint = moto_line.removeprefix("AWS (moto): ").split(";", 1)[0]
        return boto3.client(
            service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def start_local_run(settings: Mapping[str, str] | None = None) -> LocalRun:
    """`python -m local.run` as a new user starts it: none of this shell's make-run settings
    (SignalWire, LOCAL_*, SCIM_*, PROFILES_DIR, POLICY_FILE), only `settings`, on a free port."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SIGNALWIRE_", "LOCAL_", "SCIM_")) and name not in {"PROFILES_DIR", "POLICY_FILE"}
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "local.run"],
        cwd=REPOSITORY_ROOT,
        env={**environment, "PORT": "0", "PYTHONUNBUFFERED": "1", **(settings or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    run = LocalRun(process)
    # A reader thread keeps the pipe drained, so the server never blocks writing its logs.
    threading.Thread(target=run.read_output, name="local-run-output", daemon=True).start()
    return run


def end(run: LocalRun) -> None:
    if run.process.poll() is None:
        run.process.kill()
        run.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def unique_username(purpose: str) -> str:
    return f"{purpose}-{uuid.uuid4().hex[:8]}"


def create(run: LocalRun, body: object, query: str = "") -> requests.Response:
    return requests.post(f"{run.base_url}/endpoints{query}", json=body, timeout=REQUEST_TIMEOUT_SECONDS)


def test_the_profiles_from_config_are_listed_by_name(local_run: LocalRun) -> None:
    # Given the server started with the default profiles directory
    # When a user lists the profiles
    response = requests.get(f"{local_run.base_url}/profiles", timeout=REQUEST_TIMEOUT_SECONDS)
    # Then every profile file this caller may use is there, sorted by name (onboarding's policy
    # names its own callers, and the unsigned local developer is not one of them)
    assert response.status_code == 200
    assert [profile["name"] for profile in response.json()["profiles"]] == [
        name for name in PROFILE_FILES if name != "onboarding"
    ]


def test_a_minimal_request_creates_one_endpoint_and_answers_its_generated_password(local_run: LocalRun) -> None:
    # Given a username nobody has
    username = unique_username("minimal")
    # When a user asks for an endpoint with only that username
    response = create(local_run, {"username": username})
    # Then it is created with a generated password, and SignalWire holds exactly one endpoint of that name
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["sip_uri"] == f"sip:{username}@{EMULATOR_SIP_DOMAIN}"
    assert len(answer["password"]) >= 24
    assert [endpoint["id"] for endpoint in local_run.emulator_endpoints_named(username)] == [answer["endpoint"]["id"]]


def test_a_dry_run_shows_the_payload_with_the_password_masked_and_creates_nothing(local_run: LocalRun) -> None:
    # Given a username nobody has
    username = unique_username("preview")
    # When a user asks for a dry run
    response = create(local_run, {"username": username}, query="?dry_run=true")
    # Then the payload is shown with the password masked, and SignalWire holds no such endpoint
    assert response.status_code == 200, response.text
    assert response.json()["payload"]["password"] == "********"
    assert local_run.emulator_endpoints_named(username) == []


def test_a_second_password_reset_into_secrets_manager_answers_the_same_secret(local_run: LocalRun) -> None:
    # Given an endpoint without an owner whose password a reset already put in Secrets Manager
    username = unique_username("reset-twice")
    created = requests.post(
        f"{local_run.base_url}/endpoints", json={"username": username}, timeout=REQUEST_TIMEOUT_SECONDS
    )
    assert created.status_code == 201, created.text
    reset_url = f"{local_run.base_url}/endpoints/{username}/password"
    delivery = {"password_delivery": "secrets_manager"}
    first = requests.post(reset_url, json=delivery, timeout=REQUEST_TIMEOUT_SECONDS)
    assert first.status_code == 200, first.text
    # When it is reset into Secrets Manager again (the secret's tags are brought up to date, under the function's role)
    second = requests.post(reset_url, json=delivery, timeout=REQUEST_TIMEOUT_SECONDS)
    # Then the new password goes to the same secret
    assert second.status_code == 200, second.text
    assert second.json()["password_secret_arn"] == first.json()["password_secret_arn"]


def test_a_taken_username_is_answered_409_username_taken_and_not_created_twice(local_run: LocalRun) -> None:
    # Given an endpoint already created for a username
    username = unique_username("taken")
    assert create(local_run, {"username": username}).status_code == 201
    # When a user asks for the same username again
    response = create(local_run, {"username": username})
    # Then the answer is a 409 username-taken problem, and SignalWire still holds one endpoint
    assert response.status_code == 409
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert response.json()["type"] == "username-taken"
    assert len(local_run.emulator_endpoints_named(username)) == 1


def test_a_body_that_is_not_json_is_answered_400_malformed_request(local_run: LocalRun) -> None:
    # Given a body cut off in the middle
    body = b'{"username": "half'
    # When a user sends it as JSON
    response = requests.post(
        f"{local_run.base_url}/endpoints",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    # Then the answer is a 400 malformed-request problem
    assert response.status_code == 400
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert response.json()["type"] == "malformed-request"


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "text/plain"],
)
def test_a_body_sent_as_another_media_type_is_answered_415_unsupported_media_type(
    local_run: LocalRun, content_type: str
) -> None:
    # Given a create request's JSON
    body = b'{"username": "not-json-media-type"}'
    # When a user sends it declared as another media type (a form, a multipart without its boundary ...)
    response = requests.post(
        f"{local_run.base_url}/endpoints",
        data=body,
        headers={"Content-Type": content_type},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    # Then the answer is a 415 unsupported-media-type problem, never a 500
    assert response.status_code == 415, response.text
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert response.json()["type"] == "unsupported-media-type"


def test_an_unknown_key_is_answered_422_validation_error_naming_it(local_run: LocalRun) -> None:
    # Given a request with a key the API does not know
    username = unique_username("unknown-key")
    # When a user sends it
    response = create(local_run, {"username": username, "extension": "1042"})
    # Then the answer is a 422 validation-error naming that key, and nothing is created
    assert response.status_code == 422
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert [error["field"] for error in response.json()["errors"]] == ["extension"]
    assert local_run.emulator_endpoints_named(username) == []


def test_a_json_body_that_is_not_utf8_is_answered_400_malformed_request(local_run: LocalRun) -> None:
    # Given a JSON body with a byte that is not UTF-8 (the gateway delivers it base64-encoded)
    body = b'{"username": "caf\xe9"}'
    # When a user sends it as JSON
    response = requests.post(
        f"{local_run.base_url}/endpoints",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    # Then the answer is a 400 malformed-request problem
    assert response.status_code == 400
    assert response.json()["type"] == "malformed-request"


def test_a_body_over_the_api_gateway_limit_is_answered_413_before_the_function(local_run: LocalRun) -> None:
    # Given a body one byte over API Gateway's 10 MB payload limit
    body = b" " * (MAX_REQUEST_BODY_BYTES + 1)
    # When a user sends it
    response = requests.post(
        f"{local_run.base_url}/endpoints",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    # Then API Gateway's own 413 answers it, not the function's problem document
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}


def test_the_swagger_ui_and_its_openapi_document_are_served(local_run: LocalRun) -> None:
    # Given the server
    # When a user opens the Swagger UI and its document
    page = requests.get(f"{local_run.base_url}/swagger", timeout=REQUEST_TIMEOUT_SECONDS)
    document = requests.get(f"{local_run.base_url}/swagger", params={"format": "json"}, timeout=REQUEST_TIMEOUT_SECONDS)
    # Then both answer, and the document describes the routes
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert {"/endpoints", "/profiles"} <= set(document.json()["paths"])


def test_the_document_swagger_serves_is_the_generated_openapi_document_and_the_committed_file(
    local_run: LocalRun,
) -> None:
    # Given the document the routes and models generate (what `make openapi` writes) and the committed file
    generated = json.loads(render_openapi())
    committed = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    # When a user fetches the document the Swagger UI shows
    served = requests.get(f"{local_run.base_url}/swagger", params={"format": "json"}, timeout=REQUEST_TIMEOUT_SECONDS)
    # Then all three are the same document (a drift: run `make openapi` and commit docs/openapi.json)
    assert served.status_code == 200
    assert served.json() == committed == generated


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("TRACE", "/profiles"),  # a method API Gateway does not route
        ("TRACE", "/scim/v2/Users"),  # nor does an ANY route take it
        ("FOO", "/endpoints"),
        ("PUT", "/profiles"),  # a method the path does not declare
        ("GET", "/no-such-route"),
    ],
)
def test_a_method_or_path_no_route_declares_is_api_gateways_json_404(
    local_run: LocalRun, method: str, path: str
) -> None:
    # Given the server
    # When a user sends a method or path the template declares no route for
    response = requests.request(method, f"{local_run.base_url}{path}", timeout=REQUEST_TIMEOUT_SECONDS)
    # Then API Gateway's own 404 answers it, as JSON, before any function
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"message": "Not Found"}


def test_the_startup_output_never_shows_the_api_token(local_run: LocalRun) -> None:
    # Given the server started and answered requests
    # Then nothing it printed holds the SignalWire API token
    assert EMULATOR_API_TOKEN not in "".join(local_run.output)


def test_sigterm_stops_everything_and_exits_0() -> None:
    # Given a server that is listening
    run = start_local_run()
    try:
        run.wait_until_listening()
        # When it gets SIGTERM
        status = run.stop()
        # Then it exits 0 and its port no longer answers
        assert status == 0, "".join(run.output)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{run.base_url}/profiles", timeout=REQUEST_TIMEOUT_SECONDS)
    finally:
        end(run)
