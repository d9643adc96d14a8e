"""`sipctl` (client/, CONTRACT.md section 10) as an operator runs it: the installed command, in a
subprocess, against one `make run` for the whole module.

The run requires SigV4 (LOCAL_REQUIRE_SIGV4=1) and knows one LOCAL_CALLERS key, which sipctl finds
in the environment as the AWS CLI would: every answer below proves the request was signed as sent.
SignalWire is an emulator in this process (the run's SIGNALWIRE_* settings point at it), so a test
can make it fail on purpose and count what it really did. The state machine commands reach the
run's moto with `--endpoint-url` and the ARNs it printed.
"""

import json
import os
import pty
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local.signalwire_emulator import Fault, SignalWireEmulator
from tests.e2e.test_make_run import (
    REPOSITORY_ROOT,
    REQUEST_TIMEOUT_SECONDS,
    SIP_ENDPOINTS_PATH,
    LocalRun,
    end,
    start_local_run,
    unique_username,
)

SIPCTL = Path(sys.executable).parent / "sipctl"
ACCESS_KEY_ID = "AKIASIPCTLOPERATOR01"
SECRET_ACCESS_KEY = "sipctl-operator-secret-0123456789"
CALLER_ARN = "arn:aws:iam::123456789012:user/sipctl-operator"
EMULATOR_PROJECT = "sipctl-project"
EMULATOR_TOKEN = "sipctl-token"
COMMAND_TIMEOUT_SECONDS = 240.0
VERSION_FILE = REPOSITORY_ROOT / "layers" / "shared" / "sip_provisioning" / "version.py"


@pytest.fixture(scope="module")
def signalwire() -> Iterator[SignalWireEmulator]:
    with SignalWireEmulator(project_id=EMULATOR_PROJECT, api_token=EMULATOR_TOKEN) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def run(signalwire: SignalWireEmulator) -> Iterator[LocalRun]:
    callers = {ACCESS_KEY_ID: {"secret_access_key": SECRET_ACCESS_KEY, "arn": CALLER_ARN}}
    local_run = start_local_run(
        {
            "LOCAL_CALLERS": json.dumps(callers),
            "LOCAL_REQUIRE_SIGV4": "1",
            "SIGNALWIRE_SPACE_URL": signalwire.base_url,
            "SIGNALWIRE_PROJECT_ID": EMULATOR_PROJECT,
            "SIGNALWIRE_API_TOKEN": EMULATOR_TOKEN,
        }
    )
    try:
        local_run.wait_until_listening()
        yield local_run
    finally:
        end(local_run)


def printed(run: LocalRun, prefix: str) -> str:
    [line] = [line for line in run.output if line.startswith(prefix)]
    return line.removeprefix(prefix).strip()


def moto_url(run: LocalRun) -> str:
    return printed(run, "AWS (moto): ").split(";", 1)[0]


def machine(run: LocalRun, logical_id: str) -> list[str]:
    """The options that point a state machine command at the run's moto and its state machine."""
    return ["--state-machine-arn", printed(run, f"State machine {logical_id}: "), "--endpoint-url", moto_url(run)]


def imports_bucket(run: LocalRun) -> str:
    return printed(run, "Bucket ImportsBucket: ").removeprefix("s3://")


