"""Both state machines executed for real: moto's ASL interpreter, our workflow function.

moto runs statemachine/onboarding.asl.json and statemachine/offboarding.asl.json as template.yaml
defines them (`create_state_machines`), and their Lambda tasks reach
`functions/workflow/workflow_entry.lambda_handler` through `local.step_functions.LambdaBridge`.
SSM, DynamoDB and Secrets Manager are moto seeded as for every integration test (the `api`
fixture), SignalWire is the emulator over loopback HTTP. Retry waits are real: each test with
one transient failure costs up to the definition's first IntervalSeconds (5 s, full jitter), and
the offboarding's Wait waits the input's seconds (0 here, or 1 where the wait itself is tested).
"""

import contextlib
import importlib
import json
import os
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws
from moto.server import ThreadedMotoServer

from local.gateway import LambdaFunction
from local.inventory_table import create_inventory_table
from local.seed import SignalWireAccount, create_idempotency_table, seed_ssm
from local.signalwire_emulator import COLLECTION_PATH, Fault, SignalWireEmulator
from local.stack import load_template
from local.step_functions import (
    LambdaBridge,
    create_local_role,
    create_state_machines,
    enable_execution,
    executing_in_process,
    execution_history,
    execution_history_text,
    substitute,
    wait_for_execution,
)
from tests import executions
from tests.integration.conftest import (
    IDEMPOTENCY_TABLE,
    INVENTORY_TABLE,
    PARAMETERS_PATH,
    PROFILES_DIR,
    SECRETS_PREFIX,
    SIP_DOMAIN,
    ProvisionerApi,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPOSITORY_ROOT / "template.yaml"
ONBOARDING = "OnboardingStateMachine"
OFFBOARDING = "OffboardingStateMachine"
OFFBOARDING_DEFINITION = REPOSITORY_ROOT / "statemachine" / "offboarding.asl.json"
EXECUTION_EXAMPLES_DIR = REPOSITORY_ROOT / "events" / "workflow" / "executions"
WORKFLOW = "WorkflowFunction"
# As template.yaml deploys it: 512 MB, 25 s.
WORKFLOW_FUNCTION = LambdaFunction(name="sip-provisioner-test-workflow", memory_limit_in_mb=512, timeout_seconds=25)
EMPLOYEE = {"id": "E4711", "name": "Ada Lovelace"}
CALLERS_PASSWORD = "a-password-the-caller-chose-1"
A_WEEK = 604800


def onboarding_input(username: str, **sip_endpoint: Any) -> dict[str, Any]:
    return {"employee": EMPLOYEE, "sip_endpoint": {"username": username, **sip_endpoint}}


def offboarding_input(username: str, **options: Any) -> dict[str, Any]:
    return {"employee": EMPLOYEE, "sip_endpoint": {"username": username}, **options}


class Execution(executions.Execution):
    """An execution read down to its tasks and states."""

    def task_errors(self) -> list[str]:
        return [event["taskFailedEventDetails"]["error"] for event in self.events("TaskFailed")]

    def task_payloads(self) -> list[dict[str, Any]]:
        """What each task sent the function, in order."""
        return [
            json.loads(event["taskScheduledEventDetails"]["parameters"])["Payload"]
            for event in self.events("TaskScheduled")
        ]

    def actions(self) -> list[str]:
        return [payload["action"] for payload in self.task_payloads()]

    def states_entered(self) -> list[str]:
        return [
            event["stateEnteredEventDetails"]["name"] for event in self.history if "stateEnteredEventDetails" in event
        ]

    def state_output(self, name: str) -> dict[str, Any]:
        """The output of the state `name` (entered once)."""
        [exited] = [
            event
            for event in self.history
            if "stateExitedEventDetails" in event and event["stateExitedEventDetails"]["name"] == name
        ]
        output: dict[str, Any] = json.loads(exited["stateExitedEventDetails"]["output"])
        return output

    def fail_states(self) -> list[str]:
        return [event["stateEnteredEventDetails"]["name"] for event in self.events("FailStateEntered")]

    def function_failure(self) -> tuple[str, dict[str, Any]]:
        """The execution's error, and its cause read as the function's error payload."""
        error, cause = self.failure()
        payload: dict[str, Any] = json.loads(cause)
        return error, payload


@dataclass(frozen=True)
class StateMachines:
    """The template's state machines in moto, their tasks bridged to the real workflow function."""

    sfn: Any
    arns: dict[str, str]
    bridge: LambdaBridge
    api: ProvisionerApi

    @property
    def emulator(self) -> SignalWireEmulator:
        return self.api.emulator

    def run(self, logical_id: str, execution_input: object, name: str, *, bridged: bool = True) -> Execution:
        with self.bridge.installed() if bridged else contextlib.nullcontext():
            return run_execution(self.sfn, self.arns[logical_id], execution_input, name)

    def onboard(self, execution_input: object, name: str = "onboard-E4711", **options: Any) -> Execution:
        return self.run(ONBOARDING, execution_input, name, **options)

    def offboard(self, execution_input: object, name: str = "offboard-E4711") -> Execution:
        return self.run(OFFBOARDING, execution_input, name)

    def record_status(self, username: str) -> str:
        """The status of the username's inventory record, as GET /endpoints lists it."""
        answer = self.api.request("GET", "/endpoints", query="status=deleted")
        deleted = {summary["username"] for summary in answer.body["endpoints"]}
        if username in deleted:
            return "deleted"
        answer = self.api.request("GET", f"/endpoints/{username}")
        status: str = answer.body["record"]["status"]
        return status

    def secret_value(self, arn: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(
            boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
        )
        return value


def run_execution(sfn: Any, state_machine_arn: str, execution_input: object, name: str) -> Execution:
    started = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input))
    description = wait_for_execution(sfn, started["executionArn"], timeout_seconds=60)
    return Execution(started["executionArn"], description, execution_history(sfn, started["executionArn"]))


