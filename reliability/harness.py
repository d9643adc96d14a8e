"""The deployed handler with its stand-ins, for scenarios run by pytest and by the report alike.

A `Stack` is one deployment: SSM, the idempotency and inventory tables (moto, in-process or as a
threaded server), the SignalWire emulator on loopback, and the function's environment. A `Container` is
one Lambda execution environment: its own fresh copy of the `http_api` module, so its own
resolver and its own cached `service()`, answering one invocation at a time. Several
containers on one stack are what Lambda does under concurrent requests.
"""

import functools
import importlib.util
import itertools
import json
import logging
import os
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import requests
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend
from moto.server import ThreadedMotoServer

from local.gateway import IamCaller, LambdaFunction, LocalLambdaContext, build_event
from local.inventory_table import create_inventory_table
from local.seed import SignalWireAccount, create_idempotency_table, seed_ssm
from local.signalwire_emulator import COLLECTION_PATH, DUPLICATE_USERNAME_DETAIL, SignalWireEmulator
from reliability.aws_faults import SSM_GET_PARAMETERS, FailingCalls, in_every_new_session

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
HTTP_API_SOURCE = REPOSITORY_ROOT / "functions" / "http_api" / "http_api.py"
# Where the Lambda runtime finds the code: the layer's package, the function's module, and the
# repository root for `local` and `reliability` themselves.
CODE_PATHS = (REPOSITORY_ROOT / "layers" / "shared", REPOSITORY_ROOT / "functions" / "http_api", REPOSITORY_ROOT)
PROFILES_DIR = REPOSITORY_ROOT / "config" / "profiles"
PARAMETERS_PATH = "/sip-provisioning/reliability"
IDEMPOTENCY_TABLE = "sip-provisioning-reliability-idempotency"
INVENTORY_TABLE = "sip-provisioning-reliability-inventory"
SIP_DOMAIN = "reliability.sip.signalwire.com"
PROJECT_ID = "reliability-project"
API_TOKEN = "PTreliability-api-token-5f4e3d2c1b"  # noqa: S105 - the emulator's loopback credential
CALLER = IamCaller(user_arn="arn:aws:iam::123456789012:role/onboarding-workflow")
# Another caller of the same deployment: the helpdesk, creating endpoints by hand.
OTHER_CALLER = IamCaller(user_arn="arn:aws:iam::123456789012:role/helpdesk")
JSON = "application/json"
DEFAULT_FUNCTION = LambdaFunction()  # the template's settings: 25 s timeout

_container_numbers = itertools.count(1)


@dataclass(frozen=True)
class Reply:
    """What API Gateway hands the caller for one invocation."""

    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def problem_type(self) -> str | None:
        return self.body.get("type") if self.status >= 400 and isinstance(self.body, dict) else None


def reply_from(result: Mapping[str, Any]) -> Reply:
    """A format 2.0 Lambda response, its JSON body parsed."""
    headers: Mapping[str, str] = result.get("headers") or {}
    text = result.get("body") or ""
    content_type = headers.get("Content-Type", "")
    return Reply(result["statusCode"], headers, json.loads(text) if "json" in content_type else text)


class Container:
    """One Lambda execution environment: a fresh copy of the function module, one invocation at a time."""

    def __init__(self) -> None:
        name = f"http_api_container_{next(_container_numbers)}"
        spec = importlib.util.spec_from_file_location(name, HTTP_API_SOURCE)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {HTTP_API_SOURCE}")
        self.module: ModuleType = importlib.util.module_from_spec(spec)
        # Registered as an import registers it: pydantic finds a module's generic models through it.
        sys.modules[name] = self.module
        spec.loader.exec_module(self.module)
        self._invocation = threading.Lock()

    def invoke(
        self, event: Mapping[str, Any], function: LambdaFunction = DEFAULT_FUNCTION
    ) -> tuple[Reply, LocalLambdaContext]:
        with self._invocation:
            context = LocalLambdaContext(function)
            result = self.module.lambda_handler(dict(event), context)
        return reply_from(result), context

    def warm_up(self) -> None:
        """One GET /profiles, so the cold start (SDK clients, first SSM read) is behind it."""
        reply, _ = self.invoke(build_event("GET", "/profiles", "", [], b"", caller=CALLER))
        assert reply.status == 200, reply


