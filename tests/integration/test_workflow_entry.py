"""The workflow entry as Step Functions invokes it: `lambda:invoke` of the real `lambda_handler`.

SSM, DynamoDB and Secrets Manager come from moto seeded like `make run` (the `api` fixture, whose
HTTP handler also serves as the reference for "the same answer as the route"), SignalWire is the
emulator over real HTTP. Every action (`create`, the default, `show`, `update`, `reset_password`,
`disable`, `delete`) answers its route's body; a failure must be raised with the error name a
state machine matches.
"""

import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests

from local.gateway import LambdaFunction, LocalLambdaContext
from local.signalwire_emulator import COLLECTION_PATH, Fault
from sip_provisioning.callers import workflow
from sip_provisioning.domain.answers import EndpointCreated
from tests.integration.conftest import PARAMETERS_PATH, SECRETS_PREFIX, SIP_DOMAIN, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

WORKFLOW_EVENTS_DIR = Path(__file__).resolve().parents[2] / "events" / "workflow"
EXECUTION_ARN_PREFIX = "arn:aws:states:us-east-1:123456789012:execution:OnboardingStateMachine-x7Kp2QvR9LmZ"
EXECUTION_ARN = f"{EXECUTION_ARN_PREFIX}:onboard-E4711"
OTHER_EXECUTION_ARN = f"{EXECUTION_ARN_PREFIX}:onboard-E4712"
CALLER_PASSWORD = "callers-own-Passw0rd-XYZ"
PER_ACTION = "<the execution's ARN and the action>"


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

    def act(self, action: str, username: str, key: str | None = PER_ACTION, **fields: Any) -> dict[str, Any]:
        return self.invoke(action_event(action, username, key, **fields))

    def failure_acting(
        self, action: str, username: str, key: str | None = PER_ACTION, **fields: Any
    ) -> workflow.WorkflowFailure:
        return self.failure_of(action_event(action, username, key, **fields))

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


def action_event(action: str, username: str, key: str | None, **fields: Any) -> dict[str, Any]:
    """The invocation of `action`; its key by default the execution's ARN and the action, as offboarding derives it."""
    key = f"{EXECUTION_ARN}:{action}" if key == PER_ACTION else key
    return {"action": action, "username": username, **({"idempotency_key": key} if key else {}), **fields}


