"""`make run` with real callers and the shipped profiles: the onboarding profile's policy lets the
onboarding identity create, refuses anyone else, and puts the password in Secrets Manager only."""

import json
from collections.abc import Iterator

import botocore.auth
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local.stack import load_stack
from tests.e2e.test_make_run import REQUEST_TIMEOUT_SECONDS, LocalRun, end, start_local_run

ACCESS_KEY_ID = "AKIAONBOARDING000002"
SECRET_ACCESS_KEY = "onboarding-secret-fedcba9876543210"
ONBOARDING_ARN = "arn:aws:iam::123456789012:user/onboarding-bot"  # one of config/profiles/onboarding.json's callers
NEW_HIRE = {"username": "new.hire", "profile": "onboarding", "owner": "E2001"}


@pytest.fixture(scope="module")
def policy_run() -> Iterator[LocalRun]:
    callers = {ACCESS_KEY_ID: {"secret_access_key": SECRET_ACCESS_KEY, "arn": ONBOARDING_ARN}}
    run = start_local_run({"LOCAL_CALLERS": json.dumps(callers)})
    try:
        run.wait_until_listening()
        yield run
    finally:
        end(run)


def signed_post(url: str, body: object) -> requests.Response:
    data = json.dumps(body).encode()
    request = AWSRequest(method="POST", url=url, data=data, headers={"Content-Type": "application/json"})
    botocore.auth.SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "execute-api", "us-east-1").add_auth(request)
    return requests.post(url, data=data, headers=dict(request.headers.items()), timeout=REQUEST_TIMEOUT_SECONDS)


def test_the_same_request_from_another_identity_is_forbidden_and_creates_nothing(policy_run: LocalRun) -> None:
    # Given make run with the shipped profiles, and the unsigned local developer (not an onboarding caller)
    # When it asks for an endpoint from the onboarding profile
    response = requests.post(f"{policy_run.base_url}/endpoints", json=NEW_HIRE, timeout=REQUEST_TIMEOUT_SECONDS)
    # Then it is a 403 naming the rule, and the username is still free
    assert (response.status_code, response.json()["type"]) == (403, "forbidden")
    assert "policy.callers" in response.json()["detail"]
    listed = requests.get(
        f"{policy_run.base_url}/endpoints", params={"owner": "E2001"}, timeout=REQUEST_TIMEOUT_SECONDS
    )
    assert listed.json()["endpoints"] == []


def test_the_onboarding_identity_creates_and_its_password_is_only_in_secrets_manager(policy_run: LocalRun) -> None:
    # Given make run, and a request signed by the onboarding identity
    # When it asks for an endpoint from the onboarding profile
    response = signed_post(f"{policy_run.base_url}/endpoints", NEW_HIRE)
    # Then it is created, the answer names the secret and holds no password
    assert response.status_code == 201, response.text
    body = response.json()
    assert "password" not in body
    secret = policy_run.aws("secretsmanager").get_secret_value(SecretId=body["password_secret_arn"])
    stored = json.loads(secret["SecretString"])
    # And the secret holds the password, found nowhere in the answer or the inventory
    assert stored["username"] == "new.hire"
    assert stored["sip_uri"] == body["sip_uri"]
    assert stored["password"] not in response.text
    items = policy_run.aws("dynamodb").scan(TableName=load_stack().physical_ids["InventoryTable"])["Items"]
    assert stored["password"] not in json.dumps(items)
