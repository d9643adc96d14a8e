"""What Lambda's INIT does beside the imports, and nowhere else: importing the package pauses the
garbage collector, and an entry's last line (`warm_up_during_init`) warms the service, freezes
what INIT made and starts the collector again."""

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sip_provisioning.wiring import Wiring, warm_up_during_init

IN_LAMBDA_INIT = {"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}
REPOSITORY_ROOT = Path(__file__).parents[2]
SHARED_LAYER = REPOSITORY_ROOT / "layers" / "shared"


@pytest.fixture(autouse=True)
def collector_unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the suite keeps a collector that sees everything


def unreachable_service() -> Wiring:
    raise ConnectionError("SSM is unreachable")


def test_in_lambdas_init_what_init_made_is_frozen_out_of_the_collectors_passes_even_when_the_warm_up_failed() -> None:
    # Given Lambda's INIT, and a service whose warm-up fails
    assert gc.get_freeze_count() == 0
    # When the entry's last line runs
    warm_up_during_init(unreachable_service, IN_LAMBDA_INIT)
    # Then what INIT made sits in the collector's permanent generation, and INIT did not crash
    assert gc.get_freeze_count() > 0


def test_outside_lambdas_init_nothing_is_composed_and_the_collector_is_left_alone() -> None:
    # Given an import in a test or a tool (no AWS_LAMBDA_INITIALIZATION_TYPE)
    composed: list[str] = []

    def compose() -> Wiring:
        composed.append("composed")
        raise AssertionError("nothing may be composed outside Lambda's INIT")

    # When the entry's last line runs
    warm_up_during_init(compose, {})
    # Then nothing was composed and nothing frozen
    assert composed == []
    assert gc.get_freeze_count() == 0


def test_in_lambdas_init_the_collector_runs_again_after_the_entrys_last_line_even_when_the_warm_up_failed() -> None:
    # Given Lambda's INIT, where importing the package paused the collector, and a failing warm-up
    gc.disable()
    try:
        # When the entry's last line runs
        warm_up_during_init(unreachable_service, IN_LAMBDA_INIT)
        # Then the collector runs again
        assert gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize(("environment", "collector_runs"), [(IN_LAMBDA_INIT, False), ({}, True)])
def test_importing_the_package_pauses_the_collector_in_lambdas_init_alone(
    environment: dict[str, str], collector_runs: bool
) -> None:
    # Given a fresh interpreter, in Lambda's INIT or not
    command = [sys.executable, "-c", "import gc, sip_provisioning; print(gc.isenabled())"]
    outside = {name: value for name, value in os.environ.items() if name != "AWS_LAMBDA_INITIALIZATION_TYPE"}
    environ = {**outside, "PYTHONPATH": str(SHARED_LAYER), **environment}
    # When it imports the package
    printed = subprocess.run(command, env=environ, capture_output=True, text=True, check=True).stdout.strip()  # noqa: S603
    # Then the collector is paused in INIT alone
    assert printed == str(collector_runs)


def test_every_entry_ends_with_the_warm_up_that_starts_the_collector_again() -> None:
    # Given each function's entry module
    entries = sorted((REPOSITORY_ROOT / "functions").glob("*/*.py"))
    # When its last statement is read
    last_lines = {entry.name: entry.read_text(encoding="utf-8").strip().splitlines()[-1] for entry in entries}
    # Then it is the warm-up, which starts the collector again whatever happens in it
    assert entries
    assert set(last_lines.values()) == {"warm_up_during_init(wiring, os.environ)"}
