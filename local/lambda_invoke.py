"""A local stand-in for the Lambda Invoke API, for functions that invoke functions asynchronously.

`POST /2015-03-31/functions/{FunctionName}/invocations` with `X-Amz-Invocation-Type: Event` is
answered 202 at once, and the function then runs on a background thread with a fresh context,
as Lambda queues the event and runs it in an execution environment of its own. Point the AWS
SDK at it with `AWS_ENDPOINT_URL_LAMBDA`. Choices, where it matters:

- Only `Event` invocations, the one kind the service makes; any other is answered 400.
- `FunctionName` may be the name or the full ARN (unqualified), as Lambda accepts them.
- A failed invocation is logged with its traceback and not retried (Lambda would retry it as
  the function's EventInvokeConfig says).
- Invocations can share a lock with the local gateway: one invocation at a time in this
  process, since Powertools' logger keys and metrics are per-process state.
"""

import functools
import json
import logging
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from local.gateway import LambdaEvent, LambdaFunction, LambdaHandler, LocalLambdaContext
from local.loopback import LoopbackServer

_logger = logging.getLogger(__name__)

INVOCATIONS_PATH_PREFIX = "/2015-03-31/functions/"
INVOCATIONS_PATH_SUFFIX = "/invocations"
MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024  # Lambda's quota for an asynchronous invocation's payload
JOIN_TIMEOUT_SECONDS = 30.0


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
    ) -> None:
        self._functions = {function.name: (function, handler) for function, handler in functions}
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
        with self._invocation_lock:
            try:
                handler(event, LocalLambdaContext(function))
            except Exception:
                _logger.exception("The asynchronous invocation of %s failed (Lambda would retry it)", function.name)


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