def workflow_bridge() -> LambdaBridge:
    """Every function the template's state machines invoke (create_state_machines needs them all)."""
    module = cold_workflow_module()
    bridge = LambdaBridge()
    bridge.register(WORKFLOW, WORKFLOW_FUNCTION, module.lambda_handler)
    bulk = importlib.import_module("functions.bulk_import.bulk_import")
    bridge.register("BulkImportFunction", LambdaFunction(name="sip-provisioner-bulk-import"), bulk.lambda_handler)
    return bridge


def cold_workflow_module() -> ModuleType:
    """The workflow function as on a cold start: composed anew against this test's moto and settings."""
    module = importlib.import_module("functions.workflow.workflow_entry")
    for value in vars(module).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()
    return module


def set_up_state_machines(bridge: LambdaBridge) -> tuple[Any, dict[str, str]]:
    """The functions and every state machine of the template in moto, as `make run` creates them.

    Offboarding too while the template does not declare it yet: from its definition file, with
    the one substitution it needs.
    """
    role_arn = create_local_role(boto3.client("iam"))
    function_arns = bridge.create_functions(boto3.client("lambda"), role_arn)
    sfn = boto3.client("stepfunctions")
    arns = create_state_machines(sfn, TEMPLATE_PATH, REPOSITORY_ROOT, function_arns, role_arn)
    if OFFBOARDING not in arns:
        definition = substitute(
            OFFBOARDING_DEFINITION.read_text(encoding="utf-8"), {"WorkflowFunctionArn": function_arns[WORKFLOW]}
        )
        created = sfn.create_state_machine(name=OFFBOARDING, definition=definition, roleArn=role_arn)
        arns[OFFBOARDING] = created["stateMachineArn"]
    return sfn, arns


@pytest.fixture
def machines(api: ProvisionerApi) -> Iterator[StateMachines]:
    with executing_in_process():
        bridge = workflow_bridge()
        sfn, arns = set_up_state_machines(bridge)
        yield StateMachines(sfn, arns, bridge, api)
    cold_workflow_module()


def create_directly(emulator: SignalWireEmulator, username: str) -> None:
    """An endpoint the service never created: unmanaged."""
    requests.post(
        f"{emulator.base_url}{COLLECTION_PATH}",
        json={"username": username, "password": "someone-elses-password", "call_handler": "relay_connector"},
        auth=(emulator.project_id, emulator.api_token),
        timeout=5,
    ).raise_for_status()


def delete_directly(emulator: SignalWireEmulator, username: str) -> None:
    """A delete past the service, by anyone holding the project's credentials."""
    [endpoint_id] = [endpoint["id"] for endpoint in emulator.endpoints if endpoint["username"] == username]
    requests.delete(
        f"{emulator.base_url}{COLLECTION_PATH}/{endpoint_id}",
        auth=(emulator.project_id, emulator.api_token),
        timeout=5,
    ).raise_for_status()


def test_the_template_or_the_definition_file_gives_every_state_machine(machines: StateMachines) -> None:
    # Given / When the state machines are set up as make run sets them up
    # Then both are there, each from its own definition file
    assert set(machines.arns) >= {ONBOARDING, OFFBOARDING}
    template_ids = {
        logical_id
        for logical_id, resource in load_template(TEMPLATE_PATH)["Resources"].items()
        if resource["Type"] == "AWS::Serverless::StateMachine"
    }
    assert ONBOARDING in template_ids


# -- the onboarding state machine ----------------------------------------------------------------


def test_an_execution_creates_the_endpoint_and_succeeds_with_where_to_register(machines: StateMachines) -> None:
    # Given a new employee's onboarding
    execution_input = onboarding_input("ada.lovelace", profile="office")
    # When the state machine runs
    execution = machines.onboard(execution_input)
    # Then it succeeds with the endpoint SignalWire now holds, created once, and where its password is
    [stored] = machines.emulator.endpoints
    assert execution.status == "SUCCEEDED"
    assert execution.output == {
        "sip_uri": f"sip:ada.lovelace@{SIP_DOMAIN}",
        "endpoint_id": stored["id"],
        "username": "ada.lovelace",
        "profile": "office",
        "password_secret_arn": execution.output["password_secret_arn"],
    }
    assert machines.emulator.create_requests_received() == 1


