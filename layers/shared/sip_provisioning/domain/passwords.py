"""Generated passwords: fresh from the OS CSPRNG, or derived for a keyed attempt.

A keyed request's password must be the same on every retry (a retry that meets the endpoint an
earlier attempt created answers its real password) and yet different for every key binding (no
two endpoints ever share one). It is HMAC-SHA256 under the SignalWire API token of the binding's
random nonce: the idempotency record keeps the nonce, never the password, and the nonce alone is
worth nothing without the token (whose holder could reset any endpoint's password anyway).
"""

import base64
import hashlib
import hmac
import secrets

from pydantic import SecretStr

GENERATED_PASSWORD_BYTES = 24  # 32 URL-safe characters


def generate_password() -> SecretStr:
    return SecretStr(secrets.token_urlsafe(GENERATED_PASSWORD_BYTES))


def derive_password(api_token: SecretStr, nonce: bytes, purpose: str) -> SecretStr:
    """43 URL-safe characters; `purpose` keeps a create's and a reset's passwords apart."""
    message = b"sip-endpoint-password\0" + purpose.encode() + b"\0" + nonce
    digest = hmac.new(api_token.get_secret_value().encode(), message, hashlib.sha256).digest()
    return SecretStr(base64.urlsafe_b64encode(digest).decode().rstrip("="))
