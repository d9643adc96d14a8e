"""`Client`: the provisioner's HTTP API, one method per route, SigV4-signed, retried as the contract says.

- Credentials come from botocore's standard chain (environment, profiles, SSO, assumed roles);
  every request is signed for `execute-api` exactly as it is sent (the path percent-encoded once,
  as RFC 3986 says; botocore's canonical request encodes it again, as API Gateway expects).
- Every state-changing call carries an `Idempotency-Key` (a new UUID, or the one given) and is
  retried under that same key, so the service runs it at most once: on
  `idempotency-in-progress`, 429, 503 and 504, after `Retry-After` when the answer gives one
  (else 1, 2, 4, 8 s), and after an answer lost on the way back, until `timeout` seconds have passed.
- An error answer raises the exception of its problem type (`sipctl.problems`).
"""

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.session
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from sipctl.problems import ProblemError, problem_from_answer

JSON = dict[str, Any]
# A name of its own: inside `Client`, `list` is the method.
JSONList = list[JSON]

SERVICE = "execute-api"
DEFAULT_TIMEOUT_SECONDS = 60.0
# API Gateway answers within 30 s; a request still unanswered after this is lost.
MAX_REQUEST_SECONDS = 35.0
MAX_BACKOFF_SECONDS = 8.0
RETRIED_STATUSES = frozenset({429, 503, 504})
RETRIED_TYPES = frozenset({"idempotency-in-progress"})
EXECUTE_API_HOST = re.compile(r"[^.]+\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?")


class ConfigurationMissing(Exception):
    """No base URL, region or AWS credentials: the message says which and where to set it."""


class ServiceUnreachable(Exception):
    """The API could not be reached, or its answers stayed lost until the timeout."""


def endpoint_path(username: str) -> str:
    """`/endpoints/{username}` with the username as one percent-encoded path segment (RFC 3986):
    every character but the unreserved ones encoded, and a segment of dots too, which URL
    normalisation would otherwise remove."""
    segment = quote(username, safe="")
    if segment and set(segment) == {"."}:
        segment = "%2E" * len(segment)
    return f"/endpoints/{segment}"


def query_string(parameters: Mapping[str, str]) -> str:
    """The query as sent and as signed: RFC 3986 encoding, which SigV4's canonical form keeps as is."""
    return "&".join(f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}" for name, value in parameters.items())


def is_retried(problem: ProblemError) -> bool:
    return problem.status in RETRIED_STATUSES or problem.type in RETRIED_TYPES


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """How long to wait before attempt `attempt + 1`: what the answer asked, else 1, 2, 4, 8, 8... s."""
    if retry_after is not None:
        return retry_after
    return min(2.0 ** (attempt - 1), MAX_BACKOFF_SECONDS)


def region_of(url: str, configured: str | None) -> str:
    """The signing region: the one given or configured, else the one an execute-api URL names."""
    if configured:
        return configured
    host = urlsplit(url).hostname or ""
    if match := EXECUTE_API_HOST.fullmatch(host):
        return match["region"]
    raise ConfigurationMissing("no AWS region: give --region, or set AWS_REGION or a profile's region")


def _optional(**fields: object) -> JSON:
    return {name: value for name, value in fields.items() if value is not None}


