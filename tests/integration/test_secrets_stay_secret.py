"""No API token, endpoint password or Authorization header in any log line, metric or error body.

Every scenario the service answers is run, upstream and SSM faults and idempotent replays
included, and everything it writes is searched: its own log lines, every other logger's records
(exception messages and tracebacks among them), everything on stdout and stderr (EMF metrics
among them), every answer body, and the idempotency records are read for the passwords they hold.
"""

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests

from local.signalwire_emulator import COLLECTION_PATH, Fault
from reliability.aws_faults import SSM_GET_PARAMETERS, FailingCalls, in_every_new_session
from reliability.harness import CALLER as WORKFLOW_CALLER
from reliability.harness import Container, Reply, create_event, environment, refusing_port, wait_until
from tests.integration.conftest import IDEMPOTENCY_TABLE, INVENTORY_TABLE, Answer, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

CALLER_PASSWORD = "callers-own-Passw0rd-XYZ"
SHORT_PASSWORD = "tiny-Pw-9"
WRONG_TOKEN = "PTwrong-token-9f8e7d6c5b4a"
OTHER_ENDPOINTS_PASSWORD = "someone-elses-Passw0rd-77"
KEY = "secrets-onboarding-1"
HELD_KEY = "secrets-onboarding-2"


@dataclass(frozen=True)
class Run:
    answers: list[Answer]
    generated_passwords: list[str]  # from every 201 that showed one
    stored_items: str  # every item of the idempotency and inventory tables, as text


def keyed(key: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Idempotency-Key": key}


def as_answer(reply: Reply) -> Answer:
    return Answer(reply.status, dict(reply.headers), reply.body)


def answers_while_a_key_is_held(api: ProvisionerApi) -> list[Answer]:
    """A keyed create still running in a second container, the same request meanwhile, then a replay."""
    holder = Container()
    with environment({"SIGNALWIRE_READ_TIMEOUT": "5"}):  # slow, not lost
        holder.warm_up()
    api.emulator.inject_fault(Fault.HANG, delay_seconds=1.0)
    creates_before = api.emulator.create_requests_received()
    held: list[Reply] = []
    holding = threading.Thread(
        target=lambda: held.append(holder.invoke(create_event({"username": "s.held"}, key=HELD_KEY))[0])
    )
    holding.start()
    wait_until(lambda: api.emulator.create_requests_received() > creates_before, timeout=5, what="the held create")
    meanwhile = api.create({"username": "s.held"}, headers=keyed(HELD_KEY), caller=WORKFLOW_CALLER)
    holding.join()
    replayed = api.create({"username": "s.held"}, headers=keyed(HELD_KEY), caller=WORKFLOW_CALLER)
    return [meanwhile, as_answer(held[0]), replayed]


def answers_during_an_ssm_outage(api: ProvisionerApi) -> list[Answer]:
    """SSM refusing reads: the last good settings serve; with none yet, a configuration error."""
    outage = FailingCalls("AccessDeniedException", 400)
    with in_every_new_session(SSM_GET_PARAMETERS, outage):
        api.module.wiring.cache_clear()
        answers = [api.create({"username": "s.ssm.before"})]
        outage.fail_always()
        answers.append(api.create({"username": "s.ssm.stale"}))
        api.module.wiring.cache_clear()
        answers.append(api.create({"username": "s.ssm.cold"}))
    api.module.wiring.cache_clear()
    return answers


def run_every_scenario(api: ProvisionerApi) -> Run:
    """Success, dry run, caller mistakes, idempotent replays, upstream and SSM faults, bad configuration."""
    answers = [
        api.create({"username": "s.generated"}),
        api.create({"username": "s.own", "password": CALLER_PASSWORD}),
        api.create({"username": "s.dry", "password": CALLER_PASSWORD}, query="dry_run=true"),
        api.create({"username": "s.own", "password": CALLER_PASSWORD}),
        api.create({"username": "s.short", "password": SHORT_PASSWORD}),
        api.create({"username": "s bad", "password": CALLER_PASSWORD, "extra": CALLER_PASSWORD}),
        api.create(None, raw_body=b'{"username": "s.raw", "password": "' + CALLER_PASSWORD.encode() + b'",}'),
        api.request("GET", "/profiles"),
        # Idempotency: a keyed create, its replay, the key with another body, a keyed caller's password
        api.create({"username": "s.keyed"}, headers=keyed(KEY)),
        api.create({"username": "s.keyed"}, headers=keyed(KEY)),
        api.create({"username": "s.keyed", "password": CALLER_PASSWORD}, headers=keyed(KEY)),
        api.create({"username": "s.keyed.own", "password": CALLER_PASSWORD}, headers=keyed("secrets-own")),
        api.create({"username": "s.keyed.own", "password": CALLER_PASSWORD}, headers=keyed("secrets-own")),
    ]
    answers.extend(answers_while_a_key_is_held(api))
    faults: list[tuple[Fault, dict[str, Any]]] = [
        (Fault.SERVER_ERROR, {"times": 5}),
        (Fault.NON_JSON, {"times": 5}),
        (Fault.CLOSE_CONNECTION, {"times": 5}),
        (Fault.RATE_LIMITED, {"times": 5}),
        (Fault.SERVICE_UNAVAILABLE, {}),
        (Fault.SERVICE_UNAVAILABLE, {"retry_after": 30}),
    ]
    for fault, options in faults:
        api.emulator.inject_fault(fault, **options)
        answers.append(api.create({"username": f"s.{fault.value}", "password": CALLER_PASSWORD}))
        api.emulator.reset()  # drops the fault's unused repeats
    # A create committed without an answer, recovered by the lookup: generated, then keyed and replayed
    api.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE, times=2)
    answers.append(api.create({"username": "s.committed"}))
    answers.append(api.create({"username": "s.committed.keyed"}, headers=keyed("secrets-committed")))
    answers.append(api.create({"username": "s.committed.keyed"}, headers=keyed("secrets-committed")))
    # A lost answer whose lookup fails too, and one for a username held with other settings
    api.emulator.inject_fault(Fault.CLOSE_CONNECTION)
    api.emulator.inject_fault(Fault.SERVER_ERROR, operation="list", after=1)
    answers.append(api.create({"username": "s.lookup", "password": CALLER_PASSWORD}))
    requests.post(
        f"{api.emulator.base_url}{COLLECTION_PATH}",
        json={"username": "s.other", "password": OTHER_ENDPOINTS_PASSWORD, "call_handler": "relay_connector"},
        auth=(api.emulator.project_id, api.emulator.api_token),
        timeout=5,
    ).raise_for_status()
    api.emulator.inject_fault(Fault.CLOSE_CONNECTION)
    answers.append(api.create({"username": "s.other", "password": CALLER_PASSWORD}))
    api.emulator.inject_fault(Fault.HANG, delay_seconds=1.0)
    answers.append(api.create({"username": "s.hang", "password": CALLER_PASSWORD}))
    answers.extend(answers_during_an_ssm_outage(api))
    with refusing_port() as port:
        api.put_parameter("signalwire/space_url", f"http://127.0.0.1:{port}")
        answers.append(api.create({"username": "s.refused", "password": CALLER_PASSWORD}))
    api.put_parameter("signalwire/space_url", api.emulator.base_url)
    api.put_parameter("signalwire/api_token", WRONG_TOKEN, kind="SecureString")
    answers.append(api.create({"username": "s.wrongtoken", "password": CALLER_PASSWORD}))
    api.put_parameter("profiles/default", json.dumps({"caller_id": "x", "password": CALLER_PASSWORD}))
    answers.append(api.create({"username": "s.badprofile"}))
    generated = [a.body["password"] for a in answers if a.status == 201 and "password" in a.body]
    dynamodb = boto3.client("dynamodb")
    items = [item for table in (IDEMPOTENCY_TABLE, INVENTORY_TABLE) for item in dynamodb.scan(TableName=table)["Items"]]
    return Run(answers, generated, json.dumps(items, default=str))


