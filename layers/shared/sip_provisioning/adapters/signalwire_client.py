"""A narrow client for SignalWire's legacy SIP endpoint API: create, list (by username, or page by
page), retrieve, update and delete.

It speaks HTTP and says precisely what happened (the `SignalWireFault` subclasses, which live beside
the port in `use_cases/ports.py`); what that means for the caller (retry? look the endpoint up?
which problem?) is the use case's decision.

The project credentials go to the configured space and nowhere else: redirects are never
followed (a 307 would resend the body, an endpoint's password with it), and a pagination link
is followed only when it points back at the same origin.
"""

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, SecretStr, ValidationError
from urllib3.exceptions import NewConnectionError

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.signalwire import CreateSipEndpointPayload, SipEndpoint, SipEndpointPage
from sip_provisioning.observability import logger, metrics
from sip_provisioning.use_cases.ports import (
    AnswerLost,
    CredentialsRejected,
    EndpointMissing,
    NotSent,
    PayloadRejected,
    RateLimited,
    ServerFailed,
    UnreadableAnswer,
)

ENDPOINTS_PATH = "/api/relay/rest/endpoints/sip"


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait to connect, and then for each read of the answer."""

    connect: float
    read: float


class SignalWireClient:
    """One per set of credentials; keeps its connections open across invocations."""

    def __init__(self, space_url: str, project_id: str, api_token: SecretStr, timeouts: Timeouts) -> None:
        self._base_url = space_url.rstrip("/")
        self._timeouts = timeouts
        self._session = requests.Session()
        self._session.auth = (project_id, api_token.get_secret_value())
        self._session.headers.update({"Accept": "application/json", "User-Agent": "sip-endpoint-provisioner"})

    def create_endpoint(self, payload: CreateSipEndpointPayload, deadline: Deadline) -> SipEndpoint:
        response = self._send("POST", self._endpoints_url, deadline, json=payload.to_request_body())
        if response.status_code == 422:
            raise PayloadRejected(_error_details(response))
        return _parse(SipEndpoint, response)

    def retrieve_endpoint(self, endpoint_id: str, deadline: Deadline) -> SipEndpoint:
        response = self._send("GET", self._endpoint_url(endpoint_id), deadline)
        if response.status_code == 404:
            raise EndpointMissing("SignalWire has no endpoint with that id")
        return _parse(SipEndpoint, response)

    def update_endpoint(self, endpoint_id: str, changes: dict[str, Any], deadline: Deadline) -> SipEndpoint:
        """PUT only `changes`: SignalWire changes the fields sent and clears those sent as null."""
        response = self._send("PUT", self._endpoint_url(endpoint_id), deadline, json=changes)
        if response.status_code == 404:
            raise EndpointMissing("SignalWire has no endpoint with that id")
        if response.status_code == 422:
            raise PayloadRejected(_error_details(response))
        return _parse(SipEndpoint, response)

    def delete_endpoint(self, endpoint_id: str, deadline: Deadline) -> None:
        response = self._send("DELETE", self._endpoint_url(endpoint_id), deadline)
        if response.status_code == 404:
            raise EndpointMissing("SignalWire has no endpoint with that id")
        if response.status_code != 204:  # a 200 from a proxy in between proves nothing was deleted
            raise UnreadableAnswer(f"SignalWire answered an unexpected {response.status_code}")

    def find_endpoints_by_username(self, username: str, deadline: Deadline) -> list[SipEndpoint]:
        """Endpoints whose username is exactly `username` (SignalWire filters by substring)."""
        url: str | None = self._endpoints_url
        params: dict[str, str] | None = {"filter_username": username, "page_size": "1000"}
        found: list[SipEndpoint] = []
        while url:
            page = _parse(SipEndpointPage, self._send("GET", url, deadline, params=params))
            found.extend(endpoint for endpoint in page.data if endpoint.username == username)
            next_link = page.links.get("next")
            url, params = (self._same_origin(next_link), None) if next_link else (None, None)
        return found

    def list_page(self, page_link: str | None, page_size: int, deadline: Deadline) -> SipEndpointPage:
        """One page of every endpoint, newest first: the first (of `page_size`) when `page_link` is
        None, else the page an earlier page's `links.next` named (it carries its own size). The
        page's `links.next` comes back checked to stay on the space, as a path and query only: a
        caller may hold it without learning the space's address."""
        if page_link is None:
            response = self._send("GET", self._endpoints_url, deadline, params={"page_size": str(page_size)})
        else:
            response = self._send("GET", self._same_origin(page_link), deadline)
        page = _parse(SipEndpointPage, response)
        next_link = page.links.get("next")
        if not next_link:
            return page
        parts = urlsplit(self._same_origin(next_link))
        relative = parts.path + (f"?{parts.query}" if parts.query else "")
        return page.model_copy(update={"links": {**page.links, "next": relative}})

    @property
    def _endpoints_url(self) -> str:
        return f"{self._base_url}{ENDPOINTS_PATH}"

    def _endpoint_url(self, endpoint_id: str) -> str:
        return f"{self._base_url}{ENDPOINTS_PATH}/{quote(endpoint_id, safe='')}"

    def _same_origin(self, link: str) -> str:
        """A pagination link resolved against the space, refused unless it stays on the space."""
        url = urljoin(self._base_url + "/", link)
        if _origin(url) != _origin(self._base_url):
            raise UnreadableAnswer("SignalWire answered a pagination link to another origin")
        return url

    def _send(self, method: str, url: str, deadline: Deadline, **kwargs: Any) -> requests.Response:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise NotSent("no time left to call SignalWire")
        timeout = (min(self._timeouts.connect, remaining), min(self._timeouts.read, remaining))
        started = time.perf_counter()
        try:
            response = self._session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
        except requests.ConnectTimeout:
            raise NotSent("SignalWire did not accept the connection in time") from None
        except requests.ReadTimeout:
            raise AnswerLost("SignalWire did not answer in time") from None
        except requests.ConnectionError as error:
            if _never_connected(error):
                raise NotSent("SignalWire refused the connection") from None
            raise AnswerLost("SignalWire dropped the connection before answering") from None
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            metrics.add_metric(name="UpstreamLatency", unit=MetricUnit.Milliseconds, value=elapsed_ms)
        # Successes are counted by the UpstreamLatency metric and the audit line; a log line for
        # each would cost every warm request for nothing an operator reads.
        log = logger.debug if response.status_code < 400 else logger.info
        log(
            "SignalWire answered",
            extra={
                "upstream_method": method,
                "upstream_status": response.status_code,
                "upstream_ms": round(elapsed_ms, 1),
            },
        )
        if 300 <= response.status_code < 400:
            raise UnreadableAnswer(f"SignalWire answered a redirect ({response.status_code}); not followed")
        if response.status_code in (401, 403):
            raise CredentialsRejected("SignalWire rejected the project credentials")
        retry_after = _retry_after(response)
        if response.status_code == 429 or (response.status_code == 503 and retry_after is not None):
            raise RateLimited(response.status_code, retry_after or 1)
        if response.status_code >= 500:
            raise ServerFailed(response.status_code)
        return response


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def _never_connected(error: requests.ConnectionError) -> bool:
    """True when urllib3 failed to open the connection, so nothing was sent."""
    reason: BaseException | None = error.args[0] if error.args and isinstance(error.args[0], BaseException) else None
    while reason is not None:
        if isinstance(reason, NewConnectionError):
            return True
        reason = getattr(reason, "reason", None) or reason.__cause__
    return False


def _retry_after(response: requests.Response) -> int | None:
    """Retry-After in seconds: given as seconds or as an HTTP date (RFC 9110)."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322
        when = when.replace(tzinfo=UTC)
    return max(1, math.ceil((when - datetime.now(UTC)).total_seconds()))


def _parse[T: BaseModel](model: type[T], response: requests.Response) -> T:
    if not 200 <= response.status_code < 300:
        raise UnreadableAnswer(f"SignalWire answered an unexpected {response.status_code}")
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        raise UnreadableAnswer(f"SignalWire answered {response.status_code} with an unreadable body") from None


def _error_details(response: requests.Response) -> list[str]:
    """The `detail` strings of a SignalWire 422; `detail` may be null, so never depend on it."""
    try:
        errors = response.json().get("errors", [])
        return [str(item.get("detail") or item.get("title") or "invalid") for item in errors]
    except (ValueError, AttributeError):
        return []
