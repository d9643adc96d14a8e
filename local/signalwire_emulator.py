"""A local stand-in for SignalWire's legacy Relay REST "SIP endpoints" API, over real HTTP.

It follows docs/upstream/sip-endpoints.openapi.json and /work/shared/signalwire/README.md:
HTTP Basic auth, list/create/retrieve/partial update/delete under
``/api/relay/rest/endpoints/sip``, the create rules (required fields, enums, UUIDs, codec and
cipher lists, per-handler requirements, unique username) answered as SignalWire's 422 shape.

Choices where the upstream documentation leaves room:
- A body that is not JSON, or not a JSON object, is a 422 in the validation shape (not a 400),
  so a client sees one shape for every rejected body.
- Usernames are unique by exact (case-sensitive) comparison.
- ``calling_handler_resource_id`` is always ``null``: SignalWire fills it with resources
  the emulator does not model.
- ``page_token`` values are issued by the emulator in ``links`` and only those are accepted,
  so a client that builds page URLs itself instead of following links fails here.
- An update changes only the fields it sends. A field sent as ``null`` is cleared: to ``null``,
  except ``ciphers``, ``codecs`` and ``encryption``, which the response schema never makes null
  and which go back to their create defaults (``[]``, ``[]``, ``"default"``); ``username`` and
  ``password`` cannot be cleared (422 "can't be blank"). The result must satisfy every create
  rule (per-handler requirements, unique username), otherwise 422 and nothing changes. A create
  still takes no ``null``: a field it does not want set is left out.

Fault switches (``inject_fault``) make it misbehave on purpose for the next N matching
requests of one operation (``list``, ``create``, ``retrieve``, ``update``, ``delete``; the
default is ``create``) or of any request (``operation=None``), optionally only ``after`` that
many matching requests were answered normally (the lookup after a create, not the one before).
Every fault happens after the request is read and counted, and before the credentials are checked, as a failing proxy or
server in front of the real API would:
- ``SERVER_ERROR``: 500 ``{"error": "Internal Server Error"}``; nothing is performed.
- ``SERVICE_UNAVAILABLE``: 503, ``Retry-After`` only when ``retry_after`` is given.
- ``RATE_LIMITED``: 429, ``Retry-After`` only when ``retry_after`` is given.
- ``HANG``: waits ``delay_seconds``, then performs the request and answers normally (the
  answer may meet a client that has given up). A hung request that outlives ``reset()`` or
  ``stop()`` is dropped without being performed, so it cannot leak into the next test.
- ``CLOSE_CONNECTION``: closes the connection without any answer; nothing is performed.
- ``NON_JSON``: 200 with an HTML page; nothing is performed.
- ``COMMIT_THEN_CLOSE``: performs the request (a create is stored, an update applied, a delete
  done, as far as credentials and validation allow) and closes the connection without answering.

Counters for tests: ``requests_received(operation)`` counts every request routed to an
operation whatever its outcome; ``committed(operation)`` (and ``creates_committed()``,
``updates_committed()``, ``deletes_committed()``) counts the requests whose change was applied,
answered or not. ``endpoints`` and ``stored_password(username)`` read the store, passwords included.

The server never logs bodies or headers: one line per request with method, path and status.
"""

import argparse
import base64
import binascii
import contextlib
import copy
import enum
import functools
import json
import logging
import re
import secrets
import signal
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from local.loopback import LoopbackServer

_logger = logging.getLogger(__name__)

COLLECTION_PATH = "/api/relay/rest/endpoints/sip"
OPERATIONS = ("list", "create", "retrieve", "update", "delete")
DUPLICATE_USERNAME_DETAIL = "Username has already been taken"