def test_the_generated_password_is_handed_over_as_the_arn_of_the_secret_holding_it(machines: StateMachines) -> None:
    # Given / When an onboarding runs for a new employee
    execution = machines.onboard(onboarding_input("ada.lovelace"))
    # Then the hand-over state gets the employee, where to register and the secret's ARN; the
    # secret holds the password SignalWire has
    handed_over = execution.state_output("HandOverPassword")["password_handed_over"]
    assert set(handed_over) == {"employee", "username", "sip_uri", "password_secret_arn"}
    assert handed_over["employee"] == EMPLOYEE
    arn = handed_over["password_secret_arn"]
    assert arn.split(":secret:", 1)[1].startswith(f"{SECRETS_PREFIX}ada.lovelace")
    assert machines.secret_value(arn)["password"] == machines.emulator.stored_password("ada.lovelace")
    assert execution.output["password_secret_arn"] == arn


def test_no_password_reaches_an_execution_history(machines: StateMachines) -> None:
    # Given an onboarding that generated a password
    execution = machines.onboard(onboarding_input("ada.lovelace"))
    password = machines.emulator.stored_password("ada.lovelace")
    assert execution.status == "SUCCEEDED"
    assert password is not None
    # When its whole history, every event's data included, is read as text
    text = execution_history_text(machines.sfn, execution.arn)
    # Then the password is nowhere in it, nor in the output
    assert password not in text
    assert password not in execution.description["output"]


def test_a_password_the_request_gave_is_not_handed_over_again(machines: StateMachines) -> None:
    # Given / When an onboarding whose request gives the password
    execution = machines.onboard(onboarding_input("ada.lovelace", password=CALLERS_PASSWORD))
    # Then nothing is handed over, no secret is written, and the endpoint has that password
    assert execution.status == "SUCCEEDED"
    assert "NoPasswordToHandOver" in execution.states_entered()
    assert "HandOverPassword" not in execution.states_entered()
    assert execution.output["password_secret_arn"] is None
    assert machines.emulator.stored_password("ada.lovelace") == CALLERS_PASSWORD


def test_the_task_runs_the_workflow_function_through_the_bridge(machines: StateMachines) -> None:
    # Given / When an onboarding runs
    execution = machines.onboard(onboarding_input("ada.lovelace"))
    # Then the bridge ran the function once, with the execution's ARN as the idempotency key;
    # if moto stopped calling the bridge, its echo would fail every test of this module
    assert machines.bridge.invocations(WORKFLOW_FUNCTION.name) == 1
    [scheduled] = execution.events("TaskScheduled")
    parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
    assert parameters["FunctionName"].endswith(f":function:{WORKFLOW_FUNCTION.name}")
    assert parameters["Payload"]["idempotency_key"] == execution.arn


def test_without_the_bridge_moto_only_echoes_the_payload_and_nothing_is_created(machines: StateMachines) -> None:
    # Given / When the same onboarding runs with the bridge left out
    execution = machines.onboard(onboarding_input("ada.lovelace"), bridged=False)
    # Then the task "succeeds" with its own payload as the answer, a later state fails on it,
    # and SignalWire saw nothing: the echo is unmistakable
    [succeeded] = execution.events("TaskSucceeded")
    echoed = json.loads(succeeded["taskSucceededEventDetails"]["output"])["Payload"]
    assert echoed == {"action": "create", "request": {"username": "ada.lovelace"}, "idempotency_key": execution.arn}
    assert execution.status == "FAILED"
    assert machines.bridge.invocations() == 0
    assert machines.emulator.create_requests_received() == 0


def test_a_username_someone_already_has_fails_the_execution_as_username_taken(machines: StateMachines) -> None:
    # Given someone already has the username
    assert machines.api.create({"username": "ada.lovelace"}).status == 201
    # When an onboarding asks for it
    execution = machines.onboard(onboarding_input("ada.lovelace"))
    # Then the Catch leads to the UsernameAlreadyTaken state, which fails with the function's
    # error and its payload as the cause; the task was not retried and nothing more was created
    error, cause = execution.function_failure()
    assert execution.status == "FAILED"
    assert execution.fail_states() == ["UsernameAlreadyTaken"]
    assert error == "UsernameTaken"
    assert cause["errorType"] == "UsernameTaken"
    assert "ada.lovelace" in cause["errorMessage"]
    assert execution.task_errors() == ["UsernameTaken"]
    assert len(machines.emulator.endpoints) == 1


def test_a_request_that_breaks_a_rule_fails_the_execution_as_a_validation_error(machines: StateMachines) -> None:
    # Given / When an onboarding asks for a username with a space
    execution = machines.onboard(onboarding_input("ada lovelace"))
    # Then the RequestRejected state fails it with ValidationError naming the field, sending nothing
    error, cause = execution.function_failure()
    assert error == "ValidationError"
    assert '"field":"username"' in cause["errorMessage"]
    assert execution.fail_states() == ["RequestRejected"]
    assert machines.emulator.create_requests_received() == 0


NOT_AN_OBJECT = [[], "ada.lovelace", 42, None]
NOT_AN_OBJECT_IDS = ["a-list", "a-string", "a-number", "null"]


