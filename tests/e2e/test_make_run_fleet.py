"""Rolling a profile out and auditing the fleet under `make run` (CONTRACT.md section 9): the state
machines of template.yaml in moto's Step Functions, their Lambda tasks in the workflow function's
own execution environments, SignalWire as the emulator serves it.

The tests start executions as an operator does, with botocore or the AWS CLI at the moto URL
the run printed; what happens behind the service's back goes to the emulator's REST API.

`make run` keeps the template's ParametersMaxAge (300 s): a warm environment reads SSM again only
after five minutes. So the office profile is changed once, before any execution, while the
workflow function has no environment yet; its first environment then reads the changed profile.
"""

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from local.run import EMULATOR_API_TOKEN
from local.step_functions import execution_history_text, wait_for_execution
from tests.e2e.test_make_run import (
    REPOSITORY_ROOT,
    REQUEST_TIMEOUT_SECONDS,
    SIP_ENDPOINTS_PATH,
    LocalRun,
    end,
    start_local_run,
    unique_username,
)

ROLLOUT = "ProfileRolloutStateMachine"
AUDIT = "FleetAuditStateMachine"
EXECUTION_TIMEOUT_SECONDS = 180.0
OFFICE = json.loads((REPOSITORY_ROOT / "config" / "profiles" / "office.json").read_text(encoding="utf-8"))
DEFAULT = json.loads((REPOSITORY_ROOT / "config" / "profiles" / "default.json").read_text(encoding="utf-8"))
AUDIT_LISTS = ("drifted", "missing", "unmanaged")
NEW_DESK_URL = "https://office.example.com/laml/desk-v2"
EMULATOR_PAGE_SIZE = "1000"


@dataclass(frozen=True)
class Execution:
    arn: str
    description: dict[str, Any]

    @property
    def status(self) -> str:
        status: str = self.description["status"]
        return status

    @property
    def output(self) -> dict[str, Any]:
        output: dict[str, Any] = json.loads(self.description["output"])
        return output


