"""`make bench`: the service's cold start and per-request cost, side by side with a bare handler.

    python -m bench.run_bench      # from the repository root, after `make sam-build`

The service (`functions/http_api/http_api.py`) and the baseline (`bench/baseline_handler.py`)
run in one bench against the same upstreams, which live in this process throughout: a moto
server for SSM and DynamoDB (it counts the calls it answers), the SignalWire emulator (it counts
requests), and a UDP socket where the X-Ray daemon would listen (it counts trace documents).

Every handler runs in child processes (`bench/lambda_driver.py`) that look like a Lambda
execution environment to the code they load: LAMBDA_TASK_ROOT and the other variables the
runtime sets, the template's function variables, a sampled `_X_AMZN_TRACE_ID` per invocation,
fd 1 as the log sink. So the service runs as deployed, X-Ray tracing included (Powertools turns
its Tracer off outside Lambda, and the X-Ray SDK builds a sampling client at import outside
Lambda that it never builds inside, so a bench without LAMBDA_TASK_ROOT would time neither
what Lambda runs); only the daemon is a local socket that counts and drops.

What it measures, in this order:
- cold: COLD_STARTS fresh processes per handler, in rotating order, after one discarded start
  each (it fills the page cache and the bytecode cache): the import of the handler module
  (INIT) and the first invocation. Twice over: from the source tree with bytecode cached (in a
  private cache, PYTHONPYCACHEPREFIX, so the tree stays clean), and "as shipped", from the
  `sam build` output on read-only terms (PYTHONDONTWRITEBYTECODE), where Python has only the
  bytecode the package carries, as in Lambda;
- warm: one process per handler and one doing bare SignalWire creates (the upstream round trip
  alone), stepped in turns for WARM_INVOCATIONS steps, the upstream counters read around each;
- package: the unzipped size and file count of the function and the layer in `.aws-sam/build`,
  and of what the baseline would ship (its file, and `requests` with its dependencies).

Prints one table and writes bench/results.json (ratios are service/baseline).
"""

import contextlib
import importlib.metadata
import json
import logging
import math
import os
import platform
import shutil
import site
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from bench.lambda_driver import STOP
from local.gateway import IamCaller, LambdaFunction, build_event
from local.run import FUNCTION_ENVIRONMENT, point_aws_sdk_at, put_lambda_code_on_path
from local.seed import SignalWireAccount, create_idempotency_table, seed_ssm
from local.signalwire_emulator import OPERATIONS, SignalWireEmulator

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = REPOSITORY_ROOT / "bench"
DRIVER = BENCH_DIR / "lambda_driver.py"
RESULTS_PATH = BENCH_DIR / "results.json"
PROFILES_DIR = REPOSITORY_ROOT / "config" / "profiles"
BUILD_DIR = REPOSITORY_ROOT / ".aws-sam" / "build"
BUILT_LAYER = BUILD_DIR / "SharedLayer" / "python"
# What `sam build` packages, to tell a stale build from a fresh one.
BUILD_SOURCES = (REPOSITORY_ROOT / "template.yaml", REPOSITORY_ROOT / "functions", REPOSITORY_ROOT / "layers")

COLD_STARTS = 20
WARM_INVOCATIONS = 2000
EMULATOR_RESET_EVERY = 100
PARAMETERS_PATH = "/sip-provisioning/bench"
PARAMETERS_MAX_AGE = 300
IDEMPOTENCY_TABLE = "sip-provisioning-bench-idempotency"
EMULATOR_PROJECT_ID = "bench-project"
EMULATOR_API_TOKEN = "bench-token"  # noqa: S105 - the emulator's loopback credential
SIP_DOMAIN = "bench.sip.signalwire.com"
ENDPOINTS_PATH = "/api/relay/rest/endpoints/sip"
FUNCTION = LambdaFunction(name="sip-provisioner-bench")
# The template's arm64 build; `as_shipped` swaps these extension modules for this machine's.
BUILD_EXTENSION_SUFFIX = ".cpython-313-aarch64-linux-gnu.so"
# The baseline ships `requests` with its dependencies; boto3 comes with the Lambda runtime.
BASELINE_SHIPPED_DISTRIBUTIONS = ("requests", "urllib3", "idna", "charset-normalizer", "certifi")
MIB = 1024 * 1024  # Lambda's size quotas are in MiB (250 "MB" unzipped = 250 MiB)
CHILD_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class HandlerUnderTest:
    label: str
    module: str
    code_paths: tuple[Path, ...]
    task_root: Path
    # Lambda's code directories are read-only: Python runs from the bytecode the package ships, or
    # compiles every module again on every cold start.
    read_only_code: bool = False


