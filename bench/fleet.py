"""`make bench-fleet`: what a profile rollout and a fleet audit cost SignalWire, over 1,000 endpoints.

    python -m bench.fleet           # from the repository root; writes bench/fleet_results.json

statemachine/profile_rollout.asl.json and statemachine/fleet_audit.asl.json run as moto runs
them, each Lambda task running the real workflow entry in this process through
`local.step_functions.LambdaBridge`, against the SignalWire emulator on loopback, whose request
counters are the figures (calls, not time: the emulator answers at once).

The fleet: `ENDPOINTS` (1,000) managed endpoints of the `office` profile, created through the
workflow entry; the first half before the profile's desk URL changes, the second half after it, so
half are drifted and half in line. Then:
1. a dry run over all of them: calls per endpoint (reads only);
2. the rollout: SignalWire writes per drifted endpoint (must be exactly 1) and per unchanged one
   (must be 0), and reads per endpoint of each kind (the unchanged kind measured by 3.);
3. the same rollout again, now that every endpoint is in line: calls per unchanged endpoint;
4. the audit, with `HAND_MADE` (1,001) unmanaged endpoints added by hand: SignalWire list calls,
   which must be ceil(endpoints / 1,000), and no per-endpoint retrieve.
The bench fails (exit status 1) if a must above does not hold.
"""

import contextlib
import importlib
import json
import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

REPOSITORY_ROOT: Final = Path(__file__).resolve().parents[1]
RESULTS_PATH: Final = REPOSITORY_ROOT / "bench" / "fleet_results.json"
PROFILES_DIR: Final = REPOSITORY_ROOT / "config" / "profiles"
ENDPOINTS: Final = int(os.environ.get("BENCH_FLEET_ENDPOINTS", "1000"))
HAND_MADE: Final = int(os.environ.get("BENCH_FLEET_HAND_MADE", "1001"))
LIST_PAGE_SIZE: Final = 1000
BUCKET: Final = "sip-provisioning-bench-imports"
PARAMETERS_PATH: Final = "/sip-provisioning/bench"
IDEMPOTENCY_TABLE: Final = "sip-provisioning-bench-idempotency"
INVENTORY_TABLE: Final = "sip-provisioning-bench-inventory"
SIP_DOMAIN: Final = "bench.sip.signalwire.com"
EXECUTION_TIMEOUT_SECONDS: Final = 1200.0
NEW_DESK_URL: Final = "https://office.example.com/laml/desk-v2"

ENVIRONMENT: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "PARAMETERS_PATH": PARAMETERS_PATH,
    "PARAMETERS_MAX_AGE": "0",  # the bench changes a profile and expects the next step to see it
    "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
    "INVENTORY_TABLE": INVENTORY_TABLE,
    "SECRETS_PREFIX": "sip-provisioning/bench/endpoints/",
    "IMPORTS_BUCKET": BUCKET,
    "POWERTOOLS_SERVICE_NAME": "sip-provisioner",
    "POWERTOOLS_METRICS_NAMESPACE": "SipProvisioning",
    # Thousands of invocations: the log lines and metric documents would be the bench's cost.
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
COUNTED: Final = ("list", "retrieve", "update", "create")
# moto's Distributed Map runs a worker's items by recursion (see bench/bulk.py).
RECURSION_LIMIT: Final = 20_000
THREAD_STACK_BYTES: Final = 512 * 1024 * 1024


class _Context:
    function_name = "sip-provisioner-bench-workflow"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Powertools writes to stdout; the table is what this prints."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


