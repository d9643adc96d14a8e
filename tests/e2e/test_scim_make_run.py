"""`/scim/v2` under `python -m local.run` (what `make run` starts), as an identity provider meets it:
scim2-tester's whole conformance run, then a user's life read where it lands (the emulator's
endpoints, moto's Secrets Manager).

The run's bearer token is the one it generated and printed, as a developer would paste it into an
identity provider's test connection."""

import json
import re
from collections.abc import Iterator

import httpx2
import pytest
import requests
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from tests.e2e.test_make_run import REQUEST_TIMEOUT_SECONDS, LocalRun, end, start_local_run
from tests.scim_helpers import PATCH_SCHEMA, SIP_SCHEMA, user_body

TOKEN_LINE = re.compile(r"SCIM bearer token: (?P<token>\S+)$")
BASE_URL_LINE = re.compile(r"SCIM base URL: (?P<url>http://\S+)$")
# scim2-tester PATCHes the SIP extension as a whole (add and replace an empty one, remove it) and
# expects the answer to echo that; every attribute of the extension is read-only, so no answer of
# a correct server can (the extension's own container is not annotated by the schema).
READ_ONLY_EXTENSION_CHECKS = {"check_add_attribute", "check_remove_attribute", "check_replace_attribute"}


@pytest.fixture(scope="module")
def scim_run() -> Iterator[LocalRun]:
    run = start_local_run()  # no SCIM_BEARER_TOKEN: it generates a token and prints it
    try:
        run.wait_until_listening()
        yield run
    finally:
        end(run)


def printed(run: LocalRun, pattern: re.Pattern[str], group: str) -> str:
    [found] = [match[group] for line in run.output if (match := pattern.match(line.strip()))]
    return found


def scim(run: LocalRun, method: str, path: str, body: object = None) -> requests.Response:
    token = printed(run, TOKEN_LINE, "token")
    return requests.request(
        method,
        f"{printed(run, BASE_URL_LINE, 'url')}{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )


def test_scim2_tester_reports_every_check_passing(scim_run: LocalRun) -> None:
    # Given scim2-tester pointed at the run's /scim/v2 with the printed token
    token = printed(scim_run, TOKEN_LINE, "token")
    http = httpx2.Client(
        base_url=printed(scim_run, BASE_URL_LINE, "url"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    # When it runs every check it has
    with http:
        results = check_server(SyncSCIMClient(http))
    # Then every check passes or is skipped (POST /.search: not offered), but the three that no
    # server with a read-only extension can pass
    failed = [
        (result.title, result.reason)
        for result in results
        if result.status not in {Status.SUCCESS, Status.SKIPPED}
        and not (
            result.title in READ_ONLY_EXTENSION_CHECKS
            and isinstance(result.data, dict)
            and result.data.get("urn") == SIP_SCHEMA
        )
    ]
    assert failed == []
    assert sum(result.status is Status.SUCCESS for result in results) >= 100
    excused = [result for result in results if result.status not in {Status.SUCCESS, Status.SKIPPED}]
    assert len(excused) == len(READ_ONLY_EXTENSION_CHECKS)


def test_a_posted_user_gets_an_endpoint_whose_password_is_in_secrets_manager(scim_run: LocalRun) -> None:
    # Given / When an identity provider posts a user
    response = scim(scim_run, "POST", "/Users", user_body("grace.hopper@example.com"))
    # Then the endpoint exists in SignalWire, and its password is in moto's Secrets Manager only
    assert response.status_code == 201, response.text
    extension = response.json()[SIP_SCHEMA]
    [endpoint] = scim_run.emulator_endpoints_named("grace.hopper")
    assert extension["sipEndpointId"] == endpoint["id"]
    secret = scim_run.aws("secretsmanager").get_secret_value(SecretId=extension["passwordSecretArn"])
    stored = json.loads(secret["SecretString"])
    assert stored["username"] == "grace.hopper"
    assert stored["password"] not in response.text


def test_deactivating_a_user_disables_its_endpoint_and_deleting_it_removes_the_endpoint(scim_run: LocalRun) -> None:
    # Given a user with an endpoint
    created = scim(scim_run, "POST", "/Users", user_body("katherine.johnson@example.com")).json()
    patch = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"active": False}}]}
    # When the identity provider deactivates the user, then deletes it
    deactivated = scim(scim_run, "PATCH", f"/Users/{created['id']}", patch)
    endpoint = requests.get(f"{scim_run.base_url}/endpoints/katherine.johnson", timeout=REQUEST_TIMEOUT_SECONDS)
    deleted = scim(scim_run, "DELETE", f"/Users/{created['id']}")
    # Then the endpoint was disabled, and is gone after the delete
    assert deactivated.json()["active"] is False
    assert endpoint.json()["record"]["status"] == "disabled"
    assert deleted.status_code == 204
    assert scim_run.emulator_endpoints_named("katherine.johnson") == []
    assert scim(scim_run, "GET", f"/Users/{created['id']}").status_code == 404
