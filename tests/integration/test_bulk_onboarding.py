"""Bulk onboarding executed for real: moto's ASL interpreter runs statemachine/bulk_onboarding.asl.json,
its Distributed Map reading the CSV from moto's S3, each Lambda task reaching
`functions/bulk_import/bulk_import.lambda_handler` through `local.step_functions.LambdaBridge`.

SSM, DynamoDB and Secrets Manager are moto seeded as for every integration test (the `api`
fixture); SignalWire is the emulator over loopback HTTP. Retry waits are real: the definition's
first IntervalSeconds is 1 s with full jitter, so a retried row costs up to a second.
"""

import csv
import importlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from local.gateway import LambdaFunction
from local.signalwire_emulator import Fault, SignalWireEmulator
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
from tests.integration.conftest import INVENTORY_TABLE, SECRETS_PREFIX, SIP_DOMAIN, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DEFINITION_PATH = REPOSITORY_ROOT / "statemachine" / "bulk_onboarding.asl.json"
EXAMPLE_CSV = REPOSITORY_ROOT / "config" / "bulk-example.csv"
BULK = "BulkImportFunction"
# As template.yaml deploys it: 512 MB, 25 s.
BULK_FUNCTION = LambdaFunction(name="sip-provisioner-test-bulk-import", memory_limit_in_mb=512, timeout_seconds=25)
BUCKET = "sip-provisioning-test-imports"
KEY = "imports/2025-06-intake.csv"
REPORT_KEY = f"{KEY}.report.json"