def main() -> int:
    sys.setrecursionlimit(RECURSION_LIMIT)
    threading.stack_size(THREAD_STACK_BYTES)
    os.environ.update(ENVIRONMENT)
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    sys.path[:0] = [str(REPOSITORY_ROOT / "layers" / "shared"), str(REPOSITORY_ROOT)]

    import boto3
    import requests
    from moto import mock_aws

    from local.gateway import LambdaFunction
    from local.inventory_table import create_inventory_table
    from local.seed import SignalWireAccount, create_idempotency_table, seed_ssm
    from local.signalwire_emulator import COLLECTION_PATH, SignalWireEmulator
    from local.step_functions import LambdaBridge, create_local_role, executing_in_process, substitute
    from local.step_functions import wait_for_execution as wait

    emulator = SignalWireEmulator()
    emulator.start()
    try:
        with mock_aws(), executing_in_process():
            signalwire = SignalWireAccount(emulator.base_url, emulator.project_id, emulator.api_token, SIP_DOMAIN)
            ssm = boto3.client("ssm")
            seed_ssm(ssm, PARAMETERS_PATH, PROFILES_DIR, signalwire)
            create_idempotency_table(boto3.client("dynamodb"), IDEMPOTENCY_TABLE)
            create_inventory_table(boto3.client("dynamodb"), INVENTORY_TABLE)
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            module = importlib.import_module("functions.workflow.workflow_entry")
            bridge = LambdaBridge()
            bridge.register("WorkflowFunction", LambdaFunction(name=_Context.function_name), module.lambda_handler)
            role_arn = create_local_role(boto3.client("iam"))
            arns = bridge.create_functions(boto3.client("lambda"), role_arn)
            sfn = boto3.client("stepfunctions")
            machines = {}
            for name in ("profile_rollout", "fleet_audit"):
                text = (REPOSITORY_ROOT / "statemachine" / f"{name}.asl.json").read_text(encoding="utf-8")
                definition = substitute(text, {"WorkflowFunctionArn": arns["WorkflowFunction"]})
                machines[name] = sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn)[
                    "stateMachineArn"
                ]

            def counts() -> dict[str, int]:
                return {operation: emulator.requests_received(operation) for operation in COUNTED}

            def run(machine: str, execution_input: dict[str, Any], name: str) -> tuple[dict[str, Any], dict[str, int]]:
                before = counts()
                with bridge.installed(), quiet_stdout():
                    started = sfn.start_execution(
                        stateMachineArn=machines[machine], name=name, input=json.dumps(execution_input)
                    )
                    described = wait(sfn, started["executionArn"], timeout_seconds=EXECUTION_TIMEOUT_SECONDS)
                if described["status"] != "SUCCEEDED":
                    raise RuntimeError(f"{name} ended {described['status']}")
                after = counts()
                return json.loads(described["output"]), {op: after[op] - before[op] for op in COUNTED}

            def create(number: int) -> None:
                with quiet_stdout():
                    module.lambda_handler(
                        {
                            "request": {"username": f"desk.{number:04d}", "profile": "office"},
                            "idempotency_key": f"bench-{number}",
                        },
                        _Context(),
                    )

            started = time.monotonic()
            half = ENDPOINTS // 2
            for number in range(half):
                create(number)
            office = json.loads((PROFILES_DIR / "office.json").read_text(encoding="utf-8"))
            ssm.put_parameter(
                Name=f"{PARAMETERS_PATH}/profiles/office",
                Value=json.dumps({**office, "call_request_url": NEW_DESK_URL}),
                Type="String",
                Overwrite=True,
            )
            for number in range(half, ENDPOINTS):
                create(number)
            drifted, unchanged = half, ENDPOINTS - half
            print(f"{ENDPOINTS} office endpoints: {drifted} made before the profile changed, {unchanged} after")

            dry, dry_calls = run("profile_rollout", {"profile": "office", "dry_run": True}, "bench-dry-run")
            roll, roll_calls = run("profile_rollout", {"profile": "office"}, "bench-rollout")
            again, again_calls = run("profile_rollout", {"profile": "office"}, "bench-rollout-again")
            reads_unchanged = again_calls["retrieve"] / ENDPOINTS
            reads_drifted = (roll_calls["retrieve"] - reads_unchanged * unchanged) / drifted

            for number in range(HAND_MADE):
                requests.post(
                    f"{emulator.base_url}{COLLECTION_PATH}",
                    json={"username": f"hand.{number:04d}", "password": "hand-made-password-0123"},
                    auth=(emulator.project_id, emulator.api_token),
                    timeout=5,
                ).raise_for_status()
            audited, audit_calls = run("fleet_audit", {}, "bench-audit")
            held = ENDPOINTS + HAND_MADE
            expected_lists = math.ceil(held / LIST_PAGE_SIZE)
            elapsed = time.monotonic() - started

            per_drifted = {"writes": roll_calls["update"] / drifted, "reads": reads_drifted}
            per_unchanged = {"writes": (roll_calls["update"] - drifted) / unchanged, "reads": reads_unchanged}
            results: dict[str, Any] = {
                "endpoints": ENDPOINTS,
                "dry_run": {"output": dry, "calls": dry_calls},
                "rollout": {"output": roll, "calls": roll_calls},
                "rollout_again": {"output": again, "calls": again_calls},
                "per_drifted_endpoint": per_drifted,
                "per_unchanged_endpoint": per_unchanged,
                "audit": {"output": audited, "calls": audit_calls, "endpoints_held": held, "page_size": LIST_PAGE_SIZE},
                "seconds": round(elapsed, 1),
            }
    finally:
        emulator.stop()

    print()
    print("Profile rollout over", ENDPOINTS, "endpoints (SignalWire calls per endpoint)")
    print(f"  {'endpoint':<22}{'writes (PUT)':>14}{'reads (GET)':>14}")
    print(f"  {'drifted':<22}{per_drifted['writes']:>14.2f}{per_drifted['reads']:>14.2f}")
    print(f"  {'unchanged':<22}{per_unchanged['writes']:>14.2f}{per_unchanged['reads']:>14.2f}")
    print(f"  {'dry run, any':<22}{dry_calls['update'] / ENDPOINTS:>14.2f}{dry_calls['retrieve'] / ENDPOINTS:>14.2f}")
    for label, output in (("dry run", dry), ("rollout", roll), ("rollout again", again)):
        counted = {name: output[name] for name in ("endpoints", "changed", "unchanged", "failed")}
        print(f"  output of the {label}: {counted}")
    print()
    print(f"Fleet audit: {held} endpoints in SignalWire, page size {LIST_PAGE_SIZE}")
    print(f"  list calls {audit_calls['list']} (ceil({held} / {LIST_PAGE_SIZE}) = {expected_lists}), ", end="")
    print(f"retrieves {audit_calls['retrieve']}, writes {audit_calls['update'] + audit_calls['create']}")
    print(f"  output: { {name: audited[name] for name in ('managed', 'drifted', 'missing', 'unmanaged')} }")
    print(f"\n{elapsed:.0f} s in all; written to {RESULTS_PATH.relative_to(REPOSITORY_ROOT)}")
    RESULTS_PATH.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    musts = {
        "one write per drifted endpoint": per_drifted["writes"] == 1,
        "no write for an unchanged endpoint": per_unchanged["writes"] == 0 and again_calls["update"] == 0,
        "no write in a dry run": dry_calls["update"] == 0,
        "rollout counted every endpoint": roll == {**roll, "changed": drifted, "unchanged": unchanged, "failed": 0},
        "audit lists page by page": audit_calls["list"] == expected_lists and audit_calls["retrieve"] == 0,
    }
    broken = [must for must, held_up in musts.items() if not held_up]
    for must in broken:
        print(f"FAILED: {must}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
