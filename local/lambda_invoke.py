"""A local stand-in for the Lambda Invoke API, for functions that invoke functions asynchronously.

`POST /2015-03-31/functions/{FunctionName}/invocations` with `X-Amz-Invocation-Type: Event` is
answered 202 at once, and the function then runs on a background thread with a fresh context,
as Lambda queues the event and runs it in an execution environment of its own. Point the AWS
SDK at it with `AWS_ENDPOINT_URL_LAMBDA`. Choices, where it matters:

- Only `Event` invocations, the one kind the service makes; any other is answered 400.
- `FunctionName` may be the name or the full ARN (unqualified), as Lambda accepts them.
- A function given `async_settings` (its EventInvokeConfig) is treated as Lambda treats it: a
  throttled invocation waits and is tried again (1 s, doubling up to 30 s) for as long as the
  event's maximum age allows; a failed one is retried up to its maximum retry attempts, after
  `RETRY_DELAYS_SECONDS` (Lambda waits about 1 and 2 minutes; a local run, seconds); one that
  still fails, or outlives its maximum age, goes to its on-failure destination as Lambda's
  invocation record (`on_failure`). Without settings, a failed invocation is logged once.
- Invocations can share a lock with the local gateway: one invocation at a time in this
  process, for handlers that run in it (Powertools' logger keys and metrics are per-process state).
"""

import functools
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from local.environments import InvocationFailed, Throttled
from local.gateway import LambdaEvent, LambdaFunction, LambdaHandler, LocalLambdaContext
from local.loopback import LoopbackServer
from local.stack import AsyncSettings

_logger = logging.getLogger(__name__)

INVOCATIONS_PATH_PREFIX = "/2015-03-31/functions/"
INVOCATIONS_PATH_SUFFIX = "/invocations"
MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024  # Lambda's quota for an asynchronous invocation's payload
JOIN_TIMEOUT_SECONDS = 30.0
RETRY_DELAYS_SECONDS = (1.0, 2.0)
FIRST_THROTTLE_WAIT_SECONDS = 1.0
LONGEST_THROTTLE_WAIT_SECONDS = 30.0

# Where a failed asynchronous invocation's record goes: (destination ARN, record).
type OnFailure = Callable[[str, dict[str, Any]], None]


class _InvokeServer(ThreadingHTTPServer):
    daemon_threads = True


