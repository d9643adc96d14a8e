"""`make bench`: the service's cold start and per-request cost as Lambda runs them, side by side
with a bare handler, and the memory size that follows.

    python -m bench.run_bench      # from the repository root, after `make sam-build`

The service (the template's ProvisionerFunction as `sam build` packaged it) and the baseline
(`bench/baseline_handler.py`) run in one bench against the same upstreams, which live in this
process throughout: a moto server for SSM and DynamoDB (it counts the calls it answers), the
SignalWire emulator (it counts requests), and a UDP socket where the X-Ray daemon would listen
(it counts trace documents).

Every handler runs in child processes (`bench/lambda_driver.py`) that look like a Lambda
execution environment to the code they load: LAMBDA_TASK_ROOT and the other variables the
runtime sets, the function's variables and memory size from template.yaml, a sampled
`_X_AMZN_TRACE_ID` per invocation, fd 1 as the log sink, and code directories on read-only terms
(PYTHONDONTWRITEBYTECODE), so Python has only the bytecode the package ships, as in Lambda.

Lambda's CPU. A function gets CPU in proportion to its memory, one full vCPU at 1,769 MB; the
INIT phase of an on-demand function is widely reported to run on a full vCPU. The driver times
every phase in wall time and in CPU time (this machine's full core), and the bench models:

    cold_start_modeled_ms = INIT CPU + first-invocation CPU x 1769 / MemorySize
    invocation_modeled_ms = (wall - CPU) + CPU x 1769 / MemorySize    (the wait is not CPU)

The cold start leaves the first invocation's waits out: they are moto and the emulator answering
on loopback, no figure of SSM's or SignalWire's. Graviton's speed per core is not modeled.

Two baselines, both the same handler and both packaged as the service is (its file plus
`requests` with its dependencies, boto3 from the runtime): "naive" ships no bytecode, so every
cold start compiles `requests` again; "careful" ships its bytecode (compileall, unchecked-hash,
as the layer does). Ratios are service / careful baseline.

What it measures, in this order:
- cold: COLD_STARTS fresh processes per handler, in rotating order, after one discarded start
  each (it fills the page cache): the import of the handler module (INIT) and the first
  invocation;
- warm: one process per handler and one doing bare SignalWire creates (the upstream round trip
  alone), stepped in turns for WARM_INVOCATIONS steps, the upstream counters read around each;
- package: the unzipped size and file count of the function and the layer in `.aws-sam/build`,
  and of what each baseline ships;
- memory sizes: the modeled cold start, warm latency and cost at each of MEMORY_SIZES_MB.

Prints one table and writes bench/results.json.
"""

import compileall
import contextlib
import importlib.metadata
import json
import logging
import math
import os
import platform
import py_compile
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
from bench.template import Tag, Template
from local.gateway import IamCaller, LambdaFunction, build_event
from local.loopback import LoopbackServer
from local.run import point_aws_sdk_at, put_lambda_code_on_path
from local.seed import SignalWireAccount, seed_ssm
from local.signalwire_emulator import OPERATIONS, SignalWireEmulator

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = REPOSITORY_ROOT / "bench"
DRIVER = BENCH_DIR / "lambda_driver.py"
RESULTS_PATH = BENCH_DIR / "results.json"
PROFILES_DIR = REPOSITORY_ROOT / "config" / "profiles"
TEMPLATE_PATH = REPOSITORY_ROOT / "template.yaml"
BUILD_DIR = REPOSITORY_ROOT / ".aws-sam" / "build"
BUILT_LAYER = BUILD_DIR / "SharedLayer" / "python"
# The project venv: the same pinned distributions as the layer, with their sources (the layer ships
# its dependencies' bytecode alone), for the baselines to package their own way.
PINNED_SITE = Path(sysconfig.get_paths()["purelib"])
# What `sam build` packages, to tell a stale build from a fresh one.
BUILD_SOURCES = (TEMPLATE_PATH, REPOSITORY_ROOT / "functions", REPOSITORY_ROOT / "layers")
FUNCTION_LOGICAL_ID = "ProvisionerFunction"
SCIM_LOGICAL_ID = "ScimFunction"

COLD_STARTS = 20
WARM_INVOCATIONS = 2000
EMULATOR_RESET_EVERY = 100
PARAMETERS_PATH = "/sip-provisioning/bench"
EMULATOR_PROJECT_ID = "bench-project"
EMULATOR_API_TOKEN = "bench-token"  # noqa: S105 - the emulator's loopback credential
SIP_DOMAIN = "bench.sip.signalwire.com"
ENDPOINTS_PATH = "/api/relay/rest/endpoints/sip"
# The template's arm64 build; `as_shipped` swaps these extension modules for this machine's.
BUILD_EXTENSION_SUFFIX = ".cpython-313-aarch64-linux-gnu.so"
# The baseline ships `requests` with its dependencies; boto3 comes with the Lambda runtime.
BASELINE_SHIPPED_DISTRIBUTIONS = ("requests", "urllib3", "idna", "charset-normalizer", "certifi")
MIB = 1024 * 1024  # Lambda's size quotas are in MiB (250 "MB" unzipped = 250 MiB)
CHILD_TIMEOUT_SECONDS = 300

# -- Lambda's CPU and price (arm64, us-east-1, first pricing tier) ----------------------------
FULL_VCPU_MEMORY_MB = 1769  # AWS: a function has the equivalent of one vCPU at 1,769 MB
MEMORY_SIZES_MB = (256, 512, 1024, 1769)
PRICE_PER_GB_SECOND_USD = 0.0000133334
PRICE_PER_REQUEST_USD = 0.20 / 1_000_000
# The memory size to recommend: the smallest whose modeled cold start is within this factor of a
# full vCPU's and whose modeled warm p50 is within WARM_SLACK_MS of it. Cost does not decide: it
# is a fraction of a cent per 1,000 creates at every size (see the table).
COLD_START_SLACK = 1.10
WARM_SLACK_MS = 5.0