SERVICE = HandlerUnderTest(
    label="service",
    module="http_api",
    code_paths=(REPOSITORY_ROOT / "functions" / "http_api", REPOSITORY_ROOT / "layers" / "shared"),
    task_root=REPOSITORY_ROOT / "functions" / "http_api",
)
BASELINE = HandlerUnderTest(label="baseline", module="baseline_handler", code_paths=(BENCH_DIR,), task_root=BENCH_DIR)
# Bare SignalWire creates (no handler), in a process set up like the baseline's.
UPSTREAM_ALONE = HandlerUnderTest(label="upstream", module="", code_paths=(BENCH_DIR,), task_root=BENCH_DIR)
FUNCTION_SETTINGS = {
    "name": FUNCTION.name,
    "arn": FUNCTION.arn,
    "memory_mb": FUNCTION.memory_limit_in_mb,
    "timeout_seconds": FUNCTION.timeout_seconds,
}


@dataclass(frozen=True)
class Target:
    figure: str
    measured: float
    met: bool


# -- the upstreams ------------------------------------------------------------------------------


class CountingMotoServer:
    """moto on loopback, counting the SSM and DynamoDB API calls it answers (by X-Amz-Target)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ssm_calls = 0
        self._dynamodb_calls = 0
        moto_app = DomainDispatcherApplication(create_backend_app)

        def counting_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
            with self._lock:
                self._ssm_calls += target.startswith("AmazonSSM.")
                self._dynamodb_calls += target.startswith("DynamoDB_")
            return moto_app(environ, start_response)

        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, counting_app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def ssm_calls(self) -> int:
        with self._lock:
            return self._ssm_calls

    @property
    def dynamodb_calls(self) -> int:
        with self._lock:
            return self._dynamodb_calls

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class XRayDaemonStandIn:
    """A UDP socket where the X-Ray daemon would listen: counts the trace documents, drops them."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._documents = 0
        self._thread = threading.Thread(target=self._receive, name="xray-daemon", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    @property
    def documents(self) -> int:
        with self._lock:
            return self._documents

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                self._socket.recv(65536)
            except TimeoutError:
                continue
            with self._lock:
                self._documents += 1

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()


@dataclass(frozen=True)
class Calls:
    """What the upstreams received: a snapshot, or the difference of two."""

    ssm: int
    dynamodb: int
    signalwire: int

    def __sub__(self, earlier: "Calls") -> "Calls":
        return Calls(self.ssm - earlier.ssm, self.dynamodb - earlier.dynamodb, self.signalwire - earlier.signalwire)

    def __add__(self, more: "Calls") -> "Calls":
        return Calls(self.ssm + more.ssm, self.dynamodb + more.dynamodb, self.signalwire + more.signalwire)


@dataclass
class Upstreams:
    moto: CountingMotoServer
    emulator: SignalWireEmulator
    xray: XRayDaemonStandIn
    parameter_count: int

    def calls(self) -> Calls:
        return Calls(
            ssm=self.moto.ssm_calls,
            dynamodb=self.moto.dynamodb_calls,
            signalwire=sum(self.emulator.requests_received(operation) for operation in OPERATIONS),
        )


@contextlib.contextmanager
def running_upstreams() -> Iterator[Upstreams]:
    with contextlib.ExitStack() as running:
        moto = running.enter_context(CountingMotoServer())
        point_aws_sdk_at(moto.url, os.environ)  # the children inherit it with the rest of the environment
        emulator = running.enter_context(
            SignalWireEmulator(project_id=EMULATOR_PROJECT_ID, api_token=EMULATOR_API_TOKEN)
        )
        xray = running.enter_context(XRayDaemonStandIn())
        account = SignalWireAccount(emulator.base_url, EMULATOR_PROJECT_ID, EMULATOR_API_TOKEN, SIP_DOMAIN)
        names = seed_ssm(boto3.client("ssm"), PARAMETERS_PATH, PROFILES_DIR, account)
        create_idempotency_table(boto3.client("dynamodb"), IDEMPOTENCY_TABLE)
        yield Upstreams(moto, emulator, xray, parameter_count=len(names))


# -- the child processes ------------------------------------------------------------------------


def lambda_environment(handler: HandlerUnderTest, xray: XRayDaemonStandIn) -> dict[str, str]:
    """This process's environment (AWS SDK pointed at moto) plus what Lambda and the template set."""
    environ = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "PYTHONSTARTUP")}
    environ.update(FUNCTION_ENVIRONMENT)
    environ.update(
        {
            "PARAMETERS_PATH": PARAMETERS_PATH,
            "PARAMETERS_MAX_AGE": str(PARAMETERS_MAX_AGE),
            "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
            "LAMBDA_TASK_ROOT": str(handler.task_root),
            "_HANDLER": f"{handler.module}.lambda_handler",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(FUNCTION.memory_limit_in_mb),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION.name}",
            "AWS_XRAY_DAEMON_ADDRESS": xray.address,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "TZ": ":UTC",
        }
    )
    if handler.read_only_code:
        environ.pop("PYTHONPYCACHEPREFIX", None)
        environ["PYTHONDONTWRITEBYTECODE"] = "1"
    return environ


