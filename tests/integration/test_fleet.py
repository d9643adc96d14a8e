"""The fleet's state machines executed for real (CONTRACT.md section 9): moto's ASL interpreter runs
statemachine/profile_rollout.asl.json and statemachine/fleet_audit.asl.json, each Lambda task
reaching `functions/workflow/workflow_entry.lambda_handler` through `local.step_functions.LambdaBridge`.

Managed endpoints are created through the HTTP API (the `api` fixture); what happens behind the
service's back (an endpoint changed, deleted or created by hand) is sent to the emulator directly.
Retry waits are real: a retried endpoint costs up to a second or two.
"""

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests

from local.gateway import LambdaFunction
from local.signalwire_emulator import COLLECTION_PATH, Fault, SignalWireEmulator
from local.step_functions import (
    LambdaBridge,
    create_local_role,
    executing_in_process,
    execution_history,
    execution_history_text,
    substitute,
    wait_for_execution,
)
from tests.executions import Execution
from tests.integration.conftest import INVENTORY_TABLE, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = "WorkflowFunction"
# As template.yaml deploys it: 512 MB, 25 s.
WORKFLOW_FUNCTION = LambdaFunction(name="sip-provisioner-test-workflow", memory_limit_in_mb=512, timeout_seconds=25)
BUCKET = "sip-provisioning-test-imports"
ROLLOUT = "ProfileRolloutStateMachine"
AUDIT = "FleetAuditStateMachine"
DEFINITIONS = {
    ROLLOUT: REPOSITORY_ROOT / "statemachine" / "profile_rollout.asl.json",
    AUDIT: REPOSITORY_ROOT / "statemachine" / "fleet_audit.asl.json",
}
OFFICE = json.loads((REPOSITORY_ROOT / "config" / "profiles" / "office.json").read_text(encoding="utf-8"))
NEW_DESK_URL = "https://office.example.com/laml/desk-v2"
LIST_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Fleet:
    """Both state machines in moto, their tasks bridged to the real workflow entry."""

    sfn: Any
    s3: Any
    state_machines: dict[str, str]
    bridge: LambdaBridge
    api: ProvisionerApi

    @property
    def emulator(self) -> SignalWireEmulator:
        return self.api.emulator

    def run(self, state_machine: str, execution_input: object, name: str) -> Execution:
        with self.bridge.installed():
            started = self.sfn.start_execution(
                stateMachineArn=self.state_machines[state_machine], name=name, input=json.dumps(execution_input)
            )
            description = wait_for_execution(self.sfn, started["executionArn"], timeout_seconds=120)
        return Execution(started["executionArn"], description, execution_history(self.sfn, started["executionArn"]))

    def roll_out(self, name: str = "office-2026-12", **execution_input: Any) -> Execution:
        return self.run(ROLLOUT, {"profile": "office", **execution_input}, name)

    def audit(self, execution_input: object = None, name: str = "audit-2026-12-07") -> Execution:
        return self.run(AUDIT, {} if execution_input is None else execution_input, name)

    def document(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def keys(self) -> list[str]:
        return [item["Key"] for item in self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]

    def every_object_text(self) -> str:
        return "\n".join(
            self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8") for key in self.keys()
        )

    # -- the fleet ---------------------------------------------------------------------------

    def create(self, username: str, profile: str = "office", **fields: Any) -> None:
        answer = self.api.create({"username": username, "profile": profile, **fields})
        assert answer.status == 201, answer.body

    def disable(self, username: str) -> None:
        assert self.api.request("POST", f"/endpoints/{username}/disable").status == 200

    def change_profile(self, name: str, **fields: Any) -> None:
        profile = json.loads((REPOSITORY_ROOT / "config" / "profiles" / f"{name}.json").read_text(encoding="utf-8"))
        self.api.put_parameter(f"profiles/{name}", json.dumps({**profile, **fields}))

    def held(self, username: str) -> dict[str, Any]:
        [endpoint] = [endpoint for endpoint in self.emulator.endpoints if endpoint["username"] == username]
        return endpoint

    def record_status(self, username: str) -> str:
        item = boto3.client("dynamodb").get_item(
            TableName=INVENTORY_TABLE, Key={"username": {"S": username}, "record": {"S": "current"}}
        )["Item"]
        status: str = item["status"]["S"]
        return status

    # -- behind the service's back -------------------------------------------------------------

    def by_hand(self, method: str, path: str = "", body: object = None) -> requests.Response:
        emulator = self.emulator
        response = requests.request(
            method,
            f"{emulator.base_url}{COLLECTION_PATH}{path}",
            json=body,
            auth=(emulator.project_id, emulator.api_token),
            timeout=5,
        )
        response.raise_for_status()
        return response


def cold_workflow_module() -> ModuleType:
    module = importlib.import_module("functions.workflow.workflow_entry")
    module.wiring.cache_clear()
    return module


@pytest.fixture
def fleet(api: ProvisionerApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    monkeypatch.setenv("IMPORTS_BUCKET", BUCKET)
    with executing_in_process():
        bridge = LambdaBridge()
        bridge.register(WORKFLOW, WORKFLOW_FUNCTION, cold_workflow_module().lambda_handler)
        role_arn = create_local_role(boto3.client("iam"))
        function_arns = bridge.create_functions(boto3.client("lambda"), role_arn)
        sfn = boto3.client("stepfunctions")
        state_machines = {}
        for name, path in DEFINITIONS.items():
            definition = substitute(path.read_text(encoding="utf-8"), {"WorkflowFunctionArn": function_arns[WORKFLOW]})
            created = sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn)
            state_machines[name] = created["stateMachineArn"]
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        yield Fleet(sfn, s3, state_machines, bridge, api)
    cold_workflow_module()


REPORT = "rollouts/office/office-2026-12.report.json"


def drifted_and_unchanged(fleet: Fleet) -> None:
    """ada and grace made from `office` before its desk URL changed, alan after it."""
    fleet.create("ada.lovelace")
    fleet.create("grace.hopper", caller_id="Grace Hopper")
    fleet.change_profile("office", call_request_url=NEW_DESK_URL)
    fleet.create("alan.turing")


# -- rolling a profile change out ------------------------------------------------------------------


def test_a_rollout_brings_every_drifted_endpoint_of_the_profile_in_line_and_counts_them(fleet: Fleet) -> None:
    # Given two office endpoints made before the profile's desk URL changed and one made after
    drifted_and_unchanged(fleet)
    # When the office profile is rolled out
    execution = fleet.roll_out()
    # Then every endpoint holds the new URL, and the output counts the two changed and the one unchanged
    assert execution.status == "SUCCEEDED", execution.history
    assert execution.output == {
        "endpoints": 3,
        "changed": 2,
        "unchanged": 1,
        "failed": 0,
        "report": {"bucket": BUCKET, "key": REPORT},
    }
    for username in ("ada.lovelace", "grace.hopper", "alan.turing"):
        assert fleet.held(username)["call_request_url"] == NEW_DESK_URL


def test_a_rollout_sends_one_write_per_drifted_endpoint_and_none_for_an_unchanged_one(fleet: Fleet) -> None:
    # Given two drifted office endpoints and one in line
    drifted_and_unchanged(fleet)
    # When the office profile is rolled out
    fleet.roll_out()
    # Then SignalWire got exactly one PUT per drifted endpoint
    assert fleet.emulator.requests_received("update") == 2
    assert fleet.emulator.updates_committed() == 2


def test_a_rollout_keeps_what_each_endpoints_own_request_set(fleet: Fleet) -> None:
    # Given an office endpoint whose request set its own caller id, and the profile changed since
    drifted_and_unchanged(fleet)
    # When the office profile is rolled out
    fleet.roll_out()
    # Then its caller id is still its own, as a PATCH {} keeps it
    assert fleet.held("grace.hopper")["caller_id"] == "Grace Hopper"
    assert fleet.held("ada.lovelace")["caller_id"] == OFFICE["caller_id"]


def test_the_report_lists_every_endpoint_with_its_status_and_each_change_from_and_to(fleet: Fleet) -> None:
    # Given two drifted office endpoints and one in line
    drifted_and_unchanged(fleet)
    # When the office profile is rolled out
    fleet.roll_out()
    # Then the report has each endpoint with its status and, for a changed one, the field from and to
    report = fleet.document(REPORT)
    results = {result["username"]: result for result in report["results"]}
    assert {username: result["status"] for username, result in results.items()} == {
        "ada.lovelace": "changed",
        "grace.hopper": "changed",
        "alan.turing": "unchanged",
    }
    assert results["ada.lovelace"]["changes"] == [
        {"field": "call_request_url", "from": OFFICE["call_request_url"], "to": NEW_DESK_URL}
    ]
    assert results["alan.turing"]["changes"] == []
    assert (report["profile"], report["dry_run"], report["changed"], report["unchanged"]) == ("office", False, 2, 1)


def test_a_dry_run_reports_what_would_change_and_changes_nothing(fleet: Fleet) -> None:
    # Given two drifted office endpoints and one in line
    drifted_and_unchanged(fleet)
    # When the rollout runs as a dry run
    execution = fleet.roll_out(dry_run=True)
    # Then nothing was sent to SignalWire, the report says what would change, and the output counts it
    statuses = {result["username"]: result["status"] for result in fleet.document(REPORT)["results"]}
    assert execution.status == "SUCCEEDED", execution.history
    assert fleet.emulator.requests_received("update") == 0
    assert fleet.held("ada.lovelace")["call_request_url"] == OFFICE["call_request_url"]
    assert statuses == {"ada.lovelace": "would_change", "grace.hopper": "would_change", "alan.turing": "unchanged"}
    assert (execution.output["changed"], execution.output["unchanged"]) == (2, 1)


def test_a_rollout_after_an_adopt_would_change_exactly_the_drift_the_adopt_and_the_look_up_showed(
    fleet: Fleet,
) -> None:
    # Given an office-like endpoint made by hand that leaves its methods and encryption at SignalWire's
    # defaults (null, "default") and holds one codec
    fleet.by_hand(
        "POST",
        body={
            "username": "front-desk",
            "password": "Made-By-Hand-2019",
            "codecs": ["PCMU"],
            "call_handler": "laml_webhooks",
            "call_request_url": OFFICE["call_request_url"],
            "call_fallback_url": OFFICE["call_fallback_url"],
            "call_status_callback_url": OFFICE["call_status_callback_url"],
        },
    )
    # When its adoption into office is dry-run, it is adopted and looked up, and office's rollout dry-run
    previewed = fleet.api.request("POST", "/endpoints/front-desk/adopt", {"profile": "office"}, query="dry_run=true")
    adopted = fleet.api.request("POST", "/endpoints/front-desk/adopt", {"profile": "office"})
    looked_up = fleet.api.request("GET", "/endpoints/front-desk")
    fleet.roll_out(dry_run=True)
    # Then the rollout would change each field all three named as drift, from its actual to its expected value
    [result] = fleet.document(REPORT)["results"]
    would_change = [(change["field"], change["from"], change["to"]) for change in result["changes"]]
    for answer in (previewed, adopted, looked_up):
        assert [(drift["field"], drift["actual"], drift["expected"]) for drift in answer.body["drift"]] == would_change
    assert {field for field, _, _ in would_change} == {
        "caller_id",
        "codecs",
        "encryption",
        "call_request_method",
        "call_fallback_method",
        "call_status_callback_method",
    }


def test_a_disabled_endpoint_is_brought_in_line_and_stays_disabled(fleet: Fleet) -> None:
    # Given a disabled office endpoint, its password one nobody was given, and the profile changed since
    fleet.create("ada.lovelace")
    fleet.disable("ada.lovelace")
    password_while_disabled = fleet.emulator.stored_password("ada.lovelace")
    fleet.change_profile("office", call_request_url=NEW_DESK_URL)
    # When the office profile is rolled out
    execution = fleet.roll_out()
    # Then its settings follow the profile, its password is untouched and its record still disabled
    assert execution.output["changed"] == 1
    assert fleet.held("ada.lovelace")["call_request_url"] == NEW_DESK_URL
    assert fleet.emulator.stored_password("ada.lovelace") == password_while_disabled
    assert fleet.record_status("ada.lovelace") == "disabled"


def test_only_the_profiles_active_and_disabled_endpoints_are_rolled_out(fleet: Fleet) -> None:
    # Given an office endpoint, a deleted office endpoint and a default one, and office changed since
    fleet.create("ada.lovelace")
    fleet.create("grace.hopper")
    assert fleet.api.request("DELETE", "/endpoints/grace.hopper").status in (200, 204)
    fleet.create("alan.turing", profile="default")
    fleet.change_profile("office", call_request_url=NEW_DESK_URL)
    # When the office profile is rolled out
    execution = fleet.roll_out()
    # Then only the live office endpoint is in the report
    assert [result["username"] for result in fleet.document(REPORT)["results"]] == ["ada.lovelace"]
    assert execution.output["endpoints"] == 1


def test_a_profile_without_endpoints_rolls_out_to_none(fleet: Fleet) -> None:
    # Given no endpoint of the support profile
    fleet.create("ada.lovelace")
    # When the support profile is rolled out
    execution = fleet.run(ROLLOUT, {"profile": "support"}, "support-2026-12")
    # Then the execution succeeds with an empty report
    assert execution.status == "SUCCEEDED", execution.history
    assert execution.output["endpoints"] == 0
    assert fleet.document("rollouts/support/support-2026-12.report.json")["results"] == []


def test_max_concurrency_from_the_input_is_the_map_runs_concurrency(fleet: Fleet) -> None:
    # Given a drifted office endpoint
    fleet.create("ada.lovelace")
    fleet.change_profile("office", call_request_url=NEW_DESK_URL)
    # When the rollout runs at a max_concurrency of 3, and another without one
    first = fleet.roll_out(name="office-a", max_concurrency=3)
    second = fleet.roll_out(name="office-b")
    # Then the Distributed Maps ran at 3, and at the default 10
    concurrency = []
    for execution in (first, second):
        [run] = fleet.sfn.list_map_runs(executionArn=execution.arn)["mapRuns"]
        concurrency.append(fleet.sfn.describe_map_run(mapRunArn=run["mapRunArn"])["maxConcurrency"])
    assert concurrency == [3, 10]


def test_an_unknown_profile_fails_as_a_validation_error_and_changes_nothing(fleet: Fleet) -> None:
    # Given office endpoints
    drifted_and_unchanged(fleet)
    # When a rollout names a profile that does not exist
    execution = fleet.run(ROLLOUT, {"profile": "no-such-profile"}, "typo-2026-12")
    # Then it fails as ValidationError naming the profile, nothing is written and nothing sent
    error, cause = execution.failure()
    assert (execution.status, error) == ("FAILED", "ValidationError")
    assert "profile" in cause
    assert fleet.keys() == []
    assert fleet.emulator.requests_received("update") == 0


@pytest.mark.parametrize(
    "execution_input",
    [
        {},
        {"profile": 4711},
        {"profile": "office", "dry_run": "yes"},
        {"profile": "office", "max_concurrency": 0},
        {"profile": "office", "max_concurrency": 101},
        {"profile": "office", "max_concurrency": "10"},
        {"profile": "office", "force": True},
        [],
        "office",
        None,
    ],
    ids=[
        "no-profile",
        "profile-not-text",
        "dry-run-not-boolean",
        "max-concurrency-0",
        "max-concurrency-101",
        "max-concurrency-text",
        "unknown-key",
        "a-list",
        "a-string",
        "null",
    ],
)
def test_a_bad_input_fails_as_a_validation_error_before_anything_is_read_or_changed(
    fleet: Fleet, execution_input: object
) -> None:
    # Given a drifted office endpoint
    fleet.create("ada.lovelace")
    fleet.change_profile("office", call_request_url=NEW_DESK_URL)
    # When a rollout is started with a bad input
    execution = fleet.run(ROLLOUT, execution_input, "bad-input")
    # Then it fails at its first step as ValidationError, no Map ran and nothing was changed
    error, _ = execution.failure()
    assert (execution.status, error) == ("FAILED", "ValidationError")
    assert fleet.bridge.invocations() == 1
    assert fleet.keys() == []
    assert fleet.emulator.requests_received("update") == 0


def test_signalwire_rate_limits_and_5xx_mid_rollout_are_retried_to_one_write_per_endpoint(fleet: Fleet) -> None:
    # Given two drifted endpoints, and SignalWire answering the first PUTs with a 429 and then a 503
    drifted_and_unchanged(fleet)
    fleet.emulator.inject_fault(Fault.RATE_LIMITED, operation="update", times=1, retry_after=1)
    fleet.emulator.inject_fault(Fault.SERVICE_UNAVAILABLE, operation="update", times=1)
    # When the office profile is rolled out one endpoint at a time
    execution = fleet.roll_out(max_concurrency=1)
    # Then the failed writes were retried, and each drifted endpoint was changed exactly once
    assert execution.status == "SUCCEEDED", execution.history
    assert execution.output["changed"] == 2
    assert execution.output["failed"] == 0
    assert fleet.emulator.requests_received("update") > 2
    assert fleet.emulator.updates_committed() == 2


def test_a_patch_whose_answer_is_lost_is_confirmed_not_sent_again(fleet: Fleet) -> None:
    # Given a drifted endpoint, and SignalWire applying the PUT and then dropping the connection
    fleet.create("ada.lovelace")
    fleet.change_profile("office", call_request_url=NEW_DESK_URL)
    fleet.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE, operation="update", times=1)
    # When the office profile is rolled out
    execution = fleet.roll_out()
    # Then the change was confirmed by a read, never sent a second time, and reported changed
    assert execution.output["changed"] == 1
    assert fleet.emulator.requests_received("update") == 1
    assert fleet.held("ada.lovelace")["call_request_url"] == NEW_DESK_URL