def cpu_scale(memory_mb: int) -> float:
    """How much longer CPU work takes at `memory_mb` than on a full vCPU (no faster above it)."""
    return max(1.0, FULL_VCPU_MEMORY_MB / memory_mb)


def billed_cost_usd(duration_ms: float, memory_mb: int) -> float:
    """One invocation's price: duration rounded up to the millisecond, in GB-s, plus the request."""
    return math.ceil(duration_ms) / 1000 * memory_mb / 1024 * PRICE_PER_GB_SECOND_USD + PRICE_PER_REQUEST_USD


TEMPLATE = Template.load(TEMPLATE_PATH)
FUNCTION = LambdaFunction(
    name="sip-provisioner-bench",
    memory_limit_in_mb=TEMPLATE.memory_size_mb(FUNCTION_LOGICAL_ID),
    timeout_seconds=TEMPLATE.timeout_seconds(FUNCTION_LOGICAL_ID),
)
FUNCTION_SETTINGS = {
    "name": FUNCTION.name,
    "arn": FUNCTION.arn,
    "memory_mb": FUNCTION.memory_limit_in_mb,
    "timeout_seconds": FUNCTION.timeout_seconds,
}


@dataclass(frozen=True)
class HandlerUnderTest:
    label: str
    module: str
    code_paths: tuple[Path, ...]
    task_root: Path
    # Lambda's code directories are read-only: Python runs from the bytecode the package ships, or
    # compiles every module again on every cold start.
    read_only_code: bool = True
    environment: tuple[tuple[str, str], ...] = ()
    # "cold": INIT and a first create; "import": INIT alone (a function the bench does not invoke).
    cold_mode: str = "cold"


# Bare SignalWire creates (no handler), in a process set up like the baseline's.
UPSTREAM_ALONE = HandlerUnderTest(
    label="upstream", module="", code_paths=(BENCH_DIR,), task_root=BENCH_DIR, read_only_code=False
)


@dataclass(frozen=True)
class Target:
    figure: str
    measured: float
    met: bool


# -- the upstreams ------------------------------------------------------------------------------


class CountingMotoServer(LoopbackServer):
    """moto on loopback, counting the SSM and DynamoDB API calls it answers (by X-Amz-Target)."""

    thread_name = "moto"

    def __init__(self) -> None:
        super().__init__("127.0.0.1", 0)
        self._lock = threading.Lock()
        self._ssm_calls = 0
        self._dynamodb_calls = 0

    def _make_server(self, address: tuple[str, int]) -> BaseWSGIServer:
        moto_app = DomainDispatcherApplication(create_backend_app)

        def counting_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
            with self._lock:
                self._ssm_calls += target.startswith("AmazonSSM.")
                self._dynamodb_calls += target.startswith("DynamoDB_")
            return moto_app(environ, start_response)

        host, port = address
        return make_server(host, port, counting_app, threaded=True, request_handler=MotoRequestHandler)

    @property
    def ssm_calls(self) -> int:
        with self._lock:
            return self._ssm_calls

    @property
    def dynamodb_calls(self) -> int:
        with self._lock:
            return self._dynamodb_calls


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
    # The function's variables that name a DynamoDB table, with the bench's table name.
    tables: dict[str, str]

    def calls(self) -> Calls:
        return Calls(
            ssm=self.moto.ssm_calls,
            dynamodb=self.moto.dynamodb_calls,
            signalwire=sum(self.emulator.requests_received(operation) for operation in OPERATIONS),
        )


def create_tables(dynamodb: Any) -> dict[str, str]:
    """Every DynamoDB table the function's environment names, as the template declares it."""
    tables = {}
    for variable, properties in TEMPLATE.table_variables(FUNCTION_LOGICAL_ID).items():
        name = f"sip-provisioning-bench-{variable.lower().replace('_', '-')}"
        indexes = [
            {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
            for index in properties.get("GlobalSecondaryIndexes", [])
        ]
        dynamodb.create_table(
            TableName=name,
            KeySchema=properties["KeySchema"],
            AttributeDefinitions=properties["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
            **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
        )
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        tables[variable] = name
    return tables


@contextlib.contextmanager
def running_upstreams() -> Iterator[Upstreams]:
    with contextlib.ExitStack() as running:
        moto = running.enter_context(CountingMotoServer())
        point_aws_sdk_at(moto.base_url, os.environ)  # the children inherit it with the rest of the environment
        emulator = running.enter_context(
            SignalWireEmulator(project_id=EMULATOR_PROJECT_ID, api_token=EMULATOR_API_TOKEN)
        )
        xray = running.enter_context(XRayDaemonStandIn())
        account = SignalWireAccount(emulator.base_url, EMULATOR_PROJECT_ID, EMULATOR_API_TOKEN, SIP_DOMAIN)
        names = seed_ssm(boto3.client("ssm"), PARAMETERS_PATH, PROFILES_DIR, account)
        tables = create_tables(boto3.client("dynamodb"))
        yield Upstreams(moto, emulator, xray, parameter_count=len(names), tables=tables)


# -- the child processes ------------------------------------------------------------------------


def function_environment(tables: Mapping[str, str]) -> dict[str, str]:
    """The function's variables from the template, resolved for the bench.

    Plain values as they are, `!Ref` to a parameter as its default, to a table as the bench's
    table; PARAMETERS_PATH and SECRETS_PREFIX are the bench's. Anything else cannot be resolved here and is left out.
    """
    environ = {}
    for name, value in TEMPLATE.environment(FUNCTION_LOGICAL_ID).items():
        if name in tables:
            environ[name] = tables[name]
        elif not isinstance(value, Tag):
            environ[name] = str(value).lower() if isinstance(value, bool) else str(value)
        elif value.name == "Ref" and TEMPLATE.parameter_default(value.value) is not None:
            environ[name] = str(TEMPLATE.parameter_default(value.value))
        elif name not in {"PARAMETERS_PATH", "SECRETS_PREFIX"}:
            print(f"note: {name} ({value}) cannot be resolved here and is left unset", file=sys.stderr)
    environ["PARAMETERS_PATH"] = PARAMETERS_PATH
    environ["SECRETS_PREFIX"] = "sip-provisioning/bench/endpoints/"  # a `!Sub` of the stage
    return environ


def lambda_environment(handler: HandlerUnderTest, upstreams: Upstreams) -> dict[str, str]:
    """This process's environment (AWS SDK pointed at moto) plus what Lambda and the template set."""
    environ = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "PYTHONSTARTUP")}
    environ.update(function_environment(upstreams.tables))
    environ.update(
        {
            "LAMBDA_TASK_ROOT": str(handler.task_root),
            "_HANDLER": f"{handler.module}.lambda_handler",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(FUNCTION.memory_limit_in_mb),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION.name}",
            "AWS_XRAY_DAEMON_ADDRESS": upstreams.xray.address,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "TZ": ":UTC",
            **dict(handler.environment),
        }
    )
    if handler.read_only_code:
        environ.pop("PYTHONPYCACHEPREFIX", None)
        environ["PYTHONDONTWRITEBYTECODE"] = "1"
    return environ


