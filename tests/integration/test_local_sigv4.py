"""The local gateway's IAM authorizer verifies SigV4 as API Gateway does (CONTRACT.md section 3).

Every request is signed by botocore's own `SigV4Auth` (service `execute-api`, region `us-east-1`)
and sent over loopback HTTP to a `LocalGateway` whose functions record the events they get, so
"reaches no function" is seen, not assumed. The configuration comes from the environment the
way `make run` reads it (`local.run`), and the deployment policy is seeded into moto's SSM.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.auth
import pytest
import requests
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials
from moto import mock_aws

from local.gateway import IamCaller, LambdaFunction, LocalGateway, Route, SigningCaller
from local.run import StartupError, caller_from_environment, signing_callers_from_environment
from local.seed import seed_policy
from local.sigv4 import Credentials

REQUEST_TIMEOUT_SECONDS = 10
ONBOARDING_KEY = "AKIAONBOARDING000001"
ONBOARDING_SECRET = "onboarding-secret-0123456789abcdef"
ONBOARDING_ARN = "arn:aws:iam::123456789012:user/onboarding-bot"
ROLE_KEY = "ASIAONBOARDINGROLE01"
ROLE_SECRET = "role-secret-0123456789abcdef"
ROLE_TOKEN = "role-session-token-0123456789abcdef"
ROLE_ARN = "arn:aws:sts::123456789012:assumed-role/onboarding/ci-run-42"
LOCAL_CALLERS = {
    ONBOARDING_KEY: {"secret_access_key": ONBOARDING_SECRET, "arn": ONBOARDING_ARN},
    ROLE_KEY: {"secret_access_key": ROLE_SECRET, "arn": ROLE_ARN, "session_token": ROLE_TOKEN},
}
UNSIGNED_ARN = "arn:aws:iam::123456789012:user/unsigned-developer"
SLACK_ROUTE_KEY = "POST /chatops/slack"
SCIM_ROUTE_KEY = "ANY /scim/v2/{proxy+}"
SIGNATURE_MISMATCH = "The request signature we calculated does not match the signature you provided."
PARAMETERS_PATH = "/sip-provisioning/test"


@dataclass
class RecordingFunction:
    """A function that answers 200 and keeps every event it is invoked with."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}


@dataclass
class Functions:
    http_api: RecordingFunction = field(default_factory=RecordingFunction)
    slack: RecordingFunction = field(default_factory=RecordingFunction)
    scim: RecordingFunction = field(default_factory=RecordingFunction)

    def invocations(self) -> int:
        return len(self.http_api.events) + len(self.slack.events) + len(self.scim.events)


