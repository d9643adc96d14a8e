"""`python -m local.run` (what `make run` starts) stands up template.yaml as `sam deploy` would, and
runs each function as Lambda does: a changed copy of the template (TEMPLATE_FILE) changes the
local world, each function runs in execution environments of its own up to its reserved
concurrency, and each function's AWS calls are checked against its role."""

import json
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from local.signalwire_emulator import Fault, SignalWireEmulator
from local.stack import load_template
from tests.e2e.test_make_run import REPOSITORY_ROOT, REQUEST_TIMEOUT_SECONDS, LocalRun, end, start_local_run
from tests.slack_helpers import signed_headers, slash_command_body

EMULATOR_PROJECT = "template-project"
EMULATOR_TOKEN = "template-token"
SLACK_SECRET = "template-slack-signing-secret"
SLACK_TEAM = "T0TEMPLATE"
# What the template's code, layer and definition paths are relative to.
TEMPLATE_FOLDERS = ("functions", "layers", "statemachine")

type Template = dict[str, Any]


def template_copy(folder: Path, change: Callable[[Template], None]) -> Path:
    """A copy of template.yaml (as JSON, which CloudFormation reads too) changed by `change`, in
    `folder` beside links to the code it names."""
    template = load_template(REPOSITORY_ROOT / "template.yaml")
    change(template)
    for name in TEMPLATE_FOLDERS:
        (folder / name).symlink_to(REPOSITORY_ROOT / name)
    path = folder / "template.yaml"
    path.write_text(json.dumps(template), encoding="utf-8")
    return path


def started(settings: dict[str, str]) -> LocalRun:
    run = start_local_run(settings)
    try:
        run.wait_until_listening()
    except BaseException:
        end(run)
        raise
    return run


def signalwire_settings(emulator: SignalWireEmulator) -> dict[str, str]:
    return {
        "SIGNALWIRE_SPACE_URL": emulator.base_url,
        "SIGNALWIRE_PROJECT_ID": EMULATOR_PROJECT,
        "SIGNALWIRE_API_TOKEN": EMULATOR_TOKEN,
    }


def output(run: LocalRun) -> str:
    return "".join(run.output)


def environments_started(run: LocalRun, function_name: str) -> int:
    return len(re.findall(rf"Environment \d+ of {re.escape(function_name)}: started, INIT \d+ ms", output(run)))


def set_global_variable(name: str, value: str) -> Callable[[Template], None]:
    def change(template: Template) -> None:
        template["Globals"]["Function"]["Environment"]["Variables"][name] = value

    return change


def test_a_function_variable_changed_in_the_template_is_what_the_functions_run_with(tmp_path: Path) -> None:
    # Given a copy of the template whose functions log under another service name
    service = f"renamed-{uuid.uuid4().hex[:6]}"
    template = template_copy(tmp_path, set_global_variable("POWERTOOLS_SERVICE_NAME", service))
    run = started({"TEMPLATE_FILE": str(template)})
    try:
        # When make run of that copy serves a request
        assert requests.get(f"{run.base_url}/profiles", timeout=REQUEST_TIMEOUT_SECONDS).status_code == 200
        # Then the function's own log lines carry that service name
        assert f'"service":"{service}"' in output(run)
    finally:
        end(run)


