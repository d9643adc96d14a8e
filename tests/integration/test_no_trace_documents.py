"""The Slack `response_url` (its path is a credential) appears in no trace, log line or message
(issue 8, defect 5).

The create job runs as Lambda runs it: a process of its own with Lambda's tracing environment
(`LAMBDA_TASK_ROOT`, `_X_AMZN_TRACE_ID` sampled, `AWS_XRAY_DAEMON_ADDRESS`) and tracing not
disabled. The "daemon" is a UDP socket of the test's, so any X-Ray segment document the function
would send is caught. AWS is a moto server both processes reach, SignalWire the emulator, the
`response_url` a loopback stand-in.
"""

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from local.inventory_table import create_inventory_table
from local.seed import SignalWireAccount, SlackApp, create_idempotency_table, seed_slack, seed_ssm
from local.signalwire_emulator import SignalWireEmulator
from local.slack_response_url import ResponseUrlStandIn
from reliability.harness import refusing_port
from sip_provisioning.callers.slack.delivery import DeliveryFailed, post_to_response_url
from sip_provisioning.callers.slack.messages import usage_message
from sip_provisioning.deadline import Deadline
from tests.slack_helpers import new_trigger_id

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

ServiceLog = Callable[[], list[dict[str, Any]]]

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
CODE_PATHS = (REPOSITORY_ROOT / "layers" / "shared", REPOSITORY_ROOT / "functions" / "slack_command", REPOSITORY_ROOT)
SHIPPED_REQUIREMENTS = REPOSITORY_ROOT / "layers" / "shared" / "requirements.txt"
PROFILES_DIR = REPOSITORY_ROOT / "config" / "profiles"
PARAMETERS_PATH = "/sip-provisioning/traces"
IDEMPOTENCY_TABLE = "sip-provisioning-traces-idempotency"
INVENTORY_TABLE = "sip-provisioning-traces-inventory"
TEAM = "T0ALLOWED"
LOOPBACK_PREFIX = "http://127.0.0.1:"
TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

# One invocation of the Slack function's handler, as the Lambda runtime makes it: the job event
# on stdin; what the runtime would report for a raised error (its type and message) on stderr,
# with the modules the function loaded.
INVOKE = """
import json, sys
from local.gateway import LambdaFunction, LocalLambdaContext
import slack_command
event = json.load(sys.stdin)
outcome = {"error": None}
try:
    slack_command.lambda_handler(event, LocalLambdaContext(LambdaFunction(name="sip-provisioner-slack-command")))
except Exception as error:
    outcome["error"] = type(error).__name__ + ": " + str(error)
outcome["xray_sdk_loaded"] = any(name.split(".")[0] == "aws_xray_sdk" for name in sys.modules)
sys.stderr.write("\\n" + json.dumps(outcome) + "\\n")
"""


@dataclass(frozen=True)
class Invocation:
    log: str  # what the function wrote to stdout: its log lines and metrics, as CloudWatch gets them
    error: str | None
    xray_sdk_loaded: bool
    trace_documents: list[bytes]


class XRayDaemonStandIn:
    """A UDP socket where the X-Ray daemon would listen; keeps every datagram sent to it."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)

    @property
    def address(self) -> str:
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    def received(self) -> list[bytes]:
        datagrams: list[bytes] = []
        while True:
            try:
                datagrams.append(self._socket.recv(65536))
            except TimeoutError:
                return datagrams

    def close(self) -> None:
        self._socket.close()


@dataclass
class SlackFunction:
    """The Slack function's deployment: moto server, seeded SSM and tables, the emulator, hooks."""

    aws_url: str
    emulator: SignalWireEmulator
    hooks: ResponseUrlStandIn
    daemon: XRayDaemonStandIn

    def environment(self) -> dict[str, str]:
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "POWERTOOLS_", "_X_AMZN", "LAMBDA_"))
        }
        return {
            **inherited,
            "PYTHONPATH": os.pathsep.join(str(path) for path in CODE_PATHS),
            "AWS_ENDPOINT_URL": self.aws_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": "sip-provisioner-slack-command",
            "LAMBDA_TASK_ROOT": str(REPOSITORY_ROOT / "functions" / "slack_command"),
            "_X_AMZN_TRACE_ID": TRACE_ID,
            "AWS_XRAY_DAEMON_ADDRESS": self.daemon.address,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "POWERTOOLS_SERVICE_NAME": "sip-provisioner",
            "POWERTOOLS_METRICS_NAMESPACE": "SipProvisioning",
            "PARAMETERS_PATH": PARAMETERS_PATH,
            "PARAMETERS_MAX_AGE": "0",
            "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
            "INVENTORY_TABLE": INVENTORY_TABLE,
            "SECRETS_PREFIX": "sip-provisioning/test/endpoints/",
            "SIGNALWIRE_READ_TIMEOUT": "2",
            "SLACK_RESPONSE_URL_PREFIXES": LOOPBACK_PREFIX,
        }

    def run_create_job(self, response_url: str, username: str = "ada.lovelace") -> Invocation:
        job = {
            "kind": "slack-create",
            "team_id": TEAM,
            "user_id": "U0ADA",
            "command_name": "/sip",
            "trigger_id": new_trigger_id(),
            "response_url": response_url,
            "command": {"name": "create", "username": username},
        }
        completed = subprocess.run(  # noqa: S603 - this interpreter, the repository's own code
            [sys.executable, "-c", INVOKE],
            input=json.dumps(job).encode(),
            capture_output=True,
            cwd=REPOSITORY_ROOT,
            env=self.environment(),
            timeout=60,
            check=False,
        )
        stderr = completed.stderr.decode()
        outcome = json.loads(stderr.strip().splitlines()[-1]) if stderr.strip() else {}
        assert "xray_sdk_loaded" in outcome, stderr
        return Invocation(
            log=completed.stdout.decode() + stderr,
            error=outcome["error"],
            xray_sdk_loaded=outcome["xray_sdk_loaded"],
            trace_documents=self.daemon.received(),
        )


