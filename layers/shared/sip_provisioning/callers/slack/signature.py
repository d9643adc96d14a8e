"""Slack's request signing (`v0`): HMAC-SHA256 of `v0:<timestamp>:<raw body>` under the app's signing secret.

A request is Slack's only when its signature matches in constant time and its timestamp is within
five minutes of our clock, either way: an old signed request replayed later is refused.
"""

import hashlib
import hmac
import re

from pydantic import SecretStr

SIGNATURE_VERSION = "v0"
MAX_CLOCK_SKEW_SECONDS = 5 * 60
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class SignatureRejected(Exception):
    """The request is not provably Slack's. The message says why; it never holds a secret or signature."""


def slack_signature(secret: SecretStr, timestamp: str, raw_body: bytes) -> str:
    """The `X-Slack-Signature` value Slack sends for this timestamp and body."""
    base = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + raw_body
    digest = hmac.new(secret.get_secret_value().encode(), base, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify_slack_signature(
    secret: SecretStr, timestamp_header: str | None, signature_header: str | None, raw_body: bytes, now: float
) -> None:
    """Return when the request is Slack's; raise `SignatureRejected` otherwise. `now` is Unix time in seconds."""
    if not timestamp_header or not signature_header:
        raise SignatureRejected(f"the {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header is missing")
    if not _TIMESTAMP.fullmatch(timestamp_header):
        raise SignatureRejected(f"the {TIMESTAMP_HEADER} header is not a Unix time in seconds")
    if abs(now - int(timestamp_header)) > MAX_CLOCK_SKEW_SECONDS:
        raise SignatureRejected(f"the request was signed more than {MAX_CLOCK_SKEW_SECONDS} s away from now")
    expected = slack_signature(secret, timestamp_header, raw_body).encode()
    # Bytes on both sides: compare_digest refuses a str that is not ASCII, and a header may not be.
    if not hmac.compare_digest(expected, signature_header.encode("utf-8", "surrogatepass")):
        raise SignatureRejected("the signature does not match the body")
