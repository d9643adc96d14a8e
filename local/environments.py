"""Lambda execution environments on this machine: separate processes running AWS's runtime
interface client (`awslambdaric`) against a local Runtime API, pooled per function.

- An environment is one process (`python -m awslambdaric <handler>`, cwd the function's code
  folder, its layers on PYTHONPATH) with the function's environment variables, its role's
  credentials and a Runtime API of its own on a loopback port. Its INIT (importing the handler
  module) happens once, when it starts; its start and INIT time are printed.
- `FunctionPool.invoke` hands an invocation to an idle environment, starts a new one only when
  every environment is busy, and raises `Throttled` once the function's reserved concurrency
  environments are all busy, as Lambda does.
- An invocation past the function's timeout is answered `Sandbox.Timedout` and its environment
  is ended; the next invocation starts a fresh one. An environment whose process exits is gone
  too (`Runtime.ExitError`).
- The Runtime API serves `GET /2018-06-01/runtime/invocation/next`, `POST .../{id}/response`,
  `POST .../{id}/error` and `POST /2018-06-01/runtime/init/error`, with TCP_NODELAY: without it
  every call waits out the client's delayed ACK.
- What an environment prints (the function's logs and metrics) goes to this process's stdout,
  line by line, as Lambda sends it to CloudWatch Logs.
"""

import functools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.loopback import LoopbackServer
from local.stack import FunctionSettings

_logger = logging.getLogger(__name__)

RUNTIME_PREFIX = "/2018-06-01/runtime/"
# The reserved concurrency of a function without one: what an account may run unreserved.
UNRESERVED_CONCURRENCY = 1000
# Lambda's own names for failures of the environment rather than of the handler's code.
TIMED_OUT = "Sandbox.Timedout"
EXIT_ERROR = "Runtime.ExitError"
TOO_MANY_REQUESTS = "TooManyRequestsException"


class Throttled(Exception):
    """Every environment the function may run is busy: Lambda's 429 TooManyRequestsException."""

    def __init__(self, function_name: str, reserved_concurrency: int) -> None:
        super().__init__(f"Rate Exceeded: {function_name} runs {reserved_concurrency} invocations already")
        self.function_name = function_name


class InvocationFailed(Exception):
    """The function failed (its error, INIT's, a timeout or a crash): Lambda's error payload."""

    def __init__(self, payload: Mapping[str, Any]) -> None:
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = dict(payload)

    @property
    def error_type(self) -> str:
        return str(self.payload.get("errorType", "Unhandled"))


@dataclass
class _Invocation:
    request_id: str
    body: bytes
    deadline_ms: int
    done: threading.Event = field(default_factory=threading.Event)
    result: bytes | None = None
    error: dict[str, Any] | None = None