def test_sending_the_endpoints_again_under_the_executions_keys_changes_nothing_twice(fleet: Fleet) -> None:
    # Given a rollout that changed two endpoints
    drifted_and_unchanged(fleet)
    first = fleet.roll_out()
    manifest = fleet.document("rollouts/office/office-2026-12.manifest.json")
    # When its endpoints are sent again as the Map sends them (what a redrive does)
    module = cold_workflow_module()
    again = [
        module.lambda_handler(
            {
                "action": "roll_out",
                "execution_name": "office-2026-12",
                "index": index,
                "username": username,
                "dry_run": False,
            },
            _Context(),
        )
        for index, username in enumerate(manifest)
    ]
    # Then each answers its first outcome and SignalWire got no new write
    assert first.status == "SUCCEEDED"
    assert sorted(answer["status"] for answer in again) == ["changed", "changed", "unchanged"]
    assert fleet.emulator.requests_received("update") == 2


def test_starting_the_same_execution_name_again_is_refused_and_changes_nothing_twice(fleet: Fleet) -> None:
    # Given a rollout that changed two endpoints
    drifted_and_unchanged(fleet)
    fleet.roll_out()
    # When an execution of the same name is started again
    with fleet.bridge.installed(), pytest.raises(fleet.sfn.exceptions.ExecutionAlreadyExists):
        fleet.sfn.start_execution(
            stateMachineArn=fleet.state_machines[ROLLOUT],
            name="office-2026-12",
            input=json.dumps({"profile": "office"}),
        )
    # Then Step Functions refuses it, and SignalWire got no new write
    assert fleet.emulator.requests_received("update") == 2


