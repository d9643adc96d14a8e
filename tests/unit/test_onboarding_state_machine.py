"""The example onboarding state machine (statemachine/onboarding.asl.json) and the function it calls agree.

Step Functions matches errors by name at run time only: a misspelt name in a Retry or Catch
never matches and nothing complains. These checks hold the definition to the names the workflow
entry can raise (`sip_provisioning.callers.workflow`), and the definition to cfn-lint's ASL rules, which
`cfn-lint template.yaml` cannot apply to a definition kept in its own file.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint  # type: ignore[import-untyped]  # cfn-lint ships no type information

from sip_provisioning.callers import workflow

DEFINITION_PATH = Path(__file__).resolve().parents[2] / "statemachine" / "onboarding.asl.json"
CREATE_STATE = "CreateSipEndpoint"
SECRET_ARN_PATH = "$.sip_endpoint_created.body.password_secret_arn"
# Errors Step Functions itself reports for a Lambda task (its service integration's and its own).
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
STATES_ERRORS = {"States.ALL", "States.TaskFailed", "States.Timeout", "States.Permissions"}
RETRIER_FIELDS = {
    "Comment",
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
}

type State = dict[str, Any]


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DEFINITION_PATH.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def create_state(definition: dict[str, Any]) -> State:
    state: State = definition["States"][CREATE_STATE]
    return state


def targets_of(state: State) -> Iterator[str]:
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    yield from (rule["Next"] for rule in state.get("Choices", []))
    yield from (catcher["Next"] for catcher in state.get("Catch", []))


def names_in(rules: list[dict[str, Any]]) -> set[str]:
    return {name for rule in rules for name in rule["ErrorEquals"]}


def catcher_for(state: State, error_name: str) -> dict[str, Any]:
    catchers: list[dict[str, Any]] = [catcher for catcher in state["Catch"] if error_name in catcher["ErrorEquals"]]
    (catcher,) = catchers
    return catcher


def test_cfn_lint_finds_nothing_wrong_with_the_definition(definition: dict[str, Any]) -> None:
    # Given the definition inside the resource type cfn-lint checks definitions of
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "OnboardingStateMachine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/onboarding",
                    "Definition": definition,
                    "DefinitionSubstitutions": {
                        "WorkflowFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:workflow"
                    },
                },
            }
        },
    }
    # When cfn-lint validates it
    findings = [str(match) for match in lint(json.dumps(template))]
    # Then it reports nothing
    assert findings == []


def test_every_transition_leads_to_a_state_and_every_state_can_be_reached(definition: dict[str, Any]) -> None:
    # Given the states and the transitions between them
    states: dict[str, State] = definition["States"]
    # When they are followed from the start
    reached, frontier = set(), [definition["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in reached:
            reached.add(name)
            frontier.extend(targets_of(states[name]))
    # Then every state is reached and no transition names a missing state
    assert reached == set(states)


def test_every_error_name_matched_is_one_the_function_can_raise_or_a_service_error(create_state: State) -> None:
    # Given the names the create task retries and catches
    matched = names_in(create_state["Retry"]) | names_in(create_state["Catch"])
    # When the names nobody can raise are picked out
    unknown = matched - workflow.ERROR_NAMES - LAMBDA_SERVICE_ERRORS - STATES_ERRORS
    # Then there are none
    assert unknown == set()


def test_every_transient_error_the_function_can_raise_is_retried(create_state: State) -> None:
    # Given the names the create task retries
    retried = names_in(create_state["Retry"])
    # Then every transient one the function raises is among them
    assert retried >= workflow.TRANSIENT_ERROR_NAMES


def test_no_error_that_repeating_cannot_cure_is_retried(create_state: State) -> None:
    # Given the function's error names the create task retries
    retried = names_in(create_state["Retry"]) & workflow.ERROR_NAMES
    # Then they are the transient ones only: a bad request stays bad
    assert retried == workflow.TRANSIENT_ERROR_NAMES


def test_lambda_service_errors_are_retried(create_state: State) -> None:
    # Given / When the names the create task retries are read
    retried = names_in(create_state["Retry"])
    # Then Lambda's own throttling and service failures are among them
    assert retried >= LAMBDA_SERVICE_ERRORS


def test_every_retry_backs_off_exponentially_with_full_jitter_a_bounded_number_of_times(create_state: State) -> None:
    # Given / When the create task's retriers are read
    retriers = create_state["Retry"]
    # Then each waits, grows its wait, spreads retries, and gives up
    for retrier in retriers:
        assert set(retrier) <= RETRIER_FIELDS
        assert retrier["IntervalSeconds"] >= 1
        assert retrier["BackoffRate"] > 1
        assert 1 <= retrier["MaxAttempts"] <= 10
        assert retrier["MaxDelaySeconds"] >= retrier["IntervalSeconds"]
        assert retrier["JitterStrategy"] == "FULL"


@pytest.mark.parametrize(
    ("error_name", "fail_state"),
    [("UsernameTaken", "UsernameAlreadyTaken"), ("ValidationError", "RequestRejected")],
)
def test_a_request_that_cannot_succeed_ends_in_its_own_failure_state(
    definition: dict[str, Any], create_state: State, error_name: str, fail_state: str
) -> None:
    # Given / When the catcher of an error no retry can cure is followed
    target = catcher_for(create_state, error_name)["Next"]
    # Then it ends in a clearly named Fail state that reports that error and its cause
    assert target == fail_state
    assert definition["States"][target]["Type"] == "Fail"
    assert definition["States"][target]["Error"] == error_name
    assert definition["States"][target]["CausePath"] == "$.error.Cause"


def test_anything_else_ends_in_a_generic_failure_that_keeps_the_error_name(
    definition: dict[str, Any], create_state: State
) -> None:
    # Given / When the last catcher is read
    last = create_state["Catch"][-1]
    # Then it catches everything and ends in a Fail state passing the original error on
    assert last["ErrorEquals"] == ["States.ALL"]
    failure = definition["States"][last["Next"]]
    assert (last["Next"], failure["Type"]) == ("ProvisioningFailed", "Fail")
    assert (failure["ErrorPath"], failure["CausePath"]) == ("$.error.Error", "$.error.Cause")


def test_the_task_sends_a_create_the_function_reads(create_state: State) -> None:
    # Given the payload the create task builds, with the execution's values in place
    payload = create_state["Parameters"]["Payload"]
    sent = {
        key.removesuffix(".$"): {"username": "ada.lovelace"} if value == "$.sip_endpoint" else value
        for key, value in payload.items()
    }
    # When the function reads it
    invocation = workflow.invocation_from_event(sent)
    # Then it is a create of the input's request: no key is refused as unknown
    assert isinstance(invocation, workflow.CreateEndpoint)
    assert payload["action"] == "create"
    assert payload["request.$"] == "$.sip_endpoint"
    assert set(sent) == set(workflow.CreateEndpoint.model_fields)


def test_the_idempotency_key_is_the_execution_so_a_retry_or_redrive_never_creates_twice(create_state: State) -> None:
    # Given / When the key the create task sends is read
    key_path = create_state["Parameters"]["Payload"]["idempotency_key.$"]
    # Then it is the execution's ARN: the same across retries and redrives, unique across state machines
    assert key_path == "$$.Execution.Id"


def test_the_task_invokes_the_function_the_template_substitutes(create_state: State) -> None:
    # Given / When the create task's target is read
    parameters = create_state["Parameters"]
    # Then it is the synchronous Lambda integration on the substituted function ARN
    assert create_state["Resource"] == "arn:aws:states:::lambda:invoke"
    assert parameters["FunctionName"] == "${WorkflowFunctionArn}"


def test_the_password_is_handed_over_only_as_the_arn_of_its_secret(definition: dict[str, Any]) -> None:
    # Given the states after a successful create
    states: dict[str, State] = definition["States"]
    choice = states[states[CREATE_STATE]["Next"]]
    # When the choice that leads to the hand-over is followed
    [rule] = choice["Choices"]
    hand_over = states[rule["Next"]]
    # Then the hand-over runs when the answer names a secret, and gets its ARN, never a password
    assert {condition["Variable"] for condition in rule["And"]} == {SECRET_ARN_PATH}
    assert hand_over["Parameters"]["password_secret_arn.$"] == SECRET_ARN_PATH
    assert "$.sip_endpoint_created.body.password" not in json.dumps(hand_over).replace(SECRET_ARN_PATH, "")
    assert states[choice["Default"]]["Result"] == {"password_secret_arn": None}


def test_no_state_reads_a_password_from_the_answer(definition: dict[str, Any]) -> None:
    # Given every path any state reads
    text = json.dumps(definition["States"])
    # When the secret's ARN is taken away
    # Then no path names the answer's password
    assert "body.password" not in text.replace(SECRET_ARN_PATH, "")


def test_the_execution_output_keeps_where_to_register_and_where_the_password_is(definition: dict[str, Any]) -> None:
    # Given the state both branches of the hand-over lead to
    states: dict[str, State] = definition["States"]
    choice = states[states[CREATE_STATE]["Next"]]
    [rule] = choice["Choices"]
    (record_name,) = {states[rule["Next"]]["Next"], states[choice["Default"]]["Next"]}
    record = states[record_name]
    # When its output template is read
    parameters = record["Parameters"]
    # Then it keeps the sip_uri and the secret's ARN, and no password
    assert parameters["sip_uri.$"] == "$.sip_endpoint_created.body.sip_uri"
    assert parameters["password_secret_arn.$"] == "$.password_handed_over.password_secret_arn"
    assert all("password" not in key or key == "password_secret_arn.$" for key in parameters)
    assert states[record["Next"]]["Type"] == "Succeed"
