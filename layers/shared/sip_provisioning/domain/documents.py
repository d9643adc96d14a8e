"""JSON documents as callers send them, bounded in how deeply they nest.

Every walk of a document that Python makes for us (the JSON parser, pydantic, `repr`,
`json.dumps`) recurses, so a body nested thousands of levels deep within the size limit would
exhaust the stack and end in a 500. Each caller refuses such a document in its own words before
anything else walks it. The deepest document a caller has reason to send, a SCIM PatchOp
setting the enterprise manager inside its value, nests 6 levels; the bound leaves ample room.
"""

import json
from collections.abc import Callable
from typing import Any

MAX_NESTING_DEPTH = 32

type PathPart = str | int


class NestedTooDeep(ValueError):
    """A document whose arrays and objects nest deeper than `MAX_NESTING_DEPTH`."""

    def __init__(self) -> None:
        super().__init__(f"The document nests arrays or objects deeper than {MAX_NESTING_DEPTH} levels.")


def too_deep_at(document: object) -> tuple[PathPart, ...] | None:
    """The path to the first array or object nested deeper than `MAX_NESTING_DEPTH` (the document
    itself is level 1), or None. Iterative, so that it can measure any depth."""
    pending: list[tuple[object, tuple[PathPart, ...]]] = [(document, ())]
    while pending:
        value, path = pending.pop()
        children: list[tuple[PathPart, object]]
        if isinstance(value, dict):
            children = list(value.items())
        elif isinstance(value, list | tuple):
            children = list(enumerate(value))
        else:
            continue
        if len(path) >= MAX_NESTING_DEPTH:
            return path
        pending.extend((child, (*path, key)) for key, child in reversed(children))
    return None


def parse_json(text: str, *, object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> Any:
    """`json.loads(text)`, refusing a document nested deeper than `MAX_NESTING_DEPTH` with
    `NestedTooDeep`; text that is not JSON raises `json.JSONDecodeError` (a `ValueError`) as ever."""
    try:
        document = json.loads(text, object_pairs_hook=object_pairs_hook)
    except RecursionError:  # deeper than even the parser can follow
        raise NestedTooDeep from None
    if too_deep_at(document) is not None:
        raise NestedTooDeep
    return document
