"""Slack as the tests play it: signed slash command requests, and a stand-in for a `response_url`.

Signatures are computed by Slack's own SDK (`slack_sdk`), not by the code under test, so a test
of verification cannot pass by sharing a mistake with it.
"""

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

from slack_sdk.signature import SignatureVerifier

# Slack's own example signing secret (api.slack.com, "Verifying requests from Slack"). The
# recorded events in events/slack/ are signed with it.
EVENTS_SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
WAIT_SECONDS = 20.0  # for an asynchronous answer: a bound, never an expectation of speed


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


@dataclass(frozen=True)
class Post:
    path: str
    content_type: str
    message: Any


class ResponseUrlStandIn:
    """A loopback server in place of Slack's `response_url`: it keeps each post and answers the
    statuses it is told to (200 `ok` once they run out), as Slack's hooks do. A redirect points
    at `/redirected` on the same server."""

    def __init__(self) -> None:
        self._posts: list[Post] = []
        self._statuses: list[int] = []
        self._changed = threading.Condition()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0") or "0"))
                status = stand_in._record(Post(self.path, self.headers.get("Content-Type", ""), json.loads(body)))
                answer = b"ok" if status == 200 else b"service_unavailable"
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/redirected")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval, so that stopping does not wait out the default half second.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "ResponseUrlStandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def url(self, team_id: str = "T0TEST") -> str:
        """A fresh response_url on this server, shaped like Slack's."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/commands/{team_id}/{secrets.randbelow(10**13)}/{secrets.token_urlsafe(18)}"

    def answer_with(self, *statuses: int) -> None:
        """The statuses the next posts get, in order."""
        with self._changed:
            self._statuses.extend(statuses)

    @property
    def posts(self) -> list[Post]:
        with self._changed:
            return list(self._posts)

    def wait_for_posts(self, count: int, timeout: float = WAIT_SECONDS) -> list[Post]:
        """The first `count` posts, once they have arrived; fails when they do not within `timeout`."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._posts) >= count, timeout):
                raise AssertionError(f"{count} post(s) expected at the response_url, {len(self._posts)} arrived")
            return self._posts[:count]

    def _record(self, post: Post) -> int:
        with self._changed:
            self._posts.append(post)
            self._changed.notify_all()
            return self._statuses.pop(0) if self._statuses else 200


def message_text(message: dict[str, Any]) -> str:
    """Every mrkdwn and plain text of a Slack message, blocks included, as one string."""
    texts = [message.get("text", "")]
    for block in message.get("blocks", []):
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [field["text"] for field in block.get("fields", [])]
        texts += [element["text"] for element in block.get("elements", [])]
    return "\n".join(texts)
