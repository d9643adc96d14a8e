"""A local stand-in for API Gateway HTTP API in front of Lambda functions, over real HTTP.

Each request becomes a payload format 2.0 event the way API Gateway builds it for a `$default`
route on the `$default` stage behind the IAM authorizer, and the handler's answer is written
back the way API Gateway reads a format 2.0 response. Routes (`POST /chatops/slack`,
`GET /endpoints/{username}`, `ANY /scim/v2/{proxy+}`) send a method and path, a path with
variables, or every path under a prefix, to a function, with or without the IAM authorizer; their
events carry that route key. Choices, where it matters:

- Bodies are base64-encoded unless the content type is text (`text/*`, JSON, JavaScript, XML
  and their `+json`/`+xml` variants) and the bytes are valid UTF-8. API Gateway base64-encodes
  `application/x-www-form-urlencoded` bodies too, and so does this gateway, so a handler that
  forgets to decode them fails here as it would in AWS.
- Behind the IAM authorizer, a request signed with SigV4 (service `execute-api`, region
  `us-east-1`) is verified as API Gateway verifies it (local/sigv4.py) against the access keys
  the gateway is given, and runs as that key's identity; a signature that does not verify, an
  unknown key or a stale date is API Gateway's 403 with its message, and reaches no function.
  An unsigned request runs as the gateway's configured caller, or is a 403 `Forbidden` when
  signatures are required. Routes without the IAM authorizer are never checked.
- `domainName` is the host the client addressed (the Host header), as it is for a custom
  domain in AWS.
- Requests are served concurrently. A handler that runs in this process is called under an
  invocation lock (one at a time, as in one execution environment: Powertools' logger keys and
  metrics are per-process state), which other local stand-ins can share; `make run` passes
  handlers backed by execution environments (local/environments.py) and no lock. A throttled
  function (`Throttled`) or a failed one (`InvocationFailed`) is API Gateway's 500.
- Routes come as API Gateway keys them: `POST /chatops/slack`, `GET /endpoints/{username}`
  (path variables as `pathParameters`, percent-decoded), `ANY /scim/v2/{proxy+}`. Without a
  `$default` handler, a request no route takes is API Gateway's 404 `{"message":"Not Found"}`;
  no route, `ANY` included, takes a method API Gateway does not route (`TRACE`, `FOO`).
- A route without the IAM authorizer gets an event without `requestContext.authorizer`, as
  API Gateway sends it for a route whose authorization is NONE.
- Bodies above API Gateway's 10 MB limit get its 413 answer; the handler is not invoked.
- A handler that raises, or returns something that is not a format 2.0 response, gets API
  Gateway's `500 {"message":"Internal Server Error"}`; the traceback goes to this log.
"""

import base64
import binascii
import functools
import hashlib
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from aws_lambda_powertools.utilities.typing import LambdaContext

from local.environments import InvocationFailed, Throttled
from local.loopback import LoopbackServer
from local.sigv4 import Credentials, SignatureRefused, SignedRequest, is_signed, verify

_logger = logging.getLogger(__name__)

type LambdaEvent = dict[str, Any]
type LambdaHandler = Callable[[LambdaEvent, LambdaContext], dict[str, Any]]

MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API payload quota
LOCAL_DEVELOPER_ARN = "arn:aws:iam::123456789012:user/local-developer"