@contextmanager
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        yield url
        # The server keeps moto's process-wide state; the next test must start empty.
        requests.post(f"{url}/moto-api/reset", timeout=5)
    finally:
        server.stop()


@pytest.fixture
def slack_function(emulator: SignalWireEmulator) -> Iterator[SlackFunction]:
    daemon = XRayDaemonStandIn()
    with moto_server() as aws_url, ResponseUrlStandIn() as hooks:
        clients = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        ssm = boto3.client("ssm", endpoint_url=aws_url, **clients)
        dynamodb = boto3.client("dynamodb", endpoint_url=aws_url, **clients)
        account = SignalWireAccount(emulator.base_url, emulator.project_id, emulator.api_token, "traces.sip.example")
        seed_ssm(ssm, PARAMETERS_PATH, PROFILES_DIR, account)
        seed_slack(ssm, PARAMETERS_PATH, SlackApp("traces-signing-secret-0123456789", (TEAM,)))
        create_idempotency_table(dynamodb, IDEMPOTENCY_TABLE)
        create_inventory_table(dynamodb, INVENTORY_TABLE)
        try:
            yield SlackFunction(aws_url, emulator, hooks, daemon)
        finally:
            daemon.close()


def secret_parts(url: str) -> list[str]:
    """The parts of a response_url's path that make it a credential: `/commands/<team>/<id>/<token>`
    is known to anyone but its last two segments."""
    return url.rstrip("/").split("/")[-2:]


def test_the_create_job_sends_no_trace_document_holding_the_response_url(slack_function: SlackFunction) -> None:
    # Given a Slack create job whose answer goes to a response_url, tracing on as Lambda sets it up
    url = slack_function.hooks.url(TEAM)
    # When the job runs and posts its answer
    invocation = slack_function.run_create_job(url)
    # Then the answer was posted, and no trace document that reached the daemon holds the URL's path
    assert invocation.error is None, invocation.log
    assert len(slack_function.hooks.posts) == 1
    documents = b"\n".join(invocation.trace_documents).decode(errors="replace")
    assert [part for part in secret_parts(url) if part in documents] == []


def test_the_create_job_never_loads_the_xray_sdk(slack_function: SlackFunction) -> None:
    # Given / When a Slack create job runs with Lambda's tracing environment
    invocation = slack_function.run_create_job(slack_function.hooks.url(TEAM))
    # Then the function did not load the X-Ray SDK: Lambda's own tracing is all there is
    assert invocation.error is None, invocation.log
    assert invocation.xray_sdk_loaded is False


def test_the_shipped_layer_requires_no_xray_sdk() -> None:
    # Given the shared layer's pinned runtime requirements
    lines = SHIPPED_REQUIREMENTS.read_text().splitlines()
    # When its requirement names are read
    names = [re.split(r"[=<>!~\[; ]", line.strip(), maxsplit=1)[0].lower() for line in lines]
    # Then neither the X-Ray SDK nor anything that pulls it in is among them
    assert "aws-xray-sdk" not in names
    assert not any(line.strip().lower().startswith("aws-lambda-powertools[") for line in lines)


def test_a_create_job_whose_post_fails_reports_and_logs_no_part_of_the_response_url(
    slack_function: SlackFunction,
) -> None:
    # Given a response_url under an allowed prefix where nothing answers
    with refusing_port() as port:
        url = f"{LOOPBACK_PREFIX}{port}/commands/{TEAM}/4242424242424/Zm9yZ2VkLXRva2VuLXRoYXQtaXMtc2VjcmV0"
        # When the create job runs and cannot post its answer
        invocation = slack_function.run_create_job(url)
    # Then it fails for Lambda to retry, and neither the error it raises nor its log lines hold the path
    assert invocation.error is not None
    assert invocation.error.startswith("DeliveryFailed")
    leaked = [part for part in secret_parts(url) if part in invocation.error or part in invocation.log]
    assert leaked == []
    documents = b"\n".join(invocation.trace_documents).decode(errors="replace")
    assert [part for part in secret_parts(url) if part in documents] == []


def test_a_post_that_cannot_connect_fails_with_a_message_and_log_lines_holding_no_part_of_the_url(
    service_log: ServiceLog,
) -> None:
    # Given a response_url under an allowed prefix where nothing answers
    with refusing_port() as port:
        url = f"{LOOPBACK_PREFIX}{port}/commands/{TEAM}/1234567890123/c2VjcmV0LXBhdGgtb2YtdGhlLWhvb2s"
        # When the answer is posted to it, and every attempt fails
        with pytest.raises(DeliveryFailed) as failed:
            post_to_response_url(url, usage_message("/sip"), (LOOPBACK_PREFIX,), Deadline.after(20))
    # Then the failure and every line logged on the way (the retries' included) hold no part of the path
    lines = json.dumps(service_log())
    assert failed.value.transient is True
    assert [part for part in secret_parts(url) if part in str(failed.value)] == []
    assert [part for part in secret_parts(url) if part in lines] == []
    assert service_log() != []  # the retries were logged: the check above looked at real lines
