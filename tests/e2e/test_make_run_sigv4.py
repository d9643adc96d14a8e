"""`python -m local.run` (what `make run` starts) with real callers: LOCAL_CALLERS, LOCAL_REQUIRE_SIGV4
and POLICY_FILE, driven over HTTP with requests signed by botocore as they would be for AWS."""

import json
from collections.abc import Iterator

import botocore.auth
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.test_make_run import REQUEST_TIMEOUT_SECONDS, LocalRun, end, start_local_run

ACCESS_KEY_ID = "AKIAONBOARDING000001"
SECRET_ACCESS_KEY = "onboarding-secret-0123456789abcdef"
CALLER_ARN = "arn:aws:iam::123456789012:user/onboarding-bot"
POLICY = {"admins": [CALLER_ARN]}


@pytest.fixture(scope="module")
def signed_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRun]:
    policy_file = tmp_path_factory.mktemp("policy") / "policy.json"
    policy_file.write_text(json.dumps(POLICY), encoding="utf-8")
    callers = {ACCESS_KEY_ID: {"secret_access_key": SECRET_ACCESS_KEY, "arn": CALLER_ARN}}
    run = start_local_run(
        {"LOCAL_CALLERS": json.dumps(callers), "LOCAL_REQUIRE_SIGV4": "1", "POLICY_FILE": str(policy_file)}
    )
    try:
        run.wait_until_listening()
        yield run
    finally:
        end(run)


def signed_get(url: str) -> requests.Response:
    request = AWSRequest(method="GET", url=url)
    botocore.auth.SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "execute-api", "us-east-1").add_auth(request)
    return requests.get(url, headers=dict(request.headers.items()), timeout=REQUEST_TIMEOUT_SECONDS)


def test_the_start_names_the_callers_and_that_signatures_are_required_but_no_secret(signed_run: LocalRun) -> None:
    # Given make run started with LOCAL_CALLERS, LOCAL_REQUIRE_SIGV4=1 and POLICY_FILE
    # When its startup lines are read
    started = "".join(signed_run.output)
    # Then they name the access key and its ARN, that a signature is required and the policy; never the secret
    assert f"{ACCESS_KEY_ID} as {CALLER_ARN}" in started
    assert "signature required" in started
    assert "unsigned requests are 403" in started
    assert "Deployment policy: " in started
    assert SECRET_ACCESS_KEY not in started


def test_a_request_signed_by_a_listed_key_is_answered(signed_run: LocalRun) -> None:
    # Given make run requiring signatures
    # When a listed key signs GET /profiles with botocore
    response = signed_get(f"{signed_run.base_url}/profiles")
    # Then the function answers it
    assert response.status_code == 200


def test_an_unsigned_request_is_403_when_signatures_are_required(signed_run: LocalRun) -> None:
    # Given make run requiring signatures
    # When GET /profiles is sent unsigned
    response = requests.get(f"{signed_run.base_url}/profiles", timeout=REQUEST_TIMEOUT_SECONDS)
    # Then it is API Gateway's Forbidden
    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})


def test_the_policy_file_is_in_ssm_as_the_deployment_policy(signed_run: LocalRun) -> None:
    # Given make run started with POLICY_FILE, and moto's endpoint it printed
    # When the deployment policy parameter is read from there
    parameter = signed_run.aws("ssm").get_parameter(Name="/sip-provisioning/local/policy")["Parameter"]
    # Then it is a String holding the file's policy
    assert parameter["Type"] == "String"
    assert json.loads(parameter["Value"]) == POLICY
