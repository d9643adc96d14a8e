"""AWS answering with errors, made where botocore meets them: a `before-send` handler returns the
service's error response before the call reaches moto, and botocore parses, classifies and
retries it as it would the real one."""

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.handlers
from botocore.awsrequest import AWSResponse

SSM_GET_PARAMETERS = "before-send.ssm.GetParameters"


class _Body:
    """The raw stream botocore reads an HTTP response body from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def aws_error(code: str, status: int) -> AWSResponse:
    """An AWS JSON-protocol error answer (SSM's, DynamoDB's) with error code `code`."""
    body = json.dumps({"__type": code, "message": "injected by a test"}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "injected"}
    return AWSResponse("https://aws.invalid/", status, headers, _Body(body))


class FailingCalls:
    """A `before-send` handler: counts the calls, and answers the ones it is told to with an error."""

    def __init__(self, code: str, status: int) -> None:
        self._code = code
        self._status = status
        self.calls = 0
        self._failures_left = 0.0

    def fail_next(self, calls: int) -> None:
        self._failures_left = calls

    def fail_always(self) -> None:
        self._failures_left = math.inf

    def recover(self) -> None:
        self._failures_left = 0

    def __call__(self, **_: Any) -> AWSResponse | None:
        self.calls += 1
        if self._failures_left == 0:
            return None  # on to moto
        self._failures_left -= 1
        return aws_error(self._code, self._status)


@contextmanager
def in_every_new_session(event_name: str, handler: FailingCalls) -> Iterator[None]:
    """Register `handler` in every botocore session created meanwhile.

    The service builds its own boto3 sessions, so the handler goes where each new session takes
    its built-in handlers from, as moto's own does. Build the service inside this block.
    """
    original = botocore.handlers.BUILTIN_HANDLERS
    botocore.handlers.BUILTIN_HANDLERS = [*original, (event_name, handler)]
    try:
        yield
    finally:
        botocore.handlers.BUILTIN_HANDLERS = original