class ObservedEmulator(SignalWireEmulator):
    """The emulator, also counting per username the creates SignalWire acted on.

    A create it acted on either stored the endpoint or was refused because the username was
    taken; a second one for the same username is a duplicate create, even when SignalWire's
    uniqueness rule kept it from becoming a second endpoint.
    """

    def __init__(self) -> None:
        super().__init__(project_id=PROJECT_ID, api_token=API_TOKEN)
        self._acted_on: Counter[str] = Counter()
        self._acted_on_lock = threading.Lock()

    def creates_acted_on(self, username: str) -> int:
        with self._acted_on_lock:
            return self._acted_on[username]

    def _create(self, body: bytes) -> Any:
        response = super()._create(body)
        if response.status == 201 or DUPLICATE_USERNAME_DETAIL.encode() in response.body:
            with self._acted_on_lock:
                self._acted_on[str(json.loads(body)["username"])] += 1
        return response


@contextmanager
def atomic_dynamodb_writes() -> Iterator[None]:
    """Make moto apply each DynamoDB item operation atomically, as DynamoDB does.

    moto reads the current item, evaluates the condition and writes in separate steps, so two
    threads can both pass a condition that DynamoDB would let only one of them pass: a false
    duplicate under concurrency that says nothing about the service.
    """
    lock = threading.RLock()
    names = ("get_item", "put_item", "update_item", "delete_item")
    originals = {name: getattr(DynamoDBBackend, name) for name in names}

    def serialised(operation: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(operation)
        def run(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return operation(*args, **kwargs)

        return run

    for name, operation in originals.items():
        setattr(DynamoDBBackend, name, serialised(operation))
    try:
        yield
    finally:
        for name, operation in originals.items():
            setattr(DynamoDBBackend, name, operation)


@contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables, and restore them afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def function_environment(read_timeout: float, endpoint_url: str | None) -> dict[str, str | None]:
    """The function's environment on a stack: AWS on moto, its parameters and tables, a short read timeout."""
    return {
        **{name: None for name in os.environ if name.startswith("AWS_ENDPOINT_URL")},
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PARAMETERS_PATH": PARAMETERS_PATH,
        "PARAMETERS_MAX_AGE": "0",  # scenarios change parameters mid-way and expect them seen
        "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
        "INVENTORY_TABLE": INVENTORY_TABLE,
        "SECRETS_PREFIX": "sip-provisioning/reliability/endpoints/",
        "SIGNALWIRE_READ_TIMEOUT": str(read_timeout),
    }


def create_event(
    body: object,
    *,
    key: str | None = None,
    raw_body: bytes | None = None,
    content_type: str = JSON,
    query: str = "",
    caller: IamCaller = CALLER,
    method: str = "POST",
    path: str = "/endpoints",
) -> dict[str, Any]:
    """API Gateway's event for POST /endpoints (or `method` `path`, body None for none) from
    `caller` (the onboarding workflow's IAM role)."""
    headers = [("Content-Type", content_type)] + ([("Idempotency-Key", key)] if key is not None else [])
    data = raw_body if raw_body is not None else b"" if body is None else json.dumps(body).encode()
    return build_event(method, path, query, headers, data, caller=caller)


@dataclass
class Stack:
    """One deployment of the service and the state it shares between its containers.

    `ssm_reads` is the fault switch for SSM, as `emulator.inject_fault` is SignalWire's: every
    GetParameters call of the function (its settings) passes it. `keep` holds a resource until the stack ends.
    """

    emulator: ObservedEmulator
    ssm: Any
    ssm_reads: FailingCalls
    resources: ExitStack
    seeded_usernames: set[str] = field(default_factory=set)
    seeded_ids: set[str] = field(default_factory=set)
    deleted_directly_ids: set[str] = field(default_factory=set)

    def put_parameter(self, name: str, value: str, kind: str = "String") -> None:
        self.ssm.put_parameter(Name=f"{PARAMETERS_PATH}/{name}", Value=value, Type=kind, Overwrite=True)

    def seed_endpoint(self, settings: Mapping[str, Any]) -> None:
        """Create an endpoint in SignalWire directly, as someone else would have."""
        response = requests.post(
            f"{self.emulator.base_url}{COLLECTION_PATH}",
            json=dict(settings),
            auth=(self.emulator.project_id, self.emulator.api_token),
            timeout=5,
        )
        response.raise_for_status()
        self.seeded_usernames.add(str(settings["username"]))
        self.seeded_ids.add(str(response.json()["id"]))

    def delete_endpoint_directly(self, username: str) -> None:
        """Delete the username's endpoint in SignalWire directly, behind the service's back."""
        for endpoint in self.emulator.endpoints:
            if endpoint["username"] == username:
                requests.delete(
                    f"{self.emulator.base_url}{COLLECTION_PATH}/{endpoint['id']}",
                    auth=(self.emulator.project_id, self.emulator.api_token),
                    timeout=5,
                ).raise_for_status()
                self.deleted_directly_ids.add(str(endpoint["id"]))

    def managed_ids(self) -> set[str]:
        """The SignalWire ids the inventory says the service manages (live current records)."""
        items = boto3.client("dynamodb").scan(TableName=INVENTORY_TABLE, ConsistentRead=True)["Items"]
        return {
            item["endpoint_id"]["S"]
            for item in items
            if item["record"]["S"] == "current"
            and item["status"]["S"] in ("active", "disabled")
            and "endpoint_id" in item
        }

    def put_inventory_item(self, item: Mapping[str, Any]) -> None:
        """Write an inventory item as it is given (DynamoDB's typed form), as an earlier version left it."""
        boto3.client("dynamodb").put_item(TableName=INVENTORY_TABLE, Item=dict(item))

    def keep[T](self, resource: AbstractContextManager[T]) -> T:
        return self.resources.enter_context(resource)


@contextmanager
def running_stack(*, read_timeout: float = 0.5, moto_server: bool = False) -> Iterator[Stack]:
    """A fresh deployment: moto (in-process, or a threaded server other processes can reach), the
    emulator, SSM seeded with the repository's profiles, and the idempotency and inventory tables."""
    ssm_reads = FailingCalls("ThrottlingException", 400)
    with (
        ObservedEmulator() as emulator,
        _aws(moto_server) as endpoint_url,
        environment(function_environment(read_timeout, endpoint_url)),
        atomic_dynamodb_writes(),
        in_every_new_session(SSM_GET_PARAMETERS, ssm_reads),
        ExitStack() as resources,
    ):
        ssm = boto3.client("ssm", endpoint_url=endpoint_url)
        account = SignalWireAccount(emulator.base_url, emulator.project_id, emulator.api_token, SIP_DOMAIN)
        seed_ssm(ssm, PARAMETERS_PATH, PROFILES_DIR, account)
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url)
        create_idempotency_table(dynamodb, IDEMPOTENCY_TABLE)
        create_inventory_table(dynamodb, INVENTORY_TABLE)
        yield Stack(emulator, ssm, ssm_reads, resources)


@contextmanager
def _aws(moto_server: bool) -> Iterator[str | None]:
    """moto for every AWS call; with `moto_server`, its URL, for processes that cannot share mock_aws."""
    if not moto_server:
        with environment({"AWS_ENDPOINT_URL": None}), mock_aws():
            yield None
        return
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    werkzeug_logger = logging.getLogger("werkzeug")
    werkzeug_level = werkzeug_logger.level
    werkzeug_logger.setLevel(logging.WARNING)  # one access line per AWS call is noise here
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint_url = f"http://{host}:{port}"
        yield endpoint_url
        # The server keeps moto's process-wide state; the next stack must start empty.
        requests.post(f"{endpoint_url}/moto-api/reset", timeout=5)
    finally:
        server.stop()
        werkzeug_logger.setLevel(werkzeug_level)


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port bound by no listener: every connection to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it holds; an AssertionError naming `what` when it never does."""
    give_up_at = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > give_up_at:
            raise AssertionError(f"gave up waiting after {timeout} s for {what}")
        time.sleep(0.02)
