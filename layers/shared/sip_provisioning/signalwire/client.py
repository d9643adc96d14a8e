"""A narrow client for SignalWire's legacy SIP endpoint API: create, and list by username.

It speaks HTTP and maps SignalWire's answers to typed errors; deciding what an answer means for
the caller (is a 422 a taken username?) belongs to the use case.
"""

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, SecretStr, ValidationError

from sip_provisioning.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from sip_provisioning.observability import logger, metrics
from sip_provisioning.signalwire.models import CreateSipEndpointPayload, SipEndpoint, SipEndpointPage

ENDPOINTS_PATH = "/api/relay/rest/endpoints/sip"
DEFAULT_RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait to connect, and then for each read of the answer."""

    connect: float
    read: float


class PayloadRejected(Exception):
    """SignalWire answered 422: the payload broke one of its rules (a taken username among them)."""

    def __init__(self, details: list[str]) -> None:
        super().__init__("SignalWire rejected the payload")
        self.details = details


class SignalWireClient:
    """One per set of credentials; keeps its connections open across invocations."""

    def __init__(self, space_url: str, project_id: str, api_token: SecretStr, timeouts: Timeouts) -> None:
        self._base_url = space_url.rstrip("/")
        self._timeouts = timeouts
        self._session = requests.Session()
        self._session.auth = (project_id, api_token.get_secret_value())
        self._session.headers.update({"Accept": "application/json", "User-Agent": "sip-endpoint-provisioner"})

    def create_endpoint(self, payload: CreateSipEndpointPayload) -> SipEndpoint:
        response = self._send("POST", f"{self._base_url}{ENDPOINTS_PATH}", json=payload.to_request_body())
        if response.status_code == 422:
            raise PayloadRejected(_error_details(response))
        return _parse(SipEndpoint, response)

    def find_endpoints_by_username(self, username: str) -> list[SipEndpoint]:
        """Endpoints whose username is exactly `username` (SignalWire filters by substring)."""
        url: str | None = f"{self._base_url}{ENDPOINTS_PATH}"
        params: dict[str, str] | None = {"filter_username": username, "page_size": "1000"}
        found: list[SipEndpoint] = []
        while url:
            page = _parse(SipEndpointPage, self._send("GET", url, params=params))
            found.extend(endpoint for endpoint in page.data if endpoint.username == username)
            next_link = page.links.get("next")
            url, params = (urljoin(self._base_url + "/", next_link), None) if next_link else (None, None)
        return found

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        started = time.perf_counter()
        try:
            response = self._session.request(
                method, url, timeout=(self._timeouts.connect, self._timeouts.read), **kwargs
            )
        except requests.ConnectTimeout:
            raise UpstreamUnavailable("SignalWire could not be reached in time.", DEFAULT_RETRY_AFTER_SECONDS) from None
        except requests.ReadTimeout:
            raise UpstreamTimeout("SignalWire did not answer in time.") from None
        except requests.ConnectionError:
            raise UpstreamUnavailable("SignalWire could not be reached.", DEFAULT_RETRY_AFTER_SECONDS) from None
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            metrics.add_metric(name="UpstreamLatency", unit=MetricUnit.Milliseconds, value=elapsed_ms)
        logger.info(
            "SignalWire answered",
            extra={
                "upstream_method": method,
                "upstream_status": response.status_code,
                "upstream_ms": round(elapsed_ms, 1),
            },
        )
        if response.status_code in (401, 403):
            raise UpstreamError("SignalWire rejected the project credentials.")
        if response.status_code == 429:
            raise UpstreamUnavailable("SignalWire is rate-limiting requests.", _retry_after(response))
        if response.status_code >= 500:
            raise UpstreamError(f"SignalWire answered {response.status_code}.")
        return response


def _retry_after(response: requests.Response) -> int:
    value = response.headers.get("Retry-After", "")
    return int(value) if value.isdigit() else DEFAULT_RETRY_AFTER_SECONDS


def _parse[T: BaseModel](model: type[T], response: requests.Response) -> T:
    if not 200 <= response.status_code < 300:
        raise UpstreamError(f"SignalWire answered an unexpected {response.status_code}.")
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        raise UpstreamError("SignalWire answered something unreadable.") from None


def _error_details(response: requests.Response) -> list[str]:
    """The `detail` strings of a SignalWire 422; `detail` may be null, so never depend on it."""
    try:
        errors = response.json().get("errors", [])
        return [str(item.get("detail") or item.get("title") or "invalid") for item in errors]
    except (ValueError, AttributeError):
        return []
