"""Signature Version 4 verification of a request, as API Gateway's IAM authorizer does it.

Only the verifying side lives here: clients sign with botocore (`SigV4Auth`), `awscurl` or any
other SigV4 signer, for service `execute-api`. What is checked, and refused with API Gateway's
own words when it fails:

- the `Authorization` header: `AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request,
  SignedHeaders=<names>, Signature=<hex>`, every part present;
- the credential scope: its date is the request's date, its region and service the API's;
- the request's date (`X-Amz-Date`, else `Date`) within 5 minutes of now, either way;
- `host`, the date header and `x-amz-security-token` (when sent) among the signed headers, and
  every signed header present in the request;
- the access key is known, and its session token, when it has one, is the one sent;
- the payload: `x-amz-content-sha256`, when sent, is the body's SHA-256 (so a signed hash cannot
  cover another body); otherwise the body's hash is computed here;
- the signature itself, over the canonical request, compared in constant time.

The canonical URI is the path as received, its dot segments and repeated slashes removed, and
percent-encoded once more (`/endpoints/a%2Fb` is signed as `/endpoints/a%252Fb`), as the SigV4
rules for every service but S3 say and as botocore and awscurl sign it; the path without the
normalisation is accepted too (awscurl does not normalise). The canonical query string is each
parameter decoded and encoded again, sorted; botocore's form (the parameters as sent, sorted) is
accepted too, so a query botocore signs verbatim verifies.
"""

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
REGION = "us-east-1"
MAX_CLOCK_SKEW = timedelta(minutes=5)
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
# The query parameters of a presigned URL: a signature this gateway does not take from the query.
_PRESIGNED_QUERY_PARAMETERS = ("x-amz-algorithm=", "x-amz-credential=", "x-amz-signature=")


@dataclass(frozen=True)
class Credentials:
    """An access key a caller signs with: its secret and, for temporary credentials, its session token."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


class SignatureRefused(Exception):
    """A request whose signature does not verify; `message` is what API Gateway answers, `error_type`
    its `x-amzn-ErrorType`. Neither repeats a secret or the request's headers."""

    def __init__(self, message: str, error_type: str = "InvalidSignatureException") -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type


