"""Asynchronous invocations as Lambda treats them (local/lambda_invoke.py with a function's
EventInvokeConfig): retried after a failure, waited out while throttled, and sent to the
on-failure destination as Lambda's invocation record once the retries are spent."""

import json
import threading
from typing import Any

import boto3
import pytest

from local.environments import Throttled
from local.gateway import LambdaFunction
from local.lambda_invoke import LocalLambdaService
from local.stack import AsyncSettings

FUNCTION = LambdaFunction(name="async-toy")
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:failures"
WAIT_SECONDS = 30.0  # a bound, never an expectation of speed


class Toy:
    """A handler that fails (or is throttled) its first `failures` invocations, then succeeds."""

    def __init__(self, failures: int, failure: type[Exception]) -> None:
        self.failures = failures
        self.failure = failure
        self.invocations = 0
        self.succeeded = threading.Event()

    def __call__(self, event: Any, context: Any) -> dict[str, str]:
        self.invocations += 1
        if self.invocations <= self.failures:
            raise self.failure(FUNCTION.name, 1) if self.failure is Throttled else self.failure("it broke")
        self.succeeded.set()
        return {"ok": "yes"}


class Destination:
    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []
        self.arrived = threading.Event()

    def __call__(self, arn: str, record: dict[str, Any]) -> None:
        self.records.append((arn, record))
        self.arrived.set()


@pytest.fixture
def destination() -> Destination:
    return Destination()


def serve(toy: Toy, destination: Destination, retries: int = 2) -> LocalLambdaService:
    settings = AsyncSettings(
        maximum_retry_attempts=retries, maximum_event_age_seconds=600, on_failure_queue_arn=QUEUE_ARN
    )
    return LocalLambdaService([(FUNCTION, toy)], async_settings={FUNCTION.name: settings}, on_failure=destination)


def invoke_event(service: LocalLambdaService, event: dict[str, Any]) -> int:
    client = boto3.client(
        "lambda",
        endpoint_url=service.base_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    status: int = client.invoke(FunctionName=FUNCTION.name, InvocationType="Event", Payload=json.dumps(event))[
        "StatusCode"
    ]
    return status


def test_a_failing_invocation_is_retried_then_its_record_goes_to_the_on_failure_queue(
    destination: Destination,
) -> None:
    # Given a function that always fails, with 2 retries and an on-failure queue
    toy = Toy(failures=99, failure=LookupError)
    with serve(toy, destination) as service:
        # When it is invoked asynchronously
        assert invoke_event(service, {"job": 1}) == 202
        assert destination.arrived.wait(WAIT_SECONDS)
    # Then it ran 3 times, and Lambda's invocation record went to the queue with the event and the error
    assert toy.invocations == 3
    [(arn, record)] = destination.records
    assert arn == QUEUE_ARN
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"job": 1}
    assert record["responsePayload"]["errorType"] == "LookupError"


def test_a_failure_followed_by_a_success_sends_nothing_to_the_queue(destination: Destination) -> None:
    # Given a function that fails once, then succeeds
    toy = Toy(failures=1, failure=LookupError)
    with serve(toy, destination) as service:
        # When it is invoked asynchronously
        invoke_event(service, {"job": 2})
        assert toy.succeeded.wait(WAIT_SECONDS)
    # Then the retry succeeded and nothing went to the on-failure queue
    assert toy.invocations == 2
    assert destination.records == []


def test_a_throttled_invocation_waits_and_runs_without_spending_a_retry(destination: Destination) -> None:
    # Given a function throttled twice, with no retries for failures
    toy = Toy(failures=2, failure=Throttled)
    with serve(toy, destination, retries=0) as service:
        # When it is invoked asynchronously
        invoke_event(service, {"job": 3})
        assert toy.succeeded.wait(WAIT_SECONDS)
    # Then it ran once the throttles passed, and nothing went to the on-failure queue
    assert toy.invocations == 3
    assert destination.records == []