_CALL_HANDLERS = (
    "relay_context",
    "relay_topic",
    "relay_application",
    "relay_connector",
    "relay_script",
    "laml_webhooks",
    "laml_application",
    "dialogflow",
    "video_room",
    "call_flow",
    "ai_agent",
)
_HTTP_METHODS = ("GET", "POST")
_ENUM_FIELDS: Mapping[str, tuple[str, ...]] = {
    "encryption": ("default", "required", "optional"),
    "call_handler": _CALL_HANDLERS,
    "call_request_method": _HTTP_METHODS,
    "call_fallback_method": _HTTP_METHODS,
    "call_status_callback_method": _HTTP_METHODS,
    "call_flow_version": ("working_copy", "current_deployed"),
}
_LIST_FIELDS: Mapping[str, tuple[str, ...]] = {
    "ciphers": (
        "AEAD_AES_256_GCM_8",
        "AES_256_CM_HMAC_SHA1_80",
        "AES_CM_128_HMAC_SHA1_80",
        "AES_256_CM_HMAC_SHA1_32",
        "AES_CM_128_HMAC_SHA1_32",
    ),
    "codecs": (
        "OPUS",
        "G722",
        "PCMU",
        "PCMA",
        "G729",
        "VP8",
        "H264",
        "OPUS@48000H@20I",
        "OPUS@24000H@20I",
        "OPUS@16000H@20I",
        "OPUS@8000H@20I",
    ),
}
_MUTATING_OPERATIONS = ("create", "update", "delete")
# What a create stores for these when it is not sent, and what an update's null restores.
_CREATE_DEFAULTS: Mapping[str, object] = {"ciphers": [], "codecs": [], "encryption": "default"}
_UNCLEARABLE_FIELDS = ("username", "password")
_UUID_FIELDS = ("call_video_room_id", "call_flow_id", "call_ai_agent_id")
_UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_REQUIRED_BY_HANDLER: Mapping[str, tuple[str, ...]] = {
    "laml_webhooks": ("call_request_url", "call_fallback_url", "call_status_callback_url"),
    "laml_application": ("call_laml_application_id",),
    "dialogflow": ("call_dialogflow_agent_id",),
    "relay_topic": ("call_relay_topic", "call_relay_topic_status_callback_url"),
    "relay_context": ("call_relay_context", "call_relay_context_status_callback_url"),
    "relay_application": ("call_relay_application",),
    "relay_connector": (),
    "video_room": ("call_video_room_id",),
    "call_flow": ("call_flow_id",),
    "ai_agent": ("call_ai_agent_id",),
    "relay_script": ("call_relay_script_url",),
}
# Every call_* field of CreateSipEndpointRequest, in the order the response lists them.
_CALL_FIELDS = (
    "call_request_url",
    "call_request_method",
    "call_fallback_url",
    "call_fallback_method",
    "call_status_callback_url",
    "call_status_callback_method",
    "call_laml_application_id",
    "call_dialogflow_agent_id",
    "call_relay_topic",
    "call_relay_topic_status_callback_url",
    "call_relay_context",
    "call_relay_context_status_callback_url",
    "call_relay_application",
    "call_video_room_id",
    "call_flow_id",
    "call_flow_version",
    "call_ai_agent_id",
    "call_relay_script_url",
)
_REQUEST_FIELDS = (
    "username",
    "password",
    "caller_id",
    "send_as",
    "ciphers",
    "codecs",
    "encryption",
    "call_handler",
    *_CALL_FIELDS,
)
_RESPONSE_FIELDS = (
    "type",
    "id",
    "username",
    "caller_id",
    "send_as",
    "ciphers",
    "codecs",
    "encryption",
    "call_handler",
    "calling_handler_resource_id",
    *_CALL_FIELDS,
)
_DEFAULT_PAGE_SIZE = 50
_MAX_PAGE_SIZE = 1000
_NON_JSON_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"


class Fault(enum.StrEnum):
    SERVER_ERROR = "server_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    RATE_LIMITED = "rate_limited"
    HANG = "hang"
    CLOSE_CONNECTION = "close_connection"
    NON_JSON = "non_json"
    COMMIT_THEN_CLOSE = "commit_then_close"


@dataclass
class _FaultRule:
    fault: Fault
    remaining: int
    operation: str | None
    retry_after: int | None
    delay_seconds: float
    passes_first: int = 0  # matching requests still to answer normally before misbehaving

    def matches(self, operation: str | None) -> bool:
        return self.operation is None or self.operation == operation


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