@pytest.mark.parametrize(
    "execution_input",
    [
        {"employee": EMPLOYEE},
        {"employee": EMPLOYEE, "sip_endpoint": "ada.lovelace"},
        {"employee": EMPLOYEE, "sip_endpoint": ["ada.lovelace"]},
        {"employee": EMPLOYEE, "sip_endpoint": None},
        {"employee": EMPLOYEE, "sip_endpoint": {}},
        {"employee": EMPLOYEE, "sip_endpoint": {"username": 4711}},
        *NOT_AN_OBJECT,
    ],
    ids=[
        "no-sip-endpoint",
        "sip-endpoint-a-string",
        "sip-endpoint-a-list",
        "sip-endpoint-null",
        "no-username",
        "username-not-text",
        *NOT_AN_OBJECT_IDS,
    ],
)
def test_an_onboarding_input_naming_no_endpoint_fails_as_a_validation_error_and_creates_nothing(
    machines: StateMachines, execution_input: object
) -> None:
    # Given / When an onboarding gets an input that asks for no endpoint it could create
    execution = machines.onboard(execution_input)
    # Then it fails at once as ValidationError naming what is missing, and nothing is created
    error, cause = execution.failure()
    assert (execution.status, error) == ("FAILED", "ValidationError")
    assert execution.fail_states() == ["SipEndpointMissing"]
    assert cause.startswith("sip_endpoint:")
    assert machines.bridge.invocations() == 0
    assert machines.emulator.endpoints == []


def test_a_request_nested_deeper_than_the_bound_fails_the_execution_as_a_validation_error(
    machines: StateMachines,
) -> None:
    # Given / When an onboarding whose handler nests 300 arrays deep (the local interpreter cannot
    # carry thousands of levels; the function's own refusal of those is in test_workflow_entry.py)
    deep = json.loads("[" * 300 + "1" + "]" * 300)
    execution = machines.onboard(onboarding_input("ada.lovelace", handler=deep))
    # Then the RequestRejected state fails it with ValidationError naming the field, sending nothing
    error, cause = execution.function_failure()
    assert error == "ValidationError"
    assert '"field":"handler","message":"nests arrays or objects deeper than 32 levels"' in cause["errorMessage"]
    assert execution.fail_states() == ["RequestRejected"]
    assert machines.emulator.create_requests_received() == 0


def test_a_transient_signalwire_failure_is_retried_to_exactly_one_create(machines: StateMachines) -> None:
    # Given SignalWire fails the first create with a 503
    machines.emulator.inject_fault(Fault.SERVICE_UNAVAILABLE, times=1)
    # When an onboarding runs
    execution = machines.onboard(onboarding_input("ada.lovelace"))
    # Then the Retry runs the task again under the same key, and that attempt creates the one endpoint
    assert execution.status == "SUCCEEDED"
    assert execution.task_errors() == ["UpstreamError"]
    assert len(execution.events("TaskSucceeded")) == 1
    assert machines.bridge.invocations(WORKFLOW_FUNCTION.name) == 2
    assert machines.emulator.create_requests_received() == 2
    assert [endpoint["username"] for endpoint in machines.emulator.endpoints] == ["ada.lovelace"]


def test_the_history_text_holds_every_event_with_its_data(machines: StateMachines) -> None:
    # Given an onboarding that ran
    execution = machines.onboard(onboarding_input("ada.lovelace"))
    # When its history is read as text
    text = execution_history_text(machines.sfn, execution.arn)
    # Then each event is one JSON line, the task's answer included
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["type"] for line in lines] == [event["type"] for event in execution.history]
    assert "ExecutionSucceeded" in text
    assert str(machines.emulator.endpoints[0]["id"]) in text


# -- the offboarding state machine ---------------------------------------------------------------


def test_an_offboarding_disables_then_deletes_the_endpoint_and_keeps_its_record_as_deleted(
    machines: StateMachines,
) -> None:
    # Given an employee onboarded with an endpoint
    assert machines.onboard(onboarding_input("ada.lovelace")).status == "SUCCEEDED"
    # When their offboarding runs without a grace period
    execution = machines.offboard(offboarding_input("ada.lovelace", grace_period_seconds=0))
    # Then it disabled, then deleted: SignalWire holds nothing, the record stays as deleted
    assert execution.status == "SUCCEEDED", execution.history
    assert execution.output == {"username": "ada.lovelace", "status": "deleted"}
    assert execution.actions() == ["disable", "delete"]
    assert execution.states_entered().index("GracePeriod") == execution.states_entered().index("DisableSipEndpoint") + 1
    assert machines.emulator.endpoints == []
    assert machines.emulator.updates_committed() == 1
    assert machines.record_status("ada.lovelace") == "deleted"


def test_each_step_runs_under_a_key_derived_from_the_execution(machines: StateMachines) -> None:
    # Given an onboarded employee
    machines.onboard(onboarding_input("ada.lovelace"))
    # When their offboarding runs
    execution = machines.offboard(offboarding_input("ada.lovelace", grace_period_seconds=0))
    # Then the disable and the delete each have their own key, from the execution's ARN: a retry
    # or a redrive of this execution repeats each at most once
    assert [payload["idempotency_key"] for payload in execution.task_payloads()] == [
        f"{execution.arn}:disable",
        f"{execution.arn}:delete",
    ]


