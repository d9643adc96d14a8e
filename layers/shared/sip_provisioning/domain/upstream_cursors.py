"""The cursor of a list read from SignalWire's pages (`GET /endpoints?managed=false`): where it
goes on, sealed so that only the query and caller it was issued for can send it back
(CONTRACT.md sections 4 and 9).

The position is the path and query of SignalWire's own page link (which carry SignalWire's
`page_token`, never the space's address) and how many endpoints of that page were already gone
through; it names no endpoint. The cursor is that
position, a version and an HMAC-SHA256 tag over the query's binding (caller and query, never
carried in the cursor) and the position, under a key derived by HMAC from the SignalWire API
token, a secret the function already holds: a cursor changed in any way, or sent by another
caller, fails the tag and is refused before it is read. Rotating the token ends the cursors
outstanding (refused; the caller lists from the start).

The inventory's list seals its own position the same way in spirit (`domain.cursors`, with
encryption, as its position holds a username); once that module seals any position, this one
can be folded into it.
"""

import base64
import binascii
import hashlib
import hmac
import json

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

VERSION = b"\x01"
TAG_BYTES = 32
_AUTHENTICATION_LABEL = b"sip-provisioning upstream list cursor v1: authentication"


class UpstreamPosition(BaseModel):
    """Go on at the page `page_link` names (None: the first page), past its first `skip` endpoints."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    page_link: str | None
    skip: int = Field(ge=0)


class CursorRefused(ValueError):
    """A cursor the service did not issue for this query and caller."""


def seal(position: UpstreamPosition, binding: bytes, secret: SecretStr) -> str:
    body = VERSION + position.model_dump_json().encode()
    return base64.urlsafe_b64encode(body + _tag(secret, binding, body)).decode().rstrip("=")


def open_cursor(cursor: str, binding: bytes, secret: SecretStr) -> UpstreamPosition:
    """The position `cursor` holds, if the service sealed it for `binding`; else CursorRefused."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, binascii.Error):
        raise CursorRefused from None
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != cursor:  # one spelling only
        raise CursorRefused
    body, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    if not body.startswith(VERSION) or not hmac.compare_digest(tag, _tag(secret, binding, body)):
        raise CursorRefused
    try:
        return UpstreamPosition.model_validate(json.loads(body[len(VERSION) :]))
    except (ValueError, ValidationError):  # only a sealing bug could get here: refuse, never fail
        raise CursorRefused from None


def _tag(secret: SecretStr, binding: bytes, body: bytes) -> bytes:
    key = hmac.new(secret.get_secret_value().encode(), _AUTHENTICATION_LABEL, hashlib.sha256).digest()
    message = len(binding).to_bytes(4, "big") + binding + body
    return hmac.new(key, message, hashlib.sha256).digest()