@dataclass(frozen=True)
class SignedRequest:
    """A request as the gateway received it: method, path and query as sent (still percent-encoded,
    the query without `?`), every header line in order, and the body."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header_values(self, name: str) -> list[str]:
        return [value for header, value in self.headers if header.lower() == name]


def is_signed(headers: Iterable[tuple[str, str]], query: str) -> bool:
    """Whether the request carries a signature at all (an `Authorization` header or a presigned query)."""
    if any(name.lower() == "authorization" for name, _ in headers):
        return True
    return any(pair.lower().startswith(_PRESIGNED_QUERY_PARAMETERS) for pair in query.split("&"))


def verify(
    request: SignedRequest,
    credentials: Mapping[str, Credentials],
    *,
    now: datetime | None = None,
    region: str = REGION,
    service: str = SERVICE,
) -> Credentials:
    """The credentials that signed `request`; SignatureRefused when it is not signed by one of them."""
    now = now or datetime.now(UTC)
    authorization = request.header_values("authorization")
    if not authorization:
        raise SignatureRefused(
            "Presigned URLs are not supported by the local gateway: sign the Authorization header.",
            "IncompleteSignatureException",
        )
    if len(authorization) > 1:
        raise SignatureRefused("Only one Authorization header is allowed.", "IncompleteSignatureException")
    credential, signed_headers, signature = _parse_authorization(authorization[0])
    access_key_id, scope = _parse_credential(credential)
    timestamp = _request_timestamp(request, signed_headers)
    _check_scope(scope, timestamp, region, service)
    _check_clock(timestamp, now)
    known = credentials.get(access_key_id)
    if known is None:
        raise SignatureRefused("The security token included in the request is invalid.", "UnrecognizedClientException")
    _check_session_token(request, known, signed_headers)
    payload_hash = _payload_hash(request)
    expected = _signing_key(known.secret_access_key, scope[0], region, service)
    string_to_sign_prefix = f"{ALGORITHM}\n{timestamp}\n{'/'.join(scope)}\n"
    canonical_headers = _canonical_headers(request, signed_headers)
    given = signature.encode("utf-8")
    for canonical_uri in _canonical_uris(request.path):
        for canonical_query in _canonical_queries(request.query):
            canonical_request = "\n".join(
                (
                    request.method.upper(),
                    canonical_uri,
                    canonical_query,
                    canonical_headers,
                    ";".join(signed_headers),
                    payload_hash,
                )
            )
            digest = hashlib.sha256(canonical_request.encode("utf-8", "surrogateescape")).hexdigest()
            computed = hmac.new(expected, (string_to_sign_prefix + digest).encode("utf-8"), hashlib.sha256)
            if hmac.compare_digest(computed.hexdigest().encode("ascii"), given):
                return known
    raise SignatureRefused(
        "The request signature we calculated does not match the signature you provided. Check your AWS "
        "Secret Access Key and signing method. Consult the service documentation for details."
    )


def _parse_authorization(value: str) -> tuple[str, list[str], str]:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureRefused(
            f"Authorization header requires the {ALGORITHM} algorithm.", "IncompleteSignatureException"
        )
    parameters: dict[str, str] = {}
    for part in rest.split(","):
        name, equals, parameter = part.strip().partition("=")
        if not equals:
            raise SignatureRefused(
                "Invalid key=value pair (missing equal-sign) in Authorization header.", "IncompleteSignatureException"
            )
        parameters[name] = parameter.strip()
    missing = [name for name in ("Credential", "Signature", "SignedHeaders") if not parameters.get(name)]
    if missing:
        raise SignatureRefused(
            " ".join(f"Authorization header requires '{name}' parameter." for name in missing),
            "IncompleteSignatureException",
        )
    signed_headers = parameters["SignedHeaders"].split(";")
    if "host" not in signed_headers:
        raise SignatureRefused(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", "IncompleteSignatureException"
        )
    return parameters["Credential"], signed_headers, parameters["Signature"]


def _parse_credential(credential: str) -> tuple[str, tuple[str, str, str, str]]:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise SignatureRefused(
            "Credential should be scoped to a valid date, region, service and terminator: "
            "'<access key>/<yyyyMMdd>/<region>/<service>/aws4_request'.",
            "IncompleteSignatureException",
        )
    return parts[0], (parts[1], parts[2], parts[3], parts[4])


def _request_timestamp(request: SignedRequest, signed_headers: list[str]) -> str:
    """The request's date in SigV4's basic ISO 8601 form, from a signed `X-Amz-Date` or `Date`."""
    amz_date = request.header_values("x-amz-date")
    if amz_date:
        if "x-amz-date" not in signed_headers:
            raise SignatureRefused("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
        try:
            datetime.strptime(amz_date[0], TIMESTAMP_FORMAT)
        except ValueError:
            raise SignatureRefused(
                "Date must be in ISO-8601 'basic format'. Got something else.", "IncompleteSignatureException"
            ) from None
        return amz_date[0]
    date = request.header_values("date")
    if not date:
        raise SignatureRefused(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            "IncompleteSignatureException",
        )
    if "date" not in signed_headers:
        raise SignatureRefused("'Date' must be a 'SignedHeader' in the AWS Authorization.")
    try:
        parsed = parsedate_to_datetime(date[0])
    except (TypeError, ValueError):
        raise SignatureRefused("The Date header is not an HTTP date.", "IncompleteSignatureException") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def _check_scope(scope: tuple[str, str, str, str], timestamp: str, region: str, service: str) -> None:
    date, scope_region, scope_service, terminator = scope
    if date != timestamp[:8]:
        raise SignatureRefused(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{date}' != '{timestamp[:8]}', from '{timestamp}'."
        )
    if scope_region != region:
        raise SignatureRefused(f"Credential should be scoped to a valid region, not '{scope_region}'.")
    if scope_service != service:
        raise SignatureRefused(f"Credential should be scoped to correct service: '{service}'.")
    if terminator != "aws4_request":
        raise SignatureRefused(
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )


def _check_clock(timestamp: str, now: datetime) -> None:
    signed_at = datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    now_text = now.strftime(TIMESTAMP_FORMAT)
    if signed_at < now - MAX_CLOCK_SKEW:
        earliest = (now - MAX_CLOCK_SKEW).strftime(TIMESTAMP_FORMAT)
        raise SignatureRefused(f"Signature expired: {timestamp} is now earlier than {earliest} ({now_text} - 5 min.)")
    if signed_at > now + MAX_CLOCK_SKEW:
        latest = (now + MAX_CLOCK_SKEW).strftime(TIMESTAMP_FORMAT)
        raise SignatureRefused(
            f"Signature not yet current: {timestamp} is still later than {latest} ({now_text} + 5 min.)"
        )


def _check_session_token(request: SignedRequest, known: Credentials, signed_headers: list[str]) -> None:
    tokens = request.header_values("x-amz-security-token")
    if tokens and "x-amz-security-token" not in signed_headers:
        raise SignatureRefused("'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.")
    if known.session_token is None:
        if tokens:
            raise SignatureRefused(
                "The security token included in the request is invalid.", "UnrecognizedClientException"
            )
        return
    if len(tokens) != 1 or not hmac.compare_digest(tokens[0].encode("utf-8"), known.session_token.encode("utf-8")):
        raise SignatureRefused("The security token included in the request is invalid.", "UnrecognizedClientException")


def _payload_hash(request: SignedRequest) -> str:
    computed = hashlib.sha256(request.body).hexdigest()
    declared = request.header_values("x-amz-content-sha256")
    if declared and (len(declared) > 1 or not hmac.compare_digest(declared[0].strip().encode(), computed.encode())):
        raise SignatureRefused("The provided 'x-amz-content-sha256' header does not match what was computed.")
    return computed


def _canonical_headers(request: SignedRequest, signed_headers: list[str]) -> str:
    lines = []
    for name in signed_headers:
        values = request.header_values(name)
        if not values:
            raise SignatureRefused(f"The signed header '{name}' is not in the request.")
        # The bytes as sent: the HTTP layer decodes header lines as ISO-8859-1, the signer hashed UTF-8.
        texts = (value.encode("latin-1", "replace").decode("utf-8", "surrogateescape") for value in values)
        lines.append(f"{name}:{','.join(' '.join(text.split()) for text in texts)}\n")
    return "".join(lines)


def _canonical_uris(path: str) -> list[str]:
    path = path or "/"
    forms = [quote(_remove_dot_segments(path), safe="/~"), quote(path, safe="/~")]
    return list(dict.fromkeys(forms))


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, and repeated slashes collapsed, as botocore normalises a path."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    trailing = "/" if path.endswith("/") and segments else ""
    return "/" + "/".join(segments) + trailing


def _canonical_queries(query: str) -> list[str]:
    pairs = [pair.partition("=") for pair in query.split("&") if pair]
    encoded = sorted(
        (quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")) for name, _, value in pairs
    )
    as_sent = sorted((name, value) for name, _, value in pairs)
    forms = ["&".join(f"{name}={value}" for name, value in form) for form in (encoded, as_sent)]
    return list(dict.fromkeys(forms))


def _signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret_access_key}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key