def use_private_bytecode_cache(directory: Path) -> None:
    """Let the children that run from the source tree cache bytecode in `directory`, not beside the sources."""
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
    """A create from the default profile, with no Idempotency-Key (so no idempotency record)."""
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
    init_cpu_ms: list[float] = field(default_factory=list)
    first_invocation_ms: list[float] = field(default_factory=list)
    first_invocation_cpu_ms: list[float] = field(default_factory=list)
    calls: list[Calls] = field(default_factory=list)

    @property
    def totals_ms(self) -> list[float]:
        """Init plus first invocation in wall time, per process, on this machine's full core."""
        return [init + first for init, first in zip(self.init_ms, self.first_invocation_ms, strict=True)]

    def modeled_ms(self, memory_mb: int) -> list[float]:
        """INIT CPU on a full vCPU plus the first invocation's CPU at `memory_mb`, per process."""
        return [
            init + first * cpu_scale(memory_mb)
            for init, first in zip(self.init_cpu_ms, self.first_invocation_cpu_ms, strict=True)
        ]


def cold_start(job: Job, upstreams: Upstreams, handler: HandlerUnderTest, run: str) -> tuple[dict[str, Any], Calls]:
    before = upstreams.calls()
    environ = lambda_environment(handler, upstreams)
    with child(
        job.for_handler(handler, handler.cold_mode, f"{handler.label}-cold-{run}"), environ, handler.label
    ) as driver:
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
            cold.init_cpu_ms.append(result["init_cpu_ms"])
            cold.first_invocation_ms.append(result["first_invocation_ms"])
            cold.first_invocation_cpu_ms.append(result["first_invocation_cpu_ms"])
            cold.calls.append(calls)
        if (run + 1) % 5 == 0:
            print(f"  {run + 1}/{COLD_STARTS}", file=sys.stderr, flush=True)
    upstreams.emulator.reset()
    return figures


@dataclass
class WarmFigures:
    latencies_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    calls: Calls = field(default_factory=lambda: Calls(0, 0, 0))
    peak_rss_mb: float = 0.0

    def modeled_ms(self, memory_mb: int) -> list[float]:
        """Each invocation at `memory_mb`: its waits as measured, its CPU scaled."""
        return modeled_invocations(self.latencies_ms, self.cpu_ms, memory_mb)


def modeled_invocations(wall_ms: Sequence[float], cpu_ms: Sequence[float], memory_mb: int) -> list[float]:
    return [max(wall - cpu, 0.0) + cpu * cpu_scale(memory_mb) for wall, cpu in zip(wall_ms, cpu_ms, strict=True)]


@dataclass
class UpstreamFigures:
    """The SignalWire round trip alone, on a new connection (requests.post) and on a kept-alive one."""

    new_connection_ms: list[float] = field(default_factory=list)
    new_connection_cpu_ms: list[float] = field(default_factory=list)
    kept_alive_ms: list[float] = field(default_factory=list)
    kept_alive_cpu_ms: list[float] = field(default_factory=list)


def measure_warm(
    job: Job, upstreams: Upstreams, handlers: Sequence[HandlerUnderTest]
) -> tuple[dict[str, WarmFigures], UpstreamFigures]:
    """WARM_INVOCATIONS timed steps of each warm process, after its first (untimed) invocation.

    The processes (one per handler, and one doing bare upstream calls) take their steps in turns,
    the order rotating, and the upstreams' counters are read around each step, so each process
    gets exactly the calls it made.
    """
    warm = {handler.label: WarmFigures() for handler in handlers}
    upstream = UpstreamFigures()
    runs = [(handler, "warm") for handler in handlers] + [(UPSTREAM_ALONE, "upstream")]
    with contextlib.ExitStack() as running:
        drivers = [
            running.enter_context(
                child(
                    job.for_handler(handler, mode, f"{handler.label}-warm"),
                    lambda_environment(handler, upstreams),
                    handler.label,
                )
            )
            for handler, mode in runs
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
                    for key in ("new_connection_ms", "new_connection_cpu_ms", "kept_alive_ms", "kept_alive_cpu_ms"):
                        getattr(upstream, key).append(result[key])
                else:
                    figures = warm[driver.label]
                    figures.latencies_ms.append(result["ms"])
                    figures.cpu_ms.append(result["cpu_ms"])
                    figures.calls += upstreams.calls() - before
            if number % 500 == 0:
                print(f"  {number}/{WARM_INVOCATIONS}", file=sys.stderr, flush=True)
        for driver in drivers:
            peak_rss_mb = driver.stop()["peak_rss_mb"]
            if driver.label in warm:
                warm[driver.label].peak_rss_mb = peak_rss_mb
    return warm, upstream


# -- packages -----------------------------------------------------------------------------------


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


def check_build() -> None:
    built_template = BUILD_DIR / "template.yaml"
    if not built_template.is_file():
        raise SystemExit(f"{BUILD_DIR} is missing: run `make sam-build` (or `make bench`, which runs it) first")
    if newest_mtime(BUILD_SOURCES) > built_template.stat().st_mtime:
        raise SystemExit(f"{BUILD_DIR} is older than the sources: run `make sam-build` again")


def distribution_files(site_dir: Path, names: Iterable[str]) -> list[Path]:
    """The files of the named distributions installed in `site_dir`, from their RECORD."""
    wanted = {name.lower().replace("_", "-") for name in names}
    return [
        Path(str(distribution.locate_file(file)))
        for distribution in importlib.metadata.distributions(path=[str(site_dir)])
        if distribution.metadata["Name"].lower().replace("_", "-") in wanted
        for file in distribution.files or []
    ]


def copy_distributions(site_dir: Path, names: Iterable[str], tree: Path) -> None:
    """The named distributions' files (RECORD, without any bytecode compiled at install) into `tree`."""
    for file in distribution_files(site_dir, names):
        if "__pycache__" in file.parts:
            continue
        copy = tree / file.relative_to(site_dir)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, copy)


