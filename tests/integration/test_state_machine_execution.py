"""The onboarding state machine executed for real: moto's ASL interpreter, our workflow function.

moto runs statemachine/onboarding.asl.json as template.yaml defines it (`create_state_machines`),
and its Lambda task reaches `functions/workflow/workflow_entry.lambda_handler` through
`local.step_functions.LambdaBridge`. SSM and DynamoDB are moto seeded as for every integration
test (the `api` fixture), SignalWire is the emulator over loopback HTTP. Retry waits are real:
the one transient failure below costs up to the definition's first IntervalSeconds (5 s, full jitter).
"""

import contextlib
import importlib
import json
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from local.gateway import LambdaFunction
from local.inventory_table import create_inventory_table
from local.seed import SignalWireAccount, create_idempotency_table, seed_ssm
from local.signalwire_emulator import Fault, SignalWireEmulator
from local.step_functions import (
    LambdaBridge,
    create_local_role,
    create_state_machines,
    enable_execution,
    executing_in_process,
    execution_history,
    execution_history_text,
    wait_for_execution,
)
from tests.integration.conftest import (
    IDEMPOTENCY_TABLE,
    INVENTORY_TABLE,
    PARAMETERS_PATH,
    PROFILES_DIR,
    SIP_DOMAIN,
    ProvisionerApi,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPOSITORY_ROOT / "template.yaml"
ONBOARDING = "OnboardingStateMachine"
WORKFLOW = "WorkflowFunction"
# As template.yaml deploys it: 512 MB, 25 s.
WORKFLOW_FUNCTION = LambdaFunction(name="sip-provisioner-test-workflow", memory_limit_in_mb=512, timeout_seconds=25)


def onboarding_input(username: str, **sip_endpoint: Any) -> dict[str, Any]:
    return {"employee": {"id": "E4711", "name": "Ada Lovelace"}, "sip_endpoint": {"username": username, **sip_endpoint}}


@dataclass(frozen=True)
class Execution:
    arn: str
    description: dict[str, Any]
    history: list[dict[str, Any]]

    @property
    def status(self) -> str:
        status: str = self.description["status"]
        return status

    @property
    def output(self) -> dict[str, Any]:
        output: dict[str, Any] = json.loads(self.description["output"])
        return output

    def events(self, event_type: str) -> list[dict[str, Any]]:
        return [event for event in self.history if event["type"] == event_type]

    def task_errors(self) -> list[str]:
        return [event["taskFailedEventDetails"]["error"] for event in self.events("TaskFailed")]

    def failure(self) -> tuple[str, str]:
        """The execution's error and cause."""
        [failed] = self.events("ExecutionFailed")
        details = failed["executionFailedEventDetails"]
        return details["error"], details["cause"]

    def function_failure(self) -> tuple[str, dict[str, Any]]:
        """The execution's error, and its cause read as the function's error payload."""
        error, cause = self.failure()
        payload: dict[str, Any] = json.loads(cause)
        return error, payload


@dataclass(frozen=True)
class Onboarding:
    """The onboarding state machine in moto, its task bridged to the real workflow function."""

    sfn: Any
    state_machine_arn: str
    bridge: LambdaBridge
    api: ProvisionerApi

    @property
    def emulator(self) -> SignalWireEmulator:
        return self.api.emulator

    def run(self, execution_input: dict[str, Any], name: str = "onboard-E4711", *, bridged: bool = True) -> Execution:
        with self.bridge.installed() if bridged else contextlib.nullcontext():
            return run_execution(self.sfn, self.state_machine_arn, execution_input, name)


def run_execution(sfn: Any, state_machine_arn: str, execution_input: dict[str, Any], name: str) -> Execution:
    started = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input))
    description = wait_for_execution(sfn, started["executionArn"], timeout_seconds=60)
    return Execution(started["executionArn"], description, execution_history(sfn, started["executionArn"]))


def workflow_bridge() -> LambdaBridge:
    module = cold_workflow_module()
    bridge = LambdaBridge()
    bridge.register(WORKFLOW, WORKFLOW_FUNCTION, module.lambda_handler)
    return bridge


def cold_workflow_module() -> ModuleType:
    """The workflow function as on a cold start: composed anew against this test's moto and settings."""
    module = importlib.import_module("functions.workflow.workflow_entry")
    for value in vars(module).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()
    return module


def set_up_onboarding(bridge: LambdaBridge) -> tuple[Any, str]:
    """The functions and every state machine of the template in moto, as `make run` creates them."""
    role_arn = create_local_role(boto3.client("iam"))
    function_arns = bridge.create_functions(boto3.client("lambda"), role_arn)
    sfn = boto3.client("stepfunctions")
    state_machines = create_state_machines(sfn, TEMPLATE_PATH, REPOSITORY_ROOT, function_arns, role_arn)
    return sfn, state_machines[ONBOARDING]


@pytest.fixture
def onboarding(api: ProvisionerApi) -> Iterator[Onboarding]:
    with executing_in_process():
        bridge = workflow_bridge()
        sfn, state_machine_arn = set_up_onboarding(bridge)
        yield Onboarding(sfn, state_machine_arn, bridge, api)
    cold_workflow_module()


# -- the onboarding state machine ----------------------------------------------------------------


