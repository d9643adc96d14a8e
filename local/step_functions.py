"""State machines executed for real by moto's ASL interpreter, their Lambda tasks run by our handlers.

moto 5.2.5 interprets Amazon States Language once `execute_state_machine` is on (`EXECUTION_CONFIG`,
given to `mock_aws(config=...)`, or posted to a running server by `enable_execution`). A Lambda
task then calls Lambda's Invoke API, which moto answers through its Docker-less backend,
`LambdaSimpleBackend.invoke`, by echoing the payload. `LambdaBridge` replaces that one method
while installed: a function registered with the bridge runs its Python handler in this process,
with a Lambda-like context, and answers as the Lambda service does (see `LambdaBridge`). Both
ways moto runs in a process reach that method: `mock_aws` routes the interpreter's SDK calls to
it directly, and a `ThreadedMotoServer` gets them over loopback HTTP (on `localhost:$MOTO_PORT`,
which `enable_execution` sets) and answers on a thread of this process.

`create_state_machines` creates every `AWS::Serverless::StateMachine` of template.yaml from its
definition file, with its `DefinitionSubstitutions` pointing at the local functions.
`execution_history_text` and `wait_for_execution` are for tests and for looking at a run.
"""

import contextlib
import http.client
import io
import json
import logging
import os
import re
import threading
import time
import traceback
import unittest.mock
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from aws_lambda_powertools.utilities.typing import LambdaContext
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.config import default_user_config
from moto.core.exceptions import JsonRESTError

from local.environments import TOO_MANY_REQUESTS, InvocationFailed, Throttled
from local.gateway import LambdaFunction, LocalLambdaContext
from local.stack import load_template

_logger = logging.getLogger(__name__)

# What moto needs to run state machines: its ASL interpreter, and Lambda without Docker (the
# backend the bridge takes over). Each service's setting is read on every request, so state
# machines and functions must be created after it is in force: before, they land in the
# backends that do not execute.
EXECUTION_CONFIG: Final[Mapping[str, Mapping[str, bool]]] = {
    "lambda": {"use_docker": False},
    "stepfunctions": {"execute_state_machine": True},
}
STATE_MACHINE_TYPE = "AWS::Serverless::StateMachine"
FUNCTION_TYPE = "AWS::Serverless::Function"
# Lambda's own names for failures of the runtime rather than of the handler's code.
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
MARSHAL_ERROR = "Runtime.MarshalError"
TIMED_OUT = "Sandbox.Timedout"

# A handler as Lambda calls it: any JSON value in, any JSON value out.
type Handler = Callable[[Any, LambdaContext], Any]


@dataclass(frozen=True)
class BridgedFunction:
    """A function of the template (`logical_id`), as Lambda runs it (`function`), and its code."""

    logical_id: str
    function: LambdaFunction
    handler: Handler


