"""What API Gateway's HTTP API (payload format 2.0) hands a function and takes back: the request,
read once from the event; routes matched by method and path; the answer as a proxy result.

The HTTP API, SCIM and Slack entries share it. It replaced Powertools' resolver, whose import
and first request cost more of every cold start than the routing it did (docs/performance.md)."""

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

# One path segment, as Powertools' resolver matched it: anything but `/` (and `?`, `#`, which API
# Gateway never leaves in a path). A `/` inside a parameter arrives percent-encoded.
_SEGMENT = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"


@dataclass(frozen=True)
class GatewayRequest:
    method: str
    # The path the routes see: without the stage, or the prefix the entry strips.
    path: str
    # As the client sent it, with the stage: where a `meta.location` must point.
    raw_path: str
    # Header names in lower case (API Gateway passes them so; the local gateway may not).
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: str | None
    body_is_base64: bool
    request_id: str
    domain_name: str
    # The signer's ARN (API Gateway's IAM authorizer), on routes behind it.
    signer: str | None

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> "GatewayRequest":
        context = event.get("requestContext") or {}
        raw_path = event.get("rawPath") or "/"
        stage = context.get("stage") or "$default"
        iam = (context.get("authorizer") or {}).get("iam") or {}
        return cls(
            method=str((context.get("http") or {}).get("method", "")).upper(),
            path=raw_path if stage == "$default" else raw_path[len("/" + stage) :],
            raw_path=raw_path,
            headers={str(name).lower(): value for name, value in (event.get("headers") or {}).items()},
            query=event.get("queryStringParameters") or {},
            body=event.get("body"),
            body_is_base64=bool(event.get("isBase64Encoded")),
            request_id=str(context.get("requestId", "")),
            domain_name=str(context.get("domainName", "")),
            signer=iam.get("userArn") or iam.get("callerId"),
        )

    def without_prefix(self, prefix: str) -> "GatewayRequest":
        """The request as routes below `prefix` see it (`/scim/v2/Users` is `/Users`)."""
        if self.path == prefix:
            return replace(self, path="/")
        if self.path.startswith(prefix + "/"):
            return replace(self, path=self.path[len(prefix) :])
        return self

    @property
    def media_type(self) -> str:
        """The body's media type without its parameters, in lower case (media types are
        case-insensitive, RFC 9110); '' when the request names none."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def body_bytes(self) -> bytes:
        """The body's bytes as the client sent them (API Gateway base64-encodes what is not text).
        Raises `binascii.Error` for base64 that is not."""
        body = self.body or ""
        if self.body_is_base64:
            return base64.b64decode(body, validate=True)
        return body.encode("utf-8", "surrogatepass")

    def text(self) -> str:
        """The body as text. Raises `UnicodeDecodeError` or `binascii.Error` for a body that is not."""
        if not self.body_is_base64:
            return self.body or ""
        return self.body_bytes().decode("utf-8")


@dataclass(frozen=True)
class GatewayAnswer:
    status: int
    body: str = ""
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def as_result(self) -> dict[str, Any]:
        """The proxy result API Gateway turns into the HTTP answer."""
        headers = {"Content-Type": self.content_type} if self.content_type else {}
        return {
            "statusCode": self.status,
            "body": self.body,
            "isBase64Encoded": False,
            "headers": {**headers, **self.headers},
        }


class Routed(Protocol):
    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...


def path_pattern(template: str) -> re.Pattern[str]:
    """`/endpoints/{username}` as a pattern whose named groups are the path's parameters."""
    segments = (
        f"(?P<{segment[1:-1]}>{_SEGMENT})" if segment.startswith("{") else re.escape(segment)
        for segment in template.split("/")
    )
    return re.compile("^" + "/".join(segments) + "$")


class RouteTable[R: Routed]:
    """Routes matched in the order given, by method and path template (`{name}`: one segment)."""

    def __init__(self, routes: Sequence[R]) -> None:
        self._routes = [(route, path_pattern(route.path)) for route in routes]

    def match(self, method: str, path: str) -> tuple[R, dict[str, str]] | None:
        for route, pattern in self._routes:
            if route.method == method and (found := pattern.match(path)):
                return route, found.groupdict()
        return None
