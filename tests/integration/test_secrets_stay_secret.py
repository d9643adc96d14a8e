"""No API token, endpoint password or Authorization header in any log line, metric or error body."""

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from local.signalwire_emulator import Fault
from tests.integration.conftest import Answer, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

CALLER_PASSWORD = "callers-own-Passw0rd-XYZ"
SHORT_PASSWORD = "tiny-Pw-9"
WRONG_TOKEN = "PTwrong-token-9f8e7d6c5b4a"


def run_every_scenario(api: ProvisionerApi) -> tuple[list[Answer], str]:
    """Success, dry run, caller mistakes, upstream faults and bad configuration; returns answers."""
    answers = [
        api.create({"username": "s.generated"}),
        api.create({"username": "s.own", "password": CALLER_PASSWORD}),
        api.create({"username": "s.dry", "password": CALLER_PASSWORD}, query="dry_run=true"),
        api.create({"username": "s.own", "password": CALLER_PASSWORD}),
        api.create({"username": "s.short", "password": SHORT_PASSWORD}),
        api.create({"username": "s bad", "password": CALLER_PASSWORD, "extra": CALLER_PASSWORD}),
        api.create(None, raw_body=b'{"username": "s.raw", "password": "' + CALLER_PASSWORD.encode() + b'",}'),
        api.request("GET", "/profiles"),
    ]
    for fault in [Fault.SERVER_ERROR, Fault.NON_JSON, Fault.CLOSE_CONNECTION, Fault.RATE_LIMITED]:
        api.emulator.inject_fault(fault, times=5)
        answers.append(api.create({"username": f"s.{fault.value}", "password": CALLER_PASSWORD}))
        api.emulator.reset()  # drops the fault's unused repeats
    api.emulator.inject_fault(Fault.HANG, delay_seconds=1.0)
    answers.append(api.create({"username": "s.hang", "password": CALLER_PASSWORD}))
    api.put_parameter("signalwire/api_token", WRONG_TOKEN, kind="SecureString")
    answers.append(api.create({"username": "s.wrongtoken", "password": CALLER_PASSWORD}))
    api.put_parameter("profiles/default", json.dumps({"caller_id": "x", "password": CALLER_PASSWORD}))
    answers.append(api.create({"username": "s.badprofile"}))
    generated = answers[0].body["password"]
    return answers, generated


def secrets_of(api: ProvisionerApi, generated_password: str) -> dict[str, str]:
    basic = base64.b64encode(f"{api.emulator.project_id}:{api.emulator.api_token}".encode()).decode()
    return {
        "api token": api.emulator.api_token,
        "wrong api token": WRONG_TOKEN,
        "authorization header": basic,
        "caller's password": CALLER_PASSWORD,
        "short password": SHORT_PASSWORD,
        "generated password": generated_password,
    }


def test_no_secret_reaches_a_log_line_or_a_metric(
    api: ProvisionerApi, service_log: Callable[[], list[dict[str, Any]]], capfd: pytest.CaptureFixture[str]
) -> None:
    # Given every scenario the service answers, run with all output captured
    _, generated = run_every_scenario(api)
    # When the log lines and everything else written (EMF metrics included) are searched
    written = json.dumps(service_log()) + capfd.readouterr().out + capfd.readouterr().err
    # Then no secret appears
    assert [name for name, secret in secrets_of(api, generated).items() if secret in written] == []


def test_no_secret_reaches_an_error_body_and_only_the_201_shows_the_generated_password(api: ProvisionerApi) -> None:
    # Given every scenario the service answers
    answers, generated = run_every_scenario(api)
    # When every answer body but the one 201's password field is searched
    first, *others = answers
    bodies = json.dumps({**first.body, "password": None}) + json.dumps([answer.body for answer in others])
    # Then no secret appears
    assert [name for name, secret in secrets_of(api, generated).items() if secret in bodies] == []
    assert {answer.status for answer in others} >= {409, 422, 400, 502, 503, 504, 500}