def test_no_password_is_in_the_report_the_manifest_the_history_or_the_output(fleet: Fleet) -> None:
    # Given drifted endpoints, one of them disabled
    drifted_and_unchanged(fleet)
    fleet.disable("grace.hopper")
    # When the office profile is rolled out
    execution = fleet.roll_out()
    # Then no endpoint's password is in any S3 object, the execution's history or its output
    passwords = [str(endpoint["password"]) for endpoint in fleet.emulator.endpoints]
    scanned = "\n".join(
        [fleet.every_object_text(), execution_history_text(fleet.sfn, execution.arn), json.dumps(execution.output)]
    )
    assert len(passwords) == 3
    for password in passwords:
        assert password not in scanned


class _Context:
    function_name = WORKFLOW_FUNCTION.name
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{WORKFLOW_FUNCTION.name}"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


# -- auditing the fleet ----------------------------------------------------------------------------


AUDIT_REPORT = "audits/audit-2026-12-07.json"


def a_fleet_with_one_of_each(fleet: Fleet) -> None:
    """ada in line; grace changed by hand; alan deleted by hand; edsger made by hand."""
    for username in ("ada.lovelace", "grace.hopper", "alan.turing"):
        fleet.create(username)
    fleet.by_hand("PUT", f"/{fleet.held('grace.hopper')['id']}", {"codecs": ["PCMU"]})
    fleet.by_hand("DELETE", f"/{fleet.held('alan.turing')['id']}")
    fleet.by_hand("POST", body={"username": "edsger.dijkstra", "password": "hand-made-password-0123"})