def ship_bytecode(tree: Path) -> None:
    """What the layers' Makefiles do with dependencies: bytecode where the sources were, hash-checked
    never (zip mtimes are coarse), and the sources removed."""
    if not compileall.compile_dir(
        tree, quiet=1, workers=1, legacy=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    ):
        raise SystemExit(f"compileall failed in {tree}")
    for source in tree.rglob("*.py"):
        source.unlink()


def compile_handler(file: Path) -> None:
    """What the shared layer's Makefile does with our own package: bytecode beside the kept source."""
    py_compile.compile(str(file), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


def runnable_here(tree: Path) -> None:
    """Swap the build's extension modules (built for arm64) for this machine's builds of the same pins.

    The project venv holds the same pinned versions; pure-Python files and shipped bytecode stay
    exactly as they were packaged.
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


@dataclass(frozen=True)
class Packaged:
    handler: HandlerUnderTest
    size: PackageSize  # as it would be uploaded (arm64 extension modules), unzipped


def package_baseline(
    workdir: Path,
    label: str,
    *,
    with_bytecode: bool,
    extra_files: Sequence[Path] = (),
    extra_distributions: Sequence[tuple[Path, Sequence[str]]] = (),
) -> Packaged:
    """The baseline's file and the distributions it ships (the pinned versions), packaged.

    `extra_files` (the first of them then the handler) and `extra_distributions` (site directory,
    distribution names) are what a variant of it adds.
    """
    tree = workdir / label
    tree.mkdir()
    for site_dir, names in ((PINNED_SITE, BASELINE_SHIPPED_DISTRIBUTIONS), *extra_distributions):
        copy_distributions(site_dir, names, tree)
    if with_bytecode:
        ship_bytecode(tree)
    for file in (BENCH_DIR / "baseline_handler.py", *extra_files):
        shutil.copy2(file, tree)
        if with_bytecode:
            compile_handler(tree / file.name)
    size = size_of(tree.rglob("*"))
    runnable_here(tree)
    module = Path(extra_files[0]).stem if extra_files else "baseline_handler"
    return Packaged(HandlerUnderTest(label, module, (tree,), tree), size)


def built_size(logical_id: str) -> PackageSize:
    """The function with its layers, unzipped, as `sam build` left them."""
    return sum(
        (size_of((BUILD_DIR / part).rglob("*")) for part in (logical_id, *TEMPLATE.layers(logical_id))),
        PackageSize(0, 0),
    )


def package_function(workdir: Path, logical_id: str, label: str, cold_mode: str = "cold") -> Packaged:
    """The function and its layers exactly as `sam build` left them."""
    function = workdir / label / "function"
    shutil.copytree(BUILD_DIR / logical_id, function)
    trees = [function]
    for layer in TEMPLATE.layers(logical_id):
        trees.append(workdir / label / layer)
        shutil.copytree(BUILD_DIR / layer / "python", trees[-1])
    for tree in trees:
        runnable_here(tree)
    module = TEMPLATE.handler_module(logical_id)
    handler = HandlerUnderTest(label, module, tuple(trees), function, cold_mode=cold_mode)
    return Packaged(handler, built_size(logical_id))


def layer_by_distribution() -> dict[str, float]:
    """MiB per distribution in the built layer as shipped (a module's bytecode where its source
    was), largest first. From RECORD itself: importlib.metadata leaves out the removed sources."""
    sizes = {}
    for distribution in importlib.metadata.distributions(path=[str(BUILT_LAYER)]):
        recorded = [BUILT_LAYER / row.split(",")[0] for row in (distribution.read_text("RECORD") or "").splitlines()]
        shipped = [
            file.with_suffix(".pyc") if file.suffix == ".py" and not file.exists() else file for file in recorded
        ]
        sizes[distribution.metadata["Name"]] = size_of(shipped).mib
    return dict(sorted(((name, round(mib, 2)) for name, mib in sizes.items()), key=lambda item: -item[1]))


# -- figures ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], percent: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, statistics' "inclusive")."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * percent / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def per_cold_start(counts: Sequence[int]) -> float:
    """The mean over the cold starts: every one of them should show the same count."""
    return round(statistics.mean(counts), 3)


def cold_figures(cold: ColdFigures, memory_mb: int) -> dict[str, float]:
    return {
        "init_ms": round(median(cold.init_ms), 2),
        "init_p95_ms": round(percentile(cold.init_ms, 95), 2),
        "init_cpu_ms": round(median(cold.init_cpu_ms), 2),
        "first_invocation_ms": round(median(cold.first_invocation_ms), 2),
        "first_invocation_cpu_ms": round(median(cold.first_invocation_cpu_ms), 2),
        "cold_start_ms": round(median(cold.totals_ms), 2),
        "cold_start_modeled_ms": round(median(cold.modeled_ms(memory_mb)), 2),
        "cold_start_modeled_p95_ms": round(percentile(cold.modeled_ms(memory_mb), 95), 2),
        "upstream_calls_per_cold_start": per_cold_start([calls.signalwire for calls in cold.calls]),
        "ssm_calls_per_cold_start": per_cold_start([calls.ssm for calls in cold.calls]),
        "dynamodb_calls_per_cold_start": per_cold_start([calls.dynamodb for calls in cold.calls]),
    }


def warm_figures(
    warm: WarmFigures, upstream_wall_ms: Sequence[float], upstream_cpu_ms: Sequence[float], memory_mb: int
) -> dict[str, float]:
    """`upstream_*`: the bare SignalWire create made as this handler makes it, for the overhead."""
    creates = len(warm.latencies_ms)
    warm_p50 = median(warm.latencies_ms)
    modeled_p50 = median(warm.modeled_ms(memory_mb))
    return {
        "warm_p50_ms": round(warm_p50, 3),
        "warm_p99_ms": round(percentile(warm.latencies_ms, 99), 3),
        "warm_cpu_p50_ms": round(median(warm.cpu_ms), 3),
        "warm_modeled_p50_ms": round(modeled_p50, 3),
        "overhead_p50_ms": round(warm_p50 - median(upstream_wall_ms), 3),
        "overhead_modeled_p50_ms": round(
            modeled_p50 - median(modeled_invocations(upstream_wall_ms, upstream_cpu_ms, memory_mb)), 3
        ),
        "upstream_calls_per_create": round(warm.calls.signalwire / creates, 3),
        "ssm_calls_per_1000_warm": round(warm.calls.ssm * 1000 / creates, 3),
        "dynamodb_calls_per_warm_create": round(warm.calls.dynamodb / creates, 3),
        "peak_rss_mb": round(warm.peak_rss_mb, 1),
    }


def package_figures(size: PackageSize) -> dict[str, float]:
    return {
        "package_unzipped_mb": round(size.mib, 2),
        "package_unzipped_bytes": size.bytes,
        "package_files": size.files,
    }


def ratio(service: float, baseline: float) -> float:
    return round(service / baseline, 3) if baseline else math.inf


def memory_sizes(cold: ColdFigures, warm: WarmFigures) -> list[dict[str, float]]:
    """Modeled latency and cost of the service at each size.

    Cost per 1,000 warm creates: the mean billed duration (modeled, rounded up to the ms) x
    memory in GB x the price per GB-s, plus the request price. A cold start also bills its INIT
    (Lambda bills INIT for on-demand functions since August 2025). Every millisecond that the real
    SignalWire takes beyond the emulator's is billed wait: `per_100_ms_upstream_usd` is what
    100 ms more per create adds to 1,000 creates.
    """
    rows = []
    for memory_mb in MEMORY_SIZES_MB:
        warm_modeled = warm.modeled_ms(memory_mb)
        cold_modeled = cold.modeled_ms(memory_mb)
        rows.append(
            {
                "memory_mb": memory_mb,
                "cpu_scale": round(cpu_scale(memory_mb), 3),
                "cold_start_modeled_ms": round(median(cold_modeled), 2),
                "warm_modeled_p50_ms": round(median(warm_modeled), 3),
                "warm_modeled_p99_ms": round(percentile(warm_modeled, 99), 3),
                "cost_per_1000_warm_creates_usd": round(
                    1000 * statistics.mean(billed_cost_usd(ms, memory_mb) for ms in warm_modeled), 8
                ),
                "cost_per_cold_start_usd": round(billed_cost_usd(median(cold_modeled), memory_mb), 10),
                "per_100_ms_upstream_usd": round(1000 * 0.1 * memory_mb / 1024 * PRICE_PER_GB_SECOND_USD, 8),
            }
        )
    return rows


def recommend_memory(rows: Sequence[Mapping[str, float]]) -> dict[str, Any]:
    full = next(row for row in rows if row["memory_mb"] == FULL_VCPU_MEMORY_MB)
    chosen = next(
        row
        for row in sorted(rows, key=lambda row: row["memory_mb"])
        if row["cold_start_modeled_ms"] <= COLD_START_SLACK * full["cold_start_modeled_ms"]
        and row["warm_modeled_p50_ms"] <= full["warm_modeled_p50_ms"] + WARM_SLACK_MS
    )
    return {
        "memory_mb": int(chosen["memory_mb"]),
        "rule": f"the smallest size whose modeled cold start is within {COLD_START_SLACK:g}x of a full vCPU's "
        f"({FULL_VCPU_MEMORY_MB} MB) and whose modeled warm p50 is within {WARM_SLACK_MS:g} ms of it",
        "template_memory_mb": FUNCTION.memory_limit_in_mb,
    }


def dynamodb_writes_allowed() -> int:
    """Unkeyed creates may write one inventory record per create: one per table beyond the idempotency table."""
    tables = TEMPLATE.table_variables(FUNCTION_LOGICAL_ID)
    return len([variable for variable in tables if variable != "IDEMPOTENCY_TABLE"])


FAIR_TARGETS = (
    # key in results["fair"] (or results), at most
    ("cold_start_modeled_ratio", 1.5),
    ("init_ratio", 1.5),
    ("first_invocation_ratio", 1.5),
    ("peak_rss_ratio", 1.3),
)


def fair_targets(results: Mapping[str, Any]) -> list[Target]:
    """Issue 22's targets: against the fair baseline, and the SCIM function against the HTTP one."""
    fair = results["fair"]
    checks = [Target(f"fair {key} <= {limit:g}", fair[key], fair[key] <= limit) for key, limit in FAIR_TARGETS]
    checks.append(
        Target("scim_import_ratio <= 1.3 (INIT CPU)", results["scim_import_ratio"], results["scim_import_ratio"] <= 1.3)
    )
    largest = results["package_largest_function"]
    checks.append(
        Target(
            f"package_unzipped_mb <= 12 (largest function with its layers: {largest})",
            results["package_unzipped_mb"],
            results["package_unzipped_mb"] <= 12,
        )
    )
    return checks


def targets(results: Mapping[str, Any], parameter_count: int) -> list[Target]:
    """The old targets, against the careful baseline, kept for one release beside the fair ones."""
    ssm_reads = 1  # the settings and `default` in one GetParameters call, whatever the parameter count
    dynamodb_allowed = dynamodb_writes_allowed()

    def at_most(key: str, limit: float, note: str = "") -> Target:
        return Target(f"{key} <= {limit:g}{note}", results[key], results[key] <= limit)

    upstream_calls = results["upstream_calls_per_create"]
    dynamodb_warm = results["dynamodb_calls_per_warm_create"]
    dynamodb_cold = results["dynamodb_calls_per_cold_start"]
    return [
        at_most("cold_start_modeled_ratio", 1.2, " (careful)"),
        at_most("init_ratio", 1.25, " (INIT CPU, careful)"),
        at_most("warm_p50_ratio", 1.15, " (wall, careful)"),
        at_most("overhead_p50_ms", 0.5, " (wall)"),
        at_most("peak_rss_ratio", 1.25, " (careful)"),
        Target(
            # The username lookup that proves it free before the create (issue 19), then the create.
            "SignalWire calls per create == 2 (warm and first invocation)",
            upstream_calls,
            upstream_calls == 2 and results["upstream_calls_per_cold_start"] == 2,
        ),
        Target(
            f"SSM calls per cold start == {ssm_reads} ({parameter_count} parameters)",
            results["ssm_calls_per_cold_start"],
            results["ssm_calls_per_cold_start"] == ssm_reads,
        ),
        Target(
            "SSM calls per 1,000 warm creates == 0",
            results["ssm_calls_per_1000_warm"],
            results["ssm_calls_per_1000_warm"] == 0,
        ),
        Target(
            f"DynamoDB calls per unkeyed create <= {dynamodb_allowed} (inventory tables in the environment), warm",
            dynamodb_warm,
            dynamodb_warm <= dynamodb_allowed,
        ),
        Target(
            f"DynamoDB calls per unkeyed create <= {dynamodb_allowed}, INIT + first invocation",
            dynamodb_cold,
            dynamodb_cold <= dynamodb_allowed,
        ),
    ]


# -- the table ----------------------------------------------------------------------------------

ROWS = (
    # key, label, unit
    ("cold_start_modeled_ms", "cold start modeled at MEMORY (INIT CPU + 1st CPU x SCALE)", "ms"),
    ("cold_start_modeled_p95_ms", "cold start modeled, p95", "ms"),
    ("init_ms", "INIT: import of the handler module, median wall", "ms"),
    ("init_p95_ms", "INIT, p95 wall", "ms"),
    ("init_cpu_ms", "INIT CPU, median", "ms"),
    ("first_invocation_ms", "first invocation (SSM read + first POST), wall", "ms"),
    ("first_invocation_cpu_ms", "first invocation CPU, median", "ms"),
    ("cold_start_ms", "INIT + first invocation, wall on a full core", "ms"),
    ("warm_p50_ms", "warm invocation p50, wall", "ms"),
    ("warm_p99_ms", "warm invocation p99, wall", "ms"),
    ("warm_cpu_p50_ms", "warm invocation CPU p50", "ms"),
    ("warm_modeled_p50_ms", "warm p50 modeled at MEMORY (wait + CPU x SCALE)", "ms"),
    ("overhead_p50_ms", "handler overhead p50 (warm p50 - upstream alone p50)", "ms"),
    ("overhead_modeled_p50_ms", "handler overhead p50, modeled at MEMORY", "ms"),
    ("upstream_calls_per_create", "SignalWire calls per create (warm)", ""),
    ("upstream_calls_per_cold_start", "SignalWire calls per create (first invocation)", ""),
    ("ssm_calls_per_cold_start", "SSM calls per cold start", ""),
    ("ssm_calls_per_1000_warm", "SSM calls per 1,000 warm creates", ""),
    ("dynamodb_calls_per_cold_start", "DynamoDB calls, INIT + first (unkeyed) create", ""),
    ("dynamodb_calls_per_warm_create", "DynamoDB calls per warm (unkeyed) create", ""),
    ("peak_rss_mb", "peak RSS after the warm run", "MiB"),
    ("package_unzipped_mb", "package unzipped, largest function + its layers", "MiB"),
    ("package_files", "package files", ""),
)


def shown(value: Any) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def render_table(results: Mapping[str, Any], checks: Sequence[Target]) -> str:
    fair, careful, naive = results["fair_baseline"], results["baseline"], results["naive_baseline"]
    memory = results["function"]["memory_mb"]
    width = 60
    rule = "-" * (width + 61)
    lines = [
        f"{'figure':<{width}} {'service':>9} {'fair':>9} {'ratio':>6} {'careful':>9} {'ratio':>6} {'naive':>9}  unit",
        f"{'':<{width}} {'':>9} {'baseline':>9} {'':>6} {'baseline':>9} {'':>6} {'baseline':>9}",
        rule,
    ]

    def shown_ratio(service_value: float, baseline_value: float | None) -> str:
        return f"{ratio(service_value, baseline_value):.2f}" if baseline_value else "-"

    for key, label, unit in ROWS:
        label = label.replace("MEMORY", f"{memory} MB").replace("SCALE", f"{cpu_scale(memory):.2f}")
        service_value, fair_value, careful_value = results[key], fair.get(key), careful.get(key)
        lines.append(
            f"{label:<{width}} {shown(service_value):>9} {shown(fair_value):>9} "
            f"{shown_ratio(service_value, fair_value):>6} {shown(careful_value):>9} "
            f"{shown_ratio(service_value, careful_value):>6} {shown(naive.get(key)):>9}  {unit}"
        )
    upstream, machine, runs = results["upstream_alone"], results["machine"], results["runs"]
    lines.append(rule)
    lines.extend(
        [
            f"SCIM function INIT CPU: {results['scim_init_cpu_ms']} ms, {results['scim_import_ratio']}x the HTTP "
            "function's; package per function (MiB, with its layers): "
            + ", ".join(f"{name} {mib}" for name, mib in results["package_by_function_mb"].items()),
            f"upstream alone (a bare SignalWire create), p50: {upstream['new_connection_p50_ms']} ms on a new "
            "connection (requests.post, as the baseline),",
            f"  {upstream['kept_alive_p50_ms']} ms on a kept-alive one (requests.Session, as the service); "
            "each overhead subtracts its own",
            f"X-Ray documents the service sent per warm invocation: {results['trace_documents_per_warm_invocation']}",
            f"{runs['cold_starts']} cold starts and {runs['warm_invocations']} warm invocations per handler; "
            f"{results['ssm_parameters']} SSM parameters; MemorySize {memory} MB from template.yaml; "
            f"python {results['python']} on {machine['cpus']} CPUs, load average {machine['load_average_at_start']} "
            "at start",
            "",
            f"memory size (modeled: INIT on a full vCPU, invocations at memory/{FULL_VCPU_MEMORY_MB} of one; "
            f"${PRICE_PER_GB_SECOND_USD}/GB-s, ${PRICE_PER_REQUEST_USD * 1e6:.2f}/1M requests, arm64 us-east-1)",
            f"{'MB':>6} {'CPU x':>6} {'cold start':>11} {'warm p50':>9} {'warm p99':>9} {'$/1,000 warm':>13} "
            f"{'$/cold start':>13} {'$/1,000 per +100 ms wait':>25}",
        ]
    )
    for row in results["memory_sizes"]:
        lines.append(
            f"{row['memory_mb']:>6} {row['cpu_scale']:>6.2f} {row['cold_start_modeled_ms']:>8.1f} ms "
            f"{row['warm_modeled_p50_ms']:>6.2f} ms {row['warm_modeled_p99_ms']:>6.2f} ms "
            f"{row['cost_per_1000_warm_creates_usd']:>13.6f} {row['cost_per_cold_start_usd']:>13.8f} "
            f"{row['per_100_ms_upstream_usd']:>25.6f}"
        )
    recommendation = results["memory_recommendation"]
    lines.append(
        f"recommended MemorySize: {recommendation['memory_mb']} MB ({recommendation['rule']}); "
        f"template.yaml has {recommendation['template_memory_mb']} MB"
    )
    lines.append("")
    lines.append(
        "targets: the fair ones first (issue 22), then the careful baseline's, kept for one release "
        "so the change of yardstick shows:"
    )
    lines.extend(
        f"  [{'met' if check.met else 'MISSED'}] {check.figure} (measured {check.measured:g})" for check in checks
    )
    return "\n".join(lines)


def write_results(results: Mapping[str, Any], path: Path = RESULTS_PATH) -> None:
    staging = path.with_suffix(".json.tmp")
    staging.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    staging.replace(path)


def machine_figures(load_average_at_start: float) -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "load_average_at_start": load_average_at_start}


