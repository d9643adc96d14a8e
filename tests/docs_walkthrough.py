"""The walkthrough the docs tell a newcomer to follow, read out of the pages in their reading order.

A page's fenced blocks marked ```bash walkthrough are its steps, run in one bash session from the
README down the list of docs/README.md. Under a command, `# => <value>` lines (one or more, joined)
say what it prints: a JSON object or list shows the fields that matter of the last JSON value
printed (an object matches one holding at least those keys with matching values; a list matches a
list of as many matching items); anything else is the whole output, stripped.
"""

import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPOSITORY_ROOT / "docs"
INDEX = DOCS / "README.md"
# A block may sit indented in a list item: its closing fence has the same indent.
WALKTHROUGH_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)```bash walkthrough\n(?P<body>.*?)^(?P=indent)```$", re.MULTILINE | re.DOTALL
)
EXPECTED = "# => "
INDEX_ENTRY = re.compile(r"^\d+\. \[[^]]+\]\((?P<page>[\w-]+\.md)\)", re.MULTILINE)
JSON_START = re.compile(r"^[ \t]*[\[{]", re.MULTILINE)


@dataclass(frozen=True)
class Step:
    """Commands as a page shows them, and what the page says the last of them prints (if it says)."""

    page: str
    commands: str
    expected: str | None


def reading_order() -> list[Path]:
    """The README, then the pages in the order docs/README.md numbers them."""
    return [REPOSITORY_ROOT / "README.md", INDEX] + [
        DOCS / entry["page"] for entry in INDEX_ENTRY.finditer(INDEX.read_text())
    ]


def steps_of(page: Path) -> list[Step]:
    steps: list[Step] = []
    name = str(page.relative_to(REPOSITORY_ROOT))
    text = page.read_text()
    blocks = list(WALKTHROUGH_BLOCK.finditer(text))
    assert len(blocks) == text.count("```bash walkthrough"), f"{name}: a walkthrough block without its closing fence"
    for block in blocks:
        commands: list[str] = []
        expected: list[str] = []
        for line in textwrap.dedent(block["body"]).splitlines():
            if line.startswith(EXPECTED):
                expected.append(line.removeprefix(EXPECTED))
                continue
            if expected:
                steps.append(Step(name, "\n".join(commands), "\n".join(expected)))
                commands, expected = [], []
            commands.append(line)
        if expected:
            steps.append(Step(name, "\n".join(commands), "\n".join(expected)))
        elif any(command.strip() for command in commands):
            steps.append(Step(name, "\n".join(commands), None))
    return steps


def json_values(output: str) -> list[Any]:
    """Every JSON object or array that starts a line of the output, in order."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position = 0
    while (start := JSON_START.search(output, position)) is not None:
        begin = start.end() - 1
        try:
            value, end = decoder.raw_decode(output, begin)
        except json.JSONDecodeError:
            position = start.end()
            continue
        values.append(value)
        position = end
    return values


def matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and matches(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(item, got) for item, got in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def is_problem(value: Any) -> bool:
    """An error answer: a problem document (or SCIM error) or API Gateway's own `{"message"}`."""
    if not isinstance(value, dict):
        return False
    status = value.get("status")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    return (isinstance(status, int) and status >= 400) or set(value) == {"message"}


def mismatch(step: Step, output: str) -> str | None:
    """Why the output is not what the page says, or None when it is."""
    values = json_values(output)
    if step.expected is None:
        problems = [value for value in values if is_problem(value)]
        return f"it answered an error the page does not show: {problems}" if problems else None
    try:
        expected = json.loads(step.expected)
    except json.JSONDecodeError:
        expected = None
    if not isinstance(expected, dict | list):
        return None if output.strip() == step.expected.strip() else f"the page shows {step.expected!r}"
    if not values:
        return f"the page shows JSON {step.expected}, the output holds none"
    if problems := [value for value in values[:-1] if is_problem(value)]:
        return f"it answered an error the page does not show: {problems}"
    return None if matches(expected, values[-1]) else f"the page shows {step.expected}"