def test_the_delete_waits_the_grace_period_after_the_disable(machines: StateMachines) -> None:
    # Given an onboarded employee
    machines.onboard(onboarding_input("ada.lovelace"))
    # When their offboarding runs with a grace period of one second
    execution = machines.offboard(offboarding_input("ada.lovelace", grace_period_seconds=1))
    # Then the delete was sent at least that second after the disable had succeeded
    disabled, deleted = execution.events("TaskSucceeded")
    _, delete_scheduled = execution.events("TaskScheduled")
    assert execution.status == "SUCCEEDED"
    waited = as_datetime(delete_scheduled["timestamp"]) - as_datetime(disabled["timestamp"])
    assert waited.total_seconds() >= 1
    assert as_datetime(deleted["timestamp"]) >= as_datetime(delete_scheduled["timestamp"])


def as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def test_without_a_grace_period_the_endpoint_is_disabled_at_once_and_its_delete_waits_a_week(
    machines: StateMachines,
) -> None:
    # Given an onboarded employee
    machines.onboard(onboarding_input("ada.lovelace"))
    with machines.bridge.installed():
        # When their offboarding starts without a grace period
        started = machines.sfn.start_execution(
            stateMachineArn=machines.arns[OFFBOARDING],
            name="offboard-E4711",
            input=json.dumps(offboarding_input("ada.lovelace")),
        )
        try:
            waiting = wait_for_state(machines.sfn, started["executionArn"], "WaitStateEntered")
            described = machines.sfn.describe_execution(executionArn=started["executionArn"])
            # Then the endpoint is disabled and still there, and the execution waits 604800 s
            assert json.loads(waiting["stateEnteredEventDetails"]["input"])["grace_period_seconds"] == A_WEEK
            assert described["status"] == "RUNNING"
            assert machines.record_status("ada.lovelace") == "disabled"
            assert [endpoint["username"] for endpoint in machines.emulator.endpoints] == ["ada.lovelace"]
        finally:
            machines.sfn.stop_execution(executionArn=started["executionArn"])