def test_an_execution_creates_the_endpoint_and_succeeds_with_where_to_register(onboarding: Onboarding) -> None:
    # Given a new employee's onboarding
    execution_input = onboarding_input("ada.lovelace", profile="office")
    # When the state machine runs
    execution = onboarding.run(execution_input)
    # Then it succeeds with the endpoint SignalWire now holds, created once
    [stored] = onboarding.emulator.endpoints
    assert execution.status == "SUCCEEDED"
    assert execution.output == {
        "sip_uri": f"sip:ada.lovelace@{SIP_DOMAIN}",
        "endpoint_id": stored["id"],
        "username": "ada.lovelace",
        "profile": "office",
    }
    assert onboarding.emulator.create_requests_received() == 1


def test_the_task_runs_the_workflow_function_through_the_bridge(onboarding: Onboarding) -> None:
    # Given / When an onboarding runs
    execution = onboarding.run(onboarding_input("ada.lovelace"))
    # Then the bridge ran the function once, with the execution's ARN as the idempotency key;
    # if moto stopped calling the bridge, its echo would fail every test of this module
    assert onboarding.bridge.invocations(WORKFLOW_FUNCTION.name) == 1
    [scheduled] = execution.events("TaskScheduled")
    parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
    assert parameters["FunctionName"].endswith(f":function:{WORKFLOW_FUNCTION.name}")
    assert parameters["Payload"]["idempotency_key"] == execution.arn


def test_without_the_bridge_moto_only_echoes_the_payload_and_nothing_is_created(onboarding: Onboarding) -> None:
    # Given / When the same onboarding runs with the bridge left out
    execution = onboarding.run(onboarding_input("ada.lovelace"), bridged=False)
    # Then the task "succeeds" with its own payload as the answer, the next state fails on it,
    # and SignalWire saw nothing: the echo is unmistakable
    [succeeded] = execution.events("TaskSucceeded")
    echoed = json.loads(succeeded["taskSucceededEventDetails"]["output"])["Payload"]
    assert echoed == {"request": {"username": "ada.lovelace"}, "idempotency_key": execution.arn}
    assert execution.status == "FAILED"
    assert onboarding.bridge.invocations() == 0
    assert onboarding.emulator.create_requests_received() == 0


def test_a_username_someone_already_has_fails_the_execution_as_username_taken(onboarding: Onboarding) -> None:
    # Given someone already has the username
    assert onboarding.api.create({"username": "ada.lovelace"}).status == 201
    # When an onboarding asks for it
    execution = onboarding.run(onboarding_input("ada.lovelace"))
    # Then the Catch leads to the UsernameAlreadyTaken state, which fails with the function's
    # error and its payload as the cause; the task was not retried and nothing more was created
    error, cause = execution.function_failure()
    assert execution.status == "FAILED"
    assert [event["stateEnteredEventDetails"]["name"] for event in execution.events("FailStateEntered")] == [
        "UsernameAlreadyTaken"
    ]
    assert error == "UsernameTaken"
    assert cause["errorType"] == "UsernameTaken"
    assert "ada.lovelace" in cause["errorMessage"]
    assert execution.task_errors() == ["UsernameTaken"]
    assert len(onboarding.emulator.endpoints) == 1


def test_a_request_that_breaks_a_rule_fails_the_execution_as_a_validation_error(onboarding: Onboarding) -> None:
    # Given / When an onboarding asks for a username with a space
    execution = onboarding.run(onboarding_input("ada lovelace"))
    # Then the RequestRejected state fails it with ValidationError naming the field, sending nothing
    error, cause = execution.function_failure()
    assert error == "ValidationError"
    assert '"field":"username"' in cause["errorMessage"]
    assert [event["stateEnteredEventDetails"]["name"] for event in execution.events("FailStateEntered")] == [
        "RequestRejected"
    ]
    assert onboarding.emulator.create_requests_received() == 0


def test_a_transient_signalwire_failure_is_retried_to_exactly_one_create(onboarding: Onboarding) -> None:
    # Given SignalWire fails the first create with a 503
    onboarding.emulator.inject_fault(Fault.SERVICE_UNAVAILABLE, times=1)
    # When an onboarding runs
    execution = onboarding.run(onboarding_input("ada.lovelace"))
    # Then the Retry runs the task again under the same key, and that attempt creates the one endpoint
    assert execution.status == "SUCCEEDED"
    assert execution.task_errors() == ["UpstreamError"]
    assert len(execution.events("TaskSucceeded")) == 1
    assert onboarding.bridge.invocations(WORKFLOW_FUNCTION.name) == 2
    assert onboarding.emulator.create_requests_received() == 2
    assert [endpoint["username"] for endpoint in onboarding.emulator.endpoints] == ["ada.lovelace"]


def test_the_history_text_holds_every_event_with_its_data(onboarding: Onboarding) -> None:
    # Given an onboarding that ran
    execution = onboarding.run(onboarding_input("ada.lovelace"))
    # When its history is read as text
    text = execution_history_text(onboarding.sfn, execution.arn)
    # Then each event is one JSON line, the task's answer included
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["type"] for line in lines] == [event["type"] for event in execution.history]
    assert "ExecutionSucceeded" in text
    assert str(onboarding.emulator.endpoints[0]["id"]) in text


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
        sfn, state_machine_arn = set_up_onboarding(bridge)
        # When an onboarding is started on the server
        execution = run_execution(sfn, state_machine_arn, onboarding_input("ada.lovelace"), "onboard-E4711")
    # Then the bridge ran the function and SignalWire holds the one endpoint
    assert os.environ["MOTO_PORT"] == moto_server.rsplit(":", 1)[1]
    assert execution.status == "SUCCEEDED", execution.history
    assert bridge.invocations(WORKFLOW_FUNCTION.name) == 1
    assert [endpoint["username"] for endpoint in emulator.endpoints] == ["ada.lovelace"]


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
