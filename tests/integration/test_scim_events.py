"""The recorded SCIM events in events/scim/ (as API Gateway delivers them on a `dev` stage) get
their expected answers from the real SCIM handler, on moto and the emulator."""

import json
from pathlib import Path
from typing import Any

import pytest

from local.gateway import LocalLambdaContext
from local.signalwire_emulator import SignalWireEmulator
from tests.integration.conftest import ProvisionerApi
from tests.scim_helpers import LIST_SCHEMA, SCIM_FUNCTION, SIP_SCHEMA, ScimClient

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events" / "scim"
EVENTS_TOKEN = "example-scim-bearer-token-2c9e7f41"  # the token the recorded events carry
STAGE_BASE_URL = "https://k3x9q2w7vd.execute-api.us-east-1.amazonaws.com/dev/scim/v2"


def answer_to(scim: ScimClient, api: ProvisionerApi, name: str) -> dict[str, Any]:
    api.put_parameter("scim/bearer_token", EVENTS_TOKEN, "SecureString")
    event = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    result: dict[str, Any] = scim.module.lambda_handler(event, LocalLambdaContext(SCIM_FUNCTION))
    return result


def test_every_recorded_scim_event_is_a_scim_route_event() -> None:
    # Given / When every recorded SCIM event is read
    events = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(EVENTS_DIR.glob("*.json"))]
    # Then each is for the SCIM route, outside IAM, on the dev stage
    assert len(events) == 3
    assert {event["routeKey"] for event in events} == {"ANY /scim/v2/{proxy+}"}
    assert all("authorizer" not in event["requestContext"] for event in events)
    assert all(event["rawPath"].startswith("/dev/scim/v2/") for event in events)


def test_oktas_recorded_create_makes_the_user_with_its_location_on_the_stage(
    scim: ScimClient, api: ProvisionerApi, emulator: SignalWireEmulator
) -> None:
    # Given / When the recorded Okta create runs
    result = answer_to(scim, api, "okta-create-user.json")
    # Then the user is created, located under the stage's base URL, and has its endpoint
    assert result["statusCode"] == 201
    user = json.loads(result["body"])
    assert user["meta"]["location"] == f"{STAGE_BASE_URL}/Users/{user['id']}"
    assert result["headers"]["Location"] == user["meta"]["location"]
    assert user[SIP_SCHEMA]["sipUsername"] == "ada.lovelace"
    assert [endpoint["username"] for endpoint in emulator.endpoints] == ["ada.lovelace"]


def test_oktas_recorded_lookup_before_a_create_finds_nobody(scim: ScimClient, api: ProvisionerApi) -> None:
    # Given / When the recorded userName lookup runs on an empty directory
    result = answer_to(scim, api, "okta-find-user.json")
    # Then it is an empty list
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {
        "schemas": [LIST_SCHEMA],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def test_the_recorded_service_provider_config_request_is_answered(scim: ScimClient, api: ProvisionerApi) -> None:
    # Given / When the recorded ServiceProviderConfig request runs
    result = answer_to(scim, api, "get-service-provider-config.json")
    # Then the configuration is answered as SCIM JSON
    assert result["statusCode"] == 200
    assert result["headers"]["Content-Type"] == "application/scim+json"