_TEXT_MEDIA_TYPES = frozenset({"application/json", "application/javascript", "application/xml"})
_INTERNAL_ERROR_BODY = b'{"message":"Internal Server Error"}'
_TOO_LARGE_BODY = b'{"message":"Request Entity Too Large"}'
_NOT_FOUND_BODY = b'{"message":"Not Found"}'
_FORBIDDEN_MESSAGE = "Forbidden"
_GREEDY_SUFFIX = "/{proxy+}"
_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "ANY"})
_ROUTED_METHODS = _HTTP_METHODS - {"ANY"}
# Set by the HTTP layer from the connection, never passed on from the Lambda response.
_HOP_BY_HOP_HEADERS = frozenset({"connection", "content-length", "transfer-encoding", "keep-alive"})
# `time` in requestContext uses English month names whatever the process locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class IamCaller:
    """The identity API Gateway's IAM authorizer reports for a SigV4-signed request."""

    user_arn: str = LOCAL_DEVELOPER_ARN
    user_id: str = "AIDALOCALDEVELOPER01"
    access_key: str = "AKIALOCALDEVELOPER01"
    principal_org_id: str | None = None

    @classmethod
    def for_arn(cls, user_arn: str, access_key: str, principal_org_id: str | None = None) -> "IamCaller":
        """The identity API Gateway reports for `user_arn` signing with `access_key`: an IAM user's
        id (`AIDA...`), or for an assumed role the role's id and the session (`AROA...:session`).
        The ids are made up, stable for an ARN."""
        account, resource = user_arn.split(":", 5)[4:]
        kind, _, name = resource.partition("/")
        digest = base64.b32encode(hashlib.sha256(f"{account}:{kind}/{name}".encode()).digest()).decode()
        if kind == "assumed-role":
            role, _, session = name.rpartition("/")
            role_digest = base64.b32encode(hashlib.sha256(f"{account}:role/{role}".encode()).digest()).decode()
            user_id = f"AROA{role_digest[:17]}:{session}"
        elif kind == "role":
            user_id = f"AROA{digest[:17]}"
        elif resource == "root":
            user_id = account
        else:
            user_id = f"AIDA{digest[:17]}"
        return cls(user_arn=user_arn, user_id=user_id, access_key=access_key, principal_org_id=principal_org_id)

    @property
    def account_id(self) -> str:
        return self.user_arn.split(":")[4]

    def authorizer_context(self) -> dict[str, Any]:
        return {
            "iam": {
                "accessKey": self.access_key,
                "accountId": self.account_id,
                "callerId": self.user_id,
                "cognitoIdentity": None,
                "principalOrgId": self.principal_org_id,
                "userArn": self.user_arn,
                "userId": self.user_id,
            }
        }


@dataclass(frozen=True)
class SigningCaller:
    """An access key the gateway accepts SigV4 signatures from, and the identity it reports for them."""

    credentials: Credentials
    caller: IamCaller


@dataclass(frozen=True)
class LambdaFunction:
    """What the Lambda runtime tells a function about itself (the template's settings)."""

    name: str = "sip-provisioner-local"
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 25.0
    region: str = "us-east-1"
    account_id: str = "123456789012"

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"


