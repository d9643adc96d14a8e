"""A fuzz run of the committed OpenAPI document against `python -m local.run` (what `make run` starts).

Schemathesis turns docs/openapi.json into requests: bodies, queries and headers that follow the
schema (positive) and that break it (negative); some then get their envelope mutated (media
type, truncation, size, encoding). Every answer must keep CONTRACT.md section 1: no 5xx, and
every error a problem+json document whose type and status are a pair of the contract's table.
"""

import enum
import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.test_make_run import LocalRun

OPENAPI_DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
SCHEMA = schemathesis.openapi.from_path(OPENAPI_DOCUMENT)
CREATE_ENDPOINT = SCHEMA["/endpoints"]["POST"]
LIST_PROFILES = SCHEMA["/profiles"]["GET"]
MINIMUM_REQUESTS = 1000
EXAMPLES = 1100  # a margin over the minimum: the run counts requests, not examples
REQUEST_TIMEOUT_SECONDS = 15.0
LIMIT_BYTES = 16 * 1024
PROBLEM_JSON = "application/problem+json"
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "request_id"}
# CONTRACT.md section 1, "Errors", plus the answer for a path or method no route serves.
CONTRACT_PROBLEMS = {
    ("malformed-request", 400),
    ("payload-too-large", 413),
    ("unsupported-media-type", 415),
    ("validation-error", 422),
    ("username-taken", 409),
    ("idempotency-in-progress", 409),
    ("idempotency-key-reused", 422),
    ("upstream-error", 502),
    ("upstream-unavailable", 503),
    ("upstream-timeout", 504),
    ("configuration-error", 500),
    ("internal-error", 500),
    ("not-found", 404),
}
SUCCESS_STATUSES = {"POST /endpoints": {200, 201}, "GET /profiles": {200}}


class Envelope(enum.Enum):
    """What is done to a generated request before it is sent."""

    AS_GENERATED = "as generated"
    TEXT_PLAIN = "declared text/plain"
    NO_CONTENT_TYPE = "no Content-Type"
    LOUD_CONTENT_TYPE = "Content-Type in upper case with a charset"
    TRUNCATED = "body cut in half"
    OVER_LIMIT = "body padded past 16 KiB"
    NOT_UTF8 = "a byte that is not UTF-8 appended"


# Half the requests go as generated, the other half through one envelope change each.
envelopes = st.just(Envelope.AS_GENERATED) | st.sampled_from(list(Envelope))
generated_cases = st.one_of(
    CREATE_ENDPOINT.as_strategy(GenerationMode.POSITIVE),
    CREATE_ENDPOINT.as_strategy(GenerationMode.NEGATIVE),
    LIST_PROFILES.as_strategy(GenerationMode.POSITIVE),
)


def http_request(case: schemathesis.Case[Any], base_url: str, envelope: Envelope, sequence: int) -> dict[str, Any]:
    """The `requests.request` arguments for `case`, its username made unique, its envelope changed."""
    arguments: dict[str, Any] = case.as_transport_kwargs(base_url=base_url)
    headers: dict[str, str] = arguments["headers"]
    # The document declares SigV4; the local gateway checks a signature wherever one is sent.
    headers.pop("Authorization", None)
    if "json" in arguments:
        document = arguments.pop("json")
        username = document.get("username") if isinstance(document, dict) else None
        # Unique, so most creates get past username-taken; a valid name stays valid, an empty one empty.
        if isinstance(username, str) and 0 < len(username) <= 100:
            document = {**document, "username": f"{username}.{sequence}"}
        arguments["data"] = json.dumps(document).encode()
        headers["Content-Type"] = "application/json"
    body = arguments.get("data")
    if isinstance(body, str):
        body = arguments["data"] = body.encode()
    match envelope:
        case Envelope.TEXT_PLAIN:
            headers["Content-Type"] = "text/plain"
        case Envelope.NO_CONTENT_TYPE:
            headers.pop("Content-Type", None)
        case Envelope.LOUD_CONTENT_TYPE:
            headers["Content-Type"] = headers.get("Content-Type", "application/json").upper() + "; CHARSET=UTF-8"
        case Envelope.TRUNCATED if body:
            arguments["data"] = body[: len(body) // 2]
        case Envelope.OVER_LIMIT:
            arguments["data"] = (body or b"{}") + b" " * (LIMIT_BYTES + 1)
        case Envelope.NOT_UTF8:
            arguments["data"] = (body or b"") + b"\xff"
    return arguments


def describe(arguments: dict[str, Any], response: requests.Response) -> str:
    sent = {key: arguments.get(key) for key in ("method", "url", "params", "headers")}
    body = arguments.get("data") or b""
    return f"sent {sent} with body {body[:300]!r}; got {response.status_code} {response.text[:500]}"


def assert_answer_keeps_the_contract(operation: str, arguments: dict[str, Any], response: requests.Response) -> None:
    context = describe(arguments, response)
    assert response.status_code < 500, context
    if response.status_code < 400:
        assert response.status_code in SUCCESS_STATUSES[operation], context
        return
    assert response.headers.get("Content-Type") == PROBLEM_JSON, context
    problem = response.json()
    assert problem.keys() >= PROBLEM_MEMBERS, context
    assert problem["status"] == response.status_code, context
    assert (problem["type"], problem["status"]) in CONTRACT_PROBLEMS, context
    if problem["type"] == "validation-error":
        assert problem["errors"], context
        assert all({"field", "message"} <= error.keys() for error in problem["errors"]), context


def test_a_fuzz_run_of_the_openapi_document_gets_no_5xx_and_only_the_contracts_problems(local_run: LocalRun) -> None:
    # Given the server `make run` starts, and requests generated from the committed OpenAPI document
    sequence = itertools.count()
    sent: Counter[tuple[str, int]] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,  # the server is new each run: replaying an old run's examples proves nothing
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(case=generated_cases, envelope=envelopes)
    def every_answer_keeps_the_contract(case: schemathesis.Case[Any], envelope: Envelope) -> None:
        # When each request is sent, on a connection of its own (on a kept-alive one the local
        # gateway's separate header and body writes meet delayed ACKs: ~40 ms per answer)
        arguments = http_request(case, local_run.base_url, envelope, next(sequence))
        response = requests.request(**arguments, timeout=REQUEST_TIMEOUT_SECONDS)
        operation = f"{case.method.upper()} {case.path}"
        sent[operation, response.status_code] += 1
        # Then the answer keeps the contract, and the documented response schemas
        assert_answer_keeps_the_contract(operation, arguments, response)
        case.validate_response(
            response, checks=[status_code_conformance, content_type_conformance, response_schema_conformance]
        )

    every_answer_keeps_the_contract()
    # And the run was as long as promised
    assert sum(sent.values()) >= MINIMUM_REQUESTS, sent
