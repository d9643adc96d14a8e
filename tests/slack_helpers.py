"""Slack as the tests play it: signed slash command requests, and a stand-in for a `response_url`
(local/slack_response_url.py, which `local.slack_sign` and the reliability races use too).

Signatures are computed by Slack's own SDK (`slack_sdk`), not by the code under test, so a test
of verification cannot pass by sharing a mistake with it.
"""

import base64
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from slack_sdk.signature import SignatureVerifier

# Slack's own example signing secret (api.slack.com, "Verifying requests from Slack"). The
# recorded events in events/slack/ are signed with it.
EVENTS_SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None  # None only when the SDK is given no secret
    return signature


def new_trigger_id() -> str:
    """Shaped like Slack's: `<digits>.<digits>.<32 hex>`."""
    return f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"


def slash_command_body(
    text: str,
    *,
    team_id: str,
    user_id: str,
    response_url: str,
    trigger_id: str | None = None,
    command: str = "/sip",
) -> bytes:
    """The form Slack posts, with `text` as Slack delivers it (`&`, `<`, `>` HTML-escaped)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return urlencode(
        {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "team_id": team_id,
            "team_domain": "example",
            "channel_id": "C2147483705",
            "channel_name": "it-help",
            "user_id": user_id,
            "user_name": "ada",
            "command": command,
            "text": escaped,
            "api_app_id": "A0SIPPROV01",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id or new_trigger_id(),
        }
    ).encode()


def signed_headers(body: bytes, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_signature(secret, stamp, body),
    }


def form_fields(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def resigned(event: dict[str, Any], secret: str, **fields: str) -> dict[str, Any]:
    """A recorded event signed afresh (its own signature is long stale), with `fields` of its form replaced."""
    body = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
    body = urlencode({**form_fields(body), **fields}).encode()
    headers = {name.lower(): value for name, value in signed_headers(body, secret).items() if name != "User-Agent"}
    return {
        **event,
        "headers": {**event["headers"], **headers, "content-length": str(len(body))},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


def message_text(message: dict[str, Any]) -> str:
    """Every mrkdwn and plain text of a Slack message, blocks included, as one string."""
    texts = [message.get("text", "")]
    for block in message.get("blocks", []):
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [field["text"] for field in block.get("fields", [])]
        texts += [element["text"] for element in block.get("elements", [])]
    return "\n".join(texts)
