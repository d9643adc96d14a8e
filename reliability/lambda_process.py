"""One invocation of the HTTP API handler in a process of its own: a Lambda container a test can
kill mid-request, as Lambda ends one whose invocation outlives its timeout.

    python -m reliability.lambda_process TIMEOUT_SECONDS < event.json

The function's environment is the parent's (`harness.running_stack(moto_server=True)` points
AWS_ENDPOINT_URL at a moto server both processes reach). If the handler returns, its answer
goes to stderr as one JSON line (stdout carries the function's log lines).
"""

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from local.gateway import LambdaFunction
from reliability.harness import CODE_PATHS, REPOSITORY_ROOT, Container


def start(event: Mapping[str, Any], timeout_seconds: float) -> "subprocess.Popen[bytes]":
    """Run one invocation of `event` in a child process with this process's environment."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(str(path) for path in CODE_PATHS)}
    process = subprocess.Popen(  # noqa: S603 - this interpreter running this module
        [sys.executable, "-m", "reliability.lambda_process", str(timeout_seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,  # the function's log lines
        stderr=subprocess.PIPE,
        cwd=REPOSITORY_ROOT,
        env=environment,
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(event).encode())
    process.stdin.close()
    return process


def main() -> None:
    timeout_seconds = float(sys.argv[1])
    event = json.load(sys.stdin)
    container = Container()
    container.warm_up()  # a warm container: the invocation starts where its record's clock starts
    reply, _ = container.invoke(event, LambdaFunction(timeout_seconds=timeout_seconds))
    sys.stderr.write(json.dumps({"status": reply.status, "body": reply.body}) + "\n")


if __name__ == "__main__":
    main()