def main() -> int:
    started = time.monotonic()
    load_average_at_start = round(os.getloadavg()[0], 2)  # other work on the machine skews every figure
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto would log every SSM call
    check_build()
    put_lambda_code_on_path()  # seed_ssm validates the profiles with the service's own models
    memory = FUNCTION.memory_limit_in_mb
    with running_upstreams() as upstreams, tempfile.TemporaryDirectory(prefix="bench-") as workdir_name:
        workdir = Path(workdir_name)
        use_private_bytecode_cache(workdir / "bytecode")
        service = package_function(workdir, FUNCTION_LOGICAL_ID, "service")
        scim = package_function(workdir, SCIM_LOGICAL_ID, "scim", cold_mode="import")
        naive = package_baseline(workdir, "baseline-naive", with_bytecode=False)
        careful = package_baseline(workdir, "baseline-careful", with_bytecode=True)
        fair = package_baseline(
            workdir, "baseline-fair", with_bytecode=True, extra_files=(BENCH_DIR / "fair_baseline_handler.py",)
        )
        job = make_job(upstreams)
        print(f"cold starts: {COLD_STARTS} per handler, interleaved", file=sys.stderr, flush=True)
        cold = measure_cold(
            job, upstreams, (fair.handler, careful.handler, service.handler, naive.handler, scim.handler)
        )
        print(f"warm: {WARM_INVOCATIONS} invocations per handler, in turns", file=sys.stderr, flush=True)
        trace_documents_before = upstreams.xray.documents
        warm, upstream_alone = measure_warm(job, upstreams, (fair.handler, careful.handler, service.handler))
        time.sleep(0.2)  # the last trace documents may still be on their way through loopback UDP
        trace_documents = upstreams.xray.documents - trace_documents_before
        parameter_count = upstreams.parameter_count

    # The service's client keeps its connection alive; the baseline's requests.post opens one each time.
    service_figures = {
        **cold_figures(cold["service"], memory),
        **warm_figures(warm["service"], upstream_alone.kept_alive_ms, upstream_alone.kept_alive_cpu_ms, memory),
        **package_figures(service.size),
    }
    baseline_figures = {
        **cold_figures(cold[careful.handler.label], memory),
        **warm_figures(
            warm[careful.handler.label], upstream_alone.new_connection_ms, upstream_alone.new_connection_cpu_ms, memory
        ),
        **package_figures(careful.size),
    }
    # The fair baseline keeps its connection alive too.
    fair_figures = {
        **cold_figures(cold[fair.handler.label], memory),
        **warm_figures(
            warm[fair.handler.label], upstream_alone.kept_alive_ms, upstream_alone.kept_alive_cpu_ms, memory
        ),
        **package_figures(fair.size),
    }
    naive_figures = {**cold_figures(cold[naive.handler.label], memory), **package_figures(naive.size)}
    by_function = {logical_id: built_size(logical_id) for logical_id in TEMPLATE.functions()}
    largest = max(by_function, key=lambda logical_id: by_function[logical_id].bytes)
    rows = memory_sizes(cold["service"], warm["service"])
    results: dict[str, Any] = {
        **service_figures,
        # The largest function with its layers: the figure Lambda's quota and the cold start's
        # extraction meet (the ProvisionerFunction's own is in package_by_function_mb).
        **package_figures(by_function[largest]),
        "package_largest_function": largest,
        "package_by_function_mb": {logical_id: round(size.mib, 2) for logical_id, size in by_function.items()},
        # Service over the fair baseline, one run: CPU-modeled at the template's memory size.
        "fair": {
            "cold_start_modeled_ratio": ratio(
                service_figures["cold_start_modeled_ms"], fair_figures["cold_start_modeled_ms"]
            ),
            "init_ratio": ratio(service_figures["init_cpu_ms"], fair_figures["init_cpu_ms"]),
            # CPU, as the model scales it: the first invocation's waits are moto's and the emulator's.
            "first_invocation_ratio": ratio(
                service_figures["first_invocation_cpu_ms"], fair_figures["first_invocation_cpu_ms"]
            ),
            "warm_p50_ratio": ratio(service_figures["warm_p50_ms"], fair_figures["warm_p50_ms"]),
            "warm_modeled_p50_ratio": ratio(
                service_figures["warm_modeled_p50_ms"], fair_figures["warm_modeled_p50_ms"]
            ),
            "peak_rss_ratio": ratio(service_figures["peak_rss_mb"], fair_figures["peak_rss_mb"]),
        },
        # The SCIM function's INIT (its import, with its warm-up) over the HTTP function's, CPU.
        "scim_import_ratio": ratio(median(cold["scim"].init_cpu_ms), service_figures["init_cpu_ms"]),
        "scim_init_cpu_ms": round(median(cold["scim"].init_cpu_ms), 2),
        "cold_start_modeled_ratio": ratio(
            service_figures["cold_start_modeled_ms"], baseline_figures["cold_start_modeled_ms"]
        ),
        # INIT's CPU, as cold_start_modeled_ms counts it: on this shared machine the wall time also
        # holds the time spent waiting for a core, which Lambda's own vCPU would not.
        "init_ratio": ratio(service_figures["init_cpu_ms"], baseline_figures["init_cpu_ms"]),
        "init_wall_ratio": ratio(service_figures["init_ms"], baseline_figures["init_ms"]),
        "first_invocation_cpu_ratio": ratio(
            service_figures["first_invocation_cpu_ms"], baseline_figures["first_invocation_cpu_ms"]
        ),
        "cold_start_ratio": ratio(service_figures["cold_start_ms"], baseline_figures["cold_start_ms"]),
        "warm_p50_ratio": ratio(service_figures["warm_p50_ms"], baseline_figures["warm_p50_ms"]),
        "warm_p99_ratio": ratio(service_figures["warm_p99_ms"], baseline_figures["warm_p99_ms"]),
        "warm_modeled_p50_ratio": ratio(
            service_figures["warm_modeled_p50_ms"], baseline_figures["warm_modeled_p50_ms"]
        ),
        "peak_rss_ratio": ratio(service_figures["peak_rss_mb"], baseline_figures["peak_rss_mb"]),
        "cold_start_modeled_ratio_vs_naive": ratio(
            service_figures["cold_start_modeled_ms"], naive_figures["cold_start_modeled_ms"]
        ),
        "init_ratio_vs_naive": ratio(service_figures["init_cpu_ms"], naive_figures["init_cpu_ms"]),
        "trace_documents_per_warm_invocation": round(trace_documents / WARM_INVOCATIONS, 2),
        "function": {"logical_id": FUNCTION_LOGICAL_ID, "memory_mb": memory, "cpu_scale": round(cpu_scale(memory), 3)},
        "memory_sizes": rows,
        "memory_recommendation": recommend_memory(rows),
        "pricing": {
            "price_per_gb_second_usd": PRICE_PER_GB_SECOND_USD,
            "price_per_request_usd": PRICE_PER_REQUEST_USD,
            "architecture": "arm64",
            "region": "us-east-1",
        },
        "layer_by_distribution_mb": layer_by_distribution(),
        "python": platform.python_version(),
        "baseline": baseline_figures,
        "fair_baseline": fair_figures,
        "naive_baseline": naive_figures,
        "upstream_alone": {
            "new_connection_p50_ms": round(median(upstream_alone.new_connection_ms), 3),
            "new_connection_p99_ms": round(percentile(upstream_alone.new_connection_ms, 99), 3),
            "kept_alive_p50_ms": round(median(upstream_alone.kept_alive_ms), 3),
            "kept_alive_p99_ms": round(percentile(upstream_alone.kept_alive_ms, 99), 3),
        },
        "ssm_parameters": parameter_count,
        "runs": {"cold_starts": COLD_STARTS, "warm_invocations": WARM_INVOCATIONS},
        "machine": machine_figures(load_average_at_start),
    }
    checks = fair_targets(results) + targets(results, parameter_count)
    results["targets"] = {check.figure: {"measured": check.measured, "met": check.met} for check in checks}
    results["bench_seconds"] = round(time.monotonic() - started, 1)
    write_results(results)
    print(render_table(results, checks))
    print(f"\nwrote {RESULTS_PATH} in {results['bench_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
