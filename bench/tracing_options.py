"""The tracing decision, measured: the baseline's create traced three ways, as Lambda runs them.

    python -m bench.tracing_options      # from the repository root, after `make sam-build`

The AWS X-Ray SDK for Python, on which Powertools' Tracer is built, reaches end of support on
2027-02-25. The options, each a handler in bench/tracing/ around bench/baseline_handler.py:

- (a) `no_sdk_handler`: Lambda's own active tracing, no tracing SDK in the function. Lambda
  still records the invocation and sets `_X_AMZN_TRACE_ID`; the handler writes the trace id on
  its log line, as Powertools' Logger does;
- (b) `otel_handler`: the OpenTelemetry SDK directly (bench/tracing/requirements.txt, installed
  here into a temporary directory): X-Ray ids, spans for botocore and requests, OTLP/HTTP to a
  collector on localhost (a stand-in here that counts requests), flushed every invocation. The
  ADOT Lambda layer itself is an AWS-published layer, not a package: it cannot be had offline,
  so it is not measured; its Python layer carries this SDK plus AWS's distro and instrumentations;
- (c) `powertools_tracer_handler`: Powertools' Tracer, patching what the X-Ray SDK supports,
  the X-Ray daemon a counting UDP socket;
- the reference `powertools_logger_handler`: Powertools imported and its Logger used, no Tracer.
  The service imports Powertools in any case, so the Tracer's cost in the service is (c) minus
  this reference.

Every variant is packaged as the careful baseline is (its distributions' bytecode shipped, code
read-only) and run by bench/lambda_driver.py with the bench's cold and warm phases and Lambda
CPU model (bench/run_bench.py). Prints one table and writes bench/tracing_results.json.
"""

import contextlib
import http.server
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import run_bench as bench
from local.loopback import LoopbackServer
from local.run import put_lambda_code_on_path

TRACING_DIR = bench.BENCH_DIR / "tracing"
RESULTS_PATH = bench.BENCH_DIR / "tracing_results.json"
OTEL_REQUIREMENTS = TRACING_DIR / "requirements.txt"
# Powertools' Tracer needs these beside Powertools; pinned as the layer pinned them while it shipped them.
XRAY_SDK_PINS = ("aws-xray-sdk==2.15.0", "wrapt==2.5.2")
POWERTOOLS_DISTRIBUTIONS = ("aws-lambda-powertools", "jmespath", "typing-extensions")
NO_SDK, OTEL, TRACER, LOGGER_ONLY = "a-no-sdk", "b-opentelemetry", "c-powertools-tracer", "ref-powertools-logger"


class OtlpCollectorStandIn(LoopbackServer):
    """An OTLP/HTTP endpoint on loopback where a collector would listen: counts exports, answers 200."""

    thread_name = "otlp"

    def __init__(self) -> None:
        super().__init__("127.0.0.1", 0)
        self._lock = threading.Lock()
        self._exports = 0

    def _make_server(self, address: tuple[str, int]) -> http.server.ThreadingHTTPServer:
        counter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with counter._lock:
                    counter._exports += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return http.server.ThreadingHTTPServer(address, Handler)

    @property
    def traces_url(self) -> str:
        return f"{self.base_url}/v1/traces"

    @property
    def exports(self) -> int:
        with self._lock:
            return self._exports


def pip_install(target: Path, arguments: Sequence[str]) -> list[str]:
    """Install pinned distributions (no dependencies resolved: the pins are complete) into `target`."""
    subprocess.run(  # noqa: S603 - pip with our own pins
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"),
            *("--no-deps", "--only-binary=:all:", "--target", str(target), *arguments),
        ],
        check=True,
    )
    return [path.name.split("-")[0].replace("_", "-") for path in target.glob("*.dist-info") if path.is_dir()]


def package_variants(workdir: Path) -> dict[str, bench.Packaged]:
    otel_site, xray_site = workdir / "site-otel", workdir / "site-xray"
    otel_distributions = pip_install(otel_site, ["-r", str(OTEL_REQUIREMENTS)])
    xray_distributions = pip_install(xray_site, list(XRAY_SDK_PINS))
    powertools = (bench.PINNED_SITE, POWERTOOLS_DISTRIBUTIONS)
    return {
        NO_SDK: bench.package_baseline(
            workdir, NO_SDK, with_bytecode=True, extra_files=[TRACING_DIR / "no_sdk_handler.py"]
        ),
        OTEL: bench.package_baseline(
            workdir,
            OTEL,
            with_bytecode=True,
            extra_files=[TRACING_DIR / "otel_handler.py"],
            extra_distributions=[(otel_site, otel_distributions)],
        ),
        TRACER: bench.package_baseline(
            workdir,
            TRACER,
            with_bytecode=True,
            extra_files=[TRACING_DIR / "powertools_tracer_handler.py"],
            extra_distributions=[powertools, (xray_site, xray_distributions)],
        ),
        LOGGER_ONLY: bench.package_baseline(
            workdir,
            LOGGER_ONLY,
            with_bytecode=True,
            extra_files=[TRACING_DIR / "powertools_logger_handler.py"],
            extra_distributions=[powertools],
        ),
    }


def with_environment(packaged: bench.Packaged, environment: Mapping[str, str]) -> bench.HandlerUnderTest:
    handler = packaged.handler
    return bench.HandlerUnderTest(
        handler.label, handler.module, handler.code_paths, handler.task_root, environment=tuple(environment.items())
    )


