"""The deployed handler in-process: moto SSM seeded like `make run`, SignalWire as the emulator."""

import importlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.gateway import IamCaller, LambdaFunction, LocalLambdaContext, build_event
from local.inventory_table import create_inventory_table
from local.seed import SignalWireAccount, create_idempotency_table, seed_ssm
from local.signalwire_emulator import SignalWireEmulator
from tests.scim_helpers import SCIM_TOKEN, ScimClient

PROFILES_DIR = Path(__file__).resolve().parents[2] / "config" / "profiles"
PARAMETERS_PATH = "/sip-provisioning/test"
SIP_DOMAIN = "test.sip.signalwire.com"
IDEMPOTENCY_TABLE = "sip-provisioning-test-idempotency"
INVENTORY_TABLE = "sip-provisioning-test-inventory"
SECRETS_PREFIX = "sip-provisioning/test/endpoints/"
CALLER = IamCaller(user_arn="arn:aws:iam::123456789012:user/alice.admin")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class ProvisionerApi:
    """Sends HTTP-shaped requests through API Gateway's event format to the real handler."""

    module: ModuleType
    ssm: Any
    emulator: SignalWireEmulator

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        raw_body: bytes | None = None,
        query: str = "",
        headers: dict[str, str] | None = None,
        caller: IamCaller = CALLER,
    ) -> Answer:
        data = raw_body if raw_body is not None else (b"" if body is None else json.dumps(body).encode())
        header_lines = list((headers if headers is not None else {"Content-Type": "application/json"}).items())
        event = build_event(method, path, query, header_lines, data, caller=caller)
        result = self.module.lambda_handler(event, LocalLambdaContext(LambdaFunction()))
        text = result.get("body") or ""
        content_type = result["headers"].get("Content-Type", "")
        return Answer(result["statusCode"], result["headers"], json.loads(text) if "json" in content_type else text)

    def create(self, body: object, **kwargs: Any) -> Answer:
        return self.request("POST", "/endpoints", body, **kwargs)

    def put_parameter(self, name: str, value: str, kind: str = "String") -> None:
        self.ssm.put_parameter(Name=f"{PARAMETERS_PATH}/{name}", Value=value, Type=kind, Overwrite=True)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, emulator: SignalWireEmulator) -> Iterator[ProvisionerApi]:
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("PARAMETERS_PATH", PARAMETERS_PATH)
    monkeypatch.setenv("PARAMETERS_MAX_AGE", "0")  # tests change parameters and expect to see it
    monkeypatch.setenv("IDEMPOTENCY_TABLE", IDEMPOTENCY_TABLE)
    monkeypatch.setenv("INVENTORY_TABLE", INVENTORY_TABLE)
    monkeypatch.setenv("SECRETS_PREFIX", SECRETS_PREFIX)
    monkeypatch.setenv("SIGNALWIRE_READ_TIMEOUT", "0.5")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "sip-provisioner")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "SipProvisioning")
    with mock_aws():
        ssm = boto3.client("ssm")
        signalwire = SignalWireAccount(emulator.base_url, emulator.project_id, emulator.api_token, SIP_DOMAIN)
        seed_ssm(ssm, PARAMETERS_PATH, PROFILES_DIR, signalwire)
        create_idempotency_table(boto3.client("dynamodb"), IDEMPOTENCY_TABLE)
        create_inventory_table(boto3.client("dynamodb"), INVENTORY_TABLE)
        module = importlib.import_module("http_api")
        module.wiring.cache_clear()  # compose against this test's moto and settings
        yield ProvisionerApi(module, ssm, emulator)
        module.wiring.cache_clear()


@pytest.fixture
def scim(api: ProvisionerApi) -> Iterator[ScimClient]:
    """The SCIM function beside the HTTP API, on the same moto account and emulator, its bearer
    token in SSM."""
    api.put_parameter("scim/bearer_token", SCIM_TOKEN, "SecureString")
    module = importlib.import_module("scim_api")
    module.wiring.cache_clear()
    yield ScimClient(module)
    module.wiring.cache_clear()


@pytest.fixture
def workflow_module(api: ProvisionerApi) -> Iterator[Any]:
    """The workflow entry on the same moto account and emulator as `api`."""
    module = importlib.import_module("functions.workflow.workflow_entry")
    module.wiring.cache_clear()  # compose against this test's moto and settings
    yield module
    module.wiring.cache_clear()


def invoke_workflow(module: Any, request: dict[str, Any], key: str) -> dict[str, Any]:
    context = LocalLambdaContext(LambdaFunction(name="sip-provisioner-workflow", timeout_seconds=25.0))
    result: dict[str, Any] = module.lambda_handler({"request": request, "idempotency_key": key}, context)
    return result
