"""Posting an answer to a slash command's `response_url`, and only to Slack's own.

A request whose signature checks out is Slack's, but the URL it names is still just data: the
function posts only to URLs under the configured prefixes (Slack's `https://hooks.slack.com/`;
loopback only in local runs), follows no redirect, and waits a bounded time. So it can never be
used to send requests to anywhere else. The URL itself is a credential (anyone holding it may
post to the conversation for 30 minutes): it is never logged.
"""

import random
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import requests

from sip_provisioning.callers.slack.messages import SlackMessage
from sip_provisioning.deadline import Deadline
from sip_provisioning.observability import logger

MAX_ATTEMPTS = 3
FIRST_BACKOFF_SECONDS = 0.25
MAX_WAIT_SECONDS = 5.0  # per attempt: Slack answers a response_url post in well under a second
CONNECT_TIMEOUT_SECONDS = 2.0

# No proxy, no .netrc credentials from the environment: the checked URL alone says where a post goes.
_session = requests.Session()
_session.trust_env = False


class DeliveryRefused(Exception):
    """The URL is not under an allowed prefix; nothing was sent."""


class DeliveryFailed(Exception):
    """Slack did not take the message. `transient` when trying again later may still work."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def is_allowed_response_url(url: str, allowed_prefixes: Sequence[str]) -> bool:
    """Whether `url` is under one of `allowed_prefixes` and names its host plainly (no user info,
    no spaces or control characters that a client could read differently)."""
    if not url.isascii() or any(char.isspace() or not char.isprintable() for char in url) or "\\" in url:
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    if "@" in parts.netloc or not parts.hostname:
        return False
    return any(url.startswith(prefix) for prefix in allowed_prefixes)


def post_to_response_url(url: str, message: SlackMessage, allowed_prefixes: Sequence[str], deadline: Deadline) -> None:
    """Post `message` to `url`: `DeliveryRefused` for a URL not allowed, `DeliveryFailed` if Slack did not take it.

    A post that failed in a way another may fix (no connection, a timeout, a 5xx or 429) is tried
    again while the deadline allows: a lost answer would lose the generated password with it.
    """
    if not is_allowed_response_url(url, allowed_prefixes):
        raise DeliveryRefused("The response_url is not under an allowed prefix; nothing was posted.")
    body = message.to_json().encode()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        failure = _post_once(url, body, deadline)
        if failure is None:
            return
        wait = random.uniform(0, FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1))  # noqa: S311 - jitter, not crypto
        if not failure.transient or attempt == MAX_ATTEMPTS or not deadline.allows(wait + CONNECT_TIMEOUT_SECONDS):
            raise failure
        logger.warning("Posting to the response_url failed; trying again", extra={"reason": str(failure)})
        time.sleep(wait)


def _post_once(url: str, body: bytes, deadline: Deadline) -> DeliveryFailed | None:
    read_timeout = min(MAX_WAIT_SECONDS, deadline.remaining())
    if read_timeout <= 0:
        return DeliveryFailed("No time was left to post the answer.", transient=True)
    try:
        response = _session.post(
            url,
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout=(min(CONNECT_TIMEOUT_SECONDS, read_timeout), read_timeout),
            allow_redirects=False,
        )
    except requests.RequestException as error:
        return DeliveryFailed(f"The post did not complete ({type(error).__name__}).", transient=True)
    with response:
        if 200 <= response.status_code < 300:
            return None
        # Slack names the problem in a short body such as "expired_url" or "invalid_blocks".
        reason = response.text[:100] if response.status_code < 500 else ""
        transient = response.status_code >= 500 or response.status_code == 429
        return DeliveryFailed(f"Slack answered {response.status_code} {reason}".strip() + ".", transient=transient)