def test_the_audit_finds_the_drifted_the_missing_and_the_unmanaged_endpoints(fleet: Fleet) -> None:
    # Given three managed endpoints, one changed and one deleted behind the service's back, and one made by hand
    a_fleet_with_one_of_each(fleet)
    # When the fleet is audited
    execution = fleet.audit()
    # Then the output counts each, and the report names each
    assert execution.status == "SUCCEEDED", execution.history
    assert execution.output == {
        "managed": 3,
        "drifted": 1,
        "missing": 1,
        "unmanaged": 1,
        "report": {"bucket": BUCKET, "key": AUDIT_REPORT},
    }
    report = fleet.document(AUDIT_REPORT)
    [drifted] = report["drifted"]
    assert (drifted["username"], drifted["drift"]) == (
        "grace.hopper",
        [{"field": "codecs", "expected": OFFICE["codecs"], "actual": ["PCMU"]}],
    )
    assert [missing["username"] for missing in report["missing"]] == ["alan.turing"]
    assert [unmanaged["username"] for unmanaged in report["unmanaged"]] == ["edsger.dijkstra"]


def test_a_disabled_endpoint_in_line_is_managed_and_not_drifted(fleet: Fleet) -> None:
    # Given a managed endpoint that was disabled (its password changed, its settings not)
    fleet.create("ada.lovelace")
    fleet.disable("ada.lovelace")
    # When the fleet is audited
    execution = fleet.audit()
    # Then it counts as managed, in line, neither missing nor unmanaged
    assert {name: execution.output[name] for name in ("managed", "drifted", "missing", "unmanaged")} == {
        "managed": 1,
        "drifted": 0,
        "missing": 0,
        "unmanaged": 0,
    }


