"""Schemathesis, with all its checks, against `python -m local.run` (what `make run` starts) as a
signed caller: every answer of the IAM routes validates against docs/openapi.json.

Each request goes out SigV4-signed (service `execute-api`) by a LOCAL_CALLERS key, an admin under
the deployment policy, over the exact bytes sent; LOCAL_REQUIRE_SIGV4=1 makes the gateway refuse
what is not signed, so the `ignored_auth` check's unsigned probes meet API Gateway's 403. The
Slack and SCIM routes, outside IAM auth, are described in a sentence each and left out: they
have their own end-to-end tests (Slack's signature, Microsoft's SCIM validation collection).
"""

import json
from collections.abc import Iterator
from typing import Any

import botocore.auth
import pytest
import requests
import schemathesis
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.auths import AuthStorage
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import missing_required_header, unsupported_method

from local.export_openapi import OPENAPI_PATH
from local.sigv4 import REGION, SERVICE
from tests.e2e.test_make_run import LocalRun, end, start_local_run, unique_username

ACCESS_KEY_ID = "AKIASCHEMATHESIS0001"
SECRET_ACCESS_KEY = "schemathesis-secret-0123456789abcdef"
CALLER_ARN = "arn:aws:iam::123456789012:user/schemathesis"
REQUEST_TIMEOUT_SECONDS = 15.0
# Bounded and derandomized: the same requests every run, a few minutes in all.
EXAMPLES_PER_OPERATION = 100
# Two checks expect what API Gateway, in front of every function, does not answer (the local
# gateway answers as it does): a method no route declares is its 404 `{"message":"Not Found"}`
# (tests/e2e/test_make_run.py), never a 405; a request without `Authorization` is its IAM
# authorizer's 403 `{"message":"Forbidden"}`, never a 401. Both answers are in the document.
API_GATEWAY_DECIDES = [unsupported_method, missing_required_header]


class SigV4Signer(requests.auth.AuthBase):
    """Signs each request that carries an `Authorization` header (the credential the auth provider
    sets) as sent, method, URL, headers and body bytes, for `execute-api`; one without stays unsigned."""

    def __init__(self, credentials: Credentials) -> None:
        self._signer = botocore.auth.SigV4Auth(credentials, SERVICE, REGION)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if "Authorization" not in request.headers:
            return request
        body = request.body.encode() if isinstance(request.body, str) else request.body
        for name in ("Authorization", "X-Amz-Date"):
            request.headers.pop(name, None)
        unsigned = AWSRequest(method=request.method, url=request.url, data=body, headers=dict(request.headers))
        self._signer.add_auth(unsigned)
        request.headers.update(dict(unsigned.headers.items()))
        return request


@pytest.fixture(scope="module")
def signed_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRun]:
    policy_file = tmp_path_factory.mktemp("policy") / "policy.json"
    policy_file.write_text(json.dumps({"admins": [CALLER_ARN]}), encoding="utf-8")
    callers = {ACCESS_KEY_ID: {"secret_access_key": SECRET_ACCESS_KEY, "arn": CALLER_ARN}}
    run = start_local_run(
        {"LOCAL_CALLERS": json.dumps(callers), "LOCAL_REQUIRE_SIGV4": "1", "POLICY_FILE": str(policy_file)}
    )
    try:
        run.wait_until_listening()
        yield run
    finally:
        end(run)


@pytest.fixture(scope="module")
def signing_session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = SigV4Signer(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY))
        yield session


class SignedBySession:
    """The credential is the signing session's: this says the request carries it (the schema's
    SigV4 scheme), so `ignored_auth` knows to probe without it."""

    def get(self, case: schemathesis.Case[Any], context: schemathesis.AuthContext) -> str:
        return ACCESS_KEY_ID

    def set(self, case: schemathesis.Case[Any], data: str, context: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = f"AWS4-HMAC-SHA256 Credential={data}/..."


SIGNED: AuthStorage[str] = AuthStorage()
SIGNED.auth()(SignedBySession)
DOCUMENT = schemathesis.openapi.from_path(OPENAPI_PATH)
# A request the schema allows may still break a rule a JSON Schema cannot state (a profile that
# does not exist, a cursor the service did not issue, an Idempotency-Key already bound to another
# request, a control character): 422, as the contract says. The others are schemathesis' own
# (a 5xx is the `not_a_server_error` check's failure).
DOCUMENT.config.checks.positive_data_acceptance.expected_statuses = [
    "2xx",
    "3xx",
    "401",
    "403",
    "404",
    "409",
    "422",
    "429",
]
IAM_ROUTES = DOCUMENT.include(path_regex="^/(endpoints|profiles)")


@IAM_ROUTES.parametrize()
@AuthStorage().apply(SignedBySession)
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_of_a_signed_caller_validates_against_the_openapi_document(
    case: schemathesis.Case[Any], signed_run: LocalRun, signing_session: requests.Session
) -> None:
    # Given a request the document describes, valid or breaking it (schemathesis' examples,
    # coverage and fuzzing phases), signed by a listed caller
    # When it is sent to the server make run starts
    # Then its answer passes every check: status, content type, headers and body as documented,
    # no 5xx, invalid data refused and valid data accepted, auth enforced
    case.call_and_validate(
        base_url=signed_run.base_url,
        session=signing_session,
        excluded_checks=API_GATEWAY_DECIDES,
        timeout=REQUEST_TIMEOUT_SECONDS,
    )


ENDPOINT_OPERATIONS = [
    result.ok()
    for result in IAM_ROUTES.get_all_operations()
    if isinstance(result, Ok) and "{username}" in result.ok().path
]


@pytest.fixture
def managed_endpoint(signed_run: LocalRun, signing_session: requests.Session) -> str:
    """An endpoint of its own for each operation: one route's DELETE leaves the next one a managed endpoint."""
    username = unique_username("schemathesis")
    created = signing_session.post(
        f"{signed_run.base_url}/endpoints",
        json={"username": username},
        headers={"Authorization": "signed by the session"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    assert created.status_code == 201, created.text
    return username


@pytest.mark.parametrize("operation", ENDPOINT_OPERATIONS, ids=lambda operation: operation.label)
def test_every_answer_about_a_managed_endpoint_validates_against_the_openapi_document(
    signed_run: LocalRun, signing_session: requests.Session, managed_endpoint: str, operation: Any
) -> None:
    # Given valid requests about an endpoint the service manages (dry runs included), signed by a listed caller
    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None)
    @given(
        case=operation.as_strategy(
            GenerationMode.POSITIVE, auth_storage=SIGNED, path_parameters={"username": managed_endpoint}
        )
    )
    def every_answer_passes_every_check(case: schemathesis.Case[Any]) -> None:
        # When each is sent to the server make run starts
        # Then its answer passes every check, the dry runs' 200 answers as documented
        case.call_and_validate(
            base_url=signed_run.base_url,
            session=signing_session,
            excluded_checks=API_GATEWAY_DECIDES,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )

    every_answer_passes_every_check()