class LocalLambdaContext(LambdaContext):
    """The context object of one invocation; the remaining time counts down from its start."""

    def __init__(self, function: LambdaFunction) -> None:
        self._function_name = function.name
        self._function_version = "$LATEST"
        self._invoked_function_arn = function.arn
        self._memory_limit_in_mb = function.memory_limit_in_mb
        self._aws_request_id = str(uuid.uuid4())
        self._log_group_name = f"/aws/lambda/{function.name}"
        self._log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + function.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _is_text(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in _TEXT_MEDIA_TYPES or media_type.endswith(("+json", "+xml"))


def _encode_body(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """The event's `body` and `isBase64Encoded` for these bytes."""
    if _is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass  # not text after all: deliver the bytes intact
    return base64.b64encode(body).decode("ascii"), True


def _request_id() -> str:
    # API Gateway's ids look like "JKJaXmPLvHcESHA=": 16 base64 characters.
    return base64.b64encode(secrets.token_bytes(11)).decode("ascii")


def _trace_id(now: datetime) -> str:
    return f"Root=1-{int(now.timestamp()):08x}-{secrets.token_hex(12)}"


def build_event(
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    caller: IamCaller | None = None,
    iam_authorizer: bool = True,
    route_key: str = "$default",
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    protocol: str = "HTTP/1.1",
) -> LambdaEvent:
    """The payload format 2.0 event API Gateway sends for this request.

    `path` is the request path as sent (still percent-encoded), `query` the raw query string
    without `?`, `headers` every header line in order (a name may repeat). Without
    `iam_authorizer` the event has no authorizer context and `caller` only names the account.
    `path_parameters` are the route's path variables (`proxy` of a greedy route).
    """
    caller = caller or IamCaller()
    now = datetime.now(UTC)
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        lower_name = name.lower()
        if lower_name == "cookie":
            cookies.extend(cookie.strip() for cookie in value.split(";") if cookie.strip())
        else:
            joined[lower_name] = f"{joined[lower_name]},{value}" if lower_name in joined else value
    joined["x-amzn-trace-id"] = _trace_id(now)
    joined["x-forwarded-for"] = (
        f"{joined['x-forwarded-for']}, {source_ip}" if "x-forwarded-for" in joined else source_ip
    )
    joined["x-forwarded-proto"] = "http"

    domain_name = (urlsplit(f"//{joined.get('host', '')}").hostname or "localhost").lower()
    request_context: dict[str, Any] = {
        "accountId": caller.account_id,
        "apiId": "local",
        "authorizer": caller.authorizer_context(),
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".", 1)[0],
        "http": {
            "method": method.upper(),
            "path": path,
            "protocol": protocol,
            "sourceIp": source_ip,
            "userAgent": joined.get("user-agent", ""),
        },
        "requestId": _request_id(),
        "routeKey": route_key,
        "stage": "$default",
        "time": f"{now:%d}/{_MONTHS[now.month - 1]}/{now:%Y:%H:%M:%S} +0000",
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if not iam_authorizer:
        del request_context["authorizer"]
    event: LambdaEvent = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    parameters: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
    if parameters:
        event["queryStringParameters"] = parameters
    event["requestContext"] = request_context
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        event["body"], event["isBase64Encoded"] = _encode_body(body, joined.get("content-type"))
    else:
        event["isBase64Encoded"] = False
    return event


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _internal_error() -> GatewayResponse:
    return GatewayResponse(500, [("Content-Type", "application/json")], _INTERNAL_ERROR_BODY)


def _forbidden(message: str = _FORBIDDEN_MESSAGE, error_type: str | None = None) -> GatewayResponse:
    """API Gateway's 403 for a request its IAM authorizer refuses."""
    headers = [("Content-Type", "application/json")]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    return GatewayResponse(HTTPStatus.FORBIDDEN, headers, json.dumps({"message": message}).encode())


def _read_lambda_response(result: object) -> GatewayResponse:
    """What API Gateway answers for a format 2.0 Lambda response (500 when it is malformed)."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        _logger.error("The handler returned something that is not a format 2.0 response")
        return _internal_error()
    headers = [
        (str(name), str(value))
        for name, value in (result.get("headers") or {}).items()
        if str(name).lower() not in _HOP_BY_HOP_HEADERS
    ]
    headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
    body = result.get("body") or ""
    if not isinstance(body, str):
        _logger.error("The handler returned a body that is not a string")
        return _internal_error()
    if result.get("isBase64Encoded"):
        try:
            return GatewayResponse(result["statusCode"], headers, base64.b64decode(body, validate=True))
        except binascii.Error:
            _logger.error("The handler returned a body flagged base64 that is not base64")
            return _internal_error()
    return GatewayResponse(result["statusCode"], headers, body.encode("utf-8"))


@dataclass(frozen=True)
class Route:
    """A route of its own: the function that serves it, and whether it sits behind the IAM authorizer.

    Its key, as in API Gateway, is a method (or `ANY`) and a path: one path exactly
    (`POST /chatops/slack`), with variables for whole segments (`GET /endpoints/{username}`), or
    with a greedy variable every path under a prefix (`ANY /scim/v2/{proxy+}`, whose events carry
    `pathParameters.proxy`). A request goes to the most specific route: not greedy before greedy,
    more literal segments first, then longer paths, its method before `ANY`; else `$default`.
    """

    handler: LambdaHandler
    function: LambdaFunction
    iam_authorizer: bool = True


class _PayloadTooLarge(Exception):
    pass


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    # Callers open dozens of connections at once; the default backlog of 5 would reset some.
    request_queue_size = 128


def _parse_route_key(route_key: str) -> tuple[str, tuple[str, ...], bool]:
    """Method, path segments (a greedy route's without its last) and whether it is greedy;
    ValueError for another shape."""
    method, _, path = route_key.partition(" ")
    greedy = path.endswith(_GREEDY_SUFFIX)
    segments = tuple(path.removesuffix(_GREEDY_SUFFIX).split("/")[1:]) if path != "/" else ()
    well_formed = all(
        "{" not in segment or (segment.startswith("{") and segment.endswith("}") and "+" not in segment)
        for segment in segments
    )
    if method not in _HTTP_METHODS or not path.startswith("/") or not well_formed or " " in path:
        raise ValueError(f"not a route key: {route_key!r} (like 'POST /chatops/slack' or 'ANY /scim/v2/{{proxy+}}')")
    return method, segments, greedy


def _match_segments(route_segments: tuple[str, ...], greedy: bool, path_segments: list[str]) -> dict[str, str] | None:
    """The path parameters when a request's path segments match a route's, else None."""
    if greedy:
        if len(path_segments) <= len(route_segments) or not "/".join(path_segments[len(route_segments) :]):
            return None
    elif len(path_segments) != len(route_segments):
        return None
    parameters = {}
    for expected, actual in zip(route_segments, path_segments, strict=False):
        if expected.startswith("{"):
            if not actual:
                return None
            parameters[expected[1:-1]] = unquote(actual)
        elif expected != actual:
            return None
    if greedy:
        parameters["proxy"] = unquote("/".join(path_segments[len(route_segments) :]))
    return parameters


class LocalGateway(LoopbackServer):
    """Serves `handler` on a loopback port as API Gateway would, and each of `routes` (keyed by
    route key, `POST /chatops/slack`, `ANY /scim/v2/{proxy+}`) by its own function.

    Behind the IAM authorizer, a request signed by one of `signing_callers` (keyed by access key
    id) runs as that caller; another signed request is refused with API Gateway's 403. An
    unsigned one runs as `caller`, or is refused when `require_sigv4`."""

    thread_name = "local-gateway"

    def __init__(
        self,
        handler: LambdaHandler | None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        caller: IamCaller | None = None,
        function: LambdaFunction | None = None,
        routes: Mapping[str, Route] | None = None,
        invocation_lock: AbstractContextManager[Any] | None = None,
        signing_callers: Mapping[str, SigningCaller] | None = None,
        require_sigv4: bool = False,
    ) -> None:
        super().__init__(host, port)
        self.caller = caller or IamCaller()
        self.function = function or LambdaFunction(account_id=self.caller.account_id)
        self.signing_callers = dict(signing_callers or {})
        for access_key_id, signing in self.signing_callers.items():
            if access_key_id != signing.credentials.access_key_id:
                raise ValueError(f"signing caller {access_key_id!r} holds the credentials of another access key")
        self.require_sigv4 = require_sigv4
        self._credentials = {key: signing.credentials for key, signing in self.signing_callers.items()}
        self._default_route = Route(handler, self.function) if handler is not None else None
        self._routes = dict(routes or {})
        # Most specific first: more literal segments, not greedy, a method before ANY.
        self._ordered_routes: list[tuple[str, str, tuple[str, ...], bool, Route]] = []
        for route_key, route in self._routes.items():
            method, segments, greedy = _parse_route_key(route_key)
            self._ordered_routes.append((route_key, method, segments, greedy, route))
        self._ordered_routes.sort(
            key=lambda entry: (
                entry[3],
                -sum(not segment.startswith("{") for segment in entry[2]),
                -len(entry[2]),
                entry[1] == "ANY",
            )
        )
        self._invocation_lock = invocation_lock or threading.Lock()

    def _make_server(self, address: tuple[str, int]) -> ThreadingHTTPServer:
        return _GatewayServer(address, functools.partial(_GatewayRequestHandler, gateway=self))

    def match(self, method: str, path: str) -> tuple[str, Route, dict[str, str]] | None:
        """The route key, route and path parameters of a request (`path` as sent); None when no
        route takes it (API Gateway's 404)."""
        method = method.upper()
        path_segments = path.split("/")[1:]
        for route_key, route_method, segments, greedy, route in self._ordered_routes:
            # `ANY` is every method API Gateway routes, not `TRACE` or a made-up one.
            if route_method not in (method, "ANY") or method not in _ROUTED_METHODS:
                continue
            parameters = _match_segments(segments, greedy, path_segments)
            if parameters is not None:
                return route_key, route, parameters
        if self._default_route is None:
            return None
        return "$default", self._default_route, {}

    def authenticate(self, request: SignedRequest) -> IamCaller:
        """The IAM caller a request behind the IAM authorizer runs as; SignatureRefused when refused."""
        if not is_signed(request.headers, request.query):
            if self.require_sigv4:
                raise SignatureRefused(_FORBIDDEN_MESSAGE, "")
            return self.caller
        credentials = verify(request, self._credentials)
        return self.signing_callers[credentials.access_key_id].caller

    def invoke(self, event: LambdaEvent, route: Route | None = None) -> GatewayResponse:
        """Run the route's handler (the default one's without `route`) on one event, as API
        Gateway's Lambda integration does."""
        route = route or self._default_route
        if route is None:
            raise ValueError("no route to invoke: the gateway has no $default route")
        with self._invocation_lock:
            try:
                result = route.handler(event, LocalLambdaContext(route.function))
            except Throttled as throttled:
                # Lambda's 429 reaches the caller as API Gateway's 500 (integrationErrorMessage "Rate Exceeded").
                _logger.warning("%s throttled (%s): answering 500 as API Gateway does", route.function.name, throttled)
                return _internal_error()
            except InvocationFailed as failure:
                _logger.error("%s failed (%s): answering 500 as API Gateway does", route.function.name, failure)
                return _internal_error()
            except Exception:
                _logger.exception("The handler raised; answering 500 as API Gateway does")
                return _internal_error()
        return _read_lambda_response(result)


class _GatewayRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LocalApiGateway"
    # Headers and body are separate writes: without TCP_NODELAY a kept-alive client waits out
    # the peer's delayed ACK (~40 ms) on every request.
    disable_nagle_algorithm = True

    def __init__(self, *args: Any, gateway: LocalGateway, **kwargs: Any) -> None:
        self._gateway = gateway
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def do_PUT(self) -> None:
        self._forward()

    def do_PATCH(self) -> None:
        self._forward()

    def do_DELETE(self) -> None:
        self._forward()

    def do_OPTIONS(self) -> None:
        self._forward()

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method without a `do_` handler with its own HTML 501; API Gateway
        # answers any method it does not route with its JSON 404, which `_forward` gives.
        if name.startswith("do_"):
            return self._forward
        raise AttributeError(name)

    def _forward(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(HTTPStatus.BAD_REQUEST, "Malformed body framing")
            return
        except _PayloadTooLarge:
            self.close_connection = True  # the rest of the body is not read
            self._send(
                GatewayResponse(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE, [("Content-Type", "application/json")], _TOO_LARGE_BODY
                )
            )
            return
        target = urlsplit(self.path)
        path = target.path or "/"
        matched = self._gateway.match(self.command, path)
        if matched is None:
            not_found = GatewayResponse(HTTPStatus.NOT_FOUND, [("Content-Type", "application/json")], _NOT_FOUND_BODY)
            not_found.headers.append(("apigw-requestid", _request_id()))
            self._send(not_found)
            return
        route_key, route, path_parameters = matched
        caller = self._gateway.caller
        if route.iam_authorizer:
            request = SignedRequest(self.command, path, target.query, tuple(self.headers.items()), body)
            try:
                caller = self._gateway.authenticate(request)
            except SignatureRefused as refusal:
                _logger.info("%s %s refused by the IAM authorizer: %s", self.command, path, refusal.message)
                response = _forbidden(refusal.message, refusal.error_type or None)
                response.headers.append(("apigw-requestid", _request_id()))
                self._send(response)
                return
        event = build_event(
            self.command,
            path,
            target.query,
            self.headers.items(),
            body,
            caller=caller,
            iam_authorizer=route.iam_authorizer,
            route_key=route_key,
            path_parameters=path_parameters,
            source_ip=str(self.client_address[0]),
            protocol=self.request_version,
        )
        response = self._gateway.invoke(event, route)
        response.headers.append(("apigw-requestid", event["requestContext"]["requestId"]))
        self._send(response)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked_body()
        length = int(self.headers.get("Content-Length", "0"))  # ValueError: answered 400
        if length > MAX_REQUEST_BODY_BYTES:
            self._discard(length)
            raise _PayloadTooLarge
        return self.rfile.read(length) if length > 0 else b""

    def _discard(self, length: int) -> None:
        # Read what the client sends before answering: closing on unread data resets the
        # connection, and the client could lose the 413 with it.
        while length > 0 and (chunk := self.rfile.read(min(length, 1 << 16))):
            length -= len(chunk)

    def _read_chunked_body(self) -> bytes:
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers, up to the blank line
                    pass
                return bytes(body)
            if len(body) + size > MAX_REQUEST_BODY_BYTES:
                raise _PayloadTooLarge
            body += self.rfile.read(size)
            self.rfile.readline()  # the CRLF after each chunk

    def _send(self, response: GatewayResponse) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            _logger.info("The client went away before the answer to %s %s", self.command, urlsplit(self.path).path)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Method, path and status: the query and headers may carry things that do not belong in logs.
        _logger.info("%s %s %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug(format, *args)
