"""`make reliability`: every fault scenario run and judged, the fault, create-defect, SSM,
concurrency, whose-endpoint, race and fuzz suites run, and one table of what happened.

    python -m reliability.report

Each scenario (reliability/scenarios.py) runs on a fresh stack and becomes a row: the requests
sent, the answers the contract allows and those observed (with the create calls SignalWire
received), duplicates, lost endpoints, foreign endpoints claimed and 5xx answers to caller
mistakes (see runner.py for how each is counted). Each suite becomes a row of its test counts.
The service's log lines and the suites' output go to a file named at the end. Exit status 0
only when every scenario held and every suite passed.
"""

import contextlib
import logging
import subprocess
import sys
import tempfile
import warnings
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from reliability.harness import REPOSITORY_ROOT
from reliability.runner import ScenarioResult, run_scenario
from reliability.scenarios import SCENARIOS
from sip_provisioning.observability import logger

SUITES = (
    "tests/integration/test_upstream_faults.py",
    "tests/integration/test_create_defects.py",
    "tests/integration/test_ssm_faults.py",
    "tests/integration/test_concurrency.py",
    "tests/integration/test_whose_endpoint.py",
    "tests/integration/test_endpoint_races.py",
    "tests/e2e/test_fuzz_openapi.py",
)
COLUMNS = (
    "scenario",
    "requests",
    "expected",
    "observed",
    "duplicates",
    "lost",
    "foreign endpoints claimed",
    "5xx for caller mistakes",
    "result",
)


@dataclass(frozen=True)
class SuiteResult:
    path: str
    tests: int
    failed: int
    xfailed: int
    skipped: int

    @property
    def passed(self) -> int:
        return self.tests - self.failed - self.xfailed - self.skipped

    @property
    def holds(self) -> bool:
        return self.tests > 0 and self.failed == 0 and self.xfailed == 0


def run_suites(paths: Sequence[str], output: IO[str]) -> list[SuiteResult]:
    """Run the suites in one pytest process; their counts, file by file, from its JUnit report."""
    with tempfile.TemporaryDirectory() as directory:
        junit = Path(directory) / "suites.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *paths]
        output.flush()
        subprocess.run(command, cwd=REPOSITORY_ROOT, stdout=output, stderr=subprocess.STDOUT, check=False)  # noqa: S603
        cases = ElementTree.parse(junit).getroot().iter("testcase") if junit.exists() else iter(())  # noqa: S314 - our own report
        counts = {path: {"tests": 0, "failed": 0, "xfailed": 0, "skipped": 0} for path in paths}
        for case in cases:
            path = next(
                (p for p in paths if case.get("classname", "") == p.removesuffix(".py").replace("/", ".")), None
            )
            if path is None:
                continue
            counts[path]["tests"] += 1
            skipped = case.find("skipped")
            if case.find("failure") is not None or case.find("error") is not None:
                counts[path]["failed"] += 1
            elif skipped is not None:
                counts[path]["xfailed" if skipped.get("type") == "pytest.xfail" else "skipped"] += 1
    return [SuiteResult(path, **counts[path]) for path in paths]


def scenario_row(result: ScenarioResult) -> tuple[str, ...]:
    return (
        result.scenario.name,
        str(len(result.scenario.requests)),
        result.expected,
        result.observed + "".join(f"; {mismatch}" for mismatch in result.mismatches),
        str(result.duplicates),
        str(result.lost),
        str(result.foreign_claimed),
        str(result.server_errors_for_mistakes),
        "ok" if result.holds else "FAIL",
    )


def suite_row(suite: SuiteResult) -> tuple[str, ...]:
    observed = f"{suite.passed} passed, {suite.failed} failed"
    observed += f", {suite.xfailed} known bugs (xfail)" if suite.xfailed else ""
    observed += f", {suite.skipped} skipped" if suite.skipped else ""
    return (
        f"suite {suite.path}",
        f"{suite.tests} test{'' if suite.tests == 1 else 's'}",
        "every test passes",
        observed if suite.tests else "no tests ran (see the output file)",
        "-",
        "-",
        "-",
        "-",
        "ok" if suite.holds else "FAIL",
    )


def table(rows: Sequence[tuple[str, ...]]) -> str:
    """A Markdown table: readable in a terminal, and pasted as it is into documentation."""
    lines = [COLUMNS, tuple("-" * len(column) for column in COLUMNS), *rows]
    return "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines)


def main() -> int:
    with tempfile.NamedTemporaryFile("w", prefix="reliability-", suffix=".log", delete=False) as output:
        # The service's log lines, its EMF metrics (printed) and other libraries' warnings go to the file.
        library_records = logging.StreamHandler(output)
        library_records.setLevel(logging.WARNING)
        logging.basicConfig(handlers=[library_records], level=logging.WARNING, force=True)
        logging.captureWarnings(True)
        warnings.simplefilter("default")
        handler = logger.registered_handler
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(output)
        with contextlib.redirect_stdout(output):
            results = [run_scenario(scenario) for scenario in SCENARIOS]
        suites = run_suites([path for path in SUITES if (REPOSITORY_ROOT / path).exists()], output)
    print(table([*map(scenario_row, results), *map(suite_row, suites)]))
    print()
    duplicates = sum(result.duplicates for result in results)
    lost = sum(result.lost for result in results)
    foreign_claimed = sum(result.foreign_claimed for result in results)
    server_errors = sum(result.server_errors_for_mistakes for result in results)
    failing = [result.scenario.name for result in results if not result.holds]
    failing += [suite.path for suite in suites if not suite.holds]
    print(
        f"{len(results)} scenarios, {sum(len(r.scenario.requests) for r in results)} requests: "
        f"{duplicates} duplicates, {lost} lost endpoints, {foreign_claimed} foreign endpoints claimed, "
        f"{server_errors} 5xx for caller mistakes."
    )
    print("Failing: " + ", ".join(failing) if failing else "Every scenario held and every suite passed.")
    print(f"Service log lines and suite output: {output.name}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