def operator_environment(run: LocalRun) -> dict[str, str]:
    """The operator's shell: the listed key as AWS credentials, the API's URL, nothing else of AWS."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "SIPCTL_"))}
    return {
        **environment,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "SIPCTL_URL": run.base_url,
    }


def sipctl(
    run: LocalRun,
    *arguments: str,
    executable: Path = SIPCTL,
    environment: dict[str, str] | None = None,
    stdin: int = subprocess.DEVNULL,
) -> subprocess.CompletedProcess[str]:
    """`sipctl ARGUMENTS` as the operator's shell runs it (`environment`: another shell)."""
    assert executable.exists(), f"{executable} is not installed: requirements-dev.txt installs ./client"
    return subprocess.run(  # noqa: S603 - the installed sipctl with arguments this test builds
        [str(executable), *arguments],
        env=environment or operator_environment(run),
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(succeeded(result))


def created(run: LocalRun, purpose: str, *options: str) -> str:
    username = unique_username(purpose)
    succeeded(sipctl(run, "create", username, *options))
    return username


def held(signalwire: SignalWireEmulator, username: str) -> list[dict[str, Any]]:
    return [endpoint for endpoint in signalwire.endpoints if endpoint["username"] == username]


def made_outside(signalwire: SignalWireEmulator, username: str) -> None:
    """An endpoint created straight in SignalWire, past the service."""
    requests.post(
        f"{signalwire.base_url}{SIP_ENDPOINTS_PATH}",
        json={"username": username, "password": "made-by-an-old-script-1234", "call_handler": "relay_connector"},
        auth=(EMULATOR_PROJECT, EMULATOR_TOKEN),
        timeout=REQUEST_TIMEOUT_SECONDS,
    ).raise_for_status()


# -- profiles, create, show, list ----------------------------------------------------------------------


def test_profiles_prints_a_table_of_the_profiles_the_caller_may_use(run: LocalRun) -> None:
    # Given make run with the repository's profiles
    # When an operator lists the profiles
    output = succeeded(sipctl(run, "profiles"))
    # Then a table names each, with its handler
    header, *rows = output.splitlines()
    assert header.split()[:2] == ["NAME", "HANDLER"]
    assert [row.split()[0] for row in rows][:2] == ["default", "office"]


def test_profiles_with_json_prints_the_apis_body(run: LocalRun) -> None:
    # Given make run
    # When the profiles are asked for as JSON
    answer = as_json(sipctl(run, "profiles", "--json"))
    # Then the body is the API's {"profiles": [...]}, sorted by name
    names = [profile["name"] for profile in answer["profiles"]]
    assert names == sorted(names)
    assert "default" in names


def test_create_makes_one_endpoint_and_prints_its_sip_uri_and_generated_password(
    run: LocalRun, signalwire: SignalWireEmulator
) -> None:
    # Given a username nobody has
    username = unique_username("create")
    # When an operator creates it in the office profile
    output = succeeded(sipctl(run, "create", username, "--profile", "office", "--owner", "e4711"))
    # Then SignalWire holds one endpoint of that name, whose password is the one printed
    [endpoint] = held(signalwire, username)
    assert f"sip:{username}@" in output
    assert f"Password: {signalwire.stored_password(username)}" in output
    assert endpoint["call_handler"] == "laml_webhooks"


def test_create_with_a_handler_sends_its_type_and_keys(run: LocalRun, signalwire: SignalWireEmulator) -> None:
    # Given a username nobody has
    username = unique_username("handler")
    # When it is created with a relay_context handler, its keys given as KEY=VALUE
    answer = as_json(
        sipctl(
            run, "create", username, "--handler-type", "relay_context", "--handler", "context=front-desk",
            "--handler", "status_callback_url=https://hooks.example.com/sip", "--json",
        )
    )  # fmt: skip
    # Then the endpoint answers inbound calls in that context
    assert answer["endpoint"]["call_handler"] == "relay_context"
    assert held(signalwire, username)[0]["call_relay_context"] == "front-desk"
    assert held(signalwire, username)[0]["call_relay_context_status_callback_url"] == "https://hooks.example.com/sip"


def test_a_create_repeated_with_its_idempotency_key_answers_the_same_endpoint_and_password(
    run: LocalRun, signalwire: SignalWireEmulator
) -> None:
    # Given a create run with a key of the operator's own
    username = unique_username("keyed")
    key = f"onboarding-{uuid.uuid4().hex[:8]}"
    first = as_json(sipctl(run, "create", username, "--idempotency-key", key, "--json"))
    # When the very same command runs again
    again = as_json(sipctl(run, "create", username, "--idempotency-key", key, "--json"))
    # Then it answers the first create again, and SignalWire holds one endpoint
    assert again == first
    assert len(held(signalwire, username)) == 1


def test_create_dry_run_prints_the_payload_with_the_password_masked_and_creates_nothing(
    run: LocalRun, signalwire: SignalWireEmulator
) -> None:
    # Given a username nobody has
    username = unique_username("dry")
    # When its create is dry-run
    output = succeeded(sipctl(run, "create", username, "--dry-run"))
    # Then the payload is printed, the password masked, and nothing exists
    assert "Dry run: would create" in output
    assert re.search(r"^password:\s+\*{8}$", output, re.MULTILINE)
    assert held(signalwire, username) == []


def test_a_username_with_reserved_characters_travels_as_one_signed_path_segment(
    run: LocalRun, signalwire: SignalWireEmulator
) -> None:
    # Given an endpoint whose username holds /, ?, # and a percent sign before hex digits
    username = f"ops/desk?#%41-{uuid.uuid4().hex[:6]}"
    succeeded(sipctl(run, "create", username))
    # When it is shown
    answer = as_json(sipctl(run, "show", username, "--json"))
    # Then the service looked up exactly that username
    assert answer["endpoint"]["username"] == username
    assert [endpoint["id"] for endpoint in held(signalwire, username)] == [answer["endpoint"]["id"]]


def test_show_prints_the_endpoint_its_record_and_no_drift(run: LocalRun) -> None:
    # Given an endpoint created by sipctl
    username = created(run, "show", "--owner", "e1001")
    # When it is shown
    output = succeeded(sipctl(run, "show", username))
    # Then its username, that it is managed, its owner and creator, and its drift are printed
    assert re.search(rf"^username:\s+{re.escape(username)}$", output, re.MULTILINE)
    assert re.search(r"^managed:\s+yes$", output, re.MULTILINE)
    assert re.search(r"^owner:\s+e1001$", output, re.MULTILINE)
    assert re.search(rf"^created_by:\s+{re.escape(CALLER_ARN)}$", output, re.MULTILINE)
    assert "No drift from its profile." in output


def test_options_may_follow_the_command_name(run: LocalRun) -> None:
    # Given an endpoint, and a shell without SIPCTL_URL
    username = created(run, "after")
    environment = {**operator_environment(run)}
    del environment["SIPCTL_URL"]
    # When every common option comes after the command and its argument
    result = sipctl(
        run, "show", username, "--json", "--url", run.base_url, "--region", "us-east-1", "--timeout", "30",
        environment=environment,
    )  # fmt: skip
    # Then they apply: the URL is used and the body is JSON
    assert json.loads(succeeded(result))["endpoint"]["username"] == username


def test_list_all_follows_every_cursor(run: LocalRun) -> None:
    # Given three endpoints of one owner
    owner = f"owner-{uuid.uuid4().hex[:8]}"
    usernames = sorted(created(run, "page", "--owner", owner) for _ in range(3))
    # When they are listed one per page, with and without --all
    every_page = as_json(sipctl(run, "list", "--owner", owner, "--limit", "1", "--all", "--json"))
    first_page = sipctl(run, "list", "--owner", owner, "--limit", "1")
    # Then --all has all three and no cursor; without it one row, and a note that there is more
    assert [endpoint["username"] for endpoint in every_page["endpoints"]] == usernames
    assert every_page["next_cursor"] is None
    assert len(succeeded(first_page).splitlines()) == 2
    assert "--all" in first_page.stderr


def test_a_query_value_with_spaces_is_signed_as_sent(run: LocalRun) -> None:
    # Given an endpoint whose owner holds spaces and characters to encode (awscurl would sign %20 twice)
    owner = f"Ada Lovelace <ada+{uuid.uuid4().hex[:6]}@example.com>"
    username = created(run, "spaced", "--owner", owner)
    # When the endpoints of that owner are listed
    answer = as_json(sipctl(run, "list", "--owner", owner, "--json"))
    # Then make run verified the signature and found exactly that endpoint
    assert [endpoint["username"] for endpoint in answer["endpoints"]] == [username]


def test_list_unmanaged_shows_an_endpoint_made_outside_the_service(
    run: LocalRun, signalwire: SignalWireEmulator
) -> None:
    # Given an endpoint made straight in SignalWire
    username = unique_username("outside")
    made_outside(signalwire, username)
    # When the unmanaged endpoints are listed
    output = succeeded(sipctl(run, "list", "--unmanaged", "--all"))
    # Then it is a row, with its handler
    assert re.search(rf"^{re.escape(username)}\s+\S+\s+relay_connector$", output, re.MULTILINE)


# -- update, reset-password, disable, delete, adopt ------------------------------------------------------


def test_update_dry_run_prints_each_change_and_changes_nothing(run: LocalRun, signalwire: SignalWireEmulator) -> None:
    # Given an endpoint of the default profile
    username = created(run, "preview")
    caller_id_before = held(signalwire, username)[0]["caller_id"]
    # When a new caller id is dry-run
    output = succeeded(sipctl(run, "update", username, "--caller-id", "Front Desk", "--dry-run"))
    # Then the change is a row of the table, and SignalWire still has the old one
    assert re.search(r"^caller_id\s+.*\s+Front Desk$", output, re.MULTILINE)
    assert held(signalwire, username)[0]["caller_id"] == caller_id_before


def test_update_changes_a_field_and_clear_gives_it_back_to_the_profile(
    run: LocalRun, signalwire: SignalWireEmulator
) -> None:
    # Given an endpoint of the default profile
    username = created(run, "change")
    profile_value = held(signalwire, username)[0]["caller_id"]
    # When its caller id is changed, then cleared
    changed = succeeded(sipctl(run, "update", username, "--caller-id", "Front Desk"))
    after_change = held(signalwire, username)[0]["caller_id"]
    cleared = as_json(sipctl(run, "update", username, "--clear", "caller_id", "--json"))
    # Then SignalWire had the new caller id, and has the profile's again
    assert "changed caller_id" in changed
    assert after_change == "Front Desk"
    assert cleared["changed"] == ["caller_id"]
    assert held(signalwire, username)[0]["caller_id"] == profile_value


def test_reset_password_prints_the_new_password(run: LocalRun, signalwire: SignalWireEmulator) -> None:
    # Given an endpoint and its first password
    username = created(run, "reset")
    first = signalwire.stored_password(username)
    # When its password is reset
    output = succeeded(sipctl(run, "reset-password", username))
    # Then the printed password is SignalWire's new one
    assert signalwire.stored_password(username) != first
    assert f"Password: {signalwire.stored_password(username)}" in output


def test_disable_reports_the_endpoint_disabled(run: LocalRun, signalwire: SignalWireEmulator) -> None:
    # Given an endpoint
    username = created(run, "disable")
    first = signalwire.stored_password(username)
    # When it is disabled
    answer = as_json(sipctl(run, "disable", username, "--json"))
    # Then it is disabled, its password replaced
    assert answer == {"username": username, "status": "disabled"}
    assert signalwire.stored_password(username) != first


def test_delete_without_yes_and_without_a_terminal_refuses_and_deletes_nothing(
    run: LocalRun, signalwire: SignalWireEmulator
) -> None:
    # Given an endpoint
    username = created(run, "keep")
    # When it is deleted without --yes, stdin not a terminal
    result = sipctl(run, "delete", username)
    # Then sipctl shows what would go, refuses as a usage error, and the endpoint is still there
    assert result.returncode == 2
    assert f"Would delete {username}" in result.stderr
    assert "--yes" in result.stderr.splitlines()[-1]
    assert len(held(signalwire, username)) == 1


def test_delete_asks_on_a_terminal_and_deletes_on_yes(run: LocalRun, signalwire: SignalWireEmulator) -> None:
    # Given an endpoint, and an operator at a terminal
    username = created(run, "asked")
    controller, terminal = pty.openpty()
    try:
        # When it is deleted without --yes and the operator answers y
        os.write(controller, b"y\n")
        result = sipctl(run, "delete", username, stdin=terminal)
    finally:
        os.close(controller)
        os.close(terminal)
    # Then it was deleted
    assert f"Deleted {username}" in succeeded(result)
    assert held(signalwire, username) == []


def test_delete_with_yes_deletes_and_dry_run_deletes_nothing(run: LocalRun, signalwire: SignalWireEmulator) -> None:
    # Given an endpoint
    username = created(run, "gone")
    # When its delete is dry-run, then run with --yes
    preview = as_json(sipctl(run, "delete", username, "--dry-run", "--json"))
    still_there = len(held(signalwire, username))
    succeeded(sipctl(run, "delete", username, "--yes"))
    # Then the dry run named the record and left the endpoint; the delete removed it
    assert preview["would_delete"]["username"] == username
    assert still_there == 1
    assert held(signalwire, username) == []


def test_adopt_dry_run_then_adopt_manages_an_endpoint_made_outside(
    run: LocalRun, signalwire: SignalWireEmulator
) -> None:
    # Given an endpoint made straight in SignalWire
    username = unique_username("adopt")
    made_outside(signalwire, username)
    # When its adoption is dry-run, then done
    preview = as_json(sipctl(run, "adopt", username, "--profile", "default", "--dry-run", "--json"))
    adopted = succeeded(sipctl(run, "adopt", username, "--profile", "default", "--owner", "e77"))
    # Then the dry run showed the record, and the endpoint is now managed
    assert preview["would_adopt"]["created_via"] == "adopted"
    assert f"Adopted sip:{username}@" in adopted
    assert as_json(sipctl(run, "show", username, "--json"))["managed"] is True


# -- problems, usage and exit codes -----------------------------------------------------------------------


def test_a_4xx_problem_is_one_stderr_line_and_exit_1(run: LocalRun) -> None:
    # Given a username nobody has
    username = unique_username("nobody")
    # When it is shown
    result = sipctl(run, "show", username)
    # Then stderr is the problem's one line, and the exit status 1
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"404 endpoint-not-found: No endpoint with the username '{username}' exists in the SignalWire project."
    ]