def secrets_of(api: ProvisionerApi, run: Run) -> dict[str, str]:
    basic = base64.b64encode(f"{api.emulator.project_id}:{api.emulator.api_token}".encode()).decode()
    return {
        "api token": api.emulator.api_token,
        "wrong api token": WRONG_TOKEN,
        "authorization header": basic,
        "caller's password": CALLER_PASSWORD,
        "short password": SHORT_PASSWORD,
        "another endpoint's password": OTHER_ENDPOINTS_PASSWORD,
        **{f"generated password {index}": password for index, password in enumerate(run.generated_passwords)},
    }


def test_no_secret_reaches_a_log_line_or_a_metric(
    api: ProvisionerApi,
    service_log: Callable[[], list[dict[str, Any]]],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given every scenario the service answers, run with all output and every logger captured
    caplog.set_level("INFO")
    run = run_every_scenario(api)
    # When the log lines, other loggers' records and everything else written (EMF metrics) are searched
    captured = capfd.readouterr()
    written = json.dumps(service_log()) + caplog.text + captured.out + captured.err
    # Then no secret appears, and the search had generated passwords to look for
    assert run.generated_passwords
    assert [name for name, secret in secrets_of(api, run).items() if secret in written] == []


def test_no_secret_reaches_an_error_body_and_a_201_shows_only_its_own_generated_password(api: ProvisionerApi) -> None:
    # Given every scenario the service answers
    run = run_every_scenario(api)
    # When every answer body is searched, each 201's own password field left out
    bodies = json.dumps([{**a.body, "password": None} if a.status == 201 else a.body for a in run.answers])
    # Then no secret appears, across every kind of answer
    assert [name for name, secret in secrets_of(api, run).items() if secret in bodies] == []
    assert {answer.status for answer in run.answers} >= {201, 409, 422, 400, 502, 503, 504, 500}


def test_no_secret_reaches_a_record_of_the_idempotency_or_inventory_tables(api: ProvisionerApi) -> None:
    # Given every scenario the service answers, keyed replays of generated passwords among them
    run = run_every_scenario(api)
    # When every item of both tables is searched
    # Then no password (generated or given), token or credential is stored, yet there were records to search
    assert "s.keyed" in run.stored_items
    assert [name for name, secret in secrets_of(api, run).items() if secret in run.stored_items] == []