class LocalLambdaService(LoopbackServer):
    """Runs `functions` (each with its handler) when the AWS SDK invokes them asynchronously."""

    thread_name = "local-lambda"

    def __init__(
        self,
        functions: Iterable[tuple[LambdaFunction, LambdaHandler]],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        invocation_lock: AbstractContextManager[Any] | None = None,
        async_settings: Mapping[str, AsyncSettings] | None = None,
        on_failure: OnFailure | None = None,
    ) -> None:
        self._functions = {function.name: (function, handler) for function, handler in functions}
        self._async_settings = dict(async_settings or {})
        self._on_failure = on_failure
        self._stopping = threading.Event()
        super().__init__(host, port)
        self._invocation_lock = invocation_lock or threading.Lock()
        self._received: list[tuple[str, LambdaEvent]] = []
        self._running: list[threading.Thread] = []
        self._state_lock = threading.Lock()

    def _make_server(self, address: tuple[str, int]) -> ThreadingHTTPServer:
        return _InvokeServer(address, functools.partial(_InvokeRequestHandler, service=self))

    def stop(self) -> None:
        """Stop taking invocations, then let those already running finish (each is bounded by its timeout)."""
        super().stop()
        self._stopping.set()  # no more retries or waits for a throttle
        self.wait_until_idle()

    @property
    def invocations(self) -> list[tuple[str, LambdaEvent]]:
        """Every invocation accepted so far: the function's name and the event it got."""
        with self._state_lock:
            return list(self._received)

    def wait_until_idle(self, timeout: float = JOIN_TIMEOUT_SECONDS) -> bool:
        """Wait for every invocation accepted so far to finish; False if one still runs after `timeout`."""
        with self._state_lock:
            running = list(self._running)
        for thread in running:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in running)

    def accept(self, function_name: str, event: LambdaEvent) -> bool:
        """Queue one asynchronous invocation; False when no such function is known."""
        if function_name not in self._functions:
            return False
        function, handler = self._functions[function_name]
        thread = threading.Thread(
            target=self._run, args=(function, handler, event), name=f"invoke-{function.name}", daemon=True
        )
        with self._state_lock:
            self._received.append((function_name, event))
            self._running = [running for running in self._running if running.is_alive()] + [thread]
        thread.start()
        return True

    def _run(self, function: LambdaFunction, handler: LambdaHandler, event: LambdaEvent) -> None:
        settings = self._async_settings.get(function.name)
        if settings is None:
            with self._invocation_lock:
                try:
                    handler(event, LocalLambdaContext(function))
                except Exception:
                    _logger.exception("The asynchronous invocation of %s failed", function.name)
            return
        self._run_as_lambda(function, handler, event, settings)

    def _run_as_lambda(
        self, function: LambdaFunction, handler: LambdaHandler, event: LambdaEvent, settings: AsyncSettings
    ) -> None:
        """One asynchronous invocation with Lambda's retries, throttle waits and on-failure destination."""
        request_id = str(uuid.uuid4())
        received = time.monotonic()
        attempts = 0
        throttle_wait = FIRST_THROTTLE_WAIT_SECONDS
        error: dict[str, Any] = {}
        while True:
            age = time.monotonic() - received
            try:
                with self._invocation_lock:
                    context = LocalLambdaContext(function)
                    context._aws_request_id = request_id
                    handler(event, context)
                return
            except Throttled:
                wait = min(throttle_wait, settings.maximum_event_age_seconds - age)
                if wait <= 0:
                    condition = "EventAgeExceeded"
                    break
                _logger.info("%s throttled; its asynchronous invocation waits %.0f s", function.name, wait)
                throttle_wait = min(throttle_wait * 2, LONGEST_THROTTLE_WAIT_SECONDS)
            except Exception as failure:
                attempts += 1
                error = failure.payload if isinstance(failure, InvocationFailed) else _payload_for(failure, request_id)
                _logger.error(
                    "The asynchronous invocation of %s failed (attempt %d): %s",
                    function.name,
                    attempts,
                    error.get("errorType"),
                )
                if attempts > settings.maximum_retry_attempts:
                    condition = "RetriesExhausted"
                    break
                wait = RETRY_DELAYS_SECONDS[min(attempts, len(RETRY_DELAYS_SECONDS)) - 1]
                if age + wait > settings.maximum_event_age_seconds:
                    condition = "EventAgeExceeded"
                    break
            if self._stopping.wait(wait):
                return
        _logger.error("The asynchronous invocation of %s is dropped: %s", function.name, condition)
        if settings.on_failure_queue_arn is not None and self._on_failure is not None:
            record = {
                "version": "1.0",
                "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "requestContext": {
                    "requestId": request_id,
                    "functionArn": f"{function.arn}:$LATEST",
                    "condition": condition,
                    "approximateInvokeCount": attempts,
                },
                "requestPayload": event,
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                "responsePayload": error,
            }
            self._on_failure(settings.on_failure_queue_arn, record)


def _payload_for(error: Exception, request_id: str) -> dict[str, Any]:
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def function_name_of(path_segment: str) -> str:
    """The function name in a `FunctionName` path segment: a name, or an unqualified function ARN."""
    name = unquote(path_segment)
    if name.startswith("arn:"):
        # arn:aws:lambda:<region>:<account>:function:<name>
        parts = name.split(":")
        return parts[6] if len(parts) == 7 and parts[5] == "function" else ""
    return name


class _InvokeRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LocalLambda"
    disable_nagle_algorithm = True

    def __init__(self, *args: Any, service: LocalLambdaService, **kwargs: Any) -> None:
        self._service = service
        super().__init__(*args, **kwargs)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length", "0") or "0")
        if length > MAX_ASYNC_PAYLOAD_BYTES:
            self.close_connection = True  # the body is not read
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "RequestTooLargeException", "The payload is too large.")
            return
        body = self.rfile.read(length) if length > 0 else b""
        if not (path.startswith(INVOCATIONS_PATH_PREFIX) and path.endswith(INVOCATIONS_PATH_SUFFIX)):
            self._error(HTTPStatus.NOT_FOUND, "UnknownOperationException", "Only Invoke is served here.")
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type != "Event":
            self._error(
                HTTPStatus.BAD_REQUEST,
                "InvalidParameterValueException",
                f"This local stand-in runs only Event invocations, not {invocation_type[:32]}.",
            )
            return
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "InvalidRequestContentException", "Could not parse request body.")
            return
        function_name = function_name_of(path[len(INVOCATIONS_PATH_PREFIX) : -len(INVOCATIONS_PATH_SUFFIX)])
        if not self._service.accept(function_name, event):
            self._error(HTTPStatus.NOT_FOUND, "ResourceNotFoundException", f"Function not found: {function_name}")
            return
        self._send(HTTPStatus.ACCEPTED, b"", [])

    def _error(self, status: HTTPStatus, error_type: str, message: str) -> None:
        body = json.dumps({"Type": "User", "message": message}).encode()
        self._send(status, body, [("x-amzn-ErrorType", error_type), ("Content-Type", "application/json")])

    def _send(self, status: HTTPStatus, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        _logger.info("%s %s %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug(format, *args)