def test_a_validation_problem_names_each_field_after_its_line(run: LocalRun) -> None:
    # Given a username with a space, and a send_as that is not a number
    # When it is created
    result = sipctl(run, "create", "two words", "--send-as", "nobody")
    # Then the problem's line comes first, then one line per field, and the exit status is 1
    first, *fields = result.stderr.splitlines()
    assert result.returncode == 1
    assert first.startswith("422 validation-error: ")
    assert sorted(line.split(":")[0].strip() for line in fields) == ["send_as", "username"]


def test_a_usage_error_exits_2(run: LocalRun) -> None:
    # Given a command line with an option create does not take
    # When it is run
    result = sipctl(run, "create", "someone", "--colour", "blue")
    # Then argparse refuses it with exit status 2
    assert result.returncode == 2
    assert "--colour" in result.stderr


def test_an_unsigned_caller_is_refused_by_the_gateway_with_exit_1(run: LocalRun) -> None:
    # Given a key make run does not know
    environment = {**operator_environment(run), "AWS_ACCESS_KEY_ID": "AKIANOBODYKNOWS00001"}
    # When it lists the profiles
    result = sipctl(run, "profiles", environment=environment)
    # Then API Gateway's own 403 (a message, no problem type) is the one line, and the exit status 1
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("403 about:blank: ")