class LambdaBridge:
    """Runs registered functions when moto's Lambda is invoked, as the Lambda service would.

    - Which function: moto resolves `FunctionName` (name, ARN or partial ARN, qualifier) among
      the functions created in it, so an unknown one fails as in AWS (`ResourceNotFoundException`,
      which a Lambda task reports as `Lambda.ResourceNotFoundException`). Create them with
      `create_functions`. A function moto knows but the bridge does not fails with
      `Runtime.HandlerNotFound` instead of being echoed: a run never half-works silently.
    - The answer: the handler's result as JSON. An exception is a function error
      (`X-Amz-Function-Error: Unhandled`) whose payload is the Python runtime's
      `{"errorMessage", "errorType", "requestId", "stackTrace"}` with `errorType` the exception's
      class name; a Lambda task reports that `errorType` as its `Error` and the payload as its
      `Cause`, so Retry and Catch match the class name exactly as in AWS. A result that is not
      JSON is `Runtime.MarshalError`; a handler that outlives its timeout is `Sandbox.Timedout`
      (it cannot be stopped, but its result is discarded as Lambda would never have sent it).
    - `Event` invocations run on a thread of their own and are answered at once; `DryRun` only
      checks that the function exists.
    - With `invocation_lock`, one invocation at a time with whatever else holds it: Powertools'
      logger keys and metrics are per-process state, for handlers run in this process.
    - A handler backed by execution environments (local/environments.py) answers with their
      error payload as is (`InvocationFailed`), and a throttle (`Throttled`) is Lambda's 429
      `TooManyRequestsException`, which a Lambda task reports as `Lambda.TooManyRequestsException`.
    """

    def __init__(self, *, invocation_lock: AbstractContextManager[Any] | None = None) -> None:
        self._functions: dict[str, BridgedFunction] = {}
        self._invocation_lock = invocation_lock or contextlib.nullcontext()
        self._state_lock = threading.Lock()
        self._invocations: dict[str, int] = {}

    def register(self, logical_id: str, function: LambdaFunction, handler: Handler) -> None:
        if function.name in self._functions:
            raise ValueError(f"function {function.name!r} is registered already")
        self._functions[function.name] = BridgedFunction(logical_id, function, handler)

    @property
    def functions(self) -> tuple[BridgedFunction, ...]:
        return tuple(self._functions.values())

    def invocations(self, function_name: str | None = None) -> int:
        """Invocations the bridge ran (of `function_name`, or of any function), whatever their outcome."""
        with self._state_lock:
            if function_name is None:
                return sum(self._invocations.values())
            return self._invocations.get(function_name, 0)

    def create_functions(self, lambda_client: Any, role_arn: str) -> dict[str, str]:
        """Create each registered function in moto's Lambda; their ARNs by logical id.

        Execution must be enabled first (`EXECUTION_CONFIG`): moto keeps Docker-less functions
        in a backend of their own.
        """
        arns = {}
        for bridged in self._functions.values():
            created = lambda_client.create_function(
                FunctionName=bridged.function.name,
                Runtime="python3.13",
                Role=role_arn,
                Handler=_handler_name(bridged.handler),
                Code={"ZipFile": placeholder_code()},
                Timeout=max(1, int(bridged.function.timeout_seconds)),
                MemorySize=bridged.function.memory_limit_in_mb,
                Description="Run in-process by local.step_functions.LambdaBridge.",
            )
            arns[bridged.logical_id] = created["FunctionArn"]
        return arns

    @contextlib.contextmanager
    def installed(self) -> Iterator["LambdaBridge"]:
        """Route moto's Lambda invocations to this bridge until the block ends."""
        global _installed
        with _install_lock:
            if _installed is not None:
                raise RuntimeError("another LambdaBridge is installed; moto has one Lambda backend per process")
            _installed = self
        try:
            yield self
        finally:
            with _install_lock:
                _installed = None

    def _invoke(
        self, backend: LambdaSimpleBackend, function_name: str, qualifier: str | None, body: Any, headers: Any
    ) -> tuple[bytes, str | None]:
        """The invocation's payload, and its function error (None: the function succeeded)."""
        known = backend.get_function(function_name, qualifier)  # unknown: moto's ResourceNotFoundException
        bridged = self._functions.get(known.function_name)
        request_id = _new_request_id()
        if bridged is None:
            message = f"No local handler for {known.function_name}: register it with local.step_functions.LambdaBridge."
            return _error_payload(HANDLER_NOT_FOUND, message, request_id), "Unhandled"
        invocation_type = _header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b"", None
        event = _event_from(body)
        if invocation_type == "Event":
            name = f"lambda-{bridged.function.name}"
            threading.Thread(target=self._run_event, args=(bridged, event, request_id), name=name, daemon=True).start()
            return b"", None
        return self._run(bridged, event, request_id)

    def _run_event(self, bridged: BridgedFunction, event: Any, request_id: str) -> None:
        payload, function_error = self._run(bridged, event, request_id)
        if function_error is not None:  # Lambda would retry it as the function's EventInvokeConfig says
            _logger.error("Event invocation of %s failed: %s", bridged.function.name, payload.decode("utf-8"))

    def _run(self, bridged: BridgedFunction, event: Any, request_id: str) -> tuple[bytes, str | None]:
        with self._state_lock:
            self._invocations[bridged.function.name] = self._invocations.get(bridged.function.name, 0) + 1
        function = bridged.function
        with self._invocation_lock:
            context = LocalLambdaContext(function)
            context._aws_request_id = request_id
            started = time.monotonic()
            try:
                result = bridged.handler(event, context)
            except Throttled as throttled:
                raise TooManyRequests(str(throttled)) from None
            except InvocationFailed as failure:  # an execution environment's own error payload
                return json.dumps(failure.payload).encode("utf-8"), "Unhandled"
            except Exception as error:
                return _error_payload_for(error, request_id), "Unhandled"
            elapsed = time.monotonic() - started
        if elapsed > function.timeout_seconds:
            message = f"RequestId: {request_id} Error: Task timed out after {function.timeout_seconds:.2f} seconds"
            return _error_payload(TIMED_OUT, message, request_id), "Unhandled"
        try:
            return json.dumps(result).encode("utf-8"), None
        except (TypeError, ValueError) as error:
            return _error_payload(MARSHAL_ERROR, f"Unable to marshal response: {error}", request_id), "Unhandled"


