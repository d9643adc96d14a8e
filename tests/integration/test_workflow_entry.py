"""The workflow entry as Step Functions invokes it: `lambda:invoke` of the real `lambda_handler`.

SSM and DynamoDB come from moto seeded like `make run` (the `api` fixture, whose HTTP handler
also serves as the reference for "the same answer as POST /endpoints"), SignalWire is the
emulator over real HTTP. A failure must be raised with the error name a state machine matches.
"""

import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from local.gateway import LambdaFunction, LocalLambdaContext
from local.signalwire_emulator import Fault
from sip_provisioning import workflow
from sip_provisioning.responses import EndpointCreated
from tests.integration.conftest import PARAMETERS_PATH, SIP_DOMAIN, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

WORKFLOW_EVENTS_DIR = Path(__file__).resolve().parents[2] / "events" / "workflow"
EXECUTION_ARN_PREFIX = "arn:aws:states:us-east-1:123456789012:execution:OnboardingStateMachine-x7Kp2QvR9LmZ"
EXECUTION_ARN = f"{EXECUTION_ARN_PREFIX}:onboard-E4711"
OTHER_EXECUTION_ARN = f"{EXECUTION_ARN_PREFIX}:onboard-E4712"
CALLER_PASSWORD = "callers-own-Passw0rd-XYZ"


@dataclass(frozen=True)
class WorkflowEntry:
    """Invokes the workflow entry the way Lambda does for a state machine's Task."""

    module: ModuleType
    api: ProvisionerApi

    def invoke(self, event: object, *, timeout_seconds: float = 25.0) -> dict[str, Any]:
        function = LambdaFunction(name="sip-provisioner-workflow", timeout_seconds=timeout_seconds)
        result: dict[str, Any] = self.module.lambda_handler(event, LocalLambdaContext(function))
        return result

    def create(self, request: dict[str, Any], key: str = EXECUTION_ARN, **options: Any) -> dict[str, Any]:
        return self.invoke({"request": request, "idempotency_key": key}, **options)

    def failure_of(self, event: object, **options: Any) -> workflow.WorkflowFailure:
        with pytest.raises(workflow.WorkflowFailure) as raised:
            self.invoke(event, **options)
        return raised.value

    def failure_creating(
        self, request: dict[str, Any], key: str = EXECUTION_ARN, **options: Any
    ) -> workflow.WorkflowFailure:
        return self.failure_of({"request": request, "idempotency_key": key}, **options)


@pytest.fixture
def entry(api: ProvisionerApi) -> Iterator[WorkflowEntry]:
    module = importlib.import_module("functions.workflow.workflow_entry")
    module.wiring.cache_clear()  # compose against this test's moto and settings
    yield WorkflowEntry(module, api)
    module.wiring.cache_clear()


def error_name(failure: Exception) -> str:
    """What Lambda reports as `errorType`, and a state machine's Retry and Catch match."""
    return type(failure).__name__


# -- success ------------------------------------------------------------------------------------


def test_a_good_request_is_answered_with_the_created_endpoint_and_its_generated_password(
    entry: WorkflowEntry,
) -> None:
    # Given / When a state machine asks for an endpoint without a password
    body = entry.create({"username": "ada.lovelace", "profile": "office"})
    # Then it gets the contract's 201 body, with the password SignalWire now holds
    [stored] = entry.api.emulator.endpoints
    assert body["sip_uri"] == f"sip:ada.lovelace@{SIP_DOMAIN}"
    assert body["profile"] == "office"
    assert body["endpoint"]["id"] == stored["id"]
    assert body["password"] == stored["password"]
    assert len(body["password"]) >= 24


def test_the_answer_is_the_body_post_endpoints_answers_with_201(entry: WorkflowEntry) -> None:
    # Given the same kind of request made over HTTP and by a workflow
    over_http = entry.api.create({"username": "grace.hopper"})
    by_workflow = entry.create({"username": "ada.lovelace"})
    # When their shapes are compared
    # Then they have the same keys at every level the contract defines
    assert over_http.status == 201
    assert set(by_workflow) == set(over_http.body) == {"endpoint", "sip_uri", "profile", "password"}
    assert set(by_workflow["endpoint"]) == set(over_http.body["endpoint"])
    assert EndpointCreated.model_validate(by_workflow).password == by_workflow["password"]


def test_the_answer_is_plain_json_as_lambda_serialises_it(entry: WorkflowEntry) -> None:
    # Given / When an endpoint is created
    body = entry.create({"username": "ada.lovelace"})
    # Then the answer survives JSON serialisation unchanged
    assert json.loads(json.dumps(body)) == body


def test_a_callers_own_password_is_not_echoed(entry: WorkflowEntry) -> None:
    # Given / When a workflow supplies the password
    body = entry.create({"username": "ada.lovelace", "password": CALLER_PASSWORD})
    # Then the answer has no password, and the endpoint has the caller's
    assert "password" not in body
    assert entry.api.emulator.endpoints[0]["password"] == CALLER_PASSWORD