def test_a_table_index_added_in_the_template_exists_in_the_local_table(tmp_path: Path) -> None:
    # Given a copy of the template whose inventory table has one more index
    declared: set[str] = set()

    def add_index(template: Template) -> None:
        properties = template["Resources"]["InventoryTable"]["Properties"]
        properties["AttributeDefinitions"].append({"AttributeName": "team", "AttributeType": "S"})
        properties["GlobalSecondaryIndexes"].append(
            {
                "IndexName": "by_team",
                "KeySchema": [
                    {"AttributeName": "team", "KeyType": "HASH"},
                    {"AttributeName": "username", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        )
        declared.update(index["IndexName"] for index in properties["GlobalSecondaryIndexes"])

    run = started({"TEMPLATE_FILE": str(template_copy(tmp_path, add_index))})
    try:
        # When the local inventory table is described
        [table_name] = re.findall(r"DynamoDB tables .*?(\S+InventoryTable)", output(run))
        table = run.aws("dynamodb").describe_table(TableName=table_name)["Table"]
        # Then it has the template's indexes, the new one included
        indexes = {index["IndexName"] for index in table["GlobalSecondaryIndexes"]}
        assert indexes == declared
        assert "by_team" in indexes
    finally:
        end(run)


def test_a_route_whose_auth_the_template_drops_is_served_without_a_signature(tmp_path: Path) -> None:
    # Given a copy of the template whose GET /profiles needs no IAM auth, and make run requiring signatures
    def open_profiles(template: Template) -> None:
        events = template["Resources"]["ProvisionerFunction"]["Properties"]["Events"]
        events["ListProfiles"]["Properties"]["Auth"] = {"Authorizer": "NONE"}

    run = started({"TEMPLATE_FILE": str(template_copy(tmp_path, open_profiles)), "LOCAL_REQUIRE_SIGV4": "1"})
    try:
        # When an unsigned request lists the profiles, and another lists the endpoints
        profiles = requests.get(f"{run.base_url}/profiles", timeout=REQUEST_TIMEOUT_SECONDS)
        endpoints = requests.get(f"{run.base_url}/endpoints", timeout=REQUEST_TIMEOUT_SECONDS)
        # Then the route without auth reaches the function, and the other is still API Gateway's 403
        assert "Route GET /profiles: ProvisionerFunction (no IAM auth)" in output(run)
        assert profiles.status_code != 403
        assert endpoints.status_code == 403
    finally:
        end(run)


@pytest.fixture
def slow_signalwire() -> Iterator[SignalWireEmulator]:
    with SignalWireEmulator(project_id=EMULATOR_PROJECT, api_token=EMULATOR_TOKEN) as emulator:
        yield emulator


def set_parameter_default(name: str, value: int) -> Callable[[Template], None]:
    def change(template: Template) -> None:
        template["Parameters"][name]["Default"] = value

    return change


def create(run: LocalRun, username: str) -> requests.Response:
    return requests.post(f"{run.base_url}/endpoints", json={"username": username}, timeout=REQUEST_TIMEOUT_SECONDS)


def test_creates_past_the_reserved_concurrency_are_throttled_and_answered_as_api_gateway_answers(
    tmp_path: Path, slow_signalwire: SignalWireEmulator
) -> None:
    # Given a template whose HTTP function may run 2 environments, and a SignalWire whose creates take 3 s
    template = template_copy(tmp_path, set_parameter_default("ProvisionerReservedConcurrency", 2))
    slow_signalwire.inject_fault(Fault.HANG, times=5, delay_seconds=3.0)
    run = started({"TEMPLATE_FILE": str(template), **signalwire_settings(slow_signalwire)})
    try:
        # When 5 creates arrive at once
        usernames = [f"throttle-{index}-{uuid.uuid4().hex[:6]}" for index in range(5)]
        with ThreadPoolExecutor(max_workers=5) as pool:
            answers = list(pool.map(lambda username: create(run, username), usernames))
        # Then 2 run, each in an environment of its own, and 3 get API Gateway's answer for a throttled function
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [201, 201, 500, 500, 500], [answer.text for answer in answers]
        assert all(
            answer.json() == {"message": "Internal Server Error"} for answer in answers if answer.status_code == 500
        )
        assert environments_started(run, "sip-provisioner-local-ProvisionerFunction") == 2
        assert output(run).count("sip-provisioner-local-ProvisionerFunction throttled") == 3
    finally:
        end(run)


def test_a_call_the_role_does_not_allow_fails_naming_the_function_and_the_action(tmp_path: Path) -> None:
    # Given a copy of the template whose shared policy no longer lets the functions query the inventory's indexes
    def drop_query(template: Template) -> None:
        document = template["Resources"]["SharedFunctionPolicy"]["Properties"]["PolicyDocument"]
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "QueryInventoryIndexes"]

    run = started({"TEMPLATE_FILE": str(template_copy(tmp_path, drop_query))})
    try:
        # When a user lists the endpoints (a Query of an inventory index)
        response = requests.get(f"{run.base_url}/endpoints", timeout=REQUEST_TIMEOUT_SECONDS)
        # Then it fails, and the log names the function and the action its role lacks
        assert response.status_code >= 500
        assert "AccessDenied: function sip-provisioner-local-ProvisionerFunction may not dynamodb:Query" in output(run)
    finally:
        end(run)


def test_the_templates_own_roles_allow_every_call_of_a_create_and_a_listing() -> None:
    # Given make run of the template as it is
    run = started({})
    try:
        # When a user creates an endpoint and lists the endpoints
        created = create(run, f"allowed-{uuid.uuid4().hex[:6]}")
        listed = requests.get(f"{run.base_url}/endpoints", timeout=REQUEST_TIMEOUT_SECONDS)
        # Then both succeed and no call was refused
        assert created.status_code == 201, created.text
        assert listed.status_code == 200, listed.text
        assert "AccessDenied" not in output(run)
    finally:
        end(run)


def test_a_slack_job_that_keeps_failing_is_retried_then_lands_in_the_templates_on_failure_queue() -> None:
    # Given make run, and a Slack response_url nothing listens on (the job cannot post its answer)
    run = started({"SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_ALLOWED_TEAM_IDS": SLACK_TEAM})
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}/commands/{SLACK_TEAM}"
        username = f"job-{uuid.uuid4().hex[:6]}"
        body = slash_command_body(f"create {username}", team_id=SLACK_TEAM, user_id="U0JOB", response_url=dead_url)
        # When the slash command creates an endpoint
        answer = requests.post(
            f"{run.base_url}/chatops/slack",
            data=body,
            headers=signed_headers(body, SLACK_SECRET),
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        # Then the command is answered, and once its job failed 3 times (the template's 2 retries)
        # Lambda's invocation record with the command is in the template's on-failure queue
        assert answer.status_code == 200, answer.text
        record = failure_record(run)
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 3
        assert username in json.dumps(record["requestPayload"])
    finally:
        end(run)


def failure_record(run: LocalRun) -> dict[str, Any]:
    """The first message of the on-failure queue (the one queue of the stack), waiting for it."""
    sqs = run.aws("sqs")
    [queue_url] = sqs.list_queues()["QueueUrls"]
    for _ in range(6):
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=10).get("Messages", [])
        if messages:
            record: dict[str, Any] = json.loads(messages[0]["Body"])
            return record
    pytest.fail(f"no invocation record in {queue_url}:\n{output(run)}")