def wait_for_state(sfn: Any, execution_arn: str, event_type: str, timeout_seconds: float = 30) -> dict[str, Any]:
    """The first event of `event_type` in the execution's history, once there is one."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        for event in execution_history(sfn, execution_arn):
            if event["type"] == event_type:
                return event
        time.sleep(0.05)
    raise TimeoutError(f"no {event_type} in {execution_arn} after {timeout_seconds} s")


def test_an_endpoint_already_gone_is_offboarded_successfully(machines: StateMachines) -> None:
    # Given a username neither SignalWire nor the inventory knows
    # When an offboarding runs for it, with a grace period it must not wait
    execution = machines.offboard(offboarding_input("ada.lovelace", grace_period_seconds=3600))
    # Then the disable found nothing, the delete found nothing, and the execution succeeds at once
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"username": "ada.lovelace", "status": "already_gone"}
    assert execution.task_errors() == ["EndpointNotFound", "EndpointNotFound"]
    assert "GracePeriod" not in execution.states_entered()
    assert machines.emulator.deletes_committed() == 0


def test_an_endpoint_deleted_past_the_service_is_recorded_as_deleted_without_waiting(
    machines: StateMachines,
) -> None:
    # Given an onboarded employee whose endpoint someone deleted straight in SignalWire
    machines.onboard(onboarding_input("ada.lovelace"))
    delete_directly(machines.emulator, "ada.lovelace")
    # When their offboarding runs
    execution = machines.offboard(offboarding_input("ada.lovelace", grace_period_seconds=3600))
    # Then there was nothing to disable or wait for, and the delete closed the record
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"username": "ada.lovelace", "status": "deleted"}
    assert execution.task_errors() == ["EndpointNotFound"]
    assert "GracePeriod" not in execution.states_entered()
    assert machines.record_status("ada.lovelace") == "deleted"


def test_a_transient_signalwire_failure_of_the_disable_is_retried(machines: StateMachines) -> None:
    # Given an onboarded employee, and SignalWire failing the next two updates with a 503 (the
    # function sends a lost password update once more itself, then gives up)
    machines.onboard(onboarding_input("ada.lovelace"))
    machines.emulator.inject_fault(Fault.SERVICE_UNAVAILABLE, times=2, operation="update")
    # When their offboarding runs
    execution = machines.offboard(offboarding_input("ada.lovelace", grace_period_seconds=0))
    # Then the Retry ran the disable again under its key, and the offboarding went on to the delete
    assert execution.status == "SUCCEEDED", execution.history
    assert execution.task_errors() == ["UpstreamError"]
    assert execution.actions() == ["disable", "disable", "delete"]
    assert machines.emulator.endpoints == []
    assert machines.record_status("ada.lovelace") == "deleted"


def test_an_endpoint_the_service_did_not_create_is_left_alone_as_not_managed(machines: StateMachines) -> None:
    # Given an endpoint someone created straight in SignalWire
    create_directly(machines.emulator, "ada.lovelace")
    # When an offboarding runs for it
    execution = machines.offboard(offboarding_input("ada.lovelace", grace_period_seconds=0))
    # Then it fails as EndpointNotManaged before changing anything
    error, cause = execution.function_failure()
    assert (execution.status, error, cause["errorType"]) == ("FAILED", "EndpointNotManaged", "EndpointNotManaged")
    assert execution.fail_states() == ["NotManagedByTheService"]
    assert machines.emulator.stored_password("ada.lovelace") == "someone-elses-password"


@pytest.mark.parametrize(
    "grace_period_seconds",
    [-1, 2592001, 1.5, "604800", None, [60]],
    ids=["negative", "over-30-days", "fraction", "text", "null", "list"],
)
def test_a_grace_period_outside_0_to_30_days_fails_before_anything_is_disabled(
    machines: StateMachines, grace_period_seconds: object
) -> None:
    # Given an onboarded employee
    machines.onboard(onboarding_input("ada.lovelace"))
    # When their offboarding gets a grace period that is not a whole number of seconds in range
    execution = machines.offboard(offboarding_input("ada.lovelace", grace_period_seconds=grace_period_seconds))
    # Then it fails as ValidationError naming the field, and the function never ran for it
    error, cause = execution.failure()
    assert (execution.status, error) == ("FAILED", "ValidationError")
    assert execution.fail_states() == ["GracePeriodOutOfRange"]
    assert cause.startswith("grace_period_seconds:")
    assert execution.events("TaskScheduled") == []
    assert machines.record_status("ada.lovelace") == "active"


@pytest.mark.parametrize("grace_period_seconds", [0, 2592000], ids=["none", "30-days"])
def test_the_bounds_of_the_grace_period_are_allowed(machines: StateMachines, grace_period_seconds: int) -> None:
    # Given / When an offboarding for nobody gets a grace period at a bound
    execution = machines.offboard(offboarding_input("nobody", grace_period_seconds=grace_period_seconds))
    # Then it gets past the check (and, the endpoint being gone, succeeds without waiting)
    assert execution.status == "SUCCEEDED"
    assert execution.actions() == ["disable", "delete"]


@pytest.mark.parametrize(
    "execution_input",
    [{"employee": EMPLOYEE}, {"sip_endpoint": {}}, {"sip_endpoint": {"username": 4711}}],
    ids=["no-sip-endpoint", "no-username", "username-not-text"],
)
def test_an_input_naming_no_username_fails_before_anything_runs(
    machines: StateMachines, execution_input: dict[str, Any]
) -> None:
    # Given / When an offboarding gets no username to offboard
    execution = machines.offboard(execution_input)
    # Then it fails as ValidationError naming the field, without running the function
    error, cause = execution.failure()
    assert (execution.status, error) == ("FAILED", "ValidationError")
    assert execution.fail_states() == ["UsernameMissing"]
    assert cause.startswith("sip_endpoint.username:")
    assert machines.bridge.invocations() == 0


@pytest.mark.parametrize("execution_input", NOT_AN_OBJECT, ids=NOT_AN_OBJECT_IDS)
def test_an_offboarding_input_that_is_not_an_object_fails_before_anything_runs(
    machines: StateMachines, execution_input: object
) -> None:
    # Given an onboarded employee
    machines.onboard(onboarding_input("ada.lovelace"))
    invocations = machines.bridge.invocations()
    # When an offboarding gets an input that is not a JSON object
    execution = machines.offboard(execution_input)
    # Then it fails as ValidationError naming the username it needs, and nothing is disabled
    error, cause = execution.failure()
    assert (execution.status, error) == ("FAILED", "ValidationError")
    assert cause.startswith("sip_endpoint.username:")
    assert machines.bridge.invocations() == invocations
    assert machines.record_status("ada.lovelace") == "active"


def test_a_username_that_breaks_a_rule_fails_as_a_validation_error_from_the_function(
    machines: StateMachines,
) -> None:
    # Given / When an offboarding names a username with a space
    execution = machines.offboard(offboarding_input("ada lovelace", grace_period_seconds=0))
    # Then the function refuses it and the RequestRejected state fails the execution with its cause
    error, cause = execution.function_failure()
    assert (error, cause["errorType"]) == ("ValidationError", "ValidationError")
    assert '"field":"username"' in cause["errorMessage"]
    assert execution.fail_states() == ["RequestRejected"]


def test_a_deployment_policy_that_keeps_workflows_out_fails_the_offboarding_as_forbidden(
    machines: StateMachines,
) -> None:
    # Given an endpoint an HTTP caller created, and a deployment policy whose admins are not workflows
    assert machines.api.create({"username": "ada.lovelace"}).status == 201
    machines.api.put_parameter("policy", json.dumps({"admins": ["arn:aws:iam::123456789012:role/admin"]}))
    # When an offboarding runs for it
    execution = machines.offboard(offboarding_input("ada.lovelace", grace_period_seconds=0))
    # Then it fails as Forbidden, and the endpoint is as it was
    error, _ = execution.function_failure()
    assert (execution.status, error) == ("FAILED", "Forbidden")
    assert execution.fail_states() == ["OffboardingForbidden"]
    assert machines.record_status("ada.lovelace") == "active"
    assert machines.emulator.updates_committed() == 0


def test_the_example_inputs_onboard_and_then_offboard_an_employee(machines: StateMachines) -> None:
    # Given the example executions' inputs the README starts with the AWS CLI
    onboarding, offboarding = (
        json.loads((EXECUTION_EXAMPLES_DIR / name).read_text(encoding="utf-8"))
        for name in ("onboarding.json", "offboarding.json")
    )
    # When an onboarding and then an offboarding run with them
    onboarded = machines.onboard(onboarding)
    created = [endpoint["username"] for endpoint in machines.emulator.endpoints]
    offboarded = machines.offboard(offboarding)
    # Then the one created the endpoint the other removed
    assert (onboarded.status, offboarded.status) == ("SUCCEEDED", "SUCCEEDED")
    assert created == [onboarding["sip_endpoint"]["username"]] == [offboarding["sip_endpoint"]["username"]]
    assert machines.emulator.endpoints == []


# -- the bridge itself -----------------------------------------------------------------------------


class CustomFailure(Exception):
    pass


@dataclass
class Recorder:
    remaining_ms: list[int]

    def handler(self, event: Any, context: Any) -> Any:
        self.remaining_ms.append(context.get_remaining_time_in_millis())
        if event.get("fail"):
            raise CustomFailure("failed on purpose")
        if event.get("unserialisable"):
            return {"when": object()}
        return {"echo": event, "function": context.function_name}


@pytest.fixture
def toy() -> Iterator[tuple[Any, str, LambdaBridge, Recorder]]:
    """A one-task state machine calling a toy handler through the bridge."""
    recorder = Recorder([])
    bridge = LambdaBridge()
    bridge.register("Toy", LambdaFunction(name="toy", timeout_seconds=7), recorder.handler)
    with pytest.MonkeyPatch.context() as env:
        for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
            env.delenv(name)
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with mock_aws(config={"lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}}):
            role_arn = create_local_role(boto3.client("iam"))
            [toy_arn] = bridge.create_functions(boto3.client("lambda"), role_arn).values()
            definition = {
                "StartAt": "Call",
                "States": {
                    "Call": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": toy_arn, "Payload.$": "$"},
                        "End": True,
                    }
                },
            }
            sfn = boto3.client("stepfunctions")
            created = sfn.create_state_machine(name="toy", definition=json.dumps(definition), roleArn=role_arn)
            with bridge.installed():
                yield sfn, created["stateMachineArn"], bridge, recorder


def test_a_handler_gets_the_payload_and_a_context_counting_down_from_the_functions_timeout(toy: Any) -> None:
    sfn, state_machine_arn, _, recorder = toy
    # Given / When the task sends a payload
    execution = run_execution(sfn, state_machine_arn, {"hello": "world"}, "payload")
    # Then the handler's result is the task's Payload, and the context had at most 7 s left
    assert execution.status == "SUCCEEDED"
    assert execution.output["Payload"] == {"echo": {"hello": "world"}, "function": "toy"}
    assert 6000 < recorder.remaining_ms[0] <= 7000


def test_a_handler_exception_is_the_tasks_error_by_its_class_name_as_in_aws(toy: Any) -> None:
    sfn, state_machine_arn, _, _ = toy
    # Given / When the handler raises
    execution = run_execution(sfn, state_machine_arn, {"fail": True}, "raises")
    # Then the error is the class name and the cause the Python runtime's error payload
    error, cause = execution.function_failure()
    assert error == "CustomFailure"
    assert cause["errorType"] == "CustomFailure"
    assert cause["errorMessage"] == "failed on purpose"
    assert set(cause) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert "step_functions.py" not in "".join(cause["stackTrace"])  # the handler's frames only


def test_a_result_that_is_not_json_is_a_runtime_marshal_error(toy: Any) -> None:
    sfn, state_machine_arn, _, _ = toy
    # Given / When the handler returns something JSON cannot hold
    execution = run_execution(sfn, state_machine_arn, {"unserialisable": True}, "marshal")
    # Then the task fails as Lambda reports it
    assert execution.failure()[0] == "Runtime.MarshalError"


def test_a_function_unknown_to_lambda_is_a_lambda_service_error(toy: Any) -> None:
    sfn, _, bridge, _ = toy
    # Given a state machine calling a function nobody created
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:nobody", "Payload": {}},
                "End": True,
            }
        },
    }
    role_arn = "arn:aws:iam::123456789012:role/sip-provisioner-local"
    created = sfn.create_state_machine(name="nobody", definition=json.dumps(definition), roleArn=role_arn)
    # When it runs
    execution = run_execution(sfn, created["stateMachineArn"], {}, "nobody")
    # Then the task fails with Lambda's own error name, and no handler ran
    assert execution.failure()[0] == "Lambda.ResourceNotFoundException"
    assert bridge.invocations() == 0


# -- make run: a moto server in this process -------------------------------------------------------


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch, emulator: SignalWireEmulator) -> Iterator[str]:
    """A moto server in this process, seeded and configured as `make run` does it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    for name, value in {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MOTO_PORT": "5000",  # restored afterwards; enable_execution sets it
        "PARAMETERS_PATH": PARAMETERS_PATH,
        "PARAMETERS_MAX_AGE": "0",
        "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
        "INVENTORY_TABLE": INVENTORY_TABLE,
        "SECRETS_PREFIX": SECRETS_PREFIX,
        "SIGNALWIRE_READ_TIMEOUT": "0.5",
    }.items():
        monkeypatch.setenv(name, value)
    try:
        with executing_in_process():  # moto's settings restored for the tests after this one
            signalwire = SignalWireAccount(emulator.base_url, emulator.project_id, emulator.api_token, SIP_DOMAIN)
            seed_ssm(boto3.client("ssm"), PARAMETERS_PATH, PROFILES_DIR, signalwire)
            create_idempotency_table(boto3.client("dynamodb"), IDEMPOTENCY_TABLE)
            create_inventory_table(boto3.client("dynamodb"), INVENTORY_TABLE)
            yield url
    finally:
        # moto's backends are this process's: leave none of this test's data to the next one.
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10)  # noqa: S310
        server.stop()


