"""The list's cursor as `domain.cursors` seals and opens it (the HTTP behaviour is in
tests/integration/test_listing_cursor.py): what holds for every position a list can hold."""

import pytest
from pydantic import SecretStr

from sip_provisioning.domain.cursors import CursorRefused, open_cursor, seal
from sip_provisioning.domain.records import ListPosition

TOKEN = SecretStr("the-signalwire-api-token-0123456789")
BINDING = b'["GET /endpoints", "arn:aws:iam::123456789012:user/alice", null, null, null]'
ARCHIVED = "archived#2026-12-07T19:00:43.123456Z"


@pytest.mark.parametrize(
    "username",
    ["a", "alice.smith", "u" * 128, "\U0001d11e" * 128, '"\\' * 64],
    ids=["one-character", "plain", "longest-ascii", "longest-four-byte-characters", "json-escapes"],
)
def test_every_position_a_list_can_hold_opens_again_from_a_cursor_of_one_length(username: str) -> None:
    # Given a position at a username of any length and spelling allowed, at a deleted record
    position = ListPosition(username=username, record_key=ARCHIVED)
    # When it is sealed
    cursor = seal(position, BINDING, TOKEN)
    # Then it opens to the same position, and the cursor is as long as one of the shortest name
    assert open_cursor(cursor, BINDING, TOKEN, ListPosition) == position
    assert len(cursor) == len(seal(ListPosition(username="a", record_key="current"), BINDING, TOKEN))


def test_two_cursors_of_one_position_differ() -> None:
    # Given one position
    position = ListPosition(username="alice", record_key="current")
    # When it is sealed twice
    # Then the cursors differ (a fresh nonce each): equal cursors do not tell equal positions
    assert seal(position, BINDING, TOKEN) != seal(position, BINDING, TOKEN)


@pytest.mark.parametrize(
    ("binding", "token"),
    [
        (BINDING.replace(b"alice", b"bob"), TOKEN),
        (BINDING.replace(b"null", b'"office"', 1), TOKEN),
        (BINDING, SecretStr("a-rotated-token")),
    ],
    ids=["another-caller", "another-filter", "another-token"],
)
def test_a_cursor_opens_only_for_the_binding_and_token_it_was_sealed_with(binding: bytes, token: SecretStr) -> None:
    # Given a cursor sealed for one query and caller under one token
    cursor = seal(ListPosition(username="alice", record_key="current"), BINDING, TOKEN)
    # When it is opened for another, or under another token
    # Then it is refused
    with pytest.raises(CursorRefused):
        open_cursor(cursor, binding, token, ListPosition)


@pytest.mark.parametrize("cursor", ["", "A", "====", "é", "AAAA" * 200, "a.b"], ids=repr)
def test_a_string_the_service_never_sealed_is_refused(cursor: str) -> None:
    # Given / When a string that no seal wrote is opened
    # Then it is refused, whatever its shape
    with pytest.raises(CursorRefused):
        open_cursor(cursor, BINDING, TOKEN, ListPosition)


def test_a_cursor_in_another_base64_spelling_is_refused() -> None:
    # Given a sealed cursor
    cursor = seal(ListPosition(username="alice", record_key="current"), BINDING, TOKEN)
    # When it is sent with characters inserted that a lenient base64 decoder skips (the same bytes)
    # Then it is refused: a cursor has one spelling, the one the service wrote
    with pytest.raises(CursorRefused):
        open_cursor(cursor[:8] + "...." + cursor[8:], BINDING, TOKEN, ListPosition)
