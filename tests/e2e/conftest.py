"""The server `make run` starts, one per end-to-end module that asks for it."""

from collections.abc import Iterator

import pytest

from tests.e2e.test_make_run import LocalRun, end, start_local_run


@pytest.fixture(scope="module")
def local_run() -> Iterator[LocalRun]:
    run = start_local_run()
    try:
        run.wait_until_listening()
        yield run
    finally:
        end(run)