def test_under_make_run_an_execution_started_on_the_moto_server_creates_the_endpoint(
    moto_server: str, emulator: SignalWireEmulator
) -> None:
    # Given a moto server in this process with execution enabled over its API, and the
    # template's state machines created on it
    enable_execution(moto_server)
    bridge = workflow_bridge()
    with bridge.installed():
        sfn, arns = set_up_state_machines(bridge)
        # When an onboarding is started on the server
        execution = run_execution(sfn, arns[ONBOARDING], onboarding_input("ada.lovelace"), "onboard-E4711")
    # Then the bridge ran the function and SignalWire holds the one endpoint
    assert os.environ["MOTO_PORT"] == moto_server.rsplit(":", 1)[1]
    assert execution.status == "SUCCEEDED", execution.history
    assert bridge.invocations(WORKFLOW_FUNCTION.name) == 1
    assert [endpoint["username"] for endpoint in emulator.endpoints] == ["ada.lovelace"]


def test_under_make_run_an_offboarding_started_on_the_moto_server_removes_what_an_onboarding_created(
    moto_server: str, emulator: SignalWireEmulator
) -> None:
    # Given a moto server as make run starts it, and an employee onboarded on it
    enable_execution(moto_server)
    bridge = workflow_bridge()
    with bridge.installed():
        sfn, arns = set_up_state_machines(bridge)
        onboarded = run_execution(sfn, arns[ONBOARDING], onboarding_input("ada.lovelace"), "onboard-E4711")
        # When their offboarding is started on the server
        offboarded = run_execution(
            sfn, arns[OFFBOARDING], offboarding_input("ada.lovelace", grace_period_seconds=0), "offboard-E4711"
        )
    # Then the endpoint the onboarding created is gone from SignalWire
    assert (onboarded.status, offboarded.status) == ("SUCCEEDED", "SUCCEEDED"), offboarded.history
    assert offboarded.output == {"username": "ada.lovelace", "status": "deleted"}
    assert bridge.invocations(WORKFLOW_FUNCTION.name) == 3
    assert emulator.endpoints == []