# -- faults: retried under one key, never done twice --------------------------------------------------------


def test_a_503_with_retry_after_is_retried_after_that_long_and_disables_once(
    run: LocalRun, signalwire: SignalWireEmulator
) -> None:
    # Given an endpoint, and SignalWire rate-limiting its next update with Retry-After: 2
    username = created(run, "limited")
    updates_before = signalwire.updates_committed()
    signalwire.inject_fault(Fault.RATE_LIMITED, operation="update", retry_after=2)
    # When it is disabled
    result = sipctl(run, "disable", username)
    # Then sipctl said it retries in 2 s, the retry disabled it, and SignalWire applied one update
    assert "Disabled" in succeeded(result)
    assert "503 upstream-unavailable: SignalWire asked us to slow down. (retrying in 2 s)" in result.stderr
    assert signalwire.updates_committed() == updates_before + 1


def test_a_create_whose_answer_was_lost_is_retried_under_its_key_and_creates_once(
    run: LocalRun, signalwire: SignalWireEmulator
) -> None:
    # Given SignalWire that commits the next create without answering, then cannot be listed twice,
    # so the service cannot confirm the create and answers 504
    username = unique_username("lost")
    signalwire.inject_fault(Fault.COMMIT_THEN_CLOSE, operation="create")
    signalwire.inject_fault(Fault.SERVER_ERROR, operation="list", times=2, after=1)
    # When the endpoint is created
    result = sipctl(run, "create", username, "--json")
    # Then sipctl retried after the 504 under the same key, and the one endpoint's password is the one answered
    assert "504 upstream-timeout" in result.stderr
    assert as_json(result)["password"] == signalwire.stored_password(username)
    assert len(held(signalwire, username)) == 1