class SigV4AuthAt(botocore.auth.SigV4Auth):  # type: ignore[misc]  # botocore ships no types
    """botocore's signer with its clock at `signed_at`: botocore's canonical request, string to sign
    and signature, only the timestamp chosen here."""

    def __init__(self, credentials: BotocoreCredentials, signed_at: datetime) -> None:
        super().__init__(credentials, "execute-api", "us-east-1")
        self._signed_at = signed_at

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._signed_at.strftime(botocore.auth.SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        string_to_sign = self.string_to_sign(request, self.canonical_request(request))
        self._inject_signature_to_request(request, self.signature(string_to_sign, request))


def signed(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    key: str = ONBOARDING_KEY,
    secret: str = ONBOARDING_SECRET,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    signed_at: datetime | None = None,
) -> AWSRequest:
    """The request as botocore signs it for API Gateway (`execute-api`, `us-east-1`)."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    credentials = BotocoreCredentials(key, secret, token)
    if signed_at is None:
        botocore.auth.SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    else:
        SigV4AuthAt(credentials, signed_at).add_auth(request)
    return request


def send(request: AWSRequest, *, body: bytes | None = None, drop_header: str | None = None) -> requests.Response:
    """Send the signed request over HTTP, optionally with another body or without one of its headers."""
    headers = {name: value for name, value in request.headers.items() if name.lower() != (drop_header or "").lower()}
    data = request.body if body is None else body
    return requests.request(request.method, request.url, headers=headers, data=data, timeout=REQUEST_TIMEOUT_SECONDS)


def iam_identity(event: dict[str, Any]) -> dict[str, Any]:
    iam: dict[str, Any] = event["requestContext"]["authorizer"]["iam"]
    return iam


def assert_refused(response: requests.Response, functions: Functions, message: str) -> None:
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["message"].startswith(message)
    assert functions.invocations() == 0


@pytest.fixture
def functions() -> Functions:
    return Functions()


def start_gateway(functions: Functions, environ: dict[str, str]) -> LocalGateway:
    """A gateway configured from `environ` as `make run` configures it, with a Slack route and a SCIM prefix
    outside IAM auth."""
    return LocalGateway(
        functions.http_api,
        caller=caller_from_environment(environ),
        signing_callers=signing_callers_from_environment(environ),
        require_sigv4=environ.get("LOCAL_REQUIRE_SIGV4") == "1",
        routes={
            SLACK_ROUTE_KEY: Route(functions.slack, LambdaFunction(name="slack"), iam_authorizer=False),
            SCIM_ROUTE_KEY: Route(functions.scim, LambdaFunction(name="scim"), iam_authorizer=False),
        },
    ).start()


@pytest.fixture
def gateway(functions: Functions) -> Iterator[LocalGateway]:
    running = start_gateway(functions, {"LOCAL_CALLERS": json.dumps(LOCAL_CALLERS), "LOCAL_CALLER_ARN": UNSIGNED_ARN})
    yield running
    running.stop()


@pytest.fixture
def strict_gateway(functions: Functions) -> Iterator[LocalGateway]:
    running = start_gateway(functions, {"LOCAL_CALLERS": json.dumps(LOCAL_CALLERS), "LOCAL_REQUIRE_SIGV4": "1"})
    yield running
    running.stop()


# -- signed requests that verify --------------------------------------------------------------


def test_a_get_signed_by_botocore_runs_as_the_arn_of_its_access_key(
    gateway: LocalGateway, functions: Functions
) -> None:
    # Given a GET signed by a key listed in LOCAL_CALLERS
    request = signed("GET", f"{gateway.base_url}/profiles")
    # When it is sent
    response = send(request)
    # Then the function runs, as that key's ARN, in that ARN's account
    assert response.status_code == 200
    [event] = functions.http_api.events
    identity = iam_identity(event)
    assert (identity["userArn"], identity["accessKey"], identity["accountId"]) == (
        ONBOARDING_ARN,
        ONBOARDING_KEY,
        "123456789012",
    )
    assert identity["userId"] == identity["callerId"]
    assert identity["userId"].startswith("AIDA")
    assert event["requestContext"]["accountId"] == "123456789012"


def test_a_post_with_a_json_body_signed_by_botocore_runs_as_the_arn_of_its_access_key(
    gateway: LocalGateway, functions: Functions
) -> None:
    # Given a POST with a JSON body, signed with its content type
    body = json.dumps({"username": "ada.lovelace", "profile": "default"}).encode()
    request = signed("POST", f"{gateway.base_url}/endpoints", body, headers={"Content-Type": "application/json"})
    # When it is sent
    response = send(request)
    # Then the function gets the body intact, as that key's ARN
    assert response.status_code == 200
    [event] = functions.http_api.events
    assert json.loads(event["body"]) == {"username": "ada.lovelace", "profile": "default"}
    assert iam_identity(event)["userArn"] == ONBOARDING_ARN


def test_an_assumed_role_signing_with_its_session_token_runs_as_the_assumed_role(
    gateway: LocalGateway, functions: Functions
) -> None:
    # Given a request signed with temporary credentials and their session token
    request = signed("GET", f"{gateway.base_url}/profiles", key=ROLE_KEY, secret=ROLE_SECRET, token=ROLE_TOKEN)
    # When it is sent
    response = send(request)
    # Then it runs as the assumed role's ARN, with the role's id and session as API Gateway reports them
    assert response.status_code == 200
    identity = iam_identity(functions.http_api.events[0])
    assert (identity["userArn"], identity["accessKey"]) == (ROLE_ARN, ROLE_KEY)
    assert identity["userId"].startswith("AROA")
    assert identity["userId"].endswith(":ci-run-42")


def test_a_percent_encoded_username_in_the_path_verifies_and_reaches_the_function_as_sent(
    gateway: LocalGateway, functions: Functions
) -> None:
    # Given a signed request for a username holding characters that are percent-encoded in a path
    request = signed("GET", f"{gateway.base_url}/endpoints/ada%2Flovelace%40example.com")
    # When it is sent
    response = send(request)
    # Then botocore's signature (over the path encoded once more) verifies, and the path arrives as sent
    assert response.status_code == 200
    [event] = functions.http_api.events
    assert event["rawPath"] == "/endpoints/ada%2Flovelace%40example.com"
    assert iam_identity(event)["userArn"] == ONBOARDING_ARN


def test_a_signed_query_string_verifies_and_reaches_the_function(gateway: LocalGateway, functions: Functions) -> None:
    # Given a signed request with a query string
    request = signed("POST", f"{gateway.base_url}/endpoints?dry_run=true&profile=default", b"{}")
    # When it is sent
    response = send(request)
    # Then it verifies, and the function gets the query
    assert response.status_code == 200
    assert functions.http_api.events[0]["queryStringParameters"] == {"dry_run": "true", "profile": "default"}


def test_a_signed_body_hash_header_that_is_the_bodys_hash_verifies(gateway: LocalGateway, functions: Functions) -> None:
    # Given a POST that signs x-amz-content-sha256 with its body's hash, as awscurl signs
    body = b'{"username":"ada"}'
    request = signed(
        "POST",
        f"{gateway.base_url}/endpoints",
        body,
        headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()},
    )
    # When it is sent
    response = send(request)
    # Then it verifies and runs as the key's ARN
    assert response.status_code == 200
    assert iam_identity(functions.http_api.events[0])["userArn"] == ONBOARDING_ARN


# -- signed requests that are refused ---------------------------------------------------------


def test_a_request_signed_with_a_wrong_secret_is_403_and_reaches_no_function(
    gateway: LocalGateway, functions: Functions
) -> None:
    # Given a request signed with a listed key but another secret
    request = signed("GET", f"{gateway.base_url}/profiles", secret="not-the-secret")
    # When it is sent
    response = send(request)
    # Then API Gateway's signature mismatch is answered and no function runs
    assert_refused(response, functions, SIGNATURE_MISMATCH)


def test_a_request_signed_with_a_key_not_in_local_callers_is_403_and_reaches_no_function(
    gateway: LocalGateway, functions: Functions
) -> None:
    # Given a request signed by a key LOCAL_CALLERS does not list
    request = signed("GET", f"{gateway.base_url}/profiles", key="AKIAFOREIGNKEY000001", secret="foreign-secret")
    # When it is sent
    response = send(request)
    # Then the key is unknown to the authorizer and no function runs
    assert_refused(response, functions, "The security token included in the request is invalid.")


def test_a_request_signed_six_minutes_ago_is_403_and_reaches_no_function(
    gateway: LocalGateway, functions: Functions
) -> None:
    # Given a request signed correctly, but six minutes ago
    request = signed("GET", f"{gateway.base_url}/profiles", signed_at=datetime.now(UTC) - timedelta(minutes=6))
    # When it is sent
    response = send(request)
    # Then its signature has expired and no function runs
    assert_refused(response, functions, "Signature expired:")


def test_a_request_whose_body_is_changed_after_signing_is_403_and_reaches_no_function(
    gateway: LocalGateway, functions: Functions
) -> None:
    # Given a POST signed for one body
    request = signed("POST", f"{gateway.base_url}/endpoints", b'{"username":"ada"}')
    # When it is sent with another
    response = send(request, body=b'{"username":"mallory"}')
    # Then the signature does not cover it and no function runs
    assert_refused(response, functions, SIGNATURE_MISMATCH)


def test_a_body_hash_header_that_is_not_the_bodys_hash_is_403_and_reaches_no_function(
    gateway: LocalGateway, functions: Functions
) -> None:
    # Given a POST whose signature covers an x-amz-content-sha256 of UNSIGNED-PAYLOAD, not its body's hash
    request = signed(
        "POST",
        f"{gateway.base_url}/endpoints",
        b'{"username":"ada"}',
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
    )
    # When it is sent
    response = send(request)
    # Then the hash is refused and no function runs
    assert_refused(response, functions, "The provided 'x-amz-content-sha256' header does not match")


def test_a_request_missing_a_header_it_signed_is_403_and_reaches_no_function(
    gateway: LocalGateway, functions: Functions
) -> None:
    # Given a POST that signed its Content-Type
    request = signed("POST", f"{gateway.base_url}/endpoints", b"{}", headers={"Content-Type": "application/json"})
    # When it is sent without that header
    response = send(request, drop_header="Content-Type")
    # Then the signed header is missing and no function runs
    assert_refused(response, functions, "The signed header 'content-type' is not in the request.")


def test_temporary_credentials_sent_without_their_session_token_are_403_and_reach_no_function(
    gateway: LocalGateway, functions: Functions
) -> None:
    # Given a request signed with temporary credentials but without their session token
    request = signed("GET", f"{gateway.base_url}/profiles", key=ROLE_KEY, secret=ROLE_SECRET)
    # When it is sent
    response = send(request)
    # Then the credentials are incomplete and no function runs
    assert_refused(response, functions, "The security token included in the request is invalid.")


# -- unsigned requests ------------------------------------------------------------------------


def test_an_unsigned_request_runs_as_local_caller_arn(gateway: LocalGateway, functions: Functions) -> None:
    # Given a gateway that does not require signatures, LOCAL_CALLER_ARN set
    # When an unsigned request is sent
    response = requests.get(f"{gateway.base_url}/profiles", timeout=REQUEST_TIMEOUT_SECONDS)
    # Then it runs as LOCAL_CALLER_ARN
    assert response.status_code == 200
    assert iam_identity(functions.http_api.events[0])["userArn"] == UNSIGNED_ARN


def test_an_unsigned_request_runs_as_the_local_developer_when_local_caller_arn_is_unset() -> None:
    # Given no LOCAL_CALLER_ARN
    # When the caller of unsigned requests is read from the environment
    caller = caller_from_environment({})
    # Then it is the documented default
    assert caller.user_arn == "arn:aws:iam::123456789012:user/local-developer"


def test_an_unsigned_request_with_local_require_sigv4_is_403_and_reaches_no_function(
    strict_gateway: LocalGateway, functions: Functions
) -> None:
    # Given a gateway started with LOCAL_REQUIRE_SIGV4=1
    # When an unsigned request is sent
    response = requests.get(f"{strict_gateway.base_url}/profiles", timeout=REQUEST_TIMEOUT_SECONDS)
    # Then it is API Gateway's Forbidden and no function runs
    assert_refused(response, functions, "Forbidden")
    assert response.json() == {"message": "Forbidden"}


def test_a_signed_request_with_local_require_sigv4_still_runs_as_its_key(
    strict_gateway: LocalGateway, functions: Functions
) -> None:
    # Given a gateway started with LOCAL_REQUIRE_SIGV4=1
    # When a request signed by a listed key is sent
    response = send(signed("GET", f"{strict_gateway.base_url}/profiles"))
    # Then it runs as that key's ARN
    assert response.status_code == 200
    assert iam_identity(functions.http_api.events[0])["userArn"] == ONBOARDING_ARN


# -- routes outside IAM auth ------------------------------------------------------------------


def test_the_slack_route_is_not_sigv4_checked(strict_gateway: LocalGateway, functions: Functions) -> None:
    # Given a gateway requiring signatures, and a Slack request carrying an Authorization header that verifies nothing
    headers = {"Authorization": "Bearer not-sigv4", "Content-Type": "application/x-www-form-urlencoded"}
    # When it is posted to the Slack route
    response = requests.post(
        f"{strict_gateway.base_url}/chatops/slack", data=b"team_id=T0LOCAL", headers=headers, timeout=10
    )
    # Then the Slack function gets it, without an IAM authorizer context
    assert response.status_code == 200
    [event] = functions.slack.events
    assert "authorizer" not in event["requestContext"]
    assert functions.http_api.events == []


def test_a_path_prefix_route_outside_iam_auth_is_not_sigv4_checked(
    strict_gateway: LocalGateway, functions: Functions
) -> None:
    # Given a gateway requiring signatures, with `ANY /scim/v2/{proxy+}` outside IAM auth
    # When an unsigned request is sent under that prefix
    response = requests.get(f"{strict_gateway.base_url}/scim/v2/Users?count=10", timeout=REQUEST_TIMEOUT_SECONDS)
    # Then that route's function gets it, with the route key and the rest of the path as API Gateway gives them
    assert response.status_code == 200
    [event] = functions.scim.events
    assert (event["routeKey"], event["pathParameters"]) == (SCIM_ROUTE_KEY, {"proxy": "Users"})
    assert "authorizer" not in event["requestContext"]


# -- configuration: LOCAL_CALLERS and POLICY_FILE ---------------------------------------------


def test_a_local_callers_entry_without_an_arn_stops_the_start_and_shows_no_secret() -> None:
    # Given LOCAL_CALLERS whose entry lacks an ARN
    environ = {"LOCAL_CALLERS": json.dumps({ONBOARDING_KEY: {"secret_access_key": ONBOARDING_SECRET}})}
    # When it is read
    with pytest.raises(StartupError) as raised:
        signing_callers_from_environment(environ)
    # Then the error names the key and never the secret
    assert ONBOARDING_KEY in str(raised.value)
    assert ONBOARDING_SECRET not in str(raised.value)


def test_a_signing_caller_keeps_its_secret_out_of_its_repr() -> None:
    # Given the callers read from LOCAL_CALLERS
    callers = signing_callers_from_environment({"LOCAL_CALLERS": json.dumps(LOCAL_CALLERS)})
    # When they are shown (logged, printed in a traceback)
    shown = repr(callers)
    # Then neither secret nor session token is there, the key ids and ARNs are
    assert ONBOARDING_SECRET not in shown
    assert ROLE_SECRET not in shown
    assert ROLE_TOKEN not in shown
    assert ONBOARDING_KEY in shown
    assert ROLE_ARN in shown


def test_the_gateway_accepts_callers_built_in_code_as_well_as_from_the_environment(functions: Functions) -> None:
    # Given a gateway given its signing caller directly
    caller = IamCaller.for_arn("arn:aws:iam::210987654321:user/ops/eve", "AKIAEVEEXAMPLE000001")
    signing = SigningCaller(Credentials("AKIAEVEEXAMPLE000001", "eve-secret"), caller)
    with LocalGateway(functions.http_api, signing_callers={"AKIAEVEEXAMPLE000001": signing}) as gateway:
        # When that key signs a request
        response = send(signed("GET", f"{gateway.base_url}/profiles", key="AKIAEVEEXAMPLE000001", secret="eve-secret"))
    # Then it runs as that caller, in its account
    assert response.status_code == 200
    assert functions.http_api.events[0]["requestContext"]["accountId"] == "210987654321"


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def test_policy_file_seeds_the_deployment_policy_parameter_as_a_string(ssm: Any, tmp_path: Path) -> None:
    # Given a policy file holding a JSON object
    policy_file = tmp_path / "policy.json"
    policy_file.write_text('{"admins": ["arn:aws:iam::123456789012:role/platform-*"]}\n', encoding="utf-8")
    # When it is seeded
    name = seed_policy(ssm, PARAMETERS_PATH, policy_file)
    # Then <prefix>/policy is a String holding the file's text
    parameter = ssm.get_parameter(Name=f"{PARAMETERS_PATH}/policy")["Parameter"]
    assert name == f"{PARAMETERS_PATH}/policy"
    assert parameter["Type"] == "String"
    assert json.loads(parameter["Value"]) == {"admins": ["arn:aws:iam::123456789012:role/platform-*"]}


def test_a_policy_file_that_is_not_a_json_object_is_refused_and_seeds_nothing(ssm: Any, tmp_path: Path) -> None:
    # Given a policy file holding a JSON array
    policy_file = tmp_path / "policy.json"
    policy_file.write_text('["admins"]', encoding="utf-8")
    # When it is seeded
    with pytest.raises(ValueError, match="must hold a JSON object, not an array"):
        seed_policy(ssm, PARAMETERS_PATH, policy_file)
    # Then no policy parameter exists
    assert ssm.get_parameters(Names=[f"{PARAMETERS_PATH}/policy"])["InvalidParameters"] == [f"{PARAMETERS_PATH}/policy"]