class Client:
    """The provisioner's HTTP API at `url` (the stack's ApiUrl output, or `make run`'s address).

    `session`: a botocore session (default: the standard credential chain); `region`: where
    requests are signed (default: the session's, or the URL's). `on_retry(error, seconds)` is told
    of each retry before its wait (sipctl prints it). `sleep` and `clock` are for tests.
    """

    def __init__(
        self,
        url: str,
        *,
        region: str | None = None,
        session: botocore.session.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        on_retry: Callable[[Exception, float], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if urlsplit(url).scheme not in {"http", "https"}:
            raise ConfigurationMissing(f"the API URL must be an http or https URL, not {url!r}")
        self._base_url = url.rstrip("/")
        self._session = session or botocore.session.get_session()
        self._region = region_of(url, region or self._session.get_config_variable("region"))
        self._timeout = timeout
        self._on_retry = on_retry
        self._sleep = sleep
        self._clock = clock
        self._http = urllib3.PoolManager(retries=False)

    # -- the routes --------------------------------------------------------------------------------

    def profiles(self) -> JSONList:
        """`GET /profiles`: the profiles this caller may name, sorted by name."""
        profiles: JSONList = self._call("GET", "/profiles")["profiles"]
        return profiles

    def create(
        self,
        username: str,
        *,
        profile: str | None = None,
        owner: str | None = None,
        caller_id: str | None = None,
        send_as: str | None = None,
        handler: Mapping[str, str] | None = None,
        password: str | None = None,
        password_delivery: str | None = None,
        dry_run: bool = False,
        idempotency_key: str | None = None,
    ) -> JSON:
        """`POST /endpoints`: 201's body, or with `dry_run` the payload that would be sent."""
        body = _optional(
            username=username,
            profile=profile,
            owner=owner,
            caller_id=caller_id,
            send_as=send_as,
            handler=dict(handler) if handler is not None else None,
            password=password,
            password_delivery=password_delivery,
        )
        if dry_run:
            return self._call("POST", "/endpoints", query={"dry_run": "true"}, body=body)
        return self._call("POST", "/endpoints", body=body, key=idempotency_key or _new_key())

    def show(self, username: str) -> JSON:
        """`GET /endpoints/{username}`: SignalWire's endpoint, its inventory record and drift."""
        return self._call("GET", endpoint_path(username))

    def list_page(
        self,
        *,
        profile: str | None = None,
        owner: str | None = None,
        status: str | None = None,
        unmanaged: bool = False,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> JSON:
        """`GET /endpoints`: one page, `{"endpoints", "next_cursor"}`; `unmanaged` lists the endpoints
        SignalWire holds and the inventory does not (`managed=false`)."""
        query = _optional(
            managed="false" if unmanaged else None,
            profile=profile,
            owner=owner,
            status=status,
            limit=str(limit) if limit is not None else None,
            cursor=cursor,
        )
        return self._call("GET", "/endpoints", query={name: str(value) for name, value in query.items()})

    def update(
        self, username: str, changes: Mapping[str, Any], *, dry_run: bool = False, idempotency_key: str | None = None
    ) -> JSON:
        """`PATCH /endpoints/{username}`: `changes` holds `profile`, `caller_id`, `send_as`, `handler`
        or `owner`; a value of None removes the key (back to the profile's value); `{}` re-applies
        the profile as it is today. With `dry_run`: `{"dry_run", "changes"}`."""
        if dry_run:
            return self._call("PATCH", endpoint_path(username), query={"dry_run": "true"}, body=dict(changes))
        return self._call("PATCH", endpoint_path(username), body=dict(changes), key=idempotency_key or _new_key())

    def reset_password(
        self,
        username: str,
        *,
        password: str | None = None,
        password_delivery: str | None = None,
        idempotency_key: str | None = None,
    ) -> JSON:
        """`POST /endpoints/{username}/password`: a new password (generated unless given); enables a
        disabled endpoint."""
        body = _optional(password=password, password_delivery=password_delivery)
        return self._call("POST", f"{endpoint_path(username)}/password", body=body, key=idempotency_key or _new_key())

    def disable(self, username: str, *, idempotency_key: str | None = None) -> JSON:
        """`POST /endpoints/{username}/disable`: a password nobody is given; a reset enables it again."""
        return self._call("POST", f"{endpoint_path(username)}/disable", key=idempotency_key or _new_key())

    def delete(self, username: str, *, dry_run: bool = False, idempotency_key: str | None = None) -> JSON | None:
        """`DELETE /endpoints/{username}`: None once deleted (also when already deleted by the
        service); with `dry_run`, `{"dry_run", "would_delete"}`."""
        if dry_run:
            return self._call("DELETE", endpoint_path(username), query={"dry_run": "true"})
        self._call("DELETE", endpoint_path(username), key=idempotency_key or _new_key())
        return None

    def adopt(
        self,
        username: str,
        *,
        profile: str,
        owner: str | None = None,
        dry_run: bool = False,
        idempotency_key: str | None = None,
    ) -> JSON:
        """`POST /endpoints/{username}/adopt`: an inventory record for an endpoint made outside the
        service. With `dry_run`: `{"dry_run", "would_adopt", "drift"}`."""
        path, body = f"{endpoint_path(username)}/adopt", _optional(profile=profile, owner=owner)
        if dry_run:
            return self._call("POST", path, query={"dry_run": "true"}, body=body)
        return self._call("POST", path, body=body, key=idempotency_key or _new_key())

    def list(
        self,
        *,
        profile: str | None = None,
        owner: str | None = None,
        status: str | None = None,
        unmanaged: bool = False,
        limit: int | None = None,
    ) -> Iterator[JSON]:
        """Every endpoint of `GET /endpoints`, page after page (`limit` is the page size)."""
        cursor: str | None = None
        while True:
            page = self.list_page(
                profile=profile, owner=owner, status=status, unmanaged=unmanaged, limit=limit, cursor=cursor
            )
            yield from page["endpoints"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    # -- one call, retried ---------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: JSON | None = None,
        key: str | None = None,
    ) -> JSON:
        """The answer's JSON body ({} for 204), retrying what the contract says may be retried."""
        url = f"{self._base_url}{path}" + (f"?{query_string(query)}" if query else "")
        deadline = self._clock() + self._timeout
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - self._clock()
            try:
                status, data, retry_after = self._send(method, url, body, key, min(remaining, MAX_REQUEST_SECONDS))
            except urllib3.exceptions.NewConnectionError as error:  # never sent: nothing to retry under the key
                raise ServiceUnreachable(f"cannot connect to {self._base_url}: {error}") from None
            except urllib3.exceptions.HTTPError as error:  # sent, and the answer lost: the key makes a retry safe
                failure: Exception = ServiceUnreachable(f"no answer from {self._base_url} ({type(error).__name__})")
                wait = backoff_seconds(attempt, None)
            else:
                if status < 400:
                    return json.loads(data) if data else {}
                problem = problem_from_answer(status, data, retry_after)
                if not is_retried(problem):
                    raise problem
                failure, wait = problem, backoff_seconds(attempt, problem.retry_after)
            if self._clock() + wait >= deadline:
                raise failure
            if self._on_retry is not None:
                self._on_retry(failure, wait)
            self._sleep(wait)

    def _send(
        self, method: str, url: str, body: JSON | None, key: str | None, timeout: float
    ) -> tuple[int, bytes, str | None]:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        credentials = self._session.get_credentials()
        if credentials is None:
            raise ConfigurationMissing(
                "no AWS credentials: configure them as for the AWS CLI (aws configure, AWS_PROFILE)"
            )
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), SERVICE, self._region).add_auth(request)
        response = self._http.request(
            method,
            url,
            body=data,
            headers=dict(request.headers.items()),
            timeout=urllib3.Timeout(connect=min(timeout, 10.0), read=max(timeout, 1.0)),
            redirect=False,
        )
        return response.status, response.data, response.headers.get("Retry-After")


def _new_key() -> str:
    return str(uuid.uuid4())