def test_a_5xx_problem_that_is_not_transient_exits_3_without_retrying(
    run: LocalRun, signalwire: SignalWireEmulator
) -> None:
    # Given SignalWire failing its next lookup by username with a 500
    signalwire.inject_fault(Fault.SERVER_ERROR, operation="list")
    lookups_before = signalwire.requests_received("list")
    # When a username is shown
    result = sipctl(run, "show", unique_username("broken"))
    # Then the 502 is the one line, asked once, and the exit status 3
    assert result.returncode == 3
    [line] = result.stderr.splitlines()
    assert line.startswith("502 upstream-error: ")
    assert signalwire.requests_received("list") == lookups_before + 1


# -- the state machines ---------------------------------------------------------------------------------------


def test_bulk_wait_shows_the_map_runs_counts_then_the_summary_and_report(
    run: LocalRun, signalwire: SignalWireEmulator, tmp_path: Path
) -> None:
    # Given a CSV of three new usernames, and SignalWire taking 3 s for each create, so that the
    # Map Run, one row at a time, is still running when sipctl looks
    usernames = [unique_username("bulk") for _ in range(3)]
    csv = tmp_path / "people.csv"
    csv.write_text("username,profile\n" + "".join(f"{name},office\n" for name in usernames), encoding="utf-8")
    signalwire.inject_fault(Fault.HANG, operation="create", times=3, delay_seconds=3.0)
    # When it is bulk-onboarded with --wait
    result = sipctl(
        run, "bulk", str(csv), "--bucket", imports_bucket(run), "--max-concurrency", "1", "--wait",
        *machine(run, "BulkOnboardingStateMachine"),
    )  # fmt: skip
    # Then progress named the Map Run's item counts, the summary counted three created, the report
    # exists where it says, and SignalWire holds the three
    output = succeeded(result)
    assert re.search(
        r"running: CreateRows: \d+ of \d+ items done \(\d+ succeeded, \d+ failed, \d+ running\)", result.stderr
    )
    assert "Succeeded: rows 3, created 3, failed 0" in output
    [location] = re.findall(r"^Report: s3://([^/]+)/(\S+)$", output, re.MULTILINE)
    report = json.loads(run.aws("s3").get_object(Bucket=location[0], Key=location[1])["Body"].read())
    assert report
    assert all(len(held(signalwire, username)) == 1 for username in usernames)