def _json_response(status: int, document: object, headers: Mapping[str, str] | None = None) -> _Response:
    return _Response(
        status=status,
        body=json.dumps(document).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> _Response:
    return _json_response(status, {"error": message}, headers)


def _validation_response(details: Sequence[str]) -> _Response:
    errors = [{"detail": detail, "status": "422", "title": "Invalid Attribute", "code": "422"} for detail in details]
    return _json_response(422, {"errors": errors})


def _field_problems(body: Mapping[str, object], *, null_clears: bool = False) -> list[str]:
    """What is wrong with the fields present in a create or update body, each field on its own.

    With ``null_clears`` (an update), ``null`` is a request to clear the field, refused only for
    the fields every endpoint must have.
    """
    problems = [f"{name} is not a permitted attribute" for name in body if name not in _REQUEST_FIELDS]
    for name, value in body.items():
        if name not in _REQUEST_FIELDS:
            continue
        if value is None and null_clears:
            if name in _UNCLEARABLE_FIELDS:
                problems.append(f"{name} can't be blank")
        elif name in _LIST_FIELDS:
            allowed = _LIST_FIELDS[name]
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                problems.append(f"{name} must be a list of strings")
            elif unsupported := [item for item in value if item not in allowed]:
                problems.append(f"{name} has unsupported values {unsupported}; allowed: {', '.join(allowed)}")
        elif not isinstance(value, str):
            problems.append(f"{name} must be a string")
        elif name in ("username", "password") and not value:
            problems.append(f"{name} can't be blank")
        elif name == "username" and (any(character.isspace() for character in value) or "@" in value):
            problems.append("username must not contain whitespace or @")
        elif name in _ENUM_FIELDS and value not in _ENUM_FIELDS[name]:
            problems.append(f"{name} must be one of: {', '.join(_ENUM_FIELDS[name])}")
        elif name in _UUID_FIELDS and not _UUID_PATTERN.fullmatch(value):
            problems.append(f"{name} must be a UUID")
    return problems


def _handler_problems(endpoint: Mapping[str, object]) -> list[str]:
    """The fields the endpoint's call_handler requires that it lacks."""
    handler = endpoint.get("call_handler")
    if not isinstance(handler, str) or handler not in _REQUIRED_BY_HANDLER:
        return []
    return [
        f"{name} is required when call_handler is {handler}"
        for name in _REQUIRED_BY_HANDLER[handler]
        if not endpoint.get(name)
    ]


def _cleared_value(name: str) -> object:
    """What a field holds once an update clears it."""
    return copy.deepcopy(_CREATE_DEFAULTS.get(name))


def _public_view(endpoint: Mapping[str, object]) -> dict[str, object]:
    return {name: copy.deepcopy(endpoint[name]) for name in _RESPONSE_FIELDS}


class _ServiceServer(ThreadingHTTPServer):
    daemon_threads = True
    # stop() must not wait for hung requests; they notice the stop and drop themselves.
    block_on_close = False
    # Tests open 20+ connections at once; the default backlog of 5 would make some wait for SYN retries.
    request_queue_size = 64


class SignalWireEmulator(LoopbackServer):
    """SignalWire's SIP endpoints API on loopback, with fault switches and counters for tests."""

    thread_name = "signalwire-emulator"
    poll_interval = 0.01  # tests stop it after every test

    def __init__(
        self,
        project_id: str = "local-project",
        api_token: str = "local-token",  # noqa: S107 -- a placeholder for loopback, not a secret
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.project_id = project_id
        self.api_token = api_token
        super().__init__(host, port)
        self._lock = threading.Lock()
        self._endpoints: dict[str, dict[str, object]] = {}
        self._fault_rules: list[_FaultRule] = []
        self._requests_by_operation = dict.fromkeys(OPERATIONS, 0)
        self._commits_by_operation = dict.fromkeys(_MUTATING_OPERATIONS, 0)
        self._connections_accepted = 0
        self._page_tokens: dict[str, int] = {}
        # Bumped by reset() and stop(); a hung request from an older generation is dropped.
        self._generation = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def _make_server(self, address: tuple[str, int]) -> ThreadingHTTPServer:
        return _ServiceServer(address, functools.partial(_RequestHandler, emulator=self))

    def stop(self) -> None:
        with self._lock:
            self._generation += 1  # hung requests of this run drop themselves
        super().stop()

    # -- test controls -----------------------------------------------------------------------

    def inject_fault(
        self,
        fault: Fault,
        *,
        times: int = 1,
        operation: str | None = "create",
        retry_after: int | None = None,
        delay_seconds: float = 0.0,
        after: int = 0,
    ) -> None:
        """Misbehave on ``times`` requests of ``operation`` (``None``: any request), once
        ``after`` matching requests were answered normally.

        ``operation`` is one of ``list``, ``create``, ``retrieve``, ``update``, ``delete``; the
        default ``create`` keeps the switches of tests written before the other operations.
        """
        if times < 1 or after < 0:
            raise ValueError("times must be at least 1, after at least 0")
        if operation is not None and operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {OPERATIONS} or None")
        if retry_after is not None and fault not in (Fault.RATE_LIMITED, Fault.SERVICE_UNAVAILABLE):
            raise ValueError("retry_after applies only to RATE_LIMITED and SERVICE_UNAVAILABLE")
        if (fault is Fault.HANG) != (delay_seconds > 0):
            raise ValueError("HANG needs delay_seconds > 0, and only HANG takes it")
        rule = _FaultRule(fault, times, operation, retry_after, delay_seconds, passes_first=after)
        with self._lock:
            self._fault_rules.append(rule)

    @property
    def endpoints(self) -> list[dict[str, object]]:
        """Copies of the stored endpoints in creation order, each with its ``password``."""
        with self._lock:
            return [
                {**_public_view(endpoint), "password": endpoint["password"]} for endpoint in self._endpoints.values()
            ]

    def stored_password(self, username: str) -> str | None:
        """The password currently stored for ``username``; ``None`` when no endpoint has it."""
        with self._lock:
            for endpoint in self._endpoints.values():
                if endpoint["username"] == username:
                    return str(endpoint["password"])
            return None

    def create_requests_received(self) -> int:
        return self.requests_received("create")

    def committed(self, operation: str) -> int:
        """Requests of ``operation`` (create, update or delete) whose change was applied, answered or not."""
        if operation not in _MUTATING_OPERATIONS:
            raise ValueError(f"operation must be one of {_MUTATING_OPERATIONS}")
        with self._lock:
            return self._commits_by_operation[operation]

    def creates_committed(self) -> int:
        return self.committed("create")

    def updates_committed(self) -> int:
        return self.committed("update")

    def deletes_committed(self) -> int:
        return self.committed("delete")

    def connections_accepted(self) -> int:
        """TCP connections opened to the emulator: fewer than requests when clients keep them alive."""
        with self._lock:
            return self._connections_accepted

    def requests_received(self, operation: str) -> int:
        """Requests routed to ``operation``, whatever their outcome (faulted, 401, 422 included)."""
        if operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {OPERATIONS}")
        with self._lock:
            return self._requests_by_operation[operation]

    def reset(self) -> None:
        with self._lock:
            self._endpoints.clear()
            self._fault_rules.clear()
            self._requests_by_operation = dict.fromkeys(OPERATIONS, 0)
            self._commits_by_operation = dict.fromkeys(_MUTATING_OPERATIONS, 0)
            self._connections_accepted = 0
            self._page_tokens.clear()
            self._generation += 1

    # -- request handling (called from server threads) ---------------------------------------

    def _count_connection(self) -> None:
        with self._lock:
            self._connections_accepted += 1

    def _receive(self, operation: str | None) -> tuple[_FaultRule | None, int]:
        """Count the request and take the first fault rule that applies to it."""
        with self._lock:
            if operation is not None:
                self._requests_by_operation[operation] += 1
            for rule in self._fault_rules:
                if rule.matches(operation) and rule.passes_first > 0:
                    rule.passes_first -= 1
                    continue
                if rule.matches(operation):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._fault_rules.remove(rule)
                    return rule, self._generation
            return None, self._generation

    def _is_current(self, generation: int) -> bool:
        with self._lock:
            return generation == self._generation

    def _is_authorized(self, authorization: str | None) -> bool:
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, separator, password = decoded.partition(":")
        expected_user, expected_password = self.project_id.encode(), self.api_token.encode()
        user_matches = secrets.compare_digest(user.encode(), expected_user)
        password_matches = secrets.compare_digest(password.encode(), expected_password)
        return bool(separator) and user_matches and password_matches

    def _perform(
        self,
        operation: str | None,
        endpoint_id: str | None,
        query: str,
        body: bytes,
        authorization: str | None,
    ) -> _Response:
        if not self._is_authorized(authorization):
            return _error_response(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="SignalWire"'})
        match operation, endpoint_id:
            case "list", _:
                return self._list(query)
            case "create", _:
                return self._create(body)
            case "retrieve", str():
                return self._retrieve(endpoint_id)
            case "update", str():
                return self._update(endpoint_id, body)
            case "delete", str():
                return self._delete(endpoint_id)
        return _error_response(404, "Not Found")

    def _create(self, body: bytes) -> _Response:
        fields, problems = _parse_object(body)
        if not problems:
            problems = [
                *(f"{name} can't be blank" for name in ("username", "password") if name not in fields),
                *_field_problems(fields),
            ]
        if problems:
            return _validation_response(problems)
        endpoint: dict[str, object] = {
            **dict.fromkeys(_RESPONSE_FIELDS),
            **copy.deepcopy(_CREATE_DEFAULTS),
            **copy.deepcopy(fields),
            "type": "sip_endpoint",
            "id": str(uuid.uuid4()),
        }
        if problems := _handler_problems(endpoint):
            return _validation_response(problems)
        with self._lock:
            if self._username_taken(endpoint["username"], by_other_than=None):
                return _validation_response([DUPLICATE_USERNAME_DETAIL])
            self._endpoints[str(endpoint["id"])] = endpoint
            self._commits_by_operation["create"] += 1
            created = _public_view(endpoint)
        return _json_response(201, created)

    def _update(self, endpoint_id: str, body: bytes) -> _Response:
        fields, problems = _parse_object(body)
        if problems or (problems := _field_problems(fields, null_clears=True)):
            return _validation_response(problems)
        changes = {
            name: _cleared_value(name) if value is None else copy.deepcopy(value) for name, value in fields.items()
        }
        with self._lock:
            stored = self._endpoints.get(endpoint_id)
            if stored is None:
                return _error_response(404, "Not Found")
            updated = {**stored, **changes}
            if problems := _handler_problems(updated):
                return _validation_response(problems)
            if self._username_taken(updated["username"], by_other_than=endpoint_id):
                return _validation_response([DUPLICATE_USERNAME_DETAIL])
            self._endpoints[endpoint_id] = updated
            self._commits_by_operation["update"] += 1
            return _json_response(200, _public_view(updated))

    def _retrieve(self, endpoint_id: str) -> _Response:
        with self._lock:
            stored = self._endpoints.get(endpoint_id)
            if stored is None:
                return _error_response(404, "Not Found")
            return _json_response(200, _public_view(stored))

    def _delete(self, endpoint_id: str) -> _Response:
        with self._lock:
            if self._endpoints.pop(endpoint_id, None) is None:
                return _error_response(404, "Not Found")
            self._commits_by_operation["delete"] += 1
        return _Response(204)

    def _list(self, query: str) -> _Response:
        parameters = {name: values[-1] for name, values in parse_qs(query, keep_blank_values=True).items()}
        page_size = _parse_int(parameters.get("page_size", str(_DEFAULT_PAGE_SIZE)), 1, _MAX_PAGE_SIZE)
        page_number = _parse_int(parameters.get("page_number", "0"), 0, None)
        problems: list[str] = []
        if page_size is None:
            problems.append(f"page_size must be an integer from 1 to {_MAX_PAGE_SIZE}")
        if page_number is None:
            problems.append("page_number must be an integer of at least 0")
        if problems or page_size is None or page_number is None:
            return _validation_response(problems)
        filters = {name: parameters[name] for name in ("filter_username", "filter_caller_id") if parameters.get(name)}
        with self._lock:
            if page_number > 0 and self._page_tokens.get(parameters.get("page_token", "")) != page_number:
                return _validation_response(["page_token is missing or invalid for this page_number"])
            matching = [
                _public_view(endpoint)
                for endpoint in reversed(self._endpoints.values())
                if _matches_filters(endpoint, filters)
            ]
            page = matching[page_number * page_size : (page_number + 1) * page_size]
            links = {
                "self": self._page_link(filters, page_number, page_size),
                "first": self._page_link(filters, 0, page_size),
            }
            if (page_number + 1) * page_size < len(matching):
                links["next"] = self._page_link(filters, page_number + 1, page_size)
            if page_number > 0:
                links["prev"] = self._page_link(filters, page_number - 1, page_size)
        return _json_response(200, {"links": links, "data": page})

    def _page_link(self, filters: Mapping[str, str], page_number: int, page_size: int) -> str:
        """A full URL of a list page; pages after the first carry a freshly issued page_token."""
        parameters: dict[str, str | int] = {**filters, "page_number": page_number, "page_size": page_size}
        if page_number > 0:
            token = secrets.token_urlsafe(16)
            self._page_tokens[token] = page_number
            parameters["page_token"] = token
        return f"{self.base_url}{COLLECTION_PATH}?{urlencode(parameters)}"

    def _username_taken(self, username: object, *, by_other_than: str | None) -> bool:
        return any(
            endpoint["username"] == username and endpoint_id != by_other_than
            for endpoint_id, endpoint in self._endpoints.items()
        )


def _parse_object(body: bytes) -> tuple[dict[str, object], list[str]]:
    try:
        document = json.loads(body)
    except ValueError:
        return {}, ["The request body must be valid JSON"]
    if not isinstance(document, dict):
        return {}, ["The request body must be a JSON object"]
    return document, []


def _parse_int(text: str, minimum: int, maximum: int | None) -> int | None:
    try:
        number = int(text)
    except ValueError:
        return None
    if number < minimum or (maximum is not None and number > maximum):
        return None
    return number


def _matches_filters(endpoint: Mapping[str, object], filters: Mapping[str, str]) -> bool:
    username = endpoint["username"]
    caller_id = endpoint["caller_id"]
    return ("filter_username" not in filters or filters["filter_username"] in str(username)) and (
        "filter_caller_id" not in filters or filters["filter_caller_id"] in str(caller_id or "")
    )


def _route(method: str, path: str) -> tuple[str | None, str | None]:
    """The operation and endpoint id a request addresses; (None, None) when none."""
    if path == COLLECTION_PATH:
        return {"GET": "list", "POST": "create"}.get(method), None
    prefix, _, endpoint_id = path.rpartition("/")
    if prefix == COLLECTION_PATH and endpoint_id:
        return {"GET": "retrieve", "PUT": "update", "DELETE": "delete"}.get(method), endpoint_id
    return None, None


class _RequestHandler(BaseHTTPRequestHandler):
    server_version = "SignalWireEmulator"
    # Keep-alive, as SignalWire's HTTPS front does: clients that pool connections can reuse them.
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: without TCP_NODELAY a kept-alive client waits out
    # the peer's delayed ACK (~40 ms) on every request.
    disable_nagle_algorithm = True

    def __init__(self, *args: Any, emulator: SignalWireEmulator, **kwargs: Any) -> None:
        self._emulator = emulator
        super().__init__(*args, **kwargs)

    def setup(self) -> None:
        super().setup()
        self._emulator._count_connection()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        operation, endpoint_id = _route(self.command, url.path)
        body = self._read_body()
        rule, generation = self._emulator._receive(operation)

        def perform() -> _Response:
            authorization = self.headers["Authorization"]
            return self._emulator._perform(operation, endpoint_id, url.query, body, authorization)

        if rule is None:
            self._send(perform())
            return
        retry_after = {} if rule.retry_after is None else {"Retry-After": str(rule.retry_after)}
        match rule.fault:
            case Fault.SERVER_ERROR:
                self._send(_error_response(500, "Internal Server Error"))
            case Fault.SERVICE_UNAVAILABLE:
                self._send(_error_response(503, "Service Unavailable", retry_after))
            case Fault.RATE_LIMITED:
                self._send(_error_response(429, "Too Many Requests", retry_after))
            case Fault.NON_JSON:
                self._send(_Response(200, _NON_JSON_PAGE, {"Content-Type": "text/html"}))
            case Fault.CLOSE_CONNECTION:
                self.close_connection = True  # unanswered, and no further request on this connection
            case Fault.COMMIT_THEN_CLOSE:
                perform()
                self.close_connection = True
            case Fault.HANG:
                time.sleep(rule.delay_seconds)
                if self._emulator._is_current(generation):
                    self._send(perform())
                else:
                    self.close_connection = True

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, response: _Response) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.status != 204:
                self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # A client that gave up (read timeout) is expected after a HANG fault.
            _logger.debug("client went away before the answer to %s %s", self.command, self.path)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Method, path (no query) and status only: never headers, bodies or credentials.
        _logger.info("%s %s %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug(format, *args)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the emulator until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description="Local SignalWire SIP endpoints API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--project-id", default="local-project")
    parser.add_argument("--api-token", default="local-token")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    stop_requested = threading.Event()

    def request_stop(signal_number: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    with SignalWireEmulator(arguments.project_id, arguments.api_token, arguments.host, arguments.port) as emulator:
        print(f"SignalWire emulator on {emulator.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop_requested.wait()


if __name__ == "__main__":
    main()
