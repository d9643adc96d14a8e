"""The workflow entry's errors: one per problem type, named so a state machine can match it."""

import json

import pytest

from sip_provisioning.callers import workflow
from sip_provisioning.callers.problems import INTERNAL_ERROR_DETAIL
from sip_provisioning.domain import errors
from sip_provisioning.domain.errors import FieldError, ProblemType

WORKFLOW_PROBLEM_TYPES = [problem for problem in ProblemType if problem not in workflow.HTTP_ONLY_PROBLEM_TYPES]


def camel_case(slug: str) -> str:
    return "".join(word.capitalize() for word in slug.split("-"))


@pytest.mark.parametrize("problem_type", WORKFLOW_PROBLEM_TYPES, ids=str)
def test_every_problem_a_workflow_can_meet_has_a_failure_named_as_its_type_in_camel_case(
    problem_type: ProblemType,
) -> None:
    # Given a problem type an invocation can end in
    # When its failure class is looked up
    failure_type = workflow.FAILURE_FOR_PROBLEM[problem_type]
    # Then its name, which Lambda reports as the error name, is the slug in CamelCase
    assert failure_type.__name__ == camel_case(problem_type)
    assert issubclass(failure_type, workflow.WorkflowFailure)
    assert getattr(workflow, failure_type.__name__) is failure_type


def test_only_the_http_only_problem_types_have_no_failure() -> None:
    # Given every problem type of the contract
    # When those with a failure class are taken away
    without_failure = set(ProblemType) - set(workflow.FAILURE_FOR_PROBLEM)
    # Then what remains is exactly what only an HTTP request can cause
    assert without_failure == set(workflow.HTTP_ONLY_PROBLEM_TYPES)
    assert without_failure == {
        ProblemType.NOT_FOUND,
        ProblemType.PAYLOAD_TOO_LARGE,
        ProblemType.UNSUPPORTED_MEDIA_TYPE,
        ProblemType.UNAUTHORIZED,
    }


def test_the_error_names_are_the_failure_class_names() -> None:
    # Given / When the names a state machine can match
    names = workflow.ERROR_NAMES
    # Then they are the fourteen CamelCase problem types a workflow can meet
    assert names == {camel_case(problem) for problem in WORKFLOW_PROBLEM_TYPES}
    assert len(names) == 14


def test_the_transient_errors_are_the_upstream_ones_and_a_request_still_in_progress() -> None:
    # Given / When the names a state machine should retry
    transient = workflow.TRANSIENT_ERROR_NAMES
    # Then they are those the same invocation can get past later, and all are raisable names
    assert transient == {"UpstreamUnavailable", "UpstreamTimeout", "UpstreamError", "IdempotencyInProgress"}
    assert transient <= workflow.ERROR_NAMES


@pytest.mark.parametrize(
    ("domain_error", "expected"),
    [
        (errors.MalformedRequest("The invocation must be a JSON object."), workflow.MalformedRequest),
        (errors.EndpointNotFound("ada"), workflow.EndpointNotFound),
        (errors.EndpointNotManaged("ada"), workflow.EndpointNotManaged),
        (errors.EndpointAlreadyManaged("ada"), workflow.EndpointAlreadyManaged),
        (errors.Forbidden("policy.callers", "This caller may not use the profile."), workflow.Forbidden),
        (errors.RequestInvalid([FieldError(field="username", message="bad")]), workflow.ValidationError),
        (errors.UnknownProfile("nope", ["default", "office"]), workflow.ValidationError),
        (errors.UsernameTaken("ada"), workflow.UsernameTaken),
        (errors.IdempotencyInProgress("still running"), workflow.IdempotencyInProgress),
        (errors.IdempotencyKeyReused("other body"), workflow.IdempotencyKeyReused),
        (errors.UpstreamError("SignalWire failed."), workflow.UpstreamError),
        (errors.UpstreamUnavailable("SignalWire asked us to slow down.", retry_after=30), workflow.UpstreamUnavailable),
        (errors.UpstreamTimeout("SignalWire did not answer."), workflow.UpstreamTimeout),
        (
            errors.ConfigurationError("/sip-provisioning/dev/profiles/default", "is missing"),
            workflow.ConfigurationError,
        ),
        (RuntimeError("boom"), workflow.InternalError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.__name__,
)
def test_each_domain_error_becomes_the_failure_of_its_problem_type(
    domain_error: Exception, expected: type[workflow.WorkflowFailure]
) -> None:
    # Given / When a domain error is turned into a workflow failure
    failure = workflow.failure_for(domain_error)
    # Then it is the failure of the same problem type
    assert type(failure) is expected


def test_a_failure_message_is_the_problems_detail() -> None:
    # Given a configuration error naming its parameter
    error = errors.ConfigurationError("/sip-provisioning/dev/signalwire/space_url", "is missing")
    # When it becomes a workflow failure
    failure = workflow.failure_for(error)
    # Then the message is the detail the HTTP API would answer
    assert str(failure) == "Parameter /sip-provisioning/dev/signalwire/space_url is missing."


def test_a_validation_failure_carries_every_field_error_as_compact_json() -> None:
    # Given a request breaking two rules
    error = errors.RequestInvalid(
        [FieldError(field="username", message="must not contain whitespace"), FieldError(field="send_as", message="x")]
    )
    # When it becomes a workflow failure
    message = str(workflow.failure_for(error))
    # Then the message is the detail followed by the field errors as JSON without spaces
    detail, field_errors = message.split(" [", 1)
    assert detail == error.detail
    assert json.loads(f"[{field_errors}") == [
        {"field": "username", "message": "must not contain whitespace"},
        {"field": "send_as", "message": "x"},
    ]
    assert '","' in field_errors


def test_an_unavailable_upstream_says_when_to_retry() -> None:
    # Given SignalWire asked to come back in 30 seconds
    error = errors.UpstreamUnavailable("SignalWire asked us to slow down.", retry_after=30)
    # When it becomes a workflow failure
    message = str(workflow.failure_for(error))
    # Then the message keeps what the HTTP API's Retry-After header would say
    assert message == "SignalWire asked us to slow down. Retry after 30 s."


def test_an_unexpected_error_reveals_nothing_of_itself() -> None:
    # Given an error nobody raised on purpose, whose message holds a secret
    error = KeyError("PTsecret-api-token")
    # When it becomes a workflow failure
    failure = workflow.failure_for(error)
    # Then it is an InternalError with the generic detail only
    assert type(failure) is workflow.InternalError
    assert str(failure) == INTERNAL_ERROR_DETAIL
