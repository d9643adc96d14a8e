"""`make bench-bulk`: bulk onboarding's throughput through the local stack, at several max_concurrency.

    python -m bench.bulk            # from the repository root; writes bench/bulk_results.json

The same 1,000-row file goes through statemachine/bulk_onboarding.asl.json as moto runs it
(its Distributed Map reading the CSV from moto's S3), each Lambda task running the real bulk
function in this process through `local.step_functions.LambdaBridge` (no invocation lock, so the
Map's children really run side by side, as Lambda environments would), against the SignalWire
emulator on loopback behind a latency proxy.

Latency: the emulator has fault switches but no fixed latency for every request, so a tiny
loopback proxy in front of it sleeps `CREATE_LATENCY_SECONDS` (50 ms) before forwarding each POST
(a create), as a real SignalWire answers in tens to hundreds of milliseconds; GETs (lookups) pass
at once.

For each max_concurrency (1, 4, 16) the emulator, the tables and the bucket start empty, and the
figures are: rows per second over the whole execution (validation, Map and report), the speed-up
over max_concurrency 1, and upstream creates per row (POSTs the emulator received / rows: it must
be exactly 1, or the bench fails). Validation is timed on its own: the validate step over the
same object, per 1,000 rows.

What the numbers mean is in the README ("Bulk onboarding").
"""

import contextlib
import http.client
import importlib
import io
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

REPOSITORY_ROOT: Final = Path(__file__).resolve().parents[1]
RESULTS_PATH: Final = REPOSITORY_ROOT / "bench" / "bulk_results.json"
DEFINITION_PATH: Final = REPOSITORY_ROOT / "statemachine" / "bulk_onboarding.asl.json"
PROFILES_DIR: Final = REPOSITORY_ROOT / "config" / "profiles"
ROWS: Final = int(os.environ.get("BENCH_BULK_ROWS", "1000"))
CONCURRENCIES: Final = tuple(int(c) for c in os.environ.get("BENCH_BULK_CONCURRENCIES", "1,4,16").split(","))
CREATE_LATENCY_SECONDS: Final = 0.05
VALIDATION_REPEATS: Final = 3
BUCKET: Final = "sip-provisioning-bench-imports"
KEY: Final = "bench/1000-rows.csv"
PARAMETERS_PATH: Final = "/sip-provisioning/bench"
IDEMPOTENCY_TABLE: Final = "sip-provisioning-bench-idempotency"
INVENTORY_TABLE: Final = "sip-provisioning-bench-inventory"
SIP_DOMAIN: Final = "bench.sip.signalwire.com"
EXECUTION_TIMEOUT_SECONDS: Final = 600.0

ENVIRONMENT: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "PARAMETERS_PATH": PARAMETERS_PATH,
    "PARAMETERS_MAX_AGE": "300",  # as deployed: a warm function reads SSM every 5 minutes
    "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
    "INVENTORY_TABLE": INVENTORY_TABLE,
    "SECRETS_PREFIX": "sip-provisioning/bench/endpoints/",
    "POWERTOOLS_SERVICE_NAME": "sip-provisioner",
    "POWERTOOLS_METRICS_NAMESPACE": "SipProvisioning",
    # Thousands of invocations: the log lines and metric documents would be the bench's cost.
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