@dataclass(frozen=True)
class BulkOnboarding:
    """The bulk state machine in moto, its tasks bridged to the real bulk function."""

    sfn: Any
    s3: Any
    state_machine_arn: str
    bridge: LambdaBridge
    api: ProvisionerApi

    @property
    def emulator(self) -> SignalWireEmulator:
        return self.api.emulator

    def upload(self, text: str, key: str = KEY) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode("utf-8"))

    def run(self, name: str = "intake-2025-06", key: str = KEY, **extra: Any) -> Execution:
        return self.run_input({"source": {"bucket": BUCKET, "key": key}, **extra}, name)

    def run_input(self, execution_input: object, name: str = "intake-2025-06") -> Execution:
        with self.bridge.installed():
            started = self.sfn.start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
            )
            description = wait_for_execution(self.sfn, started["executionArn"], timeout_seconds=120)
        return Execution(started["executionArn"], description, execution_history(self.sfn, started["executionArn"]))

    def map_run(self, execution: Execution) -> dict[str, Any]:
        [run] = self.sfn.list_map_runs(executionArn=execution.arn)["mapRuns"]
        described: dict[str, Any] = self.sfn.describe_map_run(mapRunArn=run["mapRunArn"])
        return described

    def report(self, key: str = REPORT_KEY) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        return document

    def every_object_text(self) -> str:
        keys = [item["Key"] for item in self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        return "\n".join(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8") for key in keys)


def csv_text(*rows: dict[str, str]) -> str:
    columns = list(dict.fromkeys(column for row in rows for column in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def cold_bulk_module() -> ModuleType:
    module = importlib.import_module("functions.bulk_import.bulk_import")
    module.wiring.cache_clear()
    return module


@pytest.fixture
def bulk(api: ProvisionerApi) -> Iterator[BulkOnboarding]:
    with executing_in_process():
        bridge = LambdaBridge()
        bridge.register(BULK, BULK_FUNCTION, cold_bulk_module().lambda_handler)
        role_arn = create_local_role(boto3.client("iam"))
        function_arns = bridge.create_functions(boto3.client("lambda"), role_arn)
        definition = substitute(
            DEFINITION_PATH.read_text(encoding="utf-8"), {"BulkImportFunctionArn": function_arns[BULK]}
        )
        sfn = boto3.client("stepfunctions")
        created = sfn.create_state_machine(name="BulkOnboardingStateMachine", definition=definition, roleArn=role_arn)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        yield BulkOnboarding(sfn, s3, created["stateMachineArn"], bridge, api)
    cold_bulk_module()


GOOD_ROWS = (
    {"username": "ada.lovelace", "profile": "onboarding", "owner": "E4711", "caller_id": "", "handler_type": ""},
    {"username": "grace.hopper", "profile": "office", "owner": "", "caller_id": "Grace Hopper", "handler_type": ""},
    {"username": "alan.turing", "profile": "", "owner": "E4713", "caller_id": "", "handler_type": "laml_webhooks"},
)


def good_file() -> str:
    rows = [dict(row) for row in GOOD_ROWS]
    rows[2]["handler_url"] = "https://voice.example.com/laml/turing"
    rows[0]["handler_url"] = rows[1]["handler_url"] = ""
    return csv_text(*rows)


# -- a good file ---------------------------------------------------------------------------------


def test_a_good_file_creates_every_row_once_and_the_output_counts_them(bulk: BulkOnboarding) -> None:
    # Given a file of three good rows
    bulk.upload(good_file())
    # When the import runs
    execution = bulk.run()
    # Then every row is created once, and the output counts them and names the report
    assert execution.status == "SUCCEEDED", execution.history
    assert execution.output == {"rows": 3, "created": 3, "failed": 0, "report": {"bucket": BUCKET, "key": REPORT_KEY}}
    assert sorted(str(endpoint["username"]) for endpoint in bulk.emulator.endpoints) == [
        "ada.lovelace",
        "alan.turing",
        "grace.hopper",
    ]
    assert bulk.emulator.creates_committed() == 3


def test_each_row_is_created_with_the_fields_its_cells_give_over_its_profile(bulk: BulkOnboarding) -> None:
    # Given a file whose rows set a profile, a caller id and a handler URL
    bulk.upload(good_file())
    # When the import runs
    bulk.run()
    # Then SignalWire holds each row's fields, the profile supplying the rest
    by_username = {endpoint["username"]: endpoint for endpoint in bulk.emulator.endpoints}
    assert by_username["grace.hopper"]["caller_id"] == "Grace Hopper"
    assert by_username["grace.hopper"]["call_request_url"] == "https://office.example.com/laml/desk"
    assert by_username["ada.lovelace"]["call_request_url"] == "https://voice.example.com/laml/new-hire"
    assert by_username["alan.turing"]["call_request_url"] == "https://voice.example.com/laml/turing"


def test_the_inventory_records_each_row_as_created_in_bulk_by_the_workflow_caller(bulk: BulkOnboarding) -> None:
    # Given / When a good file is imported
    bulk.upload(good_file())
    bulk.run()
    # Then every inventory record says who and through which door, with the row's owner
    items = boto3.client("dynamodb").scan(TableName=INVENTORY_TABLE)["Items"]
    records = {item["username"]["S"]: item for item in items}
    assert {record["created_via"]["S"] for record in records.values()} == {"bulk"}
    assert {record["created_by"]["S"] for record in records.values()} == {"workflow"}
    assert records["ada.lovelace"]["owner"]["S"] == "E4711"


def test_the_report_lists_every_row_with_its_sip_uri_and_secret_and_no_password(bulk: BulkOnboarding) -> None:
    # Given / When a good file is imported
    bulk.upload(good_file())
    bulk.run()
    # Then the report beside the source has each row in file order, created, with where to
    # register and where its password is, and never the password
    report = bulk.report()
    assert [(row["line"], row["username"], row["status"]) for row in report["results"]] == [
        (2, "ada.lovelace", "created"),
        (3, "grace.hopper", "created"),
        (4, "alan.turing", "created"),
    ]
    for row in report["results"]:
        assert row["sip_uri"] == f"sip:{row['username']}@{SIP_DOMAIN}"
        assert row["password_secret_arn"].split(":secret:")[1].startswith(f"{SECRETS_PREFIX}{row['username']}-")
        assert "password" not in row
    assert (report["rows"], report["created"], report["failed"]) == (3, 3, 0)


def test_max_concurrency_from_the_input_is_the_map_runs_concurrency(bulk: BulkOnboarding) -> None:
    # Given a good file
    bulk.upload(good_file())
    # When the import runs at a max_concurrency of 2
    execution = bulk.run(max_concurrency=2)
    # Then the Distributed Map ran its children at most 2 at a time
    assert execution.status == "SUCCEEDED", execution.history
    assert bulk.map_run(execution)["maxConcurrency"] == 2


def test_without_max_concurrency_the_map_runs_10_at_a_time(bulk: BulkOnboarding) -> None:
    # Given a good file
    bulk.upload(good_file())
    # When the import runs without max_concurrency
    execution = bulk.run()
    # Then the Map's concurrency is the default, 10
    assert bulk.map_run(execution)["maxConcurrency"] == 10


def test_a_max_concurrency_outside_1_to_100_creates_nothing(bulk: BulkOnboarding) -> None:
    # Given a good file
    bulk.upload(good_file())
    # When the import is started with a max_concurrency of 101
    execution = bulk.run(max_concurrency=101)
    # Then it fails as a validation error naming the field, and nothing is created
    error, cause = execution.failure()
    assert execution.status == "FAILED"
    assert error == "ValidationError"
    assert "max_concurrency" in cause
    assert bulk.emulator.create_requests_received() == 0


@pytest.mark.parametrize(
    "earlier_key",
    [False, True],
    ids=["as-the-map-sends-them", "with-the-key-the-earlier-definition-sent"],
)
def test_running_the_same_rows_again_under_the_executions_keys_creates_nothing_twice(
    bulk: BulkOnboarding, earlier_key: bool
) -> None:
    # Given a file imported once
    bulk.upload(good_file())
    first = bulk.run()
    # When its rows are sent again as a Map sends them (what a redrive does)
    module = cold_bulk_module()
    again = [
        module.lambda_handler(
            {
                "action": "create_row",
                "source": {"bucket": BUCKET, "key": KEY},
                "execution_name": "intake-2025-06",
                "index": index,
                "row": row,
                **({"idempotency_key": f"intake-2025-06:{row['username']}"} if earlier_key else {}),
            },
            _Context(),
        )
        for index, row in enumerate(csv.DictReader(io.StringIO(good_file())))
    ]
    # Then each answers created, from the first run's record, and SignalWire got no new create
    assert first.status == "SUCCEEDED"
    assert [answer["status"] for answer in again] == ["created", "created", "created"]
    assert bulk.emulator.create_requests_received() == 3


class _Context:
    function_name = BULK_FUNCTION.name
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{BULK_FUNCTION.name}"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


# -- a bad file ----------------------------------------------------------------------------------


BAD_FILE = (
    "username,profile,handler_type,handler_url\n"
    "ada.lovelace,onboarding,,\n"  # 2: good
    "ada lovelace,,,\n"  # 3: whitespace in the username
    "grace.hopper,no-such-profile,,\n"  # 4: unknown profile
    "ada.lovelace,,,\n"  # 5: repeats line 2's username
    "alan.turing,onboarding,laml_webhooks,https://evil.example.net/x\n"  # 6: URL host the policy forbids
    "edsger.dijkstra,,,https://voice.example.com/x\n"  # 7: a handler key without handler_type
)


def test_a_bad_file_creates_nothing_and_fails_with_bulk_validation_failed(bulk: BulkOnboarding) -> None:
    # Given a file with one good row and several bad ones
    bulk.upload(BAD_FILE)
    # When the import runs
    execution = bulk.run()
    # Then the execution fails with BulkValidationFailed naming the report, before any create
    error, cause = execution.failure()
    assert execution.status == "FAILED"
    assert error == "BulkValidationFailed"
    assert REPORT_KEY in cause
    assert bulk.emulator.create_requests_received() == 0
    assert execution.events("MapRunStarted") == []


def test_the_report_of_a_bad_file_names_every_bad_line_with_its_errors(bulk: BulkOnboarding) -> None:
    # Given / When a bad file is imported
    bulk.upload(BAD_FILE)
    bulk.run()
    # Then its report lists every bad line, by number, with the fields that break a rule
    report = bulk.report()
    bad = {row["line"]: row for row in report["bad_rows"]}
    assert report["status"] == "invalid"
    assert report["rows"] == 6
    assert sorted(bad) == [3, 4, 5, 6, 7]
    assert [e["field"] for e in bad[3]["errors"]] == ["username"]
    assert [e["field"] for e in bad[4]["errors"]] == ["profile"]
    assert "line 2" in bad[5]["errors"][0]["message"]
    assert bad[6]["type"] == "forbidden"
    assert [e["field"] for e in bad[7]["errors"]] == ["handler_type"]


def test_a_file_with_an_unknown_column_is_rejected_at_its_header(bulk: BulkOnboarding) -> None:
    # Given a file with a password column
    bulk.upload("username,password\nada.lovelace,correct-horse-battery\n")
    # When the import runs
    execution = bulk.run()
    # Then line 1 is named for that column and nothing is created
    [header] = bulk.report()["bad_rows"]
    assert execution.failure()[0] == "BulkValidationFailed"
    assert header["line"] == 1
    assert [e["field"] for e in header["errors"]] == ["password"]
    assert bulk.emulator.create_requests_received() == 0


def excel_export(*lines: str) -> bytes:
    """A file as Excel saves "CSV UTF-8": a byte order mark, and CRLF after every line."""
    return "\ufeff".encode() + "".join(f"{line}\r\n" for line in lines).encode("utf-8")


def test_an_excel_export_with_a_byte_order_mark_and_crlf_line_ends_imports_completely(bulk: BulkOnboarding) -> None:
    # Given a file saved by Excel: a BOM before the header, CRLF line ends, username the first column
    bulk.s3.put_object(
        Bucket=BUCKET,
        Key=KEY,
        Body=excel_export("username,profile,caller_id", "ada.lovelace,office,Ada Lovelace", "grace.hopper,,"),
    )
    # When it is imported
    execution = bulk.run()
    # Then every row is created as its cells say, and the report names each by its username
    assert execution.status == "SUCCEEDED", execution.history
    assert execution.output["created"] == 2
    stored = {endpoint["username"]: endpoint for endpoint in bulk.emulator.endpoints}
    assert set(stored) == {"ada.lovelace", "grace.hopper"}
    assert stored["ada.lovelace"]["caller_id"] == "Ada Lovelace"
    results = bulk.report()["results"]
    assert [(row["line"], row["username"], row["status"]) for row in results] == [
        (2, "ada.lovelace", "created"),
        (3, "grace.hopper", "created"),
    ]


def test_an_excel_sep_line_above_the_header_is_named_and_creates_nothing(bulk: BulkOnboarding) -> None:
    # Given a file whose first line is Excel's `sep=,` hint rather than the header
    bulk.s3.put_object(Bucket=BUCKET, Key=KEY, Body=excel_export("sep=,", "username,profile", "ada.lovelace,office"))
    # When it is imported
    execution = bulk.run()
    # Then line 1 is named for it, with what to do, and nothing is created
    [header] = bulk.report()["bad_rows"]
    assert execution.failure()[0] == "BulkValidationFailed"
    assert header["line"] == 1
    assert "sep=" in header["errors"][0]["message"]
    assert bulk.emulator.endpoints == []


# -- a source that cannot be read ----------------------------------------------------------------


MISSING_BUCKET = "sip-provisioning-no-such-bucket"


@pytest.mark.parametrize(
    ("bucket", "key"),
    [(BUCKET, "imports/no-such-file.csv"), (MISSING_BUCKET, KEY)],
    ids=["missing-key", "missing-bucket"],
)
def test_a_source_that_does_not_exist_fails_as_bulk_validation_failed_naming_bucket_and_key(
    bulk: BulkOnboarding, bucket: str, key: str
) -> None:
    # Given / When an import names an object that is not there
    execution = bulk.run_input({"source": {"bucket": bucket, "key": key}})
    # Then it fails as BulkValidationFailed, its cause naming the bucket and the key, and nothing is created
    error, cause = execution.failure()
    assert (execution.status, error) == ("FAILED", "BulkValidationFailed")
    assert f"s3://{bucket}/{key}" in cause
    assert execution.events("MapRunStarted") == []
    assert bulk.emulator.endpoints == []


@pytest.mark.parametrize(
    ("bucket", "key"),
    [(BUCKET, "imports/no-such-file.csv"), (MISSING_BUCKET, KEY)],
    ids=["missing-key", "missing-bucket"],
)
def test_a_source_that_does_not_exist_leaves_no_stack_trace_in_the_cause_the_history_or_the_log(
    bulk: BulkOnboarding, service_log: Any, bucket: str, key: str
) -> None:
    # Given / When an import names an object that is not there
    execution = bulk.run_input({"source": {"bucket": bucket, "key": key}})
    # Then no stack trace is in the execution's cause, in its history, or in the function's log
    _, cause = execution.failure()
    history = execution_history_text(bulk.sfn, execution.arn)
    log = json.dumps(service_log())
    for written in (cause, history, log):
        assert "Traceback" not in written
        assert "stackTrace" not in written
        assert 'File "' not in written


# -- an input that is not an import ----------------------------------------------------------------


@pytest.mark.parametrize(
    "execution_input",
    [
        {},
        {"source": f"s3://{BUCKET}/{KEY}"},
        {"source": {"bucket": BUCKET}},
        {"source": {"key": KEY}},
        {"source": {"bucket": 4711, "key": KEY}},
        {"source": {"bucket": BUCKET, "key": None}},
        [],
        "text",
        42,
        None,
    ],
    ids=[
        "no-source",
        "source-a-string",
        "no-key",
        "no-bucket",
        "bucket-not-text",
        "key-null",
        "a-list",
        "a-string",
        "a-number",
        "null",
    ],
)
def test_an_input_naming_no_source_fails_as_a_validation_error_before_anything_runs(
    bulk: BulkOnboarding, execution_input: object
) -> None:
    # Given a good file in the bucket
    bulk.upload(good_file())
    # When an import is started with an input that does not name an object
    execution = bulk.run_input(execution_input)
    # Then it fails at once as ValidationError naming the source, and nothing is created
    error, cause = execution.failure()
    assert (execution.status, error) == ("FAILED", "ValidationError")
    assert cause.startswith("source:")
    assert bulk.bridge.invocations() == 0
    assert bulk.emulator.endpoints == []


@pytest.mark.parametrize("max_concurrency", ["10", 2.5, True, None, [4], 0], ids=str)
def test_a_max_concurrency_that_is_not_a_whole_number_from_1_to_100_creates_nothing(
    bulk: BulkOnboarding, max_concurrency: object
) -> None:
    # Given a good file
    bulk.upload(good_file())
    # When the import is started with such a max_concurrency
    execution = bulk.run(max_concurrency=max_concurrency)
    # Then it fails as a validation error naming the field, and nothing is created
    error, cause = execution.failure()
    assert (execution.status, error) == ("FAILED", "ValidationError")
    assert "max_concurrency" in cause
    assert execution.events("MapRunStarted") == []
    assert bulk.emulator.endpoints == []


# -- rows that fail while others go on -----------------------------------------------------------


def test_a_taken_username_is_reported_and_the_other_rows_go_on(bulk: BulkOnboarding) -> None:
    # Given someone already has one of the file's usernames
    assert bulk.api.create({"username": "grace.hopper"}).status == 201
    bulk.upload(good_file())
    # When the import runs
    execution = bulk.run()
    # Then the other rows are created, that row is reported username-taken, and the output counts it
    statuses = {row["username"]: row["status"] for row in bulk.report()["results"]}
    assert execution.status == "SUCCEEDED", execution.history
    assert statuses == {"ada.lovelace": "created", "grace.hopper": "username-taken", "alan.turing": "created"}
    assert execution.output["created"] == 2
    assert execution.output["failed"] == 1
    assert len(bulk.emulator.endpoints) == 3


def test_transient_signalwire_failures_are_retried_to_exactly_one_create_per_row(bulk: BulkOnboarding) -> None:
    # Given SignalWire answers the first two creates with a 503 and then a 429
    bulk.emulator.inject_fault(Fault.SERVICE_UNAVAILABLE, times=2)
    bulk.emulator.inject_fault(Fault.RATE_LIMITED, times=1, retry_after=1)
    bulk.upload(good_file())
    # When the import runs
    execution = bulk.run(max_concurrency=1)
    # Then the failed rows were retried, and each row was created exactly once
    assert execution.status == "SUCCEEDED", execution.history
    assert execution.output["created"] == 3
    assert bulk.emulator.create_requests_received() > 3
    assert bulk.emulator.creates_committed() == 3
    assert len(bulk.emulator.endpoints) == 3


# -- no password outside Secrets Manager ---------------------------------------------------------


def test_no_generated_password_is_in_s3_the_execution_history_or_its_output(bulk: BulkOnboarding) -> None:
    # Given a good file and a taken username (so a failure path runs as well)
    assert bulk.api.create({"username": "grace.hopper"}).status == 201
    bulk.upload(good_file())
    # When the import runs
    execution = bulk.run()
    # Then every generated password is in Secrets Manager, and in none of S3's objects, the
    # execution's history (input, outputs, the Map's items) or its output
    secrets = boto3.client("secretsmanager")
    arns = [row["password_secret_arn"] for row in bulk.report()["results"] if row["status"] == "created"]
    passwords = [json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])["password"] for arn in arns]
    assert len(passwords) == 2
    assert all(len(password) >= 24 for password in passwords)
    scanned = "\n".join(
        [bulk.every_object_text(), execution_history_text(bulk.sfn, execution.arn), json.dumps(execution.output)]
    )
    for password in passwords:
        assert password not in scanned
    for username in ("ada.lovelace", "alan.turing"):
        assert bulk.emulator.stored_password(username) in passwords


def test_the_example_file_imports_completely(bulk: BulkOnboarding) -> None:
    # Given the example file of config/
    bulk.upload(EXAMPLE_CSV.read_text(encoding="utf-8"))
    # When it is imported
    execution = bulk.run()
    # Then every one of its rows is created
    rows = sum(1 for _ in csv.DictReader(io.StringIO(EXAMPLE_CSV.read_text(encoding="utf-8"))))
    assert execution.status == "SUCCEEDED", execution.history
    assert execution.output["created"] == rows
