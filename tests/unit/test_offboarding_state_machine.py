"""The offboarding state machine (statemachine/offboarding.asl.json) and the function it calls agree.

Step Functions matches errors by name at run time only: a misspelt name in a Retry or Catch
never matches and nothing complains. So in both directions: every name the definition matches
or fails with is one the workflow entry raises (`sip_provisioning.callers.workflow`) or Step Functions
reports, and every name the function raises that repeating can cure is retried, and each one
offboarding has a meaning for (gone, not managed, forbidden, refused) has its own way out. And
the definition passes cfn-lint's ASL rules, which `cfn-lint template.yaml` cannot apply to a
definition kept in its own file. tests/integration/test_state_machine_execution.py runs it.
"""

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from cfnlint.api import lint  # type: ignore[import-untyped]  # cfn-lint ships no type information

from sip_provisioning.callers import workflow

STATEMACHINE_DIR = Path(__file__).resolve().parents[2] / "statemachine"
DEFINITION_PATH = STATEMACHINE_DIR / "offboarding.asl.json"
ONBOARDING_PATH = STATEMACHINE_DIR / "onboarding.asl.json"
TASKS = {"DisableSipEndpoint": "disable", "DeleteSipEndpoint": "delete"}
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
STATES_ERRORS = {"States.ALL", "States.TaskFailed", "States.Timeout", "States.Permissions"}
MAX_GRACE_PERIOD_SECONDS = 30 * 24 * 60 * 60
DEFAULT_GRACE_PERIOD_SECONDS = 7 * 24 * 60 * 60
EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:OffboardingStateMachine:offboard-E4711"
SAMPLE_INPUT = {"employee": {"id": "E4711"}, "sip_endpoint": {"username": "ada.lovelace"}, "grace_period_seconds": 0}
# What the function raises that offboarding gives a meaning of its own, and where each leads.
OWN_WAY_OUT = {
    "DisableSipEndpoint": {
        "EndpointNotFound": "DeleteSipEndpoint",
        "EndpointNotManaged": "NotManagedByTheService",
        "Forbidden": "OffboardingForbidden",
        "ValidationError": "RequestRejected",
    },
    "DeleteSipEndpoint": {
        "EndpointNotFound": "RecordAlreadyGone",
        "EndpointNotManaged": "NotManagedByTheService",
        "Forbidden": "OffboardingForbidden",
        "ValidationError": "RequestRejected",
    },
}

type State = dict[str, Any]


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DEFINITION_PATH.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def states(definition: dict[str, Any]) -> dict[str, State]:
    loaded: dict[str, State] = definition["States"]
    return loaded


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


def resolved(value: Any, execution_input: dict[str, Any]) -> Any:
    """A payload value as Step Functions fills it: the forms this definition uses."""
    if value == "$$.Execution.Id":
        return EXECUTION_ARN
    formatted = re.fullmatch(r"States\.Format\('\{\}(.*)', \$\$\.Execution\.Id\)", value)
    if formatted:
        return EXECUTION_ARN + formatted.group(1)
    found: Any = execution_input
    for part in value.removeprefix("$.").split("."):
        found = found[part]
    return found