class LatencyProxy:
    """Loopback HTTP in front of `target`: every POST waits `latency` seconds before it is forwarded."""

    def __init__(self, target: str, latency: float) -> None:
        parts = urlsplit(target)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._latency = latency
        self.posts = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command == "POST":
                    with proxy._lock:
                        proxy.posts += 1
                    time.sleep(proxy._latency)
                upstream = http.client.HTTPConnection(proxy._host, proxy._port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "connection"}}
                    upstream.request(self.command, self.path, body or None, headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    self.send_response(answer.status)
                    for name, value in answer.getheaders():
                        if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="latency-proxy", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> "LatencyProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def thousand_rows() -> str:
    buffer = io.StringIO()
    buffer.write("username,profile,owner,caller_id\n")
    for number in range(1, ROWS + 1):
        buffer.write(f"bench.{number:04d},office,E{number:05d},Desk {number:04d}\n")
    return buffer.getvalue()


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Powertools writes to stdout; the table is what this prints."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


# moto's Distributed Map runs a worker's items by recursion, one level (and a deep copy of the
# state) per item: at max_concurrency 1 a worker takes all 1,000 rows, past Python's default
# limit of 1,000 frames. A higher limit, and threads with the stack to go with it.
RECURSION_LIMIT: Final = 20_000
THREAD_STACK_BYTES: Final = 512 * 1024 * 1024


def main() -> int:
    sys.setrecursionlimit(RECURSION_LIMIT)
    threading.stack_size(THREAD_STACK_BYTES)
    os.environ.update(ENVIRONMENT)
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    sys.path[:0] = [str(REPOSITORY_ROOT / "layers" / "shared"), str(REPOSITORY_ROOT)]

    import boto3
    from moto import mock_aws

    from local.gateway import LambdaFunction
    from local.inventory_table import create_inventory_table
    from local.seed import SignalWireAccount, create_idempotency_table, seed_ssm
    from local.signalwire_emulator import SignalWireEmulator
    from local.step_functions import (
        LambdaBridge,
        create_local_role,
        executing_in_process,
        substitute,
        wait_for_execution,
    )

    emulator = SignalWireEmulator()
    emulator.start()
    results: list[dict[str, Any]] = []
    try:
        with LatencyProxy(emulator.base_url, CREATE_LATENCY_SECONDS) as proxy, mock_aws(), executing_in_process():
            signalwire = SignalWireAccount(proxy.base_url, emulator.project_id, emulator.api_token, SIP_DOMAIN)
            seed_ssm(boto3.client("ssm"), PARAMETERS_PATH, PROFILES_DIR, signalwire)
            module = importlib.import_module("functions.bulk_import.bulk_import")
            bridge = LambdaBridge()
            function = LambdaFunction(name="sip-provisioner-bench-bulk-import", timeout_seconds=25)
            bridge.register("BulkImportFunction", function, module.lambda_handler)
            role_arn = create_local_role(boto3.client("iam"))
            arns = bridge.create_functions(boto3.client("lambda"), role_arn)
            sfn = boto3.client("stepfunctions")
            definition = substitute(
                DEFINITION_PATH.read_text(encoding="utf-8"), {"BulkImportFunctionArn": arns["BulkImportFunction"]}
            )
            state_machine = sfn.create_state_machine(name="bench-bulk", definition=definition, roleArn=role_arn)
            s3 = boto3.client("s3")
            dynamodb = boto3.client("dynamodb")
            s3.create_bucket(Bucket=BUCKET)
            s3.put_object(Bucket=BUCKET, Key=KEY, Body=thousand_rows().encode("utf-8"))

            validation_seconds = time_validation(module)
            with bridge.installed():
                for concurrency in CONCURRENCIES:
                    emulator.reset()
                    proxy.posts = 0
                    for table in (IDEMPOTENCY_TABLE, INVENTORY_TABLE):
                        with contextlib.suppress(dynamodb.exceptions.ResourceNotFoundException):
                            dynamodb.delete_table(TableName=table)
                    create_idempotency_table(dynamodb, IDEMPOTENCY_TABLE)
                    create_inventory_table(dynamodb, INVENTORY_TABLE)
                    module.wiring.cache_clear()
                    name = f"bench-c{concurrency}-{uuid.uuid4().hex[:8]}"
                    execution_input = {"source": {"bucket": BUCKET, "key": KEY}, "max_concurrency": concurrency}
                    started_at = time.perf_counter()
                    with quiet_stdout():
                        started = sfn.start_execution(
                            stateMachineArn=state_machine["stateMachineArn"],
                            name=name,
                            input=json.dumps(execution_input),
                        )
                        described = wait_for_execution(sfn, started["executionArn"], EXECUTION_TIMEOUT_SECONDS)
                    seconds = time.perf_counter() - started_at
                    output = json.loads(described.get("output") or "{}")
                    creates = emulator.create_requests_received()
                    if described["status"] != "SUCCEEDED" or output.get("created") != ROWS:
                        raise SystemExit(f"max_concurrency {concurrency}: {described['status']} {output}")
                    results.append(
                        {
                            "max_concurrency": concurrency,
                            "rows": ROWS,
                            "seconds": round(seconds, 2),
                            "rows_per_second": round(ROWS / seconds, 1),
                            "upstream_creates_per_row": creates / ROWS,
                            "endpoints_created": len(emulator.endpoints),
                        }
                    )
    finally:
        emulator.stop()

    base = results[0]["rows_per_second"]
    for result in results:
        result["speed_up"] = round(result["rows_per_second"] / base, 2)
    document = {
        "rows": ROWS,
        "create_latency_ms": CREATE_LATENCY_SECONDS * 1000,
        "validation_ms_per_1000_rows": round(validation_seconds * 1000 * 1000 / ROWS, 1),
        "runs": results,
    }
    RESULTS_PATH.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print_table(document)
    bad = [result for result in results if result["upstream_creates_per_row"] != 1]
    if bad:
        print(f"FAIL: upstream creates per row must be exactly 1: {bad}", file=sys.stderr)
        return 1
    return 0


def time_validation(module: Any) -> float:
    """The validate step's work on the same object (S3 read, CSV, every row's dry run): the best of a few."""
    from sip_provisioning.callers.bulk import Source, validate_source
    from sip_provisioning.use_cases.bulk_import import preview_for

    module.wiring.cache_clear()
    bulk = module.wiring()
    source = Source(bucket=BUCKET, key=KEY)
    best = float("inf")
    for _ in range(VALIDATION_REPEATS):
        started = time.perf_counter()
        validation = validate_source(bulk.objects, source, preview_for(bulk.ports))
        best = min(best, time.perf_counter() - started)
        if not validation.valid or validation.rows != ROWS:
            raise SystemExit(f"the bench file does not validate: {validation.bad_rows[:3]}")
    return best


def print_table(document: dict[str, Any]) -> None:
    print(
        f"Bulk onboarding: {document['rows']} rows, SignalWire create latency {document['create_latency_ms']:.0f} ms "
        f"(loopback proxy), moto + LambdaBridge in one process"
    )
    print(f"{'max_concurrency':>15} {'seconds':>8} {'rows/s':>8} {'speed-up':>9} {'creates/row':>12}")
    for run in document["runs"]:
        print(
            f"{run['max_concurrency']:>15} {run['seconds']:>8.2f} {run['rows_per_second']:>8.1f} "
            f"{run['speed_up']:>8.2f}x {run['upstream_creates_per_row']:>12.2f}"
        )
    print(f"Validation: {document['validation_ms_per_1000_rows']:.1f} ms per 1,000 rows")
    print(f"Written to {RESULTS_PATH.relative_to(REPOSITORY_ROOT)}")


if __name__ == "__main__":
    raise SystemExit(main())