def variant_figures(
    cold: bench.ColdFigures, warm: bench.WarmFigures, size: bench.PackageSize, memory_mb: int
) -> dict[str, float]:
    return {
        "init_ms": round(bench.median(cold.init_ms), 2),
        "init_cpu_ms": round(bench.median(cold.init_cpu_ms), 2),
        "first_invocation_cpu_ms": round(bench.median(cold.first_invocation_cpu_ms), 2),
        "cold_start_modeled_ms": round(bench.median(cold.modeled_ms(memory_mb)), 2),
        "warm_p50_ms": round(bench.median(warm.latencies_ms), 3),
        "warm_cpu_p50_ms": round(bench.median(warm.cpu_ms), 3),
        "warm_modeled_p50_ms": round(bench.median(warm.modeled_ms(memory_mb)), 3),
        "peak_rss_mb": round(warm.peak_rss_mb, 1),
        "package_unzipped_mb": round(size.mib, 2),
        "package_files": size.files,
    }


ROWS = (
    ("cold_start_modeled_ms", "cold start modeled at MEMORY", "ms"),
    ("init_ms", "INIT, median wall", "ms"),
    ("init_cpu_ms", "INIT CPU, median", "ms"),
    ("first_invocation_cpu_ms", "first invocation CPU, median", "ms"),
    ("warm_p50_ms", "warm p50, wall", "ms"),
    ("warm_cpu_p50_ms", "warm CPU p50", "ms"),
    ("warm_modeled_p50_ms", "warm p50 modeled at MEMORY", "ms"),
    ("peak_rss_mb", "peak RSS after the warm run", "MiB"),
    ("package_unzipped_mb", "package unzipped (handler + what it ships)", "MiB"),
    ("package_files", "package files", ""),
)


def render(results: Mapping[str, Any]) -> str:
    variants: Mapping[str, Mapping[str, float]] = results["variants"]
    memory = results["memory_mb"]
    width = 44
    names = list(variants)
    lines = [f"{'figure':<{width}} " + " ".join(f"{name:>21}" for name in names) + "  unit", "-" * (width + 22 * 5)]
    for key, label, unit in ROWS:
        values = " ".join(f"{bench.shown(variants[name][key]):>21}" for name in names)
        lines.append(f"{label.replace('MEMORY', f'{memory} MB'):<{width}} {values}  {unit}")
    lines.append("-" * (width + 22 * 5))
    lines.append("what tracing adds over no SDK (a); the Tracer over Powertools' Logger alone (c - ref):")
    for key, label, unit in ROWS[:-1]:
        none, otel = variants[NO_SDK][key], variants[OTEL][key]
        tracer, logger_only = variants[TRACER][key], variants[LOGGER_ONLY][key]
        lines.append(
            f"  {label.replace('MEMORY', f'{memory} MB'):<{width - 2}} (b) - (a): {otel - none:+9.2f}   "
            f"(c) - ref: {tracer - logger_only:+9.2f}  {unit}"
        )
    lines.append(
        f"trace exports per warm invocation: X-Ray documents {results['xray_documents_per_warm_invocation']}, "
        f"OTLP requests {results['otlp_exports_per_warm_invocation']}"
    )
    runs = results["runs"]
    lines.append(
        f"{runs['cold_starts']} cold starts and {runs['warm_invocations']} warm invocations per variant; "
        f"pip-installed extension modules are this machine's builds; load average "
        f"{results['machine']['load_average_at_start']} at start"
    )
    return "\n".join(lines)


@contextlib.contextmanager
def running() -> Iterator[tuple[bench.Upstreams, OtlpCollectorStandIn, Path]]:
    with (
        bench.running_upstreams() as upstreams,
        OtlpCollectorStandIn() as collector,
        tempfile.TemporaryDirectory(prefix="bench-tracing-") as workdir,
    ):
        yield upstreams, collector, Path(workdir)


def main() -> int:
    started = time.monotonic()
    load_average_at_start = round(os.getloadavg()[0], 2)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto would log every SSM call
    bench.check_build()
    put_lambda_code_on_path()  # seed_ssm validates the profiles with the service's own models
    memory = bench.FUNCTION.memory_limit_in_mb
    with running() as (upstreams, collector, workdir):
        bench.use_private_bytecode_cache(workdir / "bytecode")
        packaged = package_variants(workdir)
        otel_environment = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": collector.traces_url}
        handlers = [
            with_environment(variant, otel_environment if name == OTEL else {}) for name, variant in packaged.items()
        ]
        job = bench.make_job(upstreams)
        print(f"cold starts: {bench.COLD_STARTS} per variant, interleaved", file=sys.stderr, flush=True)
        cold = bench.measure_cold(job, upstreams, handlers)
        print(f"warm: {bench.WARM_INVOCATIONS} invocations per variant, in turns", file=sys.stderr, flush=True)
        xray_before, otlp_before = upstreams.xray.documents, collector.exports
        warm, _ = bench.measure_warm(job, upstreams, handlers)
        time.sleep(0.2)  # the last UDP documents may still be on their way
        xray_documents, otlp_exports = upstreams.xray.documents - xray_before, collector.exports - otlp_before

    results: dict[str, Any] = {
        "memory_mb": memory,
        "variants": {
            name: variant_figures(cold[name], warm[name], variant.size, memory) for name, variant in packaged.items()
        },
        "xray_documents_per_warm_invocation": round(xray_documents / bench.WARM_INVOCATIONS, 2),
        "otlp_exports_per_warm_invocation": round(otlp_exports / bench.WARM_INVOCATIONS, 2),
        "runs": {"cold_starts": bench.COLD_STARTS, "warm_invocations": bench.WARM_INVOCATIONS},
        "machine": bench.machine_figures(load_average_at_start),
    }
    results["bench_seconds"] = round(time.monotonic() - started, 1)
    bench.write_results(results, RESULTS_PATH)
    print(render(results))
    print(f"\nwrote {RESULTS_PATH} in {results['bench_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
