"""One fresh Lambda execution environment for the bench: a child process of `bench/run_bench.py`.

    python bench/lambda_driver.py      # run by run_bench, never by hand

It reads one JSON job line on stdin, redirects file descriptor 1 to /dev/null (the function's
log and metric lines go there, as they go to the log service in Lambda) and writes its own
results as JSON lines on the original stdout. Jobs (`mode`):

- `cold`: time the import of the handler module (the INIT phase) and the first invocation,
  then exit: one line `{"init_ms", "init_cpu_ms", "first_invocation_ms", "first_invocation_cpu_ms"}`.
- `import`: the import alone (a function the bench does not invoke), the same line with the first
  invocation's figures 0.
- `warm`: import, invoke once, write `{"phase": "primed"}`, then one timed invocation per line
  on stdin (the invocation's number), answering `{"ms", "cpu_ms"}` each, until a `stop` line; last
  `{"peak_rss_mb"}`. The parent steps the warm processes in turns, so a change in the machine's
  speed touches them alike, and reads its counters between steps.
- `upstream`: the same steps around bare SignalWire creates, the upstream round trip alone,
  two ways per step: `requests.post` (a new connection each time, as the baseline does) and a
  kept-alive `requests.Session` (as the service's client does): `{"new_connection_ms",
  "new_connection_cpu_ms", "kept_alive_ms", "kept_alive_cpu_ms"}`. A separate process, because
  a handler's tracing patches would time themselves on any call made in its process.

Every phase is timed twice: wall time (perf_counter) and this process's CPU time (process_time:
user + system, all threads). Lambda gives a function CPU in proportion to its memory, so the
parent scales the CPU part to a memory size; the rest (waiting on the upstreams) stays as it is.

Before the timed import it loads only what the Lambda Python runtime's bootstrap (awslambdaric)
has loaded when it imports a handler, so the INIT figure holds what the function itself costs.
Every handler answer must be a 201, or the figures would time something else: it exits non-zero.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import os
import sys
import time

# `typing` stays unloaded until the handler loads it: its import time belongs to the INIT figure.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any, TextIO

# awslambdaric's bootstrap imports these (and json, os, sys, time, importlib) before the handler.
RUNTIME_BOOTSTRAP_MODULES = ("concurrent.futures.thread", "datetime", "decimal", "logging", "traceback")
# What the python3.13 Lambda runtime ships beside the standard library (the AWS SDK and its
# dependencies): a handler may import these from the runtime, and anything else only from its code.
RUNTIME_PACKAGES = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3"})
UPSTREAM_TIMEOUTS = (3.05, 10.0)
STOP = "stop"

type Handler = Callable[[dict[str, Any], object], dict[str, Any]]


class InvocationContext:
    """The attributes of the Lambda runtime's context object that handlers read."""

    def __init__(self, function: dict[str, Any], request_id: str) -> None:
        self.function_name: str = function["name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn: str = function["arn"]
        # The runtime passes the memory size as it finds it in the environment: a string.
        self.memory_limit_in_mb = str(function["memory_mb"])
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function['name']}"
        self.log_stream_name = f"2026/01/01/[$LATEST]{os.urandom(16).hex()}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(function["timeout_seconds"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _hex_id(length: int) -> str:
    return os.urandom(length // 2).hex()


def next_invocation(job: dict[str, Any], number: int) -> tuple[dict[str, Any], InvocationContext]:
    """A fresh event and context for invocation `number`, and its X-Ray trace header set as Lambda sets it."""
    os.environ["_X_AMZN_TRACE_ID"] = f"Root=1-{int(time.time()):08x}-{_hex_id(24)};Parent={_hex_id(16)};Sampled=1"
    event: dict[str, Any] = json.loads(job["event_template"])
    event["body"] = json.dumps({"username": f"{job['username_prefix']}-{number}"})
    event["requestContext"]["requestId"] = _hex_id(16)
    event["requestContext"]["timeEpoch"] = int(time.time() * 1000)
    return event, InvocationContext(job["function"], f"{_hex_id(8)}-{_hex_id(4)}-{_hex_id(4)}-{_hex_id(12)}")


def expect_created(result: dict[str, Any]) -> None:
    if result.get("statusCode") != 201:
        raise SystemExit(f"the handler answered {result.get('statusCode')}: {str(result.get('body'))[:500]}")


class Stopwatch:
    """Wall and CPU time since it was made."""

    def __init__(self) -> None:
        self._wall_ns = time.perf_counter_ns()
        self._cpu_ns = time.process_time_ns()

    def read(self) -> tuple[float, float]:
        """(wall ms, CPU ms)."""
        return (time.perf_counter_ns() - self._wall_ns) / 1e6, (time.process_time_ns() - self._cpu_ns) / 1e6


def peak_rss_mb() -> float:
    """VmHWM: getrusage's ru_maxrss would report the parent's size, which Linux keeps across exec."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise SystemExit("no VmHWM in /proc/self/status")


def import_handler(module: str) -> Handler:
    handler: Handler = importlib.import_module(module).lambda_handler
    return handler


def run_cold(job: dict[str, Any], results: TextIO) -> None:
    watch = Stopwatch()
    handler = import_handler(job["module"])
    init_ms, init_cpu_ms = watch.read()
    event, context = next_invocation(job, 0)
    watch = Stopwatch()
    result = handler(event, context)
    first_invocation_ms, first_invocation_cpu_ms = watch.read()
    expect_created(result)
    report(
        results,
        {
            "init_ms": init_ms,
            "init_cpu_ms": init_cpu_ms,
            "first_invocation_ms": first_invocation_ms,
            "first_invocation_cpu_ms": first_invocation_cpu_ms,
        },
    )


def run_import(job: dict[str, Any], results: TextIO) -> None:
    """INIT alone, for a function the bench does not invoke (the SCIM function)."""
    watch = Stopwatch()
    import_handler(job["module"])
    init_ms, init_cpu_ms = watch.read()
    report(
        results,
        {"init_ms": init_ms, "init_cpu_ms": init_cpu_ms, "first_invocation_ms": 0.0, "first_invocation_cpu_ms": 0.0},
    )


def run_warm(job: dict[str, Any], results: TextIO) -> None:
    handler = import_handler(job["module"])
    expect_created(handler(*next_invocation(job, 0)))

    def invoke(number: int) -> dict[str, Any]:
        event, context = next_invocation(job, number)
        watch = Stopwatch()
        result = handler(event, context)
        took_ms, cpu_ms = watch.read()
        expect_created(result)
        return {"ms": took_ms, "cpu_ms": cpu_ms}

    run_steps(invoke, results)


def run_upstream(job: dict[str, Any], results: TextIO) -> None:
    import requests

    upstream = job["upstream"]
    auth = (upstream["project_id"], upstream["api_token"])
    session = requests.Session()
    session.auth = auth

    def on_new_connection(payload: dict[str, Any]) -> requests.Response:
        return requests.post(upstream["url"], json=payload, auth=auth, timeout=UPSTREAM_TIMEOUTS)

    def on_kept_alive_connection(payload: dict[str, Any]) -> requests.Response:
        return session.post(upstream["url"], json=payload, timeout=UPSTREAM_TIMEOUTS)

    def create(post: Callable[[dict[str, Any]], requests.Response], username: str) -> tuple[float, float]:
        payload = {**upstream["payload"], "username": username}
        watch = Stopwatch()
        answer = post(payload)
        took = watch.read()
        if answer.status_code != 201:
            raise SystemExit(f"SignalWire answered {answer.status_code}")
        return took

    prefix = job["username_prefix"]

    def both_ways(number: int) -> dict[str, Any]:
        new_connection_ms, new_connection_cpu_ms = create(on_new_connection, f"{prefix}-new-{number}")
        kept_alive_ms, kept_alive_cpu_ms = create(on_kept_alive_connection, f"{prefix}-kept-{number}")
        return {
            "new_connection_ms": new_connection_ms,
            "new_connection_cpu_ms": new_connection_cpu_ms,
            "kept_alive_ms": kept_alive_ms,
            "kept_alive_cpu_ms": kept_alive_cpu_ms,
        }

    both_ways(0)
    run_steps(both_ways, results)


def run_steps(step: Callable[[int], dict[str, Any]], results: TextIO) -> None:
    """One step per line on stdin (its number), one result line each, until `stop`."""
    report(results, {"phase": "primed"})
    for line in sys.stdin:
        if line.strip() == STOP:
            break
        report(results, step(int(line)))
    report(results, {"peak_rss_mb": peak_rss_mb()})


class OnlyWhatLambdaHas:
    """A meta path finder: a top-level package outside the standard library and the runtime's is
    looked for in the code paths alone, so nothing installed in this machine's venv (and absent in
    Lambda) is imported, as an optional import (lark's `regex`) would otherwise find it here."""

    def __init__(self, code_paths: list[str]) -> None:
        self._code_paths = code_paths
        # The interpreter's own directories (the standard library and its generated modules).
        self._interpreter_paths = [p for p in sys.path if p not in code_paths and "-packages" not in p]

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if path is not None or name in sys.stdlib_module_names or name in RUNTIME_PACKAGES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, self._code_paths)
        if spec is not None:
            return spec
        if importlib.machinery.PathFinder.find_spec(name, self._interpreter_paths) is not None:
            return None
        raise ModuleNotFoundError(f"No module named {name!r} in the function's code", name=name)


def report(results: TextIO, document: dict[str, Any]) -> None:
    results.write(json.dumps(document) + "\n")
    results.flush()


def main() -> None:
    job = json.loads(sys.stdin.readline())
    results = os.fdopen(os.dup(1), "w")
    log_sink = os.open(os.devnull, os.O_WRONLY)
    os.dup2(log_sink, 1)
    # The runtime flushes every write to stdout; a pipe would otherwise be block-buffered.
    sys.stdout.reconfigure(line_buffering=True, write_through=True)  # type: ignore[union-attr]
    for name in RUNTIME_BOOTSTRAP_MODULES:
        importlib.import_module(name)
    # The function's own directory first, then its layer, then the runtime's packages, as in Lambda.
    sys.path[0:1] = job["code_paths"]
    if job["mode"] != "upstream":
        sys.meta_path.insert(0, OnlyWhatLambdaHas(job["code_paths"]))
    {"cold": run_cold, "import": run_import, "warm": run_warm, "upstream": run_upstream}[job["mode"]](job, results)


if __name__ == "__main__":
    main()