def sent_by(state: State, execution_input: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = state["Parameters"]["Payload"]
    return {
        key.removesuffix(".$"): resolved(value, execution_input) if key.endswith(".$") else value
        for key, value in payload.items()
    }


def choice_target(state: State, execution_input: dict[str, Any]) -> str:
    """Where a Choice of this definition leads for `execution_input` (the operators it uses)."""
    for rule in state["Choices"]:
        if holds(rule, execution_input):
            target: str = rule["Next"]
            return target
    default: str = state["Default"]
    return default


def holds(rule: dict[str, Any], execution_input: dict[str, Any]) -> bool:
    if "Not" in rule:
        return not holds(rule["Not"], execution_input)
    if "And" in rule:
        return all(holds(condition, execution_input) for condition in rule["And"])
    present, value = True, cast(Any, execution_input)
    for part in rule["Variable"].removeprefix("$.").split("."):
        if not isinstance(value, dict) or part not in value:
            present, value = False, None
            break
        value = value[part]
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    checks: dict[str, Callable[[Any], bool]] = {
        "IsPresent": lambda expected: present == expected,
        "IsString": lambda expected: isinstance(value, str) == expected,
        "IsNumeric": lambda expected: numeric == expected,
        "NumericGreaterThanEquals": lambda bound: numeric and bool(value >= bound),
        "NumericLessThanEquals": lambda bound: numeric and bool(value <= bound),
        "NumericEquals": lambda bound: numeric and bool(value == bound),
    }
    ((operator, operand),) = [(key, rule[key]) for key in rule if key not in {"Variable", "Next"}]
    return checks[operator](operand)


# -- the definition as a whole -------------------------------------------------------------------


def test_cfn_lint_finds_nothing_wrong_with_the_definition(definition: dict[str, Any]) -> None:
    # Given the definition inside the resource type cfn-lint checks definitions of
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "OffboardingStateMachine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/offboarding",
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


def test_every_transition_leads_to_a_state_and_every_state_can_be_reached(
    definition: dict[str, Any], states: dict[str, State]
) -> None:
    # Given / When the transitions are followed from the start
    reached, frontier = set(), [definition["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in reached:
            reached.add(name)
            frontier.extend(targets_of(states[name]))
    # Then every state is reached and no transition names a missing state
    assert reached == set(states)


def test_the_only_placeholder_is_the_workflow_functions_arn() -> None:
    # Given / When the definition's placeholders are read
    placeholders = set(re.findall(r"\$\{(\w+)\}", DEFINITION_PATH.read_text(encoding="utf-8")))
    # Then there is the one the template substitutes for onboarding too
    assert placeholders == {"WorkflowFunctionArn"}


def test_the_definition_uses_jsonpath_only(definition: dict[str, Any]) -> None:
    # Given / When the query language is read (moto interprets no JSONata)
    # Then it is the default, JSONPath, at the top and in every state
    assert definition.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert all(state.get("QueryLanguage", "JSONPath") == "JSONPath" for state in definition["States"].values())


# -- the tasks and the function: the invocations -----------------------------------------------


@pytest.mark.parametrize(("task", "action"), TASKS.items())
def test_each_task_sends_an_invocation_the_function_reads(states: dict[str, State], task: str, action: str) -> None:
    # Given the payload the task builds, filled from an input as Step Functions fills it
    sent = sent_by(states[task], SAMPLE_INPUT)
    # When the function reads it
    invocation = workflow.invocation_from_event(sent)
    # Then it is that action on the input's username
    assert isinstance(invocation, workflow.DisableEndpoint | workflow.DeleteEndpoint)
    assert (invocation.action, invocation.username) == (action, "ada.lovelace")


@pytest.mark.parametrize(("task", "action"), TASKS.items())
def test_each_task_has_a_key_of_its_own_derived_from_the_execution(
    states: dict[str, State], task: str, action: str
) -> None:
    # Given / When the key the task sends is filled
    key = sent_by(states[task], SAMPLE_INPUT)["idempotency_key"]
    # Then it is the execution's ARN and the action: the same across retries and redrives,
    # apart from the other task's, and a valid key
    assert key == f"{EXECUTION_ARN}:{action}"
    assert re.fullmatch(workflow.IDEMPOTENCY_KEY_PATTERN, key)


@pytest.mark.parametrize("task", TASKS)
def test_each_task_invokes_the_function_the_template_substitutes(states: dict[str, State], task: str) -> None:
    # Given / When the task's target is read
    state = states[task]
    # Then it is the synchronous Lambda integration on the substituted function ARN
    assert state["Resource"] == "arn:aws:states:::lambda:invoke"
    assert state["Parameters"]["FunctionName"] == "${WorkflowFunctionArn}"


def test_the_endpoint_is_disabled_first_then_waits_then_is_deleted(
    definition: dict[str, Any], states: dict[str, State]
) -> None:
    # Given a good input, as the whole-number check sees it (SplitGracePeriod found one part)
    execution_input = {**SAMPLE_INPUT, "grace_period_check": {"parts": 1}}
    # When the happy path is followed from the input checks on
    path, name = [], definition["StartAt"]
    while states[name]["Type"] != "Succeed":
        path.append(name)
        state = states[name]
        name = choice_target(state, execution_input) if state["Type"] == "Choice" else state["Next"]
    # Then the disable comes first, then the wait, then the delete
    tasks_and_waits = [step for step in path if states[step]["Type"] in {"Task", "Wait"}]
    assert tasks_and_waits == ["DisableSipEndpoint", "GracePeriod", "DeleteSipEndpoint"]
    assert states["GracePeriod"]["SecondsPath"] == "$.grace_period_seconds"


# -- the error names, from the definition to the function ---------------------------------------


def matched_names(states: dict[str, State]) -> set[str]:
    return {
        name
        for state in states.values()
        for name in names_in(state.get("Retry", [])) | names_in(state.get("Catch", []))
    }


def test_every_error_name_matched_is_one_the_function_can_raise_or_a_service_error(states: dict[str, State]) -> None:
    # Given every name a Retry or Catch matches
    # When the names nobody can raise are picked out
    unknown = matched_names(states) - workflow.ERROR_NAMES - LAMBDA_SERVICE_ERRORS - STATES_ERRORS
    # Then there are none
    assert unknown == set()


def test_every_fail_state_fails_with_a_name_the_function_uses_or_passes_the_error_on(
    states: dict[str, State],
) -> None:
    # Given the Fail states
    fail_states = {name: state for name, state in states.items() if state["Type"] == "Fail"}
    # When their error names are read
    named = {state["Error"] for state in fail_states.values() if "Error" in state}
    passed_on = [state for state in fail_states.values() if "Error" not in state]
    # Then each is one of the function's, or the caught error itself: one vocabulary for callers
    assert named <= workflow.ERROR_NAMES
    assert all(state["ErrorPath"] == "$.error.Error" for state in passed_on)


# -- the error names, from the function to the definition ---------------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_every_transient_error_the_function_can_raise_is_retried(states: dict[str, State], task: str) -> None:
    # Given / When the names the task retries are read
    retried = names_in(states[task]["Retry"])
    # Then every transient one the function raises is among them, and Lambda's own
    assert retried >= workflow.TRANSIENT_ERROR_NAMES
    assert retried >= LAMBDA_SERVICE_ERRORS


@pytest.mark.parametrize("task", TASKS)
def test_no_error_that_repeating_cannot_cure_is_retried(states: dict[str, State], task: str) -> None:
    # Given / When the function's error names the task retries are read
    retried = names_in(states[task]["Retry"]) & workflow.ERROR_NAMES
    # Then they are the transient ones only
    assert retried == workflow.TRANSIENT_ERROR_NAMES


@pytest.mark.parametrize("task", TASKS)
def test_each_task_retries_exactly_as_onboarding_does(states: dict[str, State], task: str) -> None:
    # Given onboarding's create task
    onboarding = json.loads(ONBOARDING_PATH.read_text(encoding="utf-8"))["States"]["CreateSipEndpoint"]
    # When the retriers are compared
    # Then they are the same: transient errors are retried as in onboarding
    assert states[task]["Retry"] == onboarding["Retry"]


@pytest.mark.parametrize(
    ("task", "error_name", "target"),
    [(task, error_name, target) for task, ways in OWN_WAY_OUT.items() for error_name, target in ways.items()],
)
def test_each_error_offboarding_gives_a_meaning_has_its_own_way_out(
    states: dict[str, State], task: str, error_name: str, target: str
) -> None:
    # Given / When the catcher of that error is followed
    catcher = catcher_for(states[task], error_name)
    # Then it leads where that error means to go, keeping the error for the states after it
    assert error_name in workflow.ERROR_NAMES
    assert catcher["Next"] == target
    assert catcher["ResultPath"] == "$.error"


@pytest.mark.parametrize("task", TASKS)
def test_every_other_error_the_function_raises_ends_in_a_failure_keeping_its_name(
    states: dict[str, State], task: str
) -> None:
    # Given the task's catchers, the last of which takes what no other did
    catchers = states[task]["Catch"]
    last = catchers[-1]
    # When the function's names that no earlier catcher takes are picked out
    uncaught = workflow.ERROR_NAMES - names_in(catchers[:-1])
    # Then States.ALL takes them to a generic failure that passes the function's error on
    failure = states[last["Next"]]
    assert uncaught >= workflow.TRANSIENT_ERROR_NAMES  # once their retries run out
    assert last["ErrorEquals"] == ["States.ALL"]
    assert (last["Next"], failure["Type"]) == ("OffboardingFailed", "Fail")
    assert (failure["ErrorPath"], failure["CausePath"]) == ("$.error.Error", "$.error.Cause")


def test_an_endpoint_gone_at_the_disable_skips_the_wait_and_is_deleted_from_the_inventory(
    states: dict[str, State],
) -> None:
    # Given / When EndpointNotFound of the disable is followed
    target = catcher_for(states["DisableSipEndpoint"], "EndpointNotFound")["Next"]
    # Then the delete runs at once: there is nothing to wait for, and it closes any record left
    assert target == "DeleteSipEndpoint"


def test_an_endpoint_gone_at_the_delete_is_success(states: dict[str, State]) -> None:
    # Given / When EndpointNotFound of the delete is followed to the end
    target = catcher_for(states["DeleteSipEndpoint"], "EndpointNotFound")["Next"]
    # Then it records that the endpoint was gone already and succeeds
    assert states[target]["Parameters"] == {"username.$": "$.sip_endpoint.username", "status": "already_gone"}
    assert states[states[target]["Next"]]["Type"] == "Succeed"


def test_a_deleted_endpoint_succeeds_with_the_functions_answer(states: dict[str, State]) -> None:
    # Given / When the state after the delete is read
    record = states[states["DeleteSipEndpoint"]["Next"]]
    # Then the output is the delete's answer: {"username", "status": "deleted"}
    assert record["Parameters"] == {
        "username.$": "$.sip_endpoint_deleted.body.username",
        "status.$": "$.sip_endpoint_deleted.body.status",
    }
    assert states[record["Next"]]["Type"] == "Succeed"


# -- the input checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grace_period", "target"),
    [
        (0, "SplitGracePeriod"),
        (MAX_GRACE_PERIOD_SECONDS, "SplitGracePeriod"),
        (-1, "GracePeriodOutOfRange"),
        (MAX_GRACE_PERIOD_SECONDS + 1, "GracePeriodOutOfRange"),
        ("60", "GracePeriodOutOfRange"),
        (None, "GracePeriodOutOfRange"),
    ],
    ids=["zero", "30-days", "negative", "over-30-days", "text", "null"],
)
def test_the_grace_period_must_be_0_to_30_days(states: dict[str, State], grace_period: object, target: str) -> None:
    # Given / When the input check meets a grace period
    execution_input = {**SAMPLE_INPUT, "grace_period_seconds": grace_period}
    # Then one in range goes on to the whole-number check, any other fails
    assert choice_target(states["CheckInput"], execution_input) == target


def test_no_grace_period_is_a_week(states: dict[str, State]) -> None:
    # Given an input without a grace period
    execution_input = {key: value for key, value in SAMPLE_INPUT.items() if key != "grace_period_seconds"}
    # When the input check is followed
    target = choice_target(states["CheckInput"], execution_input)
    # Then the default is set where the Wait reads it, and the disable comes next
    assert target == "DefaultGracePeriod"
    assert states[target]["Result"] == DEFAULT_GRACE_PERIOD_SECONDS
    assert states[target]["ResultPath"] == states["GracePeriod"]["SecondsPath"]
    assert states[target]["Next"] == "DisableSipEndpoint"


@pytest.mark.parametrize(
    "execution_input",
    [{}, {"sip_endpoint": {}}, {"sip_endpoint": {"username": 4711}}, {"sip_endpoint": "ada"}],
    ids=["nothing", "no-username", "number", "not-an-object"],
)
def test_an_input_naming_no_username_fails_first(states: dict[str, State], execution_input: dict[str, Any]) -> None:
    # Given / When the input check meets no username
    target = choice_target(states["CheckInput"], execution_input)
    # Then it fails as ValidationError naming the field
    assert target == "UsernameMissing"
    assert states[target]["Error"] == "ValidationError"
    assert states[target]["Cause"].startswith("sip_endpoint.username:")


def test_a_grace_period_out_of_range_fails_as_a_validation_error_naming_the_field(states: dict[str, State]) -> None:
    # Given / When the failure of a bad grace period is read
    failure = states["GracePeriodOutOfRange"]
    # Then it is the function's ValidationError, naming the field and the range
    assert (failure["Type"], failure["Error"]) == ("Fail", "ValidationError")
    assert failure["Cause"].startswith("grace_period_seconds:")
    assert str(MAX_GRACE_PERIOD_SECONDS) in failure["Cause"]


def test_a_fraction_of_a_second_is_refused_before_the_disable(states: dict[str, State]) -> None:
    # Given the whole-number check (a Wait refuses a fraction only after the disable ran)
    split, check = states["SplitGracePeriod"], states["CheckWholeSeconds"]
    # When it is read
    # Then one part (no decimal point) goes on to the disable, anything else fails
    assert split["Next"] == "CheckWholeSeconds"
    assert choice_target(check, {"grace_period_check": {"parts": 1}}) == "DisableSipEndpoint"
    assert choice_target(check, {"grace_period_check": {"parts": 2}}) == "GracePeriodOutOfRange"