def test_an_endpoint_made_by_hand_under_a_deleted_records_username_is_unmanaged(fleet: Fleet) -> None:
    # Given an endpoint the service deleted, its username then taken again by hand
    fleet.create("ada.lovelace")
    assert fleet.api.request("DELETE", "/endpoints/ada.lovelace").status in (200, 204)
    fleet.by_hand("POST", body={"username": "ada.lovelace", "password": "hand-made-password-0123"})
    # When the fleet is audited
    execution = fleet.audit()
    # Then the hand-made endpoint is unmanaged, and the deleted record is not missing
    report = fleet.document(AUDIT_REPORT)
    assert [unmanaged["username"] for unmanaged in report["unmanaged"]] == ["ada.lovelace"]
    assert (execution.output["managed"], execution.output["missing"]) == (0, 0)


def test_the_audit_changes_nothing(fleet: Fleet) -> None:
    # Given a fleet with one endpoint of each kind, and the inventory as it is
    a_fleet_with_one_of_each(fleet)
    inventory_before = boto3.client("dynamodb").scan(TableName=INVENTORY_TABLE)["Items"]
    endpoints_before = fleet.emulator.endpoints
    # When the fleet is audited
    fleet.audit()
    # Then SignalWire got no write and neither SignalWire nor the inventory changed
    assert [fleet.emulator.committed(operation) for operation in ("create", "update", "delete")] == [4, 1, 1]
    assert fleet.emulator.endpoints == endpoints_before
    assert boto3.client("dynamodb").scan(TableName=INVENTORY_TABLE)["Items"] == inventory_before