@pytest.mark.parametrize("event_file", sorted(WORKFLOW_EVENTS_DIR.glob("*.json")), ids=lambda path: path.name)
def test_each_recorded_workflow_event_creates_its_endpoint(entry: WorkflowEntry, event_file: Path) -> None:
    # Given an invocation as the example state machine sends it
    event = json.loads(event_file.read_text(encoding="utf-8"))
    # When the entry is invoked with it
    body = entry.invoke(event)
    # Then SignalWire holds that one endpoint and the answer says where to register
    username = event["request"]["username"]
    assert [endpoint["username"] for endpoint in entry.api.emulator.endpoints] == [username]
    assert body["sip_uri"] == f"sip:{username}@{SIP_DOMAIN}"


# -- at most once -------------------------------------------------------------------------------


def test_the_same_key_twice_gets_the_first_answer_and_creates_once(entry: WorkflowEntry) -> None:
    # Given a create under an execution's key
    first = entry.create({"username": "ada.lovelace"})
    # When the Task runs again with the same key (a retry or a redrive)
    again = entry.create({"username": "ada.lovelace"})
    # Then it gets the first answer, generated password included, and SignalWire got one create
    assert again == first
    assert entry.api.emulator.create_requests_received() == 1


def test_a_retry_under_the_same_key_after_a_transient_failure_creates_the_endpoint(entry: WorkflowEntry) -> None:
    # Given a create that failed on a SignalWire 500 (nothing was created)
    entry.api.emulator.inject_fault(Fault.SERVER_ERROR)
    failure = entry.failure_creating({"username": "ada.lovelace"})
    # When the state machine retries with the same key
    body = entry.create({"username": "ada.lovelace"})
    # Then the retry creates the one endpoint
    assert error_name(failure) == "UpstreamError"
    assert [endpoint["id"] for endpoint in entry.api.emulator.endpoints] == [body["endpoint"]["id"]]


def test_a_workflow_key_never_replays_an_http_callers_answer(entry: WorkflowEntry) -> None:
    # Given an HTTP caller used a key for one endpoint
    over_http = entry.api.create(
        {"username": "grace.hopper"}, headers={"Content-Type": "application/json", "Idempotency-Key": EXECUTION_ARN}
    )
    # When a workflow uses the same key for another endpoint
    by_workflow = entry.create({"username": "ada.lovelace"}, key=EXECUTION_ARN)
    # Then each gets its own endpoint: the scopes are apart
    assert over_http.status == 201
    assert by_workflow["endpoint"]["username"] == "ada.lovelace"


# -- every error name, from a realistic cause ----------------------------------------------------


def test_a_bad_username_raises_validation_error_listing_the_field(entry: WorkflowEntry) -> None:
    # Given / When a workflow asks for a username with a space
    failure = entry.failure_creating({"username": "ada lovelace"})
    # Then ValidationError names the field in compact JSON, and nothing is created
    assert error_name(failure) == "ValidationError"
    field_errors = json.loads(str(failure)[str(failure).index("[") :])
    assert [error["field"] for error in field_errors] == ["username"]
    assert entry.api.emulator.create_requests_received() == 0


def test_an_unknown_profile_raises_validation_error_listing_the_known_ones(entry: WorkflowEntry) -> None:
    # Given / When a workflow names a profile that does not exist
    failure = entry.failure_creating({"username": "ada.lovelace", "profile": "boardroom"})
    # Then ValidationError names the profile field and the known profiles
    assert error_name(failure) == "ValidationError"
    assert '"field":"profile"' in str(failure)
    assert "office" in str(failure)


def test_an_invocation_without_an_idempotency_key_raises_validation_error(entry: WorkflowEntry) -> None:
    # Given / When a state machine forgets the key
    failure = entry.failure_of({"request": {"username": "ada.lovelace"}})
    # Then ValidationError names the key, and nothing is created
    assert error_name(failure) == "ValidationError"
    assert '"field":"idempotency_key"' in str(failure)
    assert entry.api.emulator.create_requests_received() == 0


def test_an_invocation_that_is_not_a_json_object_raises_malformed_request(entry: WorkflowEntry) -> None:
    # Given / When the entry is invoked with a list
    failure = entry.failure_of([{"username": "ada.lovelace"}])
    # Then it is MalformedRequest
    assert error_name(failure) == "MalformedRequest"


def test_a_username_someone_already_has_raises_username_taken(entry: WorkflowEntry) -> None:
    # Given another execution created the username
    entry.create({"username": "ada.lovelace"}, key=OTHER_EXECUTION_ARN)
    # When this execution asks for it
    failure = entry.failure_creating({"username": "ada.lovelace"})
    # Then it is UsernameTaken, naming the username
    assert error_name(failure) == "UsernameTaken"
    assert "ada.lovelace" in str(failure)