# -- state machines from the template --------------------------------------------------------------


def write_template(directory: Path, substitution: str) -> Path:
    (directory / "machine.asl.json").write_text(
        json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": "${Target}", "End": True}}}),
        encoding="utf-8",
    )
    template = directory / "template.yaml"
    template.write_text(
        "Resources:\n"
        "  Machine:\n"
        "    Type: AWS::Serverless::StateMachine\n"
        "    Properties:\n"
        "      DefinitionUri: machine.asl.json\n"
        "      DefinitionSubstitutions:\n"
        f"        Target: {substitution}\n",
        encoding="utf-8",
    )
    return template


def test_a_substitution_naming_no_local_function_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    # Given a state machine whose substitution names a function that does not run locally
    template = write_template(tmp_path, "!GetAtt ElsewhereFunction.Arn")
    # When the state machines are created
    with pytest.raises(ValueError, match="Target") as refused:
        create_state_machines(None, template, None, {WORKFLOW: "arn:aws:lambda:us-east-1:123456789012:function:w"}, "")
    # Then it is refused, naming the substitution and what it asked for
    assert "ElsewhereFunction" in str(refused.value)


def test_a_ref_to_a_function_is_its_name_as_in_cloudformation(tmp_path: Path) -> None:
    # Given a state machine whose substitution is `!Ref` of a local function
    template = write_template(tmp_path, f"!Ref {WORKFLOW}")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        role_arn = "arn:aws:iam::123456789012:role/sip-provisioner-local"
        function_arns = {WORKFLOW: f"arn:aws:lambda:us-east-1:123456789012:function:{WORKFLOW_FUNCTION.name}"}
        # When the state machines are created
        arns = create_state_machines(sfn, template, None, function_arns, role_arn)
        # Then the definition holds the function's name where the placeholder was
        definition = json.loads(sfn.describe_state_machine(stateMachineArn=arns["Machine"])["definition"])
    assert definition["States"]["Done"]["Result"] == WORKFLOW_FUNCTION.name