def test_bulk_of_a_bad_file_exits_1_naming_the_validation_error_and_its_report(run: LocalRun, tmp_path: Path) -> None:
    # Given a CSV with a column the import does not know
    csv = tmp_path / "bad.csv"
    csv.write_text(f"username,extension\n{unique_username('bad')},1042\n", encoding="utf-8")
    # When it is bulk-onboarded with --wait
    result = sipctl(
        run, "bulk", str(csv), "--bucket", imports_bucket(run), "--wait", *machine(run, "BulkOnboardingStateMachine")
    )
    # Then the execution's error is the last lines, with the report beside the upload, and the exit status 1
    assert result.returncode == 1
    assert "FAILED: BulkValidationFailed: " in result.stderr
    assert re.search(r"^Report: s3://\S+/bad\.csv\.report\.json$", result.stderr, re.MULTILINE)


def test_bulk_without_wait_prints_the_execution_and_returns(run: LocalRun, tmp_path: Path) -> None:
    # Given a CSV of one new username
    csv = tmp_path / "one.csv"
    csv.write_text(f"username\n{unique_username('nowait')}\n", encoding="utf-8")
    # When it is bulk-onboarded without --wait
    output = succeeded(
        sipctl(run, "bulk", str(csv), "--bucket", imports_bucket(run), *machine(run, "BulkOnboardingStateMachine"))
    )
    # Then the started execution's ARN is printed
    assert re.fullmatch(r"Started arn:aws:states:\S+:execution:\S+:sipctl-bulk-\S+\n", output)