def test_a_rate_limit_longer_than_the_invocation_can_wait_raises_upstream_unavailable(entry: WorkflowEntry) -> None:
    # Given SignalWire asks to come back in a minute, and the function has a few seconds
    entry.api.emulator.inject_fault(Fault.RATE_LIMITED, times=10, retry_after=60)
    # When an endpoint is requested
    failure = entry.failure_creating({"username": "ada.lovelace"}, timeout_seconds=5)
    # Then it is UpstreamUnavailable, saying when to retry, and nothing was created
    assert error_name(failure) == "UpstreamUnavailable"
    assert str(failure).endswith("Retry after 60 s.")
    assert entry.api.emulator.endpoints == []


def test_a_signalwire_that_does_not_answer_raises_upstream_timeout(entry: WorkflowEntry) -> None:
    # Given SignalWire holds the create longer than the read timeout
    entry.api.emulator.inject_fault(Fault.HANG, delay_seconds=3.0)
    # When an endpoint is requested
    failure = entry.failure_creating({"username": "ada.lovelace"})
    # Then it is UpstreamTimeout
    assert error_name(failure) == "UpstreamTimeout"


def test_a_signalwire_server_error_raises_upstream_error(entry: WorkflowEntry) -> None:
    # Given SignalWire answers every create with a 500
    entry.api.emulator.inject_fault(Fault.SERVER_ERROR, times=10)
    # When an endpoint is requested
    failure = entry.failure_creating({"username": "ada.lovelace"})
    # Then it is UpstreamError
    assert error_name(failure) == "UpstreamError"


def test_a_broken_profile_in_ssm_raises_configuration_error_naming_the_parameter(entry: WorkflowEntry) -> None:
    # Given a profile in SSM that is not JSON
    entry.api.put_parameter("profiles/office", "{broken: value-42")
    # When an endpoint is requested from it
    failure = entry.failure_creating({"username": "ada.lovelace", "profile": "office"})
    # Then it is ConfigurationError naming the parameter, not its value
    assert error_name(failure) == "ConfigurationError"
    assert f"{PARAMETERS_PATH}/profiles/office" in str(failure)
    assert "value-42" not in str(failure)


def test_the_same_key_with_another_request_raises_idempotency_key_reused(entry: WorkflowEntry) -> None:
    # Given a create under an execution's key
    entry.create({"username": "ada.lovelace"})
    # When the same key comes with another request
    failure = entry.failure_creating({"username": "ada.lovelace", "profile": "office"})
    # Then it is IdempotencyKeyReused, and SignalWire got one create
    assert error_name(failure) == "IdempotencyKeyReused"
    assert entry.api.emulator.create_requests_received() == 1


# -- what a failure reveals, and what it leaves behind -------------------------------------------


def test_no_failure_message_holds_a_secret(entry: WorkflowEntry) -> None:
    # Given failures whose causes carry the caller's password and the API token
    messages = [
        str(entry.failure_creating({"username": "a b", "password": CALLER_PASSWORD, "extra": CALLER_PASSWORD})),
        str(entry.failure_creating({"username": "ada", "password": "short-Pw-9"})),
    ]
    entry.api.put_parameter("signalwire/api_token", "PTwrong-token-9f8e7d6c5b4a", kind="SecureString")
    messages.append(str(entry.failure_creating({"username": "ada.lovelace", "password": CALLER_PASSWORD})))
    # When the messages are searched for the secrets
    joined = "\n".join(messages)
    # Then none is there
    for secret in [CALLER_PASSWORD, "short-Pw-9", "PTwrong-token-9f8e7d6c5b4a", entry.api.emulator.api_token]:
        assert secret not in joined


def test_every_log_line_names_the_execution_and_the_workflow_caller(
    entry: WorkflowEntry, service_log: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given a create that SignalWire fails once, then succeeds on the state machine's retry
    entry.api.emulator.inject_fault(Fault.SERVER_ERROR)
    entry.failure_creating({"username": "ada.lovelace"})
    entry.create({"username": "ada.lovelace"})
    # Then every structured line of both carries the execution's key as correlation id and the caller scope
    lines = service_log()
    assert len(lines) >= 4
    assert all((line["correlation_id"], line["caller"]) == (EXECUTION_ARN, "workflow") for line in lines)


def test_a_failure_leaves_a_warning_with_its_error_name(
    entry: WorkflowEntry, service_log: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given / When a workflow asks for a bad username
    entry.failure_creating({"username": "ada lovelace"})
    # Then one warning names the error the state machine sees
    [warning] = [line for line in service_log() if line["level"] == "WARNING"]
    assert (warning["error"], warning["problem_type"]) == ("ValidationError", "validation-error")


def test_failures_are_counted_by_problem_type(entry: WorkflowEntry, capfd: pytest.CaptureFixture[str]) -> None:
    # Given / When a create fails on SignalWire
    entry.api.emulator.inject_fault(Fault.SERVER_ERROR, times=10)
    entry.failure_creating({"username": "ada.lovelace"})
    # Then the EMF output counts the failure by its problem type
    documents = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert any(
        document.get("RequestsFailed") == [1.0] and document.get("problem_type") == "upstream-error"
        for document in documents
    )