class TooManyRequests(JsonRESTError):
    """Lambda's throttle: a Lambda task fails with `Lambda.TooManyRequestsException`."""

    code = 429

    def __init__(self, message: str) -> None:
        super().__init__(TOO_MANY_REQUESTS, message)


_install_lock = threading.Lock()
_installed: LambdaBridge | None = None
_moto_invoke: Final = LambdaSimpleBackend.invoke


def _bridged_invoke(
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> str | bytes | None:
    """`LambdaSimpleBackend.invoke`, answered by the installed bridge (moto's echo when none is)."""
    bridge = _installed
    if bridge is None:
        return _moto_invoke(self, function_name, qualifier, body, headers, response_headers)
    payload, function_error = bridge._invoke(self, function_name, qualifier, body, headers)
    if function_error is not None:
        response_headers["x-amz-function-error"] = function_error
    response_headers["x-amz-executed-version"] = "$LATEST"
    return payload


# Replaced once, at import: a bridge is in force only while installed, and moto's own
# behaviour is back the moment none is, with no patch to undo.
LambdaSimpleBackend.invoke = _bridged_invoke  # type: ignore[method-assign]


def _event_from(body: Any) -> Any:
    text = body.decode("utf-8") if isinstance(body, bytes) else (body or "")
    return json.loads(text) if text.strip() else {}


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _new_request_id() -> str:
    return str(uuid.uuid4())


def _error_payload(error_type: str, message: str, request_id: str, stack_trace: list[str] | None = None) -> bytes:
    """An error as the Lambda Python runtime reports it (awslambdaric's `make_error`)."""
    document = {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack_trace or [],
    }
    return json.dumps(document).encode("utf-8")


def _error_payload_for(error: Exception, request_id: str) -> bytes:
    frames = traceback.extract_tb(error.__traceback__)
    # The handler's frames only, as the runtime drops its own bootstrap's.
    while frames and frames[0].filename == __file__:
        frames.pop(0)
    stack_trace = traceback.format_list(frames)
    return _error_payload(type(error).__name__, str(error), request_id, stack_trace)


def _handler_name(handler: Handler) -> str:
    module = getattr(handler, "__module__", None) or "handler"
    return f"{module.rsplit('.', 1)[-1]}.{getattr(handler, '__name__', 'lambda_handler')}"


def placeholder_code() -> bytes:
    """moto wants a deployment package; the bridge runs the handler in this process instead."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Run in-process by local.step_functions.LambdaBridge.\n")
    return buffer.getvalue()


# -- moto configuration -------------------------------------------------------------------------


@contextlib.contextmanager
def executing_in_process() -> Iterator[None]:
    """`EXECUTION_CONFIG` in force in this process until the block ends, moto's settings then restored.

    For a `mock_aws` already started without it, and to undo `enable_execution` of an in-process
    server: moto keeps its settings in one dictionary per process, which both read.
    """
    with unittest.mock.patch.dict(
        default_user_config, {service: dict(EXECUTION_CONFIG[service]) for service in EXECUTION_CONFIG}
    ):
        yield


def enable_execution(moto_url: str, environ: MutableMapping[str, str] = os.environ) -> None:
    """Make the moto server at `moto_url` run state machines, their Lambda tasks through the bridge.

    Posts `EXECUTION_CONFIG` to its `/moto-api/config`, and sets `MOTO_PORT` in `environ` to the
    server's port: moto's interpreter, when not under `mock_aws`, sends its tasks' SDK calls to
    `localhost:$MOTO_PORT` (5000 when unset). Create functions and state machines afterwards.
    """
    parts = urlsplit(moto_url)
    if parts.scheme != "http" or parts.hostname is None or parts.port is None:
        raise ValueError(f"moto_url must be http://host:port, not {moto_url!r}")
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(
            "POST", "/moto-api/config", json.dumps(EXECUTION_CONFIG), {"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        answered = json.loads(response.read() or b"{}")
    finally:
        connection.close()
    # moto answers with its settings, Lambda's among them but not Step Functions'.
    if response.status != 201 or answered.get("lambda") != dict(EXECUTION_CONFIG["lambda"]):
        raise RuntimeError(f"moto at {moto_url} did not take the execution config (status {response.status})")
    environ["MOTO_PORT"] = str(parts.port)


def create_local_role(iam_client: Any, name: str = "sip-provisioner-local") -> str:
    """An IAM role Lambda and Step Functions may assume (moto checks a function's role exists); its ARN."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    arn: str = role["Role"]["Arn"]
    return arn


# -- state machines from the template -----------------------------------------------------------


def create_state_machines(
    sfn_client: Any,
    template_path: Path,
    definitions_dir: Path | None,
    function_arns: Mapping[str, str],
    role_arn: str,
) -> dict[str, str]:
    """Create every state machine of the template in moto; their ARNs by logical id.

    Each is named by its logical id (or its `Name`, when a plain string), defined by its
    `DefinitionUri` file (relative to `definitions_dir`, by default the template's directory) or
    inline `Definition`, with each `${Name}` of `DefinitionSubstitutions` replaced as
    CloudFormation does: `!GetAtt Fn.Arn` by `function_arns[Fn]`, `!Ref Fn` by that function's
    name, a plain string by itself. Anything else, or a `${Name}` left without a value, is a
    `ValueError` naming it: a definition that cannot work locally is refused at start.
    Execution must be enabled first (`EXECUTION_CONFIG`).
    """
    template = load_template(template_path)
    base = definitions_dir if definitions_dir is not None else template_path.parent
    arns = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != STATE_MACHINE_TYPE:
            continue
        properties = resource.get("Properties", {})
        definition = _definition_text(logical_id, properties, base)
        substitutions = {
            name: _substitution_value(logical_id, name, value, function_arns)
            for name, value in properties.get("DefinitionSubstitutions", {}).items()
        }
        definition = substitute(definition, substitutions)
        leftover = sorted(name for name in _placeholders(definition))
        if leftover:
            raise ValueError(f"{logical_id}: no DefinitionSubstitutions for {', '.join(leftover)}")
        name = properties.get("Name") if isinstance(properties.get("Name"), str) else logical_id
        created = sfn_client.create_state_machine(
            name=name, definition=definition, roleArn=role_arn, type=properties.get("Type", "STANDARD")
        )
        arns[logical_id] = created["stateMachineArn"]
    return arns


def substitute(definition: str, substitutions: Mapping[str, str]) -> str:
    """`definition` with each `${Name}` replaced by its value, as DefinitionSubstitutions are applied."""
    for name, value in substitutions.items():
        definition = definition.replace("${" + name + "}", value)
    return definition


def _placeholders(definition: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", definition))


def _definition_text(logical_id: str, properties: Mapping[str, Any], base: Path) -> str:
    if "Definition" in properties:
        return json.dumps(properties["Definition"])
    uri = properties.get("DefinitionUri")
    if not isinstance(uri, str):
        raise ValueError(f"{logical_id}: DefinitionUri must be a local file path, not {uri!r}")
    return (base / uri).read_text(encoding="utf-8")


def _substitution_value(logical_id: str, name: str, value: Any, function_arns: Mapping[str, str]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((intrinsic, argument),) = value.items()
        is_arn = intrinsic == "Fn::GetAtt" and isinstance(argument, list) and argument[1:] == ["Arn"]
        if is_arn and argument[0] in function_arns:
            return function_arns[argument[0]]
        if intrinsic == "Ref" and argument in function_arns:
            return function_arns[argument].rsplit(":", 1)[-1]  # a function's Ref is its name
    raise ValueError(f"{logical_id}: DefinitionSubstitutions {name} = {value!r} names no local function")


# -- executions ---------------------------------------------------------------------------------


def wait_for_execution(sfn_client: Any, execution_arn: str, timeout_seconds: float = 60.0) -> dict[str, Any]:
    """`DescribeExecution` once the execution has stopped; TimeoutError if it still runs after the timeout."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        described: dict[str, Any] = sfn_client.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} still runs after {timeout_seconds} s")
        time.sleep(0.05)


def execution_history(sfn_client: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every event of the execution's history, oldest first."""
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = sfn_client.get_execution_history(
            executionArn=execution_arn, includeExecutionData=True, **({"nextToken": token} if token else {})
        )
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return events


def execution_history_text(sfn_client: Any, execution_arn: str) -> str:
    """The whole history as text, one JSON event a line, execution data included: for scanning it."""
    return "\n".join(
        json.dumps(event, default=str, sort_keys=True) for event in execution_history(sfn_client, execution_arn)
    )
