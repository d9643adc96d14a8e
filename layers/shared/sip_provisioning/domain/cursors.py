"""A list's cursor: where a list goes on, sealed so that only the service can read it and only
the query and caller it was issued for can send it back (CONTRACT.md sections 4 and 9). Both
lists use it: the inventory's (a `ListPosition`, which names a username) and the unmanaged
endpoints' read from SignalWire's pages (an `UpstreamPosition`, which names SignalWire's page).

Encrypt-then-MAC from the standard library. The position is padded to a multiple of one fixed
length (no inventory cursor is longer than another, so its length tells nothing of a username) and XORed with a
keystream of HMAC-SHA256 in counter mode under a fresh random nonce. The tag is HMAC-SHA256 over
the query's binding (caller and filters, never carried in the cursor), the version, the nonce
and the ciphertext: a cursor changed in any way, or sent with another query or by another
caller, fails it and is refused before anything is decrypted. Both keys are derived by HMAC,
under distinct labels, from the SignalWire API token, a secret the function already holds:
rotating the token ends the cursors outstanding (refused; the caller lists from the start).
"""

import base64
import binascii
import hashlib
import hmac
import secrets

from pydantic import BaseModel, SecretStr, ValidationError

VERSION = b"\x01"
NONCE_BYTES = 16
TAG_BYTES = 32
# A padded position's block: a username of 128 characters of 4 UTF-8 bytes each and its record
# key fit in one.
PADDED_POSITION_BYTES = 640
PADDING_MARK = b"\x80"  # ISO/IEC 7816-4: the mark, then zeros
_BLOCK_BYTES = 32  # one HMAC-SHA256 output: one block of the keystream
_ENCRYPTION_LABEL = b"sip-provisioning list cursor v1: encryption"
_AUTHENTICATION_LABEL = b"sip-provisioning list cursor v1: authentication"


class CursorRefused(ValueError):
    """A cursor the service did not issue for this query and caller."""


def seal(position: BaseModel, binding: bytes, secret: SecretStr) -> str:
    plain = position.model_dump_json().encode() + PADDING_MARK
    plain += bytes(-len(plain) % PADDED_POSITION_BYTES)
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = _xor(plain, _keystream(secret, nonce, len(plain)))
    sealed = VERSION + nonce + ciphertext
    return base64.urlsafe_b64encode(sealed + _tag(secret, binding, sealed)).decode().rstrip("=")


def open_cursor[Position: BaseModel](
    cursor: str, binding: bytes, secret: SecretStr, position_type: type[Position]
) -> Position:
    """The position `cursor` holds, if the service sealed it for `binding`; else CursorRefused."""
    raw = _decode(cursor)
    sealed, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    ciphertext_bytes = len(sealed) - len(VERSION) - NONCE_BYTES
    if not sealed.startswith(VERSION) or ciphertext_bytes <= 0 or ciphertext_bytes % PADDED_POSITION_BYTES:
        raise CursorRefused
    if not hmac.compare_digest(tag, _tag(secret, binding, sealed)):
        raise CursorRefused
    nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    plain = _xor(ciphertext, _keystream(secret, nonce, len(ciphertext))).rstrip(b"\0")
    try:
        return position_type.model_validate_json(plain.removesuffix(PADDING_MARK))
    except (ValueError, ValidationError):  # only a sealing bug could get here: refuse, never fail
        raise CursorRefused from None


def _decode(cursor: str) -> bytes:
    """Base64url without padding, as `seal` writes it and in no other spelling."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, binascii.Error):
        raise CursorRefused from None
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != cursor:
        raise CursorRefused
    return raw


def _key(secret: SecretStr, label: bytes) -> bytes:
    return hmac.new(secret.get_secret_value().encode(), label, hashlib.sha256).digest()


def _keystream(secret: SecretStr, nonce: bytes, length: int) -> bytes:
    key = _key(secret, _ENCRYPTION_LABEL)
    blocks = -(-length // _BLOCK_BYTES)
    stream = b"".join(hmac.new(key, nonce + n.to_bytes(4, "big"), hashlib.sha256).digest() for n in range(blocks))
    return stream[:length]


def _tag(secret: SecretStr, binding: bytes, sealed: bytes) -> bytes:
    message = len(binding).to_bytes(4, "big") + binding + sealed
    return hmac.new(_key(secret, _AUTHENTICATION_LABEL), message, hashlib.sha256).digest()


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))