def use_private_bytecode_cache(directory: Path) -> None:
    """Let the children cache bytecode, in `directory` rather than beside the sources.

    The "source tree" figures are meant with bytecode cached, as a warm machine has it; an
    inherited PYTHONDONTWRITEBYTECODE would make every start compile the service's own modules.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(directory)


@dataclass
class Child:
    """One driver process; `read` returns its next result line."""

    process: subprocess.Popen[str]
    errors: IO[str]
    label: str

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=CHILD_TIMEOUT_SECONDS)
            self.errors.seek(0)
            raise RuntimeError(f"{self.label} driver exited {self.process.returncode}:\n{self.errors.read()[-4000:]}")
        result: dict[str, Any] = json.loads(line)
        return result

    def step(self, number: int) -> dict[str, Any]:
        self._send(str(number))
        return self.read()

    def stop(self) -> dict[str, Any]:
        self._send(STOP)
        return self.read()

    def _send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()


@contextlib.contextmanager
def child(job: Mapping[str, Any], environ: Mapping[str, str], label: str) -> Iterator[Child]:
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(  # noqa: S603 - our own driver, arguments built here
            [sys.executable, str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=dict(environ),
            cwd=REPOSITORY_ROOT,
            text=True,
        )
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps(job) + "\n")
            process.stdin.flush()
            yield Child(process, errors, label)
            process.stdin.close()
            if process.wait(timeout=CHILD_TIMEOUT_SECONDS) != 0:
                errors.seek(0)
                raise RuntimeError(f"{label} driver exited {process.returncode}:\n{errors.read()[-4000:]}")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class Job:
    """What every driver job carries: the event to vary and the upstream for bare requests."""

    event_template: str
    upstream: dict[str, Any]

    def for_handler(self, handler: HandlerUnderTest, mode: str, username_prefix: str) -> dict[str, Any]:
        return {
            "mode": mode,
            "module": handler.module,
            "code_paths": [str(path) for path in handler.code_paths],
            "event_template": self.event_template,
            "upstream": self.upstream,
            "function": FUNCTION_SETTINGS,
            "username_prefix": username_prefix,
        }


def make_job(upstreams: Upstreams) -> Job:
    template = build_event(
        "POST",
        "/endpoints",
        "",
        [("Host", "api.bench.example.com"), ("Content-Type", "application/json"), ("User-Agent", "bench")],
        b"{}",
        caller=IamCaller(),
    )
    default_profile = json.loads((PROFILES_DIR / "default.json").read_text(encoding="utf-8"))
    default_profile.pop("description", None)
    upstream = {
        "url": upstreams.emulator.base_url + ENDPOINTS_PATH,
        "project_id": EMULATOR_PROJECT_ID,
        "api_token": EMULATOR_API_TOKEN,
        # What a create from the default profile sends, with a password as long as a generated one.
        "payload": {**default_profile, "password": "p" * 32},
    }
    return Job(event_template=json.dumps(template), upstream=upstream)


# -- the phases ---------------------------------------------------------------------------------


@dataclass
class ColdFigures:
    init_ms: list[float] = field(default_factory=list)
    first_invocation_ms: list[float] = field(default_factory=list)
    calls: list[Calls] = field(default_factory=list)

    @property
    def totals_ms(self) -> list[float]:
        """Init plus first invocation, per process."""
        return [init + first for init, first in zip(self.init_ms, self.first_invocation_ms, strict=True)]


def cold_start(job: Job, upstreams: Upstreams, handler: HandlerUnderTest, run: str) -> tuple[dict[str, Any], Calls]:
    before = upstreams.calls()
    environ = lambda_environment(handler, upstreams.xray)
    with child(job.for_handler(handler, "cold", f"{handler.label}-cold-{run}"), environ, handler.label) as driver:
        result = driver.read()
    return result, upstreams.calls() - before


def measure_cold(job: Job, upstreams: Upstreams, handlers: Sequence[HandlerUnderTest]) -> dict[str, ColdFigures]:
    figures = {handler.label: ColdFigures() for handler in handlers}
    for handler in handlers:
        cold_start(job, upstreams, handler, "discarded")
    for run in range(COLD_STARTS):
        # Alternate the order, so a drift in the machine's speed touches every handler alike.
        for handler in reversed(handlers) if run % 2 else handlers:
            result, calls = cold_start(job, upstreams, handler, str(run))
            cold = figures[handler.label]
            cold.init_ms.append(result["init_ms"])
            cold.first_invocation_ms.append(result["first_invocation_ms"])
            cold.calls.append(calls)
        if (run + 1) % 5 == 0:
            print(f"  {run + 1}/{COLD_STARTS}", file=sys.stderr, flush=True)
    upstreams.emulator.reset()
    return figures


@dataclass
class WarmFigures:
    latencies_ms: list[float] = field(default_factory=list)
    calls: Calls = field(default_factory=lambda: Calls(0, 0, 0))
    peak_rss_mb: float = 0.0


@dataclass
class UpstreamFigures:
    """The SignalWire round trip alone, on a new connection (requests.post) and on a kept-alive one."""

    new_connection_ms: list[float] = field(default_factory=list)
    kept_alive_ms: list[float] = field(default_factory=list)


def measure_warm(job: Job, upstreams: Upstreams) -> tuple[dict[str, WarmFigures], UpstreamFigures]:
    """WARM_INVOCATIONS timed steps of each warm process, after its first (untimed) invocation.

    The processes take their steps in turns (the order rotating), and the upstreams' counters
    are read around each step, so each process gets exactly the calls it made.
    """
    warm = {handler.label: WarmFigures() for handler in (BASELINE, SERVICE)}
    upstream = UpstreamFigures()
    with contextlib.ExitStack() as running:
        drivers = [
            running.enter_context(
                child(
                    job.for_handler(handler, mode, f"{handler.label}-warm"),
                    lambda_environment(handler, upstreams.xray),
                    handler.label,
                )
            )
            for handler, mode in ((BASELINE, "warm"), (SERVICE, "warm"), (UPSTREAM_ALONE, "upstream"))
        ]
        for driver in drivers:
            if driver.read().get("phase") != "primed":
                raise RuntimeError(f"{driver.label} driver broke the protocol")
        for number in range(1, WARM_INVOCATIONS + 1):
            if number % EMULATOR_RESET_EVERY == 0:
                upstreams.emulator.reset()  # it checks usernames one by one: keep its list short
            turn = number % len(drivers)
            for driver in drivers[turn:] + drivers[:turn]:
                before = upstreams.calls()
                result = driver.step(number)
                if driver.label == UPSTREAM_ALONE.label:
                    upstream.new_connection_ms.append(result["new_connection_ms"])
                    upstream.kept_alive_ms.append(result["kept_alive_ms"])
                else:
                    figures = warm[driver.label]
                    figures.latencies_ms.append(result["ms"])
                    figures.calls += upstreams.calls() - before
            if number % 500 == 0:
                print(f"  {number}/{WARM_INVOCATIONS}", file=sys.stderr, flush=True)
        for driver in drivers:
            peak_rss_mb = driver.stop()["peak_rss_mb"]
            if driver.label in warm:
                warm[driver.label].peak_rss_mb = peak_rss_mb
    return warm, upstream


# -- package size -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageSize:
    bytes: int
    files: int

    @property
    def mib(self) -> float:
        return self.bytes / MIB

    def __add__(self, other: "PackageSize") -> "PackageSize":
        return PackageSize(self.bytes + other.bytes, self.files + other.files)


def size_of(paths: Iterable[Path]) -> PackageSize:
    sizes = [path.stat().st_size for path in paths if path.is_file()]
    return PackageSize(sum(sizes), len(sizes))


def newest_mtime(paths: Sequence[Path]) -> float:
    return max(
        path.stat().st_mtime
        for root in paths
        for path in ([root] if root.is_file() else root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    )


def built_packages() -> dict[str, PackageSize]:
    """The function's and the layer's unzipped size from `sam build`, and what the baseline would ship."""
    built_template = BUILD_DIR / "template.yaml"
    if not built_template.is_file():
        raise SystemExit(f"{BUILD_DIR} is missing: run `make sam-build` (or `make bench`, which runs it) first")
    if newest_mtime(BUILD_SOURCES) > built_template.stat().st_mtime:
        raise SystemExit(f"{BUILD_DIR} is older than the sources: run `make sam-build` again")
    baseline_files = [
        BENCH_DIR / "baseline_handler.py",
        *distribution_files(BUILT_LAYER, BASELINE_SHIPPED_DISTRIBUTIONS),
    ]
    return {
        "function": size_of((BUILD_DIR / "ProvisionerFunction").rglob("*")),
        "layer": size_of((BUILD_DIR / "SharedLayer").rglob("*")),
        "baseline": size_of(baseline_files),
    }


def distribution_files(site_dir: Path, names: Iterable[str]) -> list[Path]:
    """The files of the named distributions installed in `site_dir`, from their RECORD."""
    wanted = {name.lower() for name in names}
    return [
        Path(str(distribution.locate_file(file)))
        for distribution in importlib.metadata.distributions(path=[str(site_dir)])
        if distribution.metadata["Name"].lower() in wanted
        for file in distribution.files or []
    ]


def runnable_here(tree: Path) -> None:
    """Swap the build's extension modules (built for arm64) for this machine's builds of the same pins.

    The project venv holds the same pinned versions; pure-Python files and shipped bytecode stay
    exactly as `sam build` left them.
    """
    local_suffix = str(sysconfig.get_config_var("EXT_SUFFIX"))
    if local_suffix == BUILD_EXTENSION_SUFFIX:
        return
    for extension in list(tree.rglob(f"*{BUILD_EXTENSION_SUFFIX}")):
        relative = extension.relative_to(tree).as_posix().removesuffix(BUILD_EXTENSION_SUFFIX) + local_suffix
        local_builds = [Path(site_dir) / relative for site_dir in site.getsitepackages()]
        local_build = next((path for path in local_builds if path.is_file()), None)
        if local_build is None:
            raise SystemExit(f"no local build of {relative} in the venv to stand in for {extension.name}")
        extension.unlink()
        shutil.copy2(local_build, extension.with_name(local_build.name))


def as_shipped(workdir: Path) -> tuple[HandlerUnderTest, HandlerUnderTest]:
    """The service as `sam build` packaged it, and the baseline packaged the same way.

    The service: the built function and layer directories. The baseline: its file plus the
    distributions it would ship, taken from the built layer (same pins, same packaging), with
    boto3 from the runtime (here the venv, which holds bytecode as the runtime's packages do).
    """
    function, layer = workdir / "service" / "function", workdir / "service" / "layer"
    shutil.copytree(BUILD_DIR / "ProvisionerFunction", function)
    shutil.copytree(BUILT_LAYER, layer)
    baseline = workdir / "baseline"
    baseline.mkdir()
    shutil.copy2(BENCH_DIR / "baseline_handler.py", baseline)
    for file in distribution_files(BUILT_LAYER, BASELINE_SHIPPED_DISTRIBUTIONS):
        copy = baseline / file.relative_to(BUILT_LAYER)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, copy)
    for tree in (function, layer, baseline):
        runnable_here(tree)
    return (
        HandlerUnderTest("service-as-shipped", SERVICE.module, (function, layer), function, read_only_code=True),
        HandlerUnderTest("baseline-as-shipped", BASELINE.module, (baseline,), baseline, read_only_code=True),
    )


def layer_by_distribution() -> dict[str, float]:
    """MiB per distribution in the built layer, largest first: where the layer's size goes."""
    sizes = {
        distribution.metadata["Name"]: size_of(distribution_files(BUILT_LAYER, [distribution.metadata["Name"]])).mib
        for distribution in importlib.metadata.distributions(path=[str(BUILT_LAYER)])
    }
    return dict(sorted(((name, round(mib, 2)) for name, mib in sizes.items()), key=lambda item: -item[1]))


# -- figures and the table ----------------------------------------------------------------------


def percentile(values: Sequence[float], percent: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, statistics' "inclusive")."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * percent / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def per_cold_start(counts: Sequence[int]) -> float:
    """The mean over the cold starts: every one of them should show the same count."""
    return round(statistics.mean(counts), 3)


def handler_figures(
    cold: ColdFigures, shipped: ColdFigures, warm: WarmFigures, upstream_p50_ms: float, package: PackageSize
) -> dict[str, float | int]:
    """`cold` runs from the source tree with bytecode cached, `shipped` from the package as built."""
    warm_p50 = percentile(warm.latencies_ms, 50)
    creates = len(warm.latencies_ms)
    return {
        "init_ms": round(percentile(cold.init_ms, 50), 2),
        "init_p95_ms": round(percentile(cold.init_ms, 95), 2),
        "first_invocation_ms": round(percentile(cold.first_invocation_ms, 50), 2),
        "first_invocation_p95_ms": round(percentile(cold.first_invocation_ms, 95), 2),
        "cold_start_ms": round(percentile(cold.totals_ms, 50), 2),
        "init_as_shipped_ms": round(percentile(shipped.init_ms, 50), 2),
        "init_as_shipped_p95_ms": round(percentile(shipped.init_ms, 95), 2),
        "cold_start_as_shipped_ms": round(percentile(shipped.totals_ms, 50), 2),
        "warm_p50_ms": round(warm_p50, 3),
        "warm_p99_ms": round(percentile(warm.latencies_ms, 99), 3),
        "overhead_p50_ms": round(warm_p50 - upstream_p50_ms, 3),
        "upstream_calls_per_create": round(warm.calls.signalwire / creates, 3),
        "upstream_calls_per_cold_start": per_cold_start([calls.signalwire for calls in cold.calls]),
        "ssm_calls_per_cold_start": per_cold_start([calls.ssm for calls in cold.calls]),
        "ssm_calls_per_1000_warm": round(warm.calls.ssm * 1000 / creates, 3),
        "dynamodb_calls_per_cold_start": per_cold_start([calls.dynamodb for calls in cold.calls]),
        "dynamodb_calls_per_1000_warm": round(warm.calls.dynamodb * 1000 / creates, 3),
        "peak_rss_mb": round(warm.peak_rss_mb, 1),
        "package_unzipped_mb": round(package.mib, 2),
        "package_unzipped_bytes": package.bytes,
        "package_files": package.files,
    }


def ratio(service: float, baseline: float) -> float:
    return round(service / baseline, 3) if baseline else math.inf


ROWS = (
    # key, label, unit
    ("init_ms", "init: import of the handler module, median", "ms"),
    ("init_p95_ms", "init, p95", "ms"),
    ("first_invocation_ms", "first invocation (SSM read + first POST), median", "ms"),
    ("first_invocation_p95_ms", "first invocation, p95", "ms"),
    ("cold_start_ms", "init + first invocation, median", "ms"),
    ("init_as_shipped_ms", "init as shipped (read-only, its own bytecode), median", "ms"),
    ("init_as_shipped_p95_ms", "init as shipped, p95", "ms"),
    ("cold_start_as_shipped_ms", "init + first invocation as shipped, median", "ms"),
    ("warm_p50_ms", "warm invocation p50", "ms"),
    ("warm_p99_ms", "warm invocation p99", "ms"),
    ("overhead_p50_ms", "handler overhead p50 (warm p50 - upstream alone p50)", "ms"),
    ("upstream_calls_per_create", "SignalWire calls per create (warm)", ""),
    ("upstream_calls_per_cold_start", "SignalWire calls per create (first invocation)", ""),
    ("ssm_calls_per_cold_start", "SSM calls per cold start", ""),
    ("ssm_calls_per_1000_warm", "SSM calls per 1,000 warm invocations", ""),
    ("dynamodb_calls_per_cold_start", "DynamoDB calls per cold start (no Idempotency-Key)", ""),
    ("dynamodb_calls_per_1000_warm", "DynamoDB calls per 1,000 warm invocations", ""),
    ("peak_rss_mb", "peak RSS after the warm run", "MiB"),
    ("package_unzipped_mb", "package unzipped (function + layer)", "MiB"),
    ("package_files", "package files", ""),
)


def targets(results: Mapping[str, Any], parameter_count: int) -> list[Target]:
    ssm_reads = math.ceil(parameter_count / 10)
    upstream_calls = results["upstream_calls_per_create"]
    cold_ssm_calls = results["ssm_calls_per_cold_start"]
    return [
        Target("init_ratio <= 1.3", results["init_ratio"], results["init_ratio"] <= 1.3),
        Target(
            "first_invocation_ratio <= 1.3", results["first_invocation_ratio"], results["first_invocation_ratio"] <= 1.3
        ),
        Target("warm_p50_ratio <= 1.25", results["warm_p50_ratio"], results["warm_p50_ratio"] <= 1.25),
        Target("overhead_p50_ms < 1", results["overhead_p50_ms"], results["overhead_p50_ms"] < 1),
        Target(
            "upstream_calls_per_create == 1 (warm and cold)",
            upstream_calls,
            upstream_calls == 1 and results["upstream_calls_per_cold_start"] == 1,
        ),
        Target(f"ssm_calls_per_cold_start == ceil({parameter_count}/10)", cold_ssm_calls, cold_ssm_calls == ssm_reads),
        Target(
            "ssm_calls_per_1000_warm == 0", results["ssm_calls_per_1000_warm"], results["ssm_calls_per_1000_warm"] == 0
        ),
        Target("package_unzipped_mb <= 20", results["package_unzipped_mb"], results["package_unzipped_mb"] <= 20),
    ]


def render_table(results: Mapping[str, Any], checks: Sequence[Target]) -> str:
    baseline = results["baseline"]
    lines = [f"{'figure':<52} {'service':>10} {'baseline':>10} {'ratio':>7}  unit", "-" * 88]
    for key, label, unit in ROWS:
        service_value, baseline_value = results[key], baseline[key]
        shown_ratio = f"{ratio(service_value, baseline_value):.2f}" if baseline_value else "-"
        lines.append(f"{label:<52} {service_value:>10} {baseline_value:>10} {shown_ratio:>7}  {unit}")
    upstream, machine, runs = results["upstream_alone"], results["machine"], results["runs"]
    lines.append("-" * 88)
    lines.extend(
        [
            f"upstream alone (a bare SignalWire create), p50: {upstream['new_connection_p50_ms']} ms on a new "
            "connection (requests.post, as the baseline),",
            f"  {upstream['kept_alive_p50_ms']} ms on a kept-alive one (requests.Session, as the service); "
            "each overhead subtracts its own",
            f"X-Ray documents the service sent per warm invocation: {results['trace_documents_per_warm_invocation']}",
            f"{runs['cold_starts']} cold starts and {runs['warm_invocations']} warm invocations per handler; "
            f"{results['ssm_parameters']} SSM parameters; python {results['python']} on {machine['cpus']} CPUs, "
            f"load average {machine['load_average_at_start']} at start",
        ]
    )
    lines.append("")
    lines.append("targets:")
    lines.extend(
        f"  [{'met' if check.met else 'MISSED'}] {check.figure} (measured {check.measured:g})" for check in checks
    )
    return "\n".join(lines)


def write_results(results: Mapping[str, Any]) -> None:
    staging = RESULTS_PATH.with_suffix(".json.tmp")
    staging.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    staging.replace(RESULTS_PATH)


def main() -> int:
    started = time.monotonic()
    load_average_at_start = round(os.getloadavg()[0], 2)  # other work on the machine skews every figure
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto would log every SSM call
    packages = built_packages()
    put_lambda_code_on_path()  # seed_ssm validates the profiles with the service's own models
    with running_upstreams() as upstreams, tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        use_private_bytecode_cache(Path(workdir) / "bytecode")
        service_as_shipped, baseline_as_shipped = as_shipped(Path(workdir))
        job = make_job(upstreams)
        print(f"cold starts: {COLD_STARTS} per handler, interleaved", file=sys.stderr, flush=True)
        cold = measure_cold(job, upstreams, (BASELINE, SERVICE, baseline_as_shipped, service_as_shipped))
        print(f"warm: {WARM_INVOCATIONS} invocations per handler, in turns", file=sys.stderr, flush=True)
        trace_documents_before = upstreams.xray.documents
        warm, upstream_alone = measure_warm(job, upstreams)
        time.sleep(0.2)  # the last trace documents may still be on their way through loopback UDP
        trace_documents = upstreams.xray.documents - trace_documents_before
        parameter_count = upstreams.parameter_count

    # The service's client keeps its connection alive; the baseline's requests.post opens one each time.
    kept_alive_p50 = percentile(upstream_alone.kept_alive_ms, 50)
    new_connection_p50 = percentile(upstream_alone.new_connection_ms, 50)
    service_package = packages["function"] + packages["layer"]
    service = handler_figures(
        cold[SERVICE.label], cold[service_as_shipped.label], warm[SERVICE.label], kept_alive_p50, service_package
    )
    baseline = handler_figures(
        cold[BASELINE.label],
        cold[baseline_as_shipped.label],
        warm[BASELINE.label],
        new_connection_p50,
        packages["baseline"],
    )
    results: dict[str, Any] = {
        **service,
        "init_ratio": ratio(service["init_ms"], baseline["init_ms"]),
        "first_invocation_ratio": ratio(service["first_invocation_ms"], baseline["first_invocation_ms"]),
        "cold_start_ratio": ratio(service["cold_start_ms"], baseline["cold_start_ms"]),
        "init_as_shipped_ratio": ratio(service["init_as_shipped_ms"], baseline["init_as_shipped_ms"]),
        "cold_start_as_shipped_ratio": ratio(service["cold_start_as_shipped_ms"], baseline["cold_start_as_shipped_ms"]),
        "warm_p50_ratio": ratio(service["warm_p50_ms"], baseline["warm_p50_ms"]),
        "warm_p99_ratio": ratio(service["warm_p99_ms"], baseline["warm_p99_ms"]),
        "peak_rss_ratio": ratio(service["peak_rss_mb"], baseline["peak_rss_mb"]),
        # Only the service carries an X-Ray SDK; the daemon stand-in counts what it sends.
        "trace_documents_per_warm_invocation": round(trace_documents / WARM_INVOCATIONS, 2),
        "function_unzipped_mb": round(packages["function"].mib, 3),
        "layer_unzipped_mb": round(packages["layer"].mib, 2),
        "layer_by_distribution_mb": layer_by_distribution(),
        "python": platform.python_version(),
        "baseline": baseline,
        "upstream_alone": {
            "new_connection_p50_ms": round(new_connection_p50, 3),
            "new_connection_p99_ms": round(percentile(upstream_alone.new_connection_ms, 99), 3),
            "kept_alive_p50_ms": round(kept_alive_p50, 3),
            "kept_alive_p99_ms": round(percentile(upstream_alone.kept_alive_ms, 99), 3),
        },
        "ssm_parameters": parameter_count,
        "runs": {"cold_starts": COLD_STARTS, "warm_invocations": WARM_INVOCATIONS},
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_start": load_average_at_start,
        },
    }
    checks = targets(results, parameter_count)
    results["targets"] = {check.figure: {"measured": check.measured, "met": check.met} for check in checks}
    results["bench_seconds"] = round(time.monotonic() - started, 1)
    write_results(results)
    print(render_table(results, checks))
    print(f"\nwrote {RESULTS_PATH} in {results['bench_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