def _error(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": []}


class _RuntimeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The runtime client drops its connections when it is done with them, and a killed
        # environment drops them mid-call: neither is news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _RuntimeApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY

    def __init__(self, *args: Any, environment: "Environment", **kwargs: Any) -> None:
        self._environment = environment
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        if self.path != f"{RUNTIME_PREFIX}invocation/next":
            self._answer(HTTPStatus.NOT_FOUND)
            return
        invocation = self._environment._next_invocation()
        if invocation is None:  # the environment is ending
            self._answer(HTTPStatus.GONE)
            return
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self._environment.spec.arn,
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
            "Content-Type": "application/json",
        }
        self._answer(HTTPStatus.OK, invocation.body, headers)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0") or "0")
        body = self.rfile.read(length) if length > 0 else b""
        path = self.path.removeprefix(RUNTIME_PREFIX)
        if path == "init/error":
            self._environment._init_failed(_json_or_error(body, "Runtime.InitError"))
        elif path.startswith("invocation/") and path.endswith("/response"):
            self._environment._finished(path.split("/")[1], result=body)
        elif path.startswith("invocation/") and path.endswith("/error"):
            self._environment._finished(path.split("/")[1], error=_json_or_error(body, "Unhandled"))
        else:
            self._answer(HTTPStatus.NOT_FOUND)
            return
        self._answer(HTTPStatus.ACCEPTED, b'{"status":"OK"}')

    def _answer(self, status: HTTPStatus, body: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # four calls per invocation: noise


def _json_or_error(body: bytes, error_type: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict):
        return document
    return _error(error_type, body.decode("utf-8", "replace")[:1000], "")


class _RuntimeApi(LoopbackServer):
    thread_name = "runtime-api"

    def __init__(self, environment: "Environment") -> None:
        super().__init__("127.0.0.1", 0)
        self._environment = environment

    def _make_server(self, address: tuple[str, int]) -> ThreadingHTTPServer:
        return _RuntimeApiServer(address, functools.partial(_RuntimeApiHandler, environment=self._environment))


class Environment:
    """One execution environment of a function: its process and its Runtime API."""

    def __init__(self, spec: FunctionSettings, number: int, process_environment: Mapping[str, str]) -> None:
        self.spec = spec
        self.number = number
        self._process_environment = process_environment
        self._pending: queue.Queue[_Invocation | None] = queue.Queue()
        self._current: _Invocation | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()  # INIT is over: the first /next came, or INIT failed
        self._init_error: dict[str, Any] | None = None
        self._api = _RuntimeApi(self)
        self._process: subprocess.Popen[bytes] | None = None
        self.alive = True

    def start(self) -> None:
        started = time.monotonic()
        self._api.start()
        api_address = self._api.base_url.removeprefix("http://")
        python_path = [str(self.spec.code_dir), *(str(layer) for layer in self.spec.layer_dirs)]
        if inherited := self._process_environment.get("PYTHONPATH"):
            python_path.append(inherited)
        environment = {
            **self._process_environment,
            **self.spec.environment,
            "PYTHONPATH": os.pathsep.join(python_path),
            "AWS_LAMBDA_RUNTIME_API": api_address,
            "AWS_LAMBDA_FUNCTION_NAME": self.spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{uuid.uuid4().hex}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "LAMBDA_TASK_ROOT": str(self.spec.code_dir),
            "_HANDLER": self.spec.handler,
            "PYTHONUNBUFFERED": "1",
        }
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter, the template's handler
            [sys.executable, "-m", "awslambdaric", self.spec.handler],
            cwd=self.spec.code_dir,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._relay_output, name=f"env-{self.spec.name}-{self.number}", daemon=True).start()
        if not self._ready.wait(self.spec.timeout_seconds):
            self._init_error = _error(TIMED_OUT, f"INIT took over {self.spec.timeout_seconds} seconds", "")
            self.stop()
        if self._init_error is None and self.alive:
            init_ms = (time.monotonic() - started) * 1000
            print(f"Environment {self.number} of {self.spec.name}: started, INIT {init_ms:.0f} ms", flush=True)

    def invoke(self, body: bytes, request_id: str) -> bytes:
        """The function's answer to one event; InvocationFailed when it fails."""
        deadline = time.time() + self.spec.timeout_seconds
        if self._init_error is not None:
            raise InvocationFailed({**self._init_error, "requestId": request_id})
        if not self.alive:
            raise InvocationFailed(_error(EXIT_ERROR, "Runtime exited during INIT", request_id))
        invocation = _Invocation(request_id, body, int(deadline * 1000))
        with self._lock:
            self._current = invocation
        self._pending.put(invocation)
        if not invocation.done.wait(self.spec.timeout_seconds):
            message = f"RequestId: {request_id} Error: Task timed out after {self.spec.timeout_seconds:.2f} seconds"
            _logger.error(
                "%s: invocation %s timed out; its environment %d is ended", self.spec.name, request_id, self.number
            )
            self.stop()
            raise InvocationFailed(_error(TIMED_OUT, message, request_id))
        if invocation.error is not None:
            raise InvocationFailed(invocation.error)
        assert invocation.result is not None
        return invocation.result

    def stop(self) -> None:
        self.alive = False
        self._ready.set()
        self._pending.put(None)
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._api.stop()

    # -- the Runtime API's side --

    def _next_invocation(self) -> _Invocation | None:
        self._ready.set()
        invocation = self._pending.get()
        return invocation if self.alive else None

    def _init_failed(self, error: dict[str, Any]) -> None:
        _logger.error("%s: INIT of environment %d failed: %s", self.spec.name, self.number, error.get("errorType"))
        self._init_error = error
        self.alive = False
        self._ready.set()

    def _finished(self, request_id: str, *, result: bytes | None = None, error: dict[str, Any] | None = None) -> None:
        with self._lock:
            invocation = self._current
            if invocation is None or invocation.request_id != request_id:
                return
            self._current = None
        invocation.result, invocation.error = result, error
        invocation.done.set()

    def _relay_output(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        for line in self._process.stdout:
            sys.stdout.write(line.decode("utf-8", "replace"))
            sys.stdout.flush()
        # The process is gone: whatever it was running failed, and the environment with it.
        self.alive = False
        self._ready.set()
        with self._lock:
            invocation, self._current = self._current, None
        if invocation is not None and not invocation.done.is_set():
            message = f"RequestId: {invocation.request_id} Error: Runtime exited without providing a reason"
            invocation.error = _error(EXIT_ERROR, message, invocation.request_id)
            invocation.done.set()


class FunctionPool:
    """A function's execution environments: reused while warm, one more only when all are busy."""

    def __init__(self, spec: FunctionSettings, process_environment: Mapping[str, str]) -> None:
        """`process_environment` is read each time an environment starts (it may be completed later)."""
        self.spec = spec
        self._process_environment = process_environment
        self._lock = threading.Lock()
        self._environments: list[Environment] = []
        self._idle: list[Environment] = []
        self._started = 0
        self.limit = spec.reserved_concurrency if spec.reserved_concurrency is not None else UNRESERVED_CONCURRENCY
        self.throttles = 0

    def invoke(self, event: Any, request_id: str | None = None) -> Any:
        """The function's result for `event` (JSON in, JSON out); Throttled or InvocationFailed."""
        request_id = request_id or str(uuid.uuid4())
        body = json.dumps(event).encode("utf-8")
        environment, new = self._acquire()
        try:
            if new:
                environment.start()
            answer = environment.invoke(body, request_id)
        finally:
            self._release(environment)
        try:
            return json.loads(answer) if answer.strip() else None
        except ValueError:
            raise InvocationFailed(_error("Runtime.MarshalError", "the response is not JSON", request_id)) from None

    def handler(self, event: Any, context: Any) -> Any:
        """`invoke` shaped as a Lambda handler, for the local stand-ins that call handlers."""
        return self.invoke(event, getattr(context, "aws_request_id", None))

    def _acquire(self) -> tuple[Environment, bool]:
        with self._lock:
            while self._idle:
                environment = self._idle.pop()
                if environment.alive:
                    return environment, False
                self._environments.remove(environment)
            if len(self._environments) >= self.limit:
                self.throttles += 1
                raise Throttled(self.spec.name, self.limit)
            self._started += 1
            environment = Environment(self.spec, self._started, self._process_environment)
            self._environments.append(environment)
            return environment, True

    def _release(self, environment: Environment) -> None:
        with self._lock:
            if environment.alive:
                self._idle.append(environment)
            elif environment in self._environments:
                self._environments.remove(environment)
                environment.stop()

    def stop(self) -> None:
        with self._lock:
            environments, self._environments, self._idle = list(self._environments), [], []
        for environment in environments:
            environment.stop()