def test_rollout_dry_run_reports_the_profiles_endpoints_and_its_report(run: LocalRun) -> None:
    # Given an endpoint of the support profile
    created(run, "rollout", "--profile", "support")
    # When the support profile's rollout is dry-run with --wait
    output = succeeded(
        sipctl(run, "rollout", "support", "--dry-run", "--wait", *machine(run, "ProfileRolloutStateMachine"))
    )
    # Then the summary counts its endpoints and the report is under rollouts/support/
    assert re.search(r"^Succeeded: endpoints [1-9]\d*, changed 0, ", output, re.MULTILINE)
    assert re.search(r"^Report: s3://\S+/rollouts/support/sipctl-rollout-\S+\.report\.json$", output, re.MULTILINE)


def test_rollout_of_an_unknown_profile_exits_1_with_validation_error(run: LocalRun) -> None:
    # Given a profile name nobody defined
    # When it is rolled out with --wait
    result = sipctl(run, "rollout", "no-such-profile", "--wait", *machine(run, "ProfileRolloutStateMachine"))
    # Then the execution's ValidationError and its message are the last line, and the exit status 1
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("FAILED: ValidationError: There is no profile 'no-such-profile'.")


def test_audit_through_the_stacks_outputs_reports_the_unmanaged_endpoints(
    run: LocalRun, signalwire: SignalWireEmulator
) -> None:
    # Given an endpoint made outside the service, and a stack whose outputs name the audit state machine
    made_outside(signalwire, unique_username("audited"))
    stack = f"sipctl-{uuid.uuid4().hex[:8]}"
    audit_arn = printed(run, "State machine FleetAuditStateMachine: ")
    template = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {"FleetAuditStateMachineArn": {"Value": audit_arn}},
    }
    run.aws("cloudformation").create_stack(StackName=stack, TemplateBody=json.dumps(template))
    # When the fleet is audited with --stack and --wait
    output = succeeded(sipctl(run, "audit", "--stack", stack, "--endpoint-url", moto_url(run), "--wait"))
    # Then the summary counts at least that unmanaged endpoint, and the report is under audits/
    assert re.search(r"^Succeeded: managed \d+, drifted \d+, missing \d+, unmanaged [1-9]\d*$", output, re.MULTILINE)
    assert re.search(r"^Report: s3://\S+/audits/sipctl-audit-\S+\.json$", output, re.MULTILINE)


def test_offboard_with_no_grace_disables_then_deletes(run: LocalRun, signalwire: SignalWireEmulator) -> None:
    # Given an endpoint
    username = created(run, "leaver")
    # When it is offboarded with no grace period, with --wait
    result = sipctl(run, "offboard", username, "--grace", "0", "--wait", *machine(run, "OffboardingStateMachine"))
    # Then the progress named the states it went through, the summary says deleted, and SignalWire no longer holds it
    assert f"Succeeded: status deleted, username {username}" in succeeded(result)
    assert "running: " in result.stderr
    assert held(signalwire, username) == []


def test_a_state_machine_command_without_a_state_machine_is_a_usage_error(run: LocalRun) -> None:
    # Given neither --stack nor --state-machine-arn
    # When an audit is started
    result = sipctl(run, "audit", "--endpoint-url", moto_url(run))
    # Then sipctl says what it needs, with exit status 2
    assert result.returncode == 2
    assert "--stack" in result.stderr


# -- installed from scratch -----------------------------------------------------------------------------------


def test_pip_install_of_client_in_a_fresh_venv_gives_a_working_sipctl_of_the_repositorys_version(
    run: LocalRun, tmp_path: Path
) -> None:
    # Given a fresh virtual environment
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)  # noqa: S603 - this interpreter
    # When the client is installed into it as the README says (from PyPI: hatchling and botocore)
    subprocess.run(  # noqa: S603 - the new venv's pip, the repository's client
        [str(venv / "bin" / "pip"), "install", "--quiet", str(REPOSITORY_ROOT / "client")],
        check=True,
        timeout=600,
    )
    # Then its sipctl has the repository's one version and answers against make run
    installed = venv / "bin" / "sipctl"
    [expected] = re.findall(r'__version__ = "([^"]+)"', VERSION_FILE.read_text(encoding="utf-8"))
    assert succeeded(sipctl(run, "--version", executable=installed)).strip() == f"sipctl {expected}"
    assert "default" in succeeded(sipctl(run, "profiles", executable=installed))
