"""Execution environments as Lambda runs them (local/environments.py): separate processes running
`awslambdaric` against a local Runtime API, reused while warm, one more only when all are busy, up
to the reserved concurrency, and replaced after a timeout. Driven with small handlers of their own."""

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.environments import FunctionPool, InvocationFailed, Throttled
from local.stack import FunctionSettings

HANDLER_MODULE = """
import os
import time

def lambda_handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise LookupError(event["fail"])
    return {"pid": os.getpid(), "remaining_ms": context.get_remaining_time_in_millis(),
            "function": os.environ["AWS_LAMBDA_FUNCTION_NAME"], "setting": os.environ.get("SETTING")}
"""


def pool_of(code_dir: Path, *, reserved_concurrency: int = 2, timeout_seconds: int = 3) -> FunctionPool:
    (code_dir / "toy.py").write_text(HANDLER_MODULE, encoding="utf-8")
    spec = FunctionSettings(
        logical_id="ToyFunction",
        name="toy-function",
        arn="arn:aws:lambda:us-east-1:123456789012:function:toy-function",
        handler="toy.lambda_handler",
        code_dir=code_dir,
        layer_dirs=(),
        environment={"SETTING": "from-the-template"},
        timeout_seconds=timeout_seconds,
        memory_size=128,
        reserved_concurrency=reserved_concurrency,
        role_arn="arn:aws:iam::123456789012:role/toy-function-role",
        statements=(),
    )
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    return FunctionPool(spec, environment)


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[FunctionPool]:
    started = pool_of(tmp_path)
    yield started
    started.stop()


def at_once(pool: FunctionPool, events: list[dict[str, object]]) -> list[object]:
    """Each event invoked on a thread of its own, all at once: results, or the exception raised."""
    outcomes: list[object] = [None] * len(events)
    gate = threading.Barrier(len(events))

    def invoke(index: int) -> None:
        gate.wait()
        try:
            outcomes[index] = pool.invoke(events[index])
        except (Throttled, InvocationFailed) as error:
            outcomes[index] = error

    threads = [threading.Thread(target=invoke, args=(index,)) for index in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_an_invocation_runs_in_a_process_of_its_own_with_the_functions_settings(pool: FunctionPool) -> None:
    # Given a function's pool
    # When it is invoked
    result = pool.invoke({})
    # Then the handler ran in another process, told its name and its template settings
    assert result["pid"] != os.getpid()
    assert result["function"] == "toy-function"
    assert result["setting"] == "from-the-template"
    assert 0 < result["remaining_ms"] <= 3000


def test_a_warm_environment_is_reused_for_the_next_invocation(pool: FunctionPool) -> None:
    # Given a function invoked once
    first = pool.invoke({})
    # When it is invoked again after the first answered
    second = pool.invoke({})
    # Then the same environment (process) answered both
    assert second["pid"] == first["pid"]


def test_invocations_at_once_run_in_separate_environments_and_past_the_reserved_concurrency_are_throttled(
    pool: FunctionPool,
) -> None:
    # Given a function whose reserved concurrency is 2
    # When 4 invocations that take a second each arrive at once
    outcomes = at_once(pool, [{"sleep": 1}] * 4)
    # Then 2 ran in two different processes and 2 were throttled
    results = [outcome for outcome in outcomes if isinstance(outcome, dict)]
    assert len({result["pid"] for result in results}) == 2
    assert sum(isinstance(outcome, Throttled) for outcome in outcomes) == 2


def test_a_handlers_exception_is_the_runtimes_error_payload(pool: FunctionPool) -> None:
    # Given a function
    # When its handler raises
    with pytest.raises(InvocationFailed) as failed:
        pool.invoke({"fail": "no such thing"})
    # Then the failure is the Python runtime's error document, the exception's class as its type
    assert failed.value.payload["errorType"] == "LookupError"
    assert failed.value.payload["errorMessage"] == "no such thing"


def test_an_invocation_past_its_timeout_is_ended_and_the_next_runs_in_a_new_environment(
    pool: FunctionPool,
) -> None:
    # Given a function with a 3 s timeout, warm
    before = pool.invoke({})["pid"]
    # When an invocation outlives it
    with pytest.raises(InvocationFailed) as failed:
        pool.invoke({"sleep": 10})
    # Then it fails as Lambda's timeout, and the next invocation runs in a fresh environment
    assert failed.value.error_type == "Sandbox.Timedout"
    assert "Task timed out after 3.00 seconds" in failed.value.payload["errorMessage"]
    assert pool.invoke({})["pid"] != before


def test_a_handler_that_cannot_be_imported_fails_as_an_init_error(tmp_path: Path) -> None:
    # Given a function whose module does not import
    pool = pool_of(tmp_path)
    (tmp_path / "toy.py").write_text("import no_such_module\n", encoding="utf-8")
    try:
        # When it is invoked
        with pytest.raises(InvocationFailed) as failed:
            pool.invoke({})
        # Then the invocation fails with the runtime's import error
        assert failed.value.error_type == "Runtime.ImportModuleError"
    finally:
        pool.stop()