@dataclass
class Fleet:
    """One `make run`, and what the tests made in it: every password the API answered, and the
    office endpoint made before the office profile changed."""

    run: LocalRun
    passwords: list[str] = field(default_factory=list)
    office_desk: str = ""

    def printed(self, prefix: str) -> str:
        [line] = [line for line in self.run.output if line.startswith(prefix)]
        return line.removeprefix(prefix).strip()

    @property
    def moto_url(self) -> str:
        return self.printed("AWS (moto): ").split(";", 1)[0]

    @property
    def parameters_path(self) -> str:
        return self.printed("AWS (moto): ").split(" under ", 1)[1].split(";", 1)[0]

    def state_machine_arn(self, logical_id: str) -> str:
        return self.printed(f"State machine {logical_id}: ")

    # -- through the service ---------------------------------------------------------------------

    def create(self, profile: str) -> str:
        username = unique_username(profile)
        answer = requests.post(
            f"{self.run.base_url}/endpoints",
            json={"username": username, "profile": profile},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        assert answer.status_code == 201, answer.text
        self.passwords.append(answer.json()["password"])
        return username

    def execute(self, logical_id: str, execution_input: object) -> Execution:
        sfn = self.run.aws("stepfunctions")
        started = sfn.start_execution(
            stateMachineArn=self.state_machine_arn(logical_id),
            name=f"e2e-{uuid.uuid4().hex[:12]}",
            input=json.dumps(execution_input),
        )
        description = wait_for_execution(sfn, started["executionArn"], timeout_seconds=EXECUTION_TIMEOUT_SECONDS)
        return Execution(started["executionArn"], description)

    def execute_with_aws_cli(self, logical_id: str, execution_input: object) -> Execution:
        """As an operator starts and reads an execution: `aws stepfunctions` at the printed moto URL."""
        started = self.aws_cli(
            "start-execution",
            "--state-machine-arn",
            self.state_machine_arn(logical_id),
            "--name",
            f"e2e-cli-{uuid.uuid4().hex[:12]}",
            "--input",
            json.dumps(execution_input),
        )
        wait_for_execution(
            self.run.aws("stepfunctions"), started["executionArn"], timeout_seconds=EXECUTION_TIMEOUT_SECONDS
        )
        described = self.aws_cli("describe-execution", "--execution-arn", started["executionArn"])
        return Execution(started["executionArn"], described)

    def aws_cli(self, command: str, *arguments: str) -> dict[str, Any]:
        environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        completed = subprocess.run(  # noqa: S603 - the AWS CLI with arguments this test builds
            ["aws", "stepfunctions", command, "--endpoint-url", self.moto_url, "--output", "json", *arguments],  # noqa: S607
            env={
                **environment,
                "AWS_ACCESS_KEY_ID": "x",
                "AWS_SECRET_ACCESS_KEY": "x",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            },
            capture_output=True,
            text=True,
            timeout=EXECUTION_TIMEOUT_SECONDS,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        answer: dict[str, Any] = json.loads(completed.stdout)
        return answer

    def roll_out(self, profile: str, **execution_input: object) -> Execution:
        return self.execute(ROLLOUT, {"profile": profile, **execution_input})

    def history_text(self, execution: Execution) -> str:
        return execution_history_text(self.run.aws("stepfunctions"), execution.arn)

    def failure(self, execution: Execution) -> tuple[str, str]:
        events = self.run.aws("stepfunctions").get_execution_history(executionArn=execution.arn)["events"]
        [failed] = [event["executionFailedEventDetails"] for event in events if event["type"] == "ExecutionFailed"]
        return failed["error"], failed["cause"]

    def report(self, execution: Execution) -> Any:
        location = execution.output["report"]
        body = self.run.aws("s3").get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()
        return json.loads(body)

    def every_object_text(self, bucket: str) -> str:
        s3 = self.run.aws("s3")
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        return "\n".join(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8") for key in keys)

    def change_office_profile(self, **fields: object) -> None:
        self.run.aws("ssm").put_parameter(
            Name=f"{self.parameters_path}/profiles/office",
            Value=json.dumps({**OFFICE, **fields}),
            Type="String",
            Overwrite=True,
        )

    # -- SignalWire, behind the service's back ---------------------------------------------------

    def by_hand(self, method: str, path: str = "", body: object = None) -> requests.Response:
        response = requests.request(
            method,
            f"{self.run.emulator_url}{SIP_ENDPOINTS_PATH}{path}",
            json=body,
            auth=(self.run.emulator_project, EMULATOR_API_TOKEN),
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        return response

    def held(self, username: str) -> dict[str, Any]:
        [endpoint] = self.run.emulator_endpoints_named(username)
        return endpoint

    def every_endpoint(self) -> list[dict[str, Any]]:
        page = self.by_hand("GET", f"?page_size={EMULATOR_PAGE_SIZE}").json()
        assert not page.get("links", {}).get("next"), "the fleet outgrew one page"
        endpoints: list[dict[str, Any]] = page["data"]
        return endpoints


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    """A run with one office endpoint made from the profile as shipped, then the office profile's
    desk URL changed in SSM: before any execution, so the workflow function reads the change."""
    run = start_local_run()
    try:
        run.wait_until_listening()
        fleet = Fleet(run)
        fleet.office_desk = fleet.create("office")
        fleet.change_office_profile(call_request_url=NEW_DESK_URL)
        yield fleet
    finally:
        end(run)


@dataclass(frozen=True)
class OfficeRollouts:
    """The office profile rolled out as a dry run, for real, then again; SignalWire's endpoint after each."""

    held_before: dict[str, Any]
    dry_run: Execution
    held_after_dry_run: dict[str, Any]
    first: Execution
    held_after_first: dict[str, Any]
    second: Execution
    held_after_second: dict[str, Any]


@pytest.fixture(scope="module")
def office_rollouts(fleet: Fleet) -> OfficeRollouts:
    held_before = fleet.held(fleet.office_desk)
    dry_run = fleet.roll_out("office", dry_run=True)
    held_after_dry_run = fleet.held(fleet.office_desk)
    first = fleet.roll_out("office")
    held_after_first = fleet.held(fleet.office_desk)
    second = fleet.roll_out("office")
    return OfficeRollouts(
        held_before, dry_run, held_after_dry_run, first, held_after_first, second, fleet.held(fleet.office_desk)
    )


def statuses(report: Any) -> dict[str, str]:
    return {result["username"]: result["status"] for result in report["results"]}


def usernames(report: Any, kind: str) -> set[str]:
    return {endpoint["username"] for endpoint in report[kind]}


# -- auditing the fleet ------------------------------------------------------------------------------


def test_the_audit_names_the_drifted_the_missing_and_the_unmanaged_and_changes_nothing(fleet: Fleet) -> None:
    # Given a managed endpoint changed by hand, one deleted by hand, and one made by hand
    drifted, missing = fleet.create("default"), fleet.create("default")
    fleet.by_hand("PUT", f"/{fleet.held(drifted)['id']}", {"codecs": ["PCMU"]})
    fleet.by_hand("DELETE", f"/{fleet.held(missing)['id']}")
    unmanaged = unique_username("by-hand")
    fleet.by_hand("POST", body={"username": unmanaged, "password": "made-by-an-old-script-1234"})
    made = (drifted, missing, unmanaged)
    held_before = fleet.every_endpoint()
    # When the fleet is audited, started and described with the AWS CLI
    execution = fleet.execute_with_aws_cli(AUDIT, {})
    # Then it succeeds, its report names each in its own list with the drift, the output counts
    # each list, and SignalWire holds what it held
    assert execution.status == "SUCCEEDED", fleet.history_text(execution)
    report = fleet.report(execution)
    name = execution.arn.rsplit(":", 1)[1]
    assert execution.output["report"]["key"] == f"audits/{name}.json"
    placed = {username: [kind for kind in AUDIT_LISTS if username in usernames(report, kind)] for username in made}
    assert placed == {drifted: ["drifted"], missing: ["missing"], unmanaged: ["unmanaged"]}
    [drift] = [endpoint["drift"] for endpoint in report["drifted"] if endpoint["username"] == drifted]
    assert drift == [{"field": "codecs", "expected": DEFAULT["codecs"], "actual": ["PCMU"]}]
    assert execution.output["managed"] == len(fleet.passwords)  # every endpoint the service made, the missing one too
    assert {kind: execution.output[kind] for kind in AUDIT_LISTS} == {kind: len(report[kind]) for kind in AUDIT_LISTS}
    assert fleet.every_endpoint() == held_before


# -- rolling a profile change out ------------------------------------------------------------------


def test_a_dry_run_rollout_reports_the_endpoint_would_change_and_changes_nothing(
    fleet: Fleet, office_rollouts: OfficeRollouts
) -> None:
    # Given an office endpoint made before the office profile's desk URL changed in SSM
    # When the office profile is rolled out as a dry run
    execution = office_rollouts.dry_run
    # Then the report says it would change, from the old URL to the new, and SignalWire holds what it held
    assert execution.status == "SUCCEEDED", fleet.history_text(execution)
    [result] = [result for result in fleet.report(execution)["results"] if result["username"] == fleet.office_desk]
    assert result["status"] == "would_change"
    assert result["changes"] == [{"field": "call_request_url", "from": OFFICE["call_request_url"], "to": NEW_DESK_URL}]
    assert office_rollouts.held_after_dry_run == office_rollouts.held_before


def test_a_rollout_changes_the_drifted_endpoint_to_match_the_changed_profile(
    fleet: Fleet, office_rollouts: OfficeRollouts
) -> None:
    # Given an office endpoint made before the office profile's desk URL changed, and a dry run since
    # When the office profile is rolled out
    execution = office_rollouts.first
    # Then the report says it changed, the output counts it, and SignalWire holds the new URL, the rest as it was
    assert execution.status == "SUCCEEDED", fleet.history_text(execution)
    assert statuses(fleet.report(execution)) == {fleet.office_desk: "changed"}
    assert (execution.output["endpoints"], execution.output["changed"], execution.output["failed"]) == (1, 1, 0)
    assert office_rollouts.held_after_first == {**office_rollouts.held_before, "call_request_url": NEW_DESK_URL}


def test_a_second_rollout_finds_the_endpoint_unchanged(fleet: Fleet, office_rollouts: OfficeRollouts) -> None:
    # Given the office profile rolled out once
    # When it is rolled out again
    execution = office_rollouts.second
    # Then the endpoint is unchanged, in the report and in SignalWire
    assert execution.status == "SUCCEEDED", fleet.history_text(execution)
    assert statuses(fleet.report(execution)) == {fleet.office_desk: "unchanged"}
    assert (execution.output["changed"], execution.output["unchanged"]) == (0, 1)
    assert office_rollouts.held_after_second == office_rollouts.held_after_first


def test_a_rollout_of_an_unknown_profile_fails_as_a_validation_error_and_changes_nothing(fleet: Fleet) -> None:
    # Given the fleet as SignalWire holds it
    held_before = fleet.every_endpoint()
    # When a rollout names a profile that does not exist
    execution = fleet.roll_out("no-such-profile")
    # Then it fails as ValidationError, and SignalWire holds what it held
    error, _ = fleet.failure(execution)
    assert (execution.status, error) == ("FAILED", "ValidationError")
    assert fleet.every_endpoint() == held_before


# -- secrets -----------------------------------------------------------------------------------------


def test_no_password_is_in_any_report_execution_output_or_history(
    fleet: Fleet, office_rollouts: OfficeRollouts
) -> None:
    # Given the office rollouts, and an audit of a fleet with a drifted endpoint
    drifted = fleet.create("default")
    fleet.by_hand("PUT", f"/{fleet.held(drifted)['id']}", {"codecs": ["PCMU"]})
    audit = fleet.execute(AUDIT, {})
    executions = [office_rollouts.dry_run, office_rollouts.first, office_rollouts.second, audit]
    # When every object in the imports bucket, every output and every history is read
    scanned = "\n".join(
        [
            fleet.every_object_text(audit.output["report"]["bucket"]),
            *(json.dumps(execution.output) for execution in executions),
            *(fleet.history_text(execution) for execution in executions),
        ]
    )
    # Then none holds a password the API answered when it created an endpoint
    assert drifted in scanned  # the scan reads the reports
    assert len(fleet.passwords) >= 2
    for password in fleet.passwords:
        assert password not in scanned
