"""A loopback server in place of Slack's `response_url`, for `local.slack_sign`, the reliability
races and the tests: it keeps each post and answers the statuses it is told to (200 `ok` once they
run out), as Slack's hooks do. A redirect points at `/redirected` on the same server."""

import json
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.loopback import LoopbackServer

WAIT_SECONDS = 20.0  # for an asynchronous answer: a bound, never an expectation of speed


@dataclass(frozen=True)
class Post:
    path: str
    content_type: str
    message: Any


class ResponseUrlStandIn(LoopbackServer):
    thread_name = "response-url"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self._posts: list[Post] = []
        self._statuses: list[int] = []
        self._changed = threading.Condition()

    def _make_server(self, address: tuple[str, int]) -> ThreadingHTTPServer:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0") or "0"))
                post = Post(self.path, self.headers.get("Content-Type", ""), json.loads(body or b"null"))
                status = stand_in._record(post)
                answer = b"ok" if status == 200 else b"service_unavailable"
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/redirected")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return ThreadingHTTPServer(address, Handler)

    def url(self, team_id: str = "T0TEST") -> str:
        """A fresh response_url on this server, shaped like Slack's."""
        return f"{self.base_url}/commands/{team_id}/{secrets.randbelow(10**13)}/{secrets.token_urlsafe(18)}"

    def answer_with(self, *statuses: int) -> None:
        """The statuses the next posts get, in order."""
        with self._changed:
            self._statuses.extend(statuses)

    @property
    def posts(self) -> list[Post]:
        with self._changed:
            return list(self._posts)

    def wait_for_posts(self, count: int, timeout: float = WAIT_SECONDS) -> list[Post]:
        """The first `count` posts, once they have arrived; TimeoutError when they do not within `timeout`."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._posts) >= count, timeout):
                raise TimeoutError(f"{count} post(s) expected at the response_url, {len(self._posts)} arrived")
            return self._posts[:count]

    def _record(self, post: Post) -> int:
        with self._changed:
            self._posts.append(post)
            self._changed.notify_all()
            return self._statuses.pop(0) if self._statuses else 200
