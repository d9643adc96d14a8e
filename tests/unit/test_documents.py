"""How deeply a caller's JSON document may nest, and the text check that walks it (CONTRACT.md section 1)."""

import json

import pytest

from sip_provisioning.domain.documents import MAX_NESTING_DEPTH, NestedTooDeep, parse_json, too_deep_at
from sip_provisioning.domain.request import fields_holding_invalid_text


def nested_arrays(depth: int, inner: object = 1) -> object:
    document = inner
    for _ in range(depth):
        document = [document]
    return document


def test_a_document_nesting_exactly_the_bound_is_parsed() -> None:
    # Given arrays nested exactly as deep as the bound allows
    text = json.dumps(nested_arrays(MAX_NESTING_DEPTH))
    # When it is parsed
    document = parse_json(text)
    # Then it is the document
    assert document == nested_arrays(MAX_NESTING_DEPTH)


@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ('{"a":', "}")], ids=["arrays", "objects"])
@pytest.mark.parametrize("depth", [MAX_NESTING_DEPTH + 1, 5000, 100_000], ids=["one more", "5000", "100000"])
def test_a_document_nesting_deeper_than_the_bound_is_refused(opening: str, closing: str, depth: int) -> None:
    # Given a document nested deeper than the bound, up to deeper than the parser itself can follow
    text = opening * depth + "1" + closing * depth
    # When / Then parsing it refuses it as too deep, not as a RecursionError
    with pytest.raises(NestedTooDeep):
        parse_json(text)


def test_the_refusal_gives_the_path_to_the_first_value_beyond_the_bound() -> None:
    # Given an object whose "handler" holds arrays nested past the bound
    document = {"username": "u", "handler": nested_arrays(MAX_NESTING_DEPTH)}
    # When it is measured
    path = too_deep_at(document)
    # Then the path leads from "handler" down to the first array beyond the bound
    assert path == ("handler", *([0] * (MAX_NESTING_DEPTH - 1)))


def test_text_that_is_not_json_is_still_a_json_error() -> None:
    # Given / When / Then text that is not JSON raises the parser's own error
    with pytest.raises(json.JSONDecodeError):
        parse_json("{")


def test_the_text_check_finds_a_lone_surrogate_nested_thousands_deep() -> None:
    # Given a lone surrogate 5,000 arrays deep (deeper than Python lets a function recurse)
    document = {"handler": nested_arrays(5000, "\ud800")}
    # When the strings are checked
    fields = fields_holding_invalid_text(document)
    # Then it is found and named by where it stands
    assert fields == ["handler" + ".0" * 5000]


def test_the_text_check_names_fields_in_document_order() -> None:
    # Given lone surrogates in a key, a value and a list item
    document = {"a": "ok", "b\udc00": "x", "c": ["ok", "\ud800"], "d": "\udfff"}
    # When the strings are checked
    fields = fields_holding_invalid_text(document)
    # Then each is named where it stands, in the document's order; the bad key by its place only
    assert fields == ["(a key)", "c.1", "d"]
