"""The docs' walkthrough, run as a newcomer runs it: every ```bash walkthrough block of the README
and the docs/ pages, in reading order, in one bash session against one `make run`.

`make run` starts with the settings docs/README.md starts it with. The only edits are the ones the
pages ask the reader to make: `http://127.0.0.1:3000` becomes the
port this run listens on, and the values docs/README.md says to copy from `make run`'s output
(moto's URL, the emulator's URL, the Slack signing secret, the SCIM token) are this run's.
"""

import os
import queue
import re
import shlex
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs_walkthrough import INDEX, REPOSITORY_ROOT, Step, mismatch, reading_order, steps_of
from tests.e2e.test_make_run import LocalRun, end, start_local_run

STEP_END = "__walkthrough_step_end__"
STEP_TIMEOUT_SECONDS = 300.0  # a hang guard, never an assertion: the slowest step waits on an execution
DOCUMENTED_BASE_URL = "http://127.0.0.1:3000"
OUTSIDE_SETTINGS = ("AWS_", "SLACK_", "SCIM_", "SIGNALWIRE", "LOCAL_")
MAKE_RUN_BLOCK = re.compile(r"^```bash make-run\n(?P<command>.*?)^```$", re.MULTILINE | re.DOTALL)


def make_run_settings() -> dict[str, str]:
    """The variables docs/README.md sets on its one `make run` command line."""
    [block] = MAKE_RUN_BLOCK.findall(INDEX.read_text())
    *assignments, make, target = shlex.split(block)
    assert [make, target] == ["make", "run"], f"docs/README.md starts something else than make run: {block}"
    return dict(assignment.split("=", 1) for assignment in assignments)


def printed_values(run: LocalRun) -> dict[str, str]:
    """What docs/README.md tells the reader to copy from `make run`'s output, by the variable it sets."""
    output = "".join(run.output)
    patterns = {
        "AWS_ENDPOINT_URL": r"^AWS \(moto\): (\S+?);",
        "SIGNALWIRE": r"^SignalWire emulator: (\S+) ",
        "SLACK_SIGNING_SECRET": r"^Slack command: .*; signing secret (\S+);",
        "SCIM_TOKEN": r"^SCIM bearer token: (\S+)$",
    }
    values = {}
    for name, pattern in patterns.items():
        found = re.search(pattern, output, re.MULTILINE)
        assert found, f"make run no longer prints what the walkthrough copies into {name}:\n{output}"
        values[name] = found[1]
    return values


def as_run_here(commands: str, run: LocalRun, values: dict[str, str], copied: set[str]) -> str:
    """The step with this run's URL, and this run's value in each assignment of a printed value."""
    lines = commands.replace(DOCUMENTED_BASE_URL, run.base_url).split("\n")
    for index, line in enumerate(lines):
        for name, value in values.items():
            if assignment := re.match(rf"^((?:export )?{name}=)\S+", line):
                copied.add(name)
                lines[index] = assignment[1] + value + line[assignment.end() :]
    return "\n".join(lines)


class Shell:
    """One bash session, as a reader's terminal: variables and functions carry from step to step."""

    def __init__(self, workdir: Path) -> None:
        environment = {name: value for name, value in os.environ.items() if not name.startswith(OUTSIDE_SETTINGS)}
        environment.pop("PORT", None)
        self.workdir = workdir
        self.stderr = (workdir / "stderr.txt").open("w+")
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],  # noqa: S607 - the reader's shell, from PATH
            cwd=REPOSITORY_ROOT,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, name="walkthrough-shell", daemon=True).start()
        self._send("set -euo pipefail")
        self.steps_run = 0

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")

    def _send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def run(self, commands: str) -> tuple[str, bool]:
        """The step's output, and whether the shell is still there (a failing command ends it)."""
        self.steps_run += 1
        script = self.workdir / f"step-{self.steps_run:03}.sh"
        script.write_text(commands + "\n")
        self._send(f"source {script} </dev/null; printf '\\n%s\\n' {STEP_END}")
        output: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=STEP_TIMEOUT_SECONDS)
            except queue.Empty:
                return "".join(output) + f"\n(no end after {STEP_TIMEOUT_SECONDS:g} s)", False
            if not line:
                return "".join(output), False
            if line.strip() == STEP_END:
                return "".join(output), True
            output.append(line)

    def errors(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-4000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stderr.close()


@pytest.fixture(scope="module")
def walkthrough_run() -> Iterator[LocalRun]:
    run = start_local_run(make_run_settings())
    try:
        run.wait_until_listening()
        yield run
    finally:
        end(run)


def failure(step: Step, commands: str, output: str, why: str, shell: Shell) -> str:
    return (
        f"{step.page}: {why}\n--- the step, as run ---\n{commands}\n--- its output ---\n{output}"
        f"\n--- the shell's stderr (end) ---\n{shell.errors()}"
    )


def test_every_walkthrough_step_of_the_docs_runs_against_make_run_and_prints_what_its_page_shows(
    walkthrough_run: LocalRun, tmp_path: Path
) -> None:
    # Given one `make run`, a fresh shell with none of this machine's AWS, Slack or SCIM settings,
    # and the aws CLI the pages use
    assert shutil.which("aws"), "the walkthrough uses the aws CLI; install it (https://aws.amazon.com/cli/)"
    values = printed_values(walkthrough_run)
    steps = [step for page in reading_order() for step in steps_of(page)]
    copied: set[str] = set()
    shell = Shell(tmp_path)
    try:
        for step in steps:
            # When each step runs, in reading order
            commands = as_run_here(step.commands, walkthrough_run, values, copied)
            output, alive = shell.run(commands)
            # Then no command fails, and it prints what its page shows
            if not alive:
                pytest.fail(failure(step, commands, output, "a command failed", shell))
            if why := mismatch(step, output):
                pytest.fail(failure(step, commands, output, why, shell))
    finally:
        shell.close()
    # and the walk copied every value make run printed for it
    assert copied == set(values)