def test_the_audit_reads_signalwire_one_list_call_per_page_never_one_per_endpoint(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 1,001 endpoints made by hand and 2 managed ones: 1,003, two pages of 1,000, which the
    # emulator may take longer than the suite's 0.5 s read timeout to answer on a loaded machine
    # (a timeout would be retried: one list call more than the pages)
    monkeypatch.setenv("SIGNALWIRE_READ_TIMEOUT", "10")
    for number in range(1001):
        fleet.by_hand("POST", body={"username": f"hand.{number:04d}", "password": "hand-made-password-0123"})
    fleet.create("ada.lovelace")
    fleet.create("grace.hopper")
    lists_before = fleet.emulator.requests_received("list")
    retrieves_before = fleet.emulator.requests_received("retrieve")
    # When the fleet is audited
    execution = fleet.audit()
    # Then it listed ceil(1,003 / 1,000) = 2 pages and retrieved no endpoint one by one
    assert execution.output["unmanaged"] == 1001
    assert execution.output["managed"] == 2
    assert fleet.emulator.requests_received("list") - lists_before == -(-1003 // LIST_PAGE_SIZE)
    assert fleet.emulator.requests_received("retrieve") == retrieves_before


def test_a_profile_audit_counts_only_that_profiles_managed_endpoints(fleet: Fleet) -> None:
    # Given an office endpoint changed by hand and a default one in line
    fleet.create("ada.lovelace")
    fleet.create("grace.hopper", profile="default")
    fleet.by_hand("PUT", f"/{fleet.held('ada.lovelace')['id']}", {"codecs": ["PCMU"]})
    # When only the default profile is audited
    execution = fleet.audit({"profile": "default"})
    # Then only the default endpoint is counted, and it is in line
    assert (execution.output["managed"], execution.output["drifted"]) == (1, 0)


def test_a_signalwire_failure_while_listing_is_read_again(fleet: Fleet) -> None:
    # Given a managed endpoint and SignalWire answering the first list with a 503
    fleet.create("ada.lovelace")
    fleet.emulator.inject_fault(Fault.SERVICE_UNAVAILABLE, operation="list", times=1)
    # When the fleet is audited
    execution = fleet.audit()
    # Then the audit succeeded on another read
    assert execution.status == "SUCCEEDED", execution.history
    assert execution.output["managed"] == 1


@pytest.mark.parametrize(
    "execution_input",
    [{"profile": "no-such-profile"}, {"profile": 4711}, {"everything": True}, [], "office"],
    ids=["unknown-profile", "profile-not-text", "unknown-key", "a-list", "a-string"],
)
def test_a_bad_audit_input_fails_as_a_validation_error(fleet: Fleet, execution_input: object) -> None:
    # Given / When an audit is started with a bad input
    execution = fleet.audit(execution_input)
    # Then it fails as ValidationError and writes no report
    error, _ = execution.failure()
    assert (execution.status, error) == ("FAILED", "ValidationError")
    assert fleet.keys() == []


def test_the_audit_publishes_its_counts_as_metrics(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a fleet with one endpoint of each kind
    a_fleet_with_one_of_each(fleet)
    capsys.readouterr()
    # When the fleet is audited
    fleet.audit()
    # Then the invocation's EMF document carries each count
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    published = {
        name: document[name]
        for document in documents
        for name in ("DriftedEndpoints", "MissingEndpoints", "UnmanagedEndpoints")
        if name in document
    }
    assert published == {"DriftedEndpoints": [1.0], "MissingEndpoints": [1.0], "UnmanagedEndpoints": [1.0]}