def secret_value(arn: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
    return value


def create_directly(entry: WorkflowEntry, username: str) -> None:
    """An endpoint the service never created: unmanaged."""
    emulator = entry.api.emulator
    requests.post(
        f"{emulator.base_url}{COLLECTION_PATH}",
        json={"username": username, "password": "someone-elses-password", "call_handler": "relay_connector"},
        auth=(emulator.project_id, emulator.api_token),
        timeout=5,
    ).raise_for_status()


def error_name(failure: Exception) -> str:
    """What Lambda reports as `errorType`, and a state machine's Retry and Catch match."""
    return type(failure).__name__


# -- success ------------------------------------------------------------------------------------


def test_a_good_request_is_answered_with_the_created_endpoint_and_where_its_password_is(
    entry: WorkflowEntry,
) -> None:
    # Given / When a state machine asks for an endpoint without a password
    body = entry.create({"username": "ada.lovelace", "profile": "office"})
    # Then it gets the contract's 201 body with the ARN of the secret holding the password
    # SignalWire now holds, and never the password itself
    [stored] = entry.api.emulator.endpoints
    assert body["sip_uri"] == f"sip:ada.lovelace@{SIP_DOMAIN}"
    assert body["profile"] == "office"
    assert body["endpoint"]["id"] == stored["id"]
    assert "password" not in body
    assert body["password_secret_arn"].split(":secret:", 1)[1].startswith(f"{SECRETS_PREFIX}ada.lovelace")
    assert secret_value(body["password_secret_arn"])["password"] == stored["password"]


def test_a_workflow_gets_secrets_manager_delivery_even_when_it_asks_for_the_response(entry: WorkflowEntry) -> None:
    # Given / When a state machine asks for the password in the answer
    body = entry.create({"username": "ada.lovelace", "password_delivery": "response"})
    # Then it still gets only the secret's ARN: no password enters an execution's history
    assert "password" not in body
    assert body["password_secret_arn"] is not None


def test_the_answer_is_the_body_post_endpoints_answers_with_201(entry: WorkflowEntry) -> None:
    # Given the same kind of request made over HTTP (delivered in the response) and by a workflow
    over_http = entry.api.create({"username": "grace.hopper"})
    by_workflow = entry.create({"username": "ada.lovelace"})
    # When their shapes are compared
    # Then they have the same keys at every level the contract defines, but where the password went
    assert over_http.status == 201
    assert set(by_workflow) - {"password_secret_arn"} == set(over_http.body) - {"password"}
    assert set(by_workflow) == {"endpoint", "sip_uri", "profile", "password_secret_arn"}
    assert set(by_workflow["endpoint"]) == set(over_http.body["endpoint"])
    assert EndpointCreated.model_validate(by_workflow).password_secret_arn == by_workflow["password_secret_arn"]


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


def recorded(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((WORKFLOW_EVENTS_DIR / name).read_text(encoding="utf-8"))
    return event


def test_the_recorded_create_event_creates_its_endpoint(entry: WorkflowEntry) -> None:
    # Given an invocation as the example onboarding sends it (the form without an action)
    event = recorded("create-endpoint.json")
    # When the entry is invoked with it
    body = entry.invoke(event)
    # Then SignalWire holds that one endpoint and the answer says where to register
    username = event["request"]["username"]
    assert [endpoint["username"] for endpoint in entry.api.emulator.endpoints] == [username]
    assert body["sip_uri"] == f"sip:{username}@{SIP_DOMAIN}"


# Each recorded action, and what its answer holds besides the username.
RECORDED_ACTIONS = {
    "show-endpoint.json": {"endpoint", "sip_uri", "managed", "record", "drift"},
    "update-endpoint.json": {"endpoint", "sip_uri", "profile", "changed"},
    "reset-password.json": {"username", "sip_uri", "password_secret_arn"},
    "disable-endpoint.json": {"username", "status"},
    "delete-endpoint.json": {"username", "status"},
}


@pytest.mark.parametrize("event_file", sorted(RECORDED_ACTIONS))
def test_each_recorded_action_event_acts_on_the_endpoint_the_create_event_made(
    entry: WorkflowEntry, event_file: str
) -> None:
    # Given the endpoint the recorded create makes
    entry.invoke(recorded("create-endpoint.json"))
    # When the entry is invoked with a recorded action on it
    body = entry.invoke(recorded(event_file))
    # Then it answers its route's body
    assert set(body) == RECORDED_ACTIONS[event_file]


def test_every_recorded_event_is_one_of_the_tests_above() -> None:
    # Given / When the recorded workflow events are listed
    files = {path.name for path in WORKFLOW_EVENTS_DIR.glob("*.json")}
    # Then each is run by a test of this module
    assert files == {"create-endpoint.json", *RECORDED_ACTIONS}


# -- at most once -------------------------------------------------------------------------------


def test_the_same_key_twice_gets_the_first_answer_and_creates_once(entry: WorkflowEntry) -> None:
    # Given a create under an execution's key
    first = entry.create({"username": "ada.lovelace"})
    # When the Task runs again with the same key (a retry or a redrive)
    again = entry.create({"username": "ada.lovelace"})
    # Then it gets the first answer, the secret's ARN included, and SignalWire got one create
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


# Values 5,000 levels deep, parsed from JSON as Lambda parses the invocation's payload.
DEEP_VALUES = {
    "5000 arrays": json.loads("[" * 5000 + "1" + "]" * 5000),
    "5000 objects": json.loads('{"a":' * 5000 + "1" + "}" * 5000),
}
# Each kind of invocation with a deep value in one field, and the field its ValidationError names.
DEEP_INVOCATIONS: dict[str, tuple[Callable[[object], dict[str, Any]], str]] = {
    "create": (
        lambda deep: {"request": {"username": "grace.hopper", "handler": deep}, "idempotency_key": "k"},
        "handler",
    ),
    "update": (lambda deep: action_event("update", "ada.lovelace", PER_ACTION, changes={"owner": deep}), "owner"),
    "disable": (lambda deep: action_event("disable", "ada.lovelace", PER_ACTION, note=deep), "note"),
    "reset_password": (
        lambda deep: action_event("reset_password", "ada.lovelace", PER_ACTION, password=deep),
        "password",
    ),
}


@pytest.mark.parametrize("deep_value", DEEP_VALUES.values(), ids=DEEP_VALUES.keys())
@pytest.mark.parametrize("invocation", DEEP_INVOCATIONS.values(), ids=DEEP_INVOCATIONS.keys())
def test_an_invocation_nested_thousands_deep_raises_validation_error_and_changes_nothing(
    entry: WorkflowEntry, invocation: tuple[Callable[[object], dict[str, Any]], str], deep_value: object
) -> None:
    # Given an endpoint, and an invocation one of whose fields nests 5,000 levels deep
    entry.create({"username": "ada.lovelace"})
    event_with, field = invocation
    before = entry.api.emulator.endpoints
    # When the entry is invoked with it
    failure = entry.failure_of(event_with(deep_value))
    # Then it is ValidationError naming the field, and nothing changed
    assert error_name(failure) == "ValidationError", str(failure)
    assert f'"field":"{field}","message":"nests arrays or objects deeper than 32 levels"' in str(failure)
    assert entry.api.emulator.endpoints == before
    assert entry.api.emulator.create_requests_received() == 1


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


# -- the actions of an endpoint's life ---------------------------------------------------------


def test_a_show_answers_what_get_endpoints_username_answers(entry: WorkflowEntry) -> None:
    # Given an endpoint a workflow created
    entry.create({"username": "ada.lovelace"})
    # When a workflow shows it, without a key, and an HTTP caller looks it up
    body = entry.act("show", "ada.lovelace", key=None)
    over_http = entry.api.request("GET", "/endpoints/ada.lovelace")
    # Then both get the same body: the endpoint, managed, its record, no drift
    assert over_http.status == 200
    assert body == over_http.body
    assert (body["managed"], body["record"]["created_by"], body["drift"]) == (True, "workflow", [])


def test_an_update_answers_what_patch_answers_and_changes_only_what_it_names(entry: WorkflowEntry) -> None:
    # Given an endpoint a workflow created
    entry.create({"username": "ada.lovelace"})
    # When a workflow changes its caller id
    body = entry.act("update", "ada.lovelace", changes={"caller_id": "Ada L."})
    # Then the answer is PATCH's body naming the one field changed, and SignalWire holds it
    assert set(body) == {"endpoint", "sip_uri", "profile", "changed"}
    assert body["changed"] == ["caller_id"]
    assert body["endpoint"]["caller_id"] == "Ada L."
    assert entry.api.emulator.endpoints[0]["caller_id"] == "Ada L."


def test_a_reset_puts_a_new_password_in_the_same_secret_and_answers_only_its_arn(entry: WorkflowEntry) -> None:
    # Given an endpoint a workflow created, its password in a secret
    created = entry.create({"username": "ada.lovelace"})
    first_password = entry.api.emulator.stored_password("ada.lovelace")
    # When a workflow resets its password
    body = entry.act("reset_password", "ada.lovelace", key=OTHER_EXECUTION_ARN)
    # Then the answer names the same secret, never the password, and the secret holds the new one
    new_password = entry.api.emulator.stored_password("ada.lovelace")
    assert body == {
        "username": "ada.lovelace",
        "sip_uri": f"sip:ada.lovelace@{SIP_DOMAIN}",
        "password_secret_arn": created["password_secret_arn"],
    }
    assert new_password != first_password
    assert secret_value(body["password_secret_arn"])["password"] == new_password


def test_a_disable_answers_disabled_and_locks_every_device_out(entry: WorkflowEntry) -> None:
    # Given an endpoint a workflow created
    entry.create({"username": "ada.lovelace"})
    password = entry.api.emulator.stored_password("ada.lovelace")
    # When a workflow disables it
    body = entry.act("disable", "ada.lovelace", key=OTHER_EXECUTION_ARN)
    # Then the answer is the route's, the password nobody has replaced the old one, the record says so
    assert body == {"username": "ada.lovelace", "status": "disabled"}
    assert entry.api.emulator.stored_password("ada.lovelace") != password
    assert entry.act("show", "ada.lovelace", key=None)["record"]["status"] == "disabled"


def test_a_delete_answers_deleted_and_keeps_the_record_as_deleted(entry: WorkflowEntry) -> None:
    # Given an endpoint a workflow created
    entry.create({"username": "ada.lovelace"})
    # When a workflow deletes it
    body = entry.act("delete", "ada.lovelace", key=OTHER_EXECUTION_ARN)
    # Then the answer is EndpointDeleted's, SignalWire holds nothing, the record stays as deleted
    listed = entry.api.request("GET", "/endpoints", query="status=deleted").body["endpoints"]
    assert body == {"username": "ada.lovelace", "status": "deleted"}
    assert entry.api.emulator.endpoints == []
    assert [(record["username"], record["status"]) for record in listed] == [("ada.lovelace", "deleted")]


def test_a_delete_repeated_under_another_key_answers_deleted_again(entry: WorkflowEntry) -> None:
    # Given an endpoint a workflow deleted
    entry.create({"username": "ada.lovelace"})
    first = entry.act("delete", "ada.lovelace", key=f"{OTHER_EXECUTION_ARN}:delete")
    # When another execution deletes it again
    again = entry.act("delete", "ada.lovelace", key=f"{EXECUTION_ARN}:delete")
    # Then it gets the same answer, and SignalWire got one delete
    assert again == first
    assert entry.api.emulator.deletes_committed() == 1


def test_a_disable_repeated_under_its_key_disables_once(entry: WorkflowEntry) -> None:
    # Given an endpoint a workflow disabled under a key
    entry.create({"username": "ada.lovelace"})
    first = entry.act("disable", "ada.lovelace", key=f"{OTHER_EXECUTION_ARN}:disable")
    updates = entry.api.emulator.updates_committed()
    # When the Task runs again with the same key (a retry or a redrive)
    again = entry.act("disable", "ada.lovelace", key=f"{OTHER_EXECUTION_ARN}:disable")
    # Then it gets the first answer, and SignalWire got no second update
    assert again == first
    assert entry.api.emulator.updates_committed() == updates


def test_a_key_is_bound_to_its_action(entry: WorkflowEntry) -> None:
    # Given an endpoint a workflow disabled under a key
    entry.create({"username": "ada.lovelace"})
    entry.act("disable", "ada.lovelace", key=OTHER_EXECUTION_ARN)
    # When the same key comes with a delete
    failure = entry.failure_acting("delete", "ada.lovelace", key=OTHER_EXECUTION_ARN)
    # Then it is IdempotencyKeyReused and the endpoint stays: each step needs a key of its own
    assert error_name(failure) == "IdempotencyKeyReused"
    assert [endpoint["username"] for endpoint in entry.api.emulator.endpoints] == ["ada.lovelace"]


def test_a_disable_that_signalwire_fails_is_done_by_the_retry_under_its_key(entry: WorkflowEntry) -> None:
    # Given an endpoint, and SignalWire failing the disable's password update (sent twice)
    entry.create({"username": "ada.lovelace"})
    entry.api.emulator.inject_fault(Fault.SERVER_ERROR, times=2, operation="update")
    failure = entry.failure_acting("disable", "ada.lovelace", key=OTHER_EXECUTION_ARN)
    # When the state machine retries under the same key
    body = entry.act("disable", "ada.lovelace", key=OTHER_EXECUTION_ARN)
    # Then the first failed as transient, and the retry disabled it
    assert error_name(failure) == "UpstreamError"
    assert failure.__class__.__name__ in workflow.TRANSIENT_ERROR_NAMES
    assert body == {"username": "ada.lovelace", "status": "disabled"}


# -- the actions' error names --------------------------------------------------------------------


ACTIONS_ON_AN_ENDPOINT: list[tuple[str, dict[str, Any]]] = [
    ("show", {}),
    ("update", {"changes": {"caller_id": "Ada L."}}),
    ("reset_password", {}),
    ("disable", {}),
    ("delete", {}),
]
CHANGING_ACTIONS = [(action, fields) for action, fields in ACTIONS_ON_AN_ENDPOINT if action != "show"]


@pytest.mark.parametrize(("action", "fields"), ACTIONS_ON_AN_ENDPOINT, ids=[a for a, _ in ACTIONS_ON_AN_ENDPOINT])
def test_an_action_on_a_username_nobody_has_raises_endpoint_not_found(
    entry: WorkflowEntry, action: str, fields: dict[str, Any]
) -> None:
    # Given / When a workflow acts on a username neither SignalWire nor the inventory knows
    failure = entry.failure_acting(action, "nobody", **fields)
    # Then it is EndpointNotFound, naming the username
    assert error_name(failure) == "EndpointNotFound"
    assert "nobody" in str(failure)


@pytest.mark.parametrize(("action", "fields"), CHANGING_ACTIONS, ids=[a for a, _ in CHANGING_ACTIONS])
def test_changing_an_endpoint_the_service_did_not_create_raises_endpoint_not_managed(
    entry: WorkflowEntry, action: str, fields: dict[str, Any]
) -> None:
    # Given an endpoint someone created straight in SignalWire
    create_directly(entry, "ada.lovelace")
    # When a workflow would change it
    failure = entry.failure_acting(action, "ada.lovelace", **fields)
    # Then it is EndpointNotManaged, and the endpoint is as it was
    assert error_name(failure) == "EndpointNotManaged"
    assert entry.api.emulator.stored_password("ada.lovelace") == "someone-elses-password"
    assert entry.api.emulator.updates_committed() == 0


@pytest.mark.parametrize(("action", "fields"), CHANGING_ACTIONS, ids=[a for a, _ in CHANGING_ACTIONS])
def test_changing_an_endpoint_a_policy_keeps_workflows_from_raises_forbidden(
    entry: WorkflowEntry, action: str, fields: dict[str, Any]
) -> None:
    # Given an endpoint an HTTP caller created, and a deployment policy whose admins are not workflows
    assert entry.api.create({"username": "ada.lovelace"}).status == 201
    entry.api.put_parameter("policy", json.dumps({"admins": ["arn:aws:iam::123456789012:role/admin"]}))
    # When a workflow would change it
    failure = entry.failure_acting(action, "ada.lovelace", **fields)
    # Then it is Forbidden, and nothing changed
    assert error_name(failure) == "Forbidden"
    assert entry.api.emulator.updates_committed() == 0
    assert entry.api.emulator.deletes_committed() == 0


def test_an_action_the_entry_does_not_know_raises_validation_error_naming_it(entry: WorkflowEntry) -> None:
    # Given / When a state machine names an action that does not exist
    failure = entry.failure_acting("offboard", "ada.lovelace")
    # Then it is ValidationError naming the action
    assert error_name(failure) == "ValidationError"
    assert '"field":"action"' in str(failure)


@pytest.mark.parametrize(("action", "fields"), CHANGING_ACTIONS, ids=[a for a, _ in CHANGING_ACTIONS])
def test_an_action_that_changes_something_without_a_key_raises_validation_error(
    entry: WorkflowEntry, action: str, fields: dict[str, Any]
) -> None:
    # Given an endpoint
    entry.create({"username": "ada.lovelace"})
    # When a state machine would change it without a key
    failure = entry.failure_acting(action, "ada.lovelace", key=None, **fields)
    # Then it is ValidationError naming the key, and nothing changed
    assert error_name(failure) == "ValidationError"
    assert '"field":"idempotency_key"' in str(failure)
    assert entry.api.emulator.updates_committed() == 0


def test_an_update_breaking_a_rule_raises_validation_error_naming_the_field(entry: WorkflowEntry) -> None:
    # Given an endpoint
    entry.create({"username": "ada.lovelace"})
    # When a workflow would point its calls at something that is no URL
    failure = entry.failure_acting(
        "update", "ada.lovelace", changes={"handler": {"type": "laml_webhooks", "url": "not-a-url"}}
    )
    # Then it is ValidationError naming the field as PATCH names it, and nothing changed
    assert error_name(failure) == "ValidationError"
    assert '"field":"handler.url"' in str(failure)
    assert entry.api.emulator.updates_committed() == 0


def test_every_log_line_of_an_action_names_it(
    entry: WorkflowEntry, service_log: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given / When a workflow disables an endpoint it created
    entry.create({"username": "ada.lovelace"})
    entry.act("disable", "ada.lovelace", key=OTHER_EXECUTION_ARN)
    # Then each line says which action, and the disable's lines name its key
    lines = service_log()
    assert {line["action"] for line in lines} == {"create", "disable"}
    assert {line["correlation_id"] for line in lines if line["action"] == "disable"} == {OTHER_EXECUTION_ARN}


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
