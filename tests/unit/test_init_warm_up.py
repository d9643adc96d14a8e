"""What an entry's last line does in Lambda's INIT (`warm_up_during_init`), and nowhere else."""

import gc
from collections.abc import Iterator

import pytest

from sip_provisioning.wiring import Wiring, warm_up_during_init

IN_LAMBDA_INIT = {"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}


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
