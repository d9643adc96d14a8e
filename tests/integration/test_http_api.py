"""POST /endpoints and GET /profiles through the real handler (CONTRACT.md section 1)."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from local.signalwire_emulator import Fault
from tests.integration.conftest import CALLER, PARAMETERS_PATH, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

PROBLEM = "application/problem+json"


def test_a_username_alone_creates_an_endpoint_with_a_generated_password(api: ProvisionerApi) -> None:
    # Given the default profile
    # When a username alone is sent
    answer = api.create({"username": "alice.smith"})
    # Then the endpoint exists upstream, and the answer carries its SIP URI and the generated password
    assert answer.status == 201
    assert answer.body["sip_uri"] == "sip:alice.smith@test.sip.signalwire.com"
    assert answer.body["profile"] == "default"
    assert len(answer.body["password"]) >= 24
    [stored] = api.emulator.endpoints
    assert stored["password"] == answer.body["password"]
    assert answer.body["endpoint"]["id"] == stored["id"]


def test_the_endpoint_object_is_signalwires_answer_without_any_password(api: ProvisionerApi) -> None:
    # Given / When an endpoint is created
    answer = api.create({"username": "alice.smith"})
    # Then the endpoint object has SignalWire's fields (nulls kept) and no password
    endpoint = answer.body["endpoint"]
    assert endpoint["type"] == "sip_endpoint"
    assert endpoint["call_handler"] == "laml_webhooks"
    assert endpoint["caller_id"] is None
    assert "password" not in endpoint


def test_a_caller_chosen_password_is_used_and_not_echoed(api: ProvisionerApi) -> None:
    # Given a request with its own password
    # When it is sent
    answer = api.create({"username": "bob", "password": "bobs-own-password-1"})
    # Then SignalWire got it and the answer does not repeat it
    assert answer.status == 201
    assert "password" not in answer.body
    assert api.emulator.endpoints[0]["password"] == "bobs-own-password-1"


def test_a_named_profile_and_request_fields_shape_what_signalwire_receives(api: ProvisionerApi) -> None:
    # Given the support profile (an AI agent desk)
    # When a request names it and gives its own caller id
    answer = api.create({"username": "carol", "profile": "support", "caller_id": "Carol"})
    # Then SignalWire stored the merged settings
    assert answer.status == 201
    stored = api.emulator.endpoints[0]
    assert (stored["call_handler"], stored["caller_id"], stored["encryption"]) == ("ai_agent", "Carol", "required")
    assert stored["call_request_url"] is None


def test_a_dry_run_shows_the_exact_payload_with_a_masked_password_and_creates_nothing(api: ProvisionerApi) -> None:
    # Given a request
    # When it is sent as a dry run
    answer = api.create({"username": "dave", "profile": "office"}, query="dry_run=true")
    # Then the payload is shown, the password masked, and SignalWire received nothing
    assert answer.status == 200
    assert answer.body["dry_run"] is True
    assert answer.body["payload"]["password"] == "********"
    assert answer.body["payload"]["call_request_method"] == "GET"
    assert answer.body["sip_uri"] == "sip:dave@test.sip.signalwire.com"
    assert api.emulator.create_requests_received() == 0


def test_profiles_are_listed_sorted_with_description_and_handler(api: ProvisionerApi) -> None:
    # Given the repository's profiles in SSM
    # When they are listed
    answer = api.request("GET", "/profiles")
    # Then each is listed by name, sorted, with its description and handler only
    assert answer.status == 200
    names = [profile["name"] for profile in answer.body["profiles"]]
    assert names == sorted(names)
    assert {"default", "office", "support"} <= set(names)
    support = next(p for p in answer.body["profiles"] if p["name"] == "support")
    assert set(support) == {"name", "description", "call_handler"}
    assert support["call_handler"] == "ai_agent"


def test_a_taken_username_is_a_409_username_taken(api: ProvisionerApi) -> None:
    # Given an existing endpoint
    api.create({"username": "erin"})
    # When the same username is requested again
    answer = api.create({"username": "erin"})
    # Then it is a 409 and SignalWire still has one endpoint
    assert (answer.status, answer.body["type"]) == (409, "username-taken")
    assert answer.headers["Content-Type"] == PROBLEM
    assert len(api.emulator.endpoints) == 1


def test_an_unknown_profile_is_a_422_listing_the_known_ones(api: ProvisionerApi) -> None:
    # Given / When a request names no existing profile
    answer = api.create({"username": "frank", "profile": "sales"})
    # Then the answer lists the profiles there are
    assert (answer.status, answer.body["type"]) == (422, "validation-error")
    assert answer.body["errors"][0]["field"] == "profile"
    assert "default, office, support" in answer.body["errors"][0]["message"]


def test_a_payload_missing_a_handler_field_names_it_and_the_profile_key(api: ProvisionerApi) -> None:
    # Given a default profile whose handler lacks its fallback URL
    api.put_parameter("profiles/default", json.dumps({"call_handler": "laml_webhooks"}))
    # When a request gives only the webhook URL
    answer = api.create({"username": "gina", "handler": {"type": "laml_webhooks", "url": "https://a.example/in"}})
    # Then the missing fields are named with the keys that would fill them
    assert answer.status == 422
    errors = {error["field"]: error["message"] for error in answer.body["errors"]}
    assert set(errors) == {"call_fallback_url", "call_status_callback_url"}
    assert "handler.fallback_url" in errors["call_fallback_url"]
    assert api.emulator.create_requests_received() == 0


def test_every_broken_rule_of_the_body_is_named_in_one_422(api: ProvisionerApi) -> None:
    # Given a body with a bad username, an unknown key and a bad handler URL
    body = {"username": "h i", "colour": "blue", "handler": {"type": "relay_script", "url": "ftp://x"}}
    # When it is sent
    answer = api.create(body)
    # Then each field is named, the handler's discriminator left out of the path
    assert (answer.status, answer.body["type"]) == (422, "validation-error")
    assert {error["field"] for error in answer.body["errors"]} == {"username", "colour", "handler.url"}


@pytest.mark.parametrize(
    ("raw_body", "detail"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b'"alice"', "JSON object"), (b"", "JSON object")],
    ids=["not json", "array", "string", "empty"],
)
def test_a_body_that_is_not_a_json_object_is_a_400(api: ProvisionerApi, raw_body: bytes, detail: str) -> None:
    # Given / When a body that is not a JSON object
    answer = api.create(None, raw_body=raw_body)
    # Then it is a 400 malformed-request, and nothing is created
    assert (answer.status, answer.body["type"]) == (400, "malformed-request")
    assert detail in answer.body["detail"]
    assert api.emulator.create_requests_received() == 0


def test_a_body_over_16_kib_is_a_413(api: ProvisionerApi) -> None:
    # Given a body just over 16 KiB
    body = json.dumps({"username": "ivan", "caller_id": "x" * 16400}).encode()
    # When it is sent
    answer = api.create(None, raw_body=body)
    # Then it is a 413
    assert (answer.status, answer.body["type"]) == (413, "payload-too-large")


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}, {}],
    ids=["text", "form", "none"],
)
def test_a_body_not_declared_as_json_is_a_415(api: ProvisionerApi, headers: dict[str, str]) -> None:
    # Given / When a JSON body sent with another or no content type
    answer = api.create({"username": "judy"}, headers=headers)
    # Then it is a 415 and nothing is created
    assert (answer.status, answer.body["type"]) == (415, "unsupported-media-type")
    assert api.emulator.create_requests_received() == 0


def test_a_charset_parameter_on_the_json_content_type_is_fine(api: ProvisionerApi) -> None:
    # Given / When JSON declared with a charset
    answer = api.create({"username": "kim"}, headers={"Content-Type": "application/json; charset=utf-8"})
    # Then it is accepted
    assert answer.status == 201


def test_an_unknown_route_is_a_404_problem(api: ProvisionerApi) -> None:
    # Given / When a path the API does not have
    answer = api.request("GET", "/nothing/here")
    # Then it is a problem+json 404
    assert (answer.status, answer.body["type"]) == (404, "not-found")
    assert answer.headers["Content-Type"] == PROBLEM


def test_every_problem_carries_the_api_gateway_request_id(api: ProvisionerApi) -> None:
    # Given / When a request fails
    answer = api.create({"username": "x y"})
    # Then the problem names the request for support
    assert answer.body["request_id"]
    assert set(answer.body) == {"type", "title", "status", "detail", "request_id", "errors"}


def test_a_request_naming_a_broken_profile_is_a_500_configuration_error_naming_the_parameter(
    api: ProvisionerApi,
) -> None:
    # Given a profile that is not JSON
    api.put_parameter("profiles/office", "{broken: value-42")
    # When a request names it
    answer = api.create({"username": "leo", "profile": "office"})
    # Then the parameter is named, its value is not shown, and nothing was created
    assert (answer.status, answer.body["type"]) == (500, "configuration-error")
    assert f"{PARAMETERS_PATH}/profiles/office" in answer.body["detail"]
    assert "value-42" not in json.dumps(answer.body)
    assert api.emulator.create_requests_received() == 0


def test_a_broken_profile_leaves_requests_naming_other_profiles_working(api: ProvisionerApi) -> None:
    # Given one broken profile
    api.put_parameter("profiles/office", "{broken: value-42")
    # When a request names another profile
    answer = api.create({"username": "leo", "profile": "support"})
    # Then it is created as usual
    assert answer.status == 201


def test_a_broken_profile_is_left_out_of_the_profile_list(api: ProvisionerApi) -> None:
    # Given one broken profile
    api.put_parameter("profiles/office", json.dumps({"codecs": ["NOT-A-CODEC"]}))
    # When the profiles are listed
    answer = api.request("GET", "/profiles")
    # Then the valid ones are there and the broken one is not
    names = [profile["name"] for profile in answer.body["profiles"]]
    assert answer.status == 200
    assert "office" not in names
    assert {"default", "support"} <= set(names)


@pytest.mark.parametrize(
    ("fault", "status", "problem_type"),
    [
        (Fault.SERVER_ERROR, 502, "upstream-error"),
        (Fault.NON_JSON, 502, "upstream-error"),
        (Fault.RATE_LIMITED, 503, "upstream-unavailable"),
    ],
)
def test_signalwire_failures_map_to_the_contracts_problems(
    api: ProvisionerApi, fault: Fault, status: int, problem_type: str
) -> None:
    # Given SignalWire misbehaves on every create
    api.emulator.inject_fault(fault, times=10, retry_after=2 if fault is Fault.RATE_LIMITED else None)
    # When an endpoint is requested
    answer = api.create({"username": "mia"})
    # Then the contract's problem answers
    assert (answer.status, answer.body["type"]) == (status, problem_type)


def test_a_rate_limit_answer_carries_retry_after(api: ProvisionerApi) -> None:
    # Given SignalWire keeps rate-limiting
    api.emulator.inject_fault(Fault.RATE_LIMITED, times=10, retry_after=30)
    # When an endpoint is requested
    answer = api.create({"username": "nina"})
    # Then the caller is told when to retry
    assert answer.status == 503
    assert int(answer.headers["Retry-After"]) >= 1


def test_rejected_credentials_are_a_502(api: ProvisionerApi) -> None:
    # Given a wrong API token in SSM
    api.put_parameter("signalwire/api_token", "PTwrong-token", kind="SecureString")
    # When an endpoint is requested
    answer = api.create({"username": "olga"})
    # Then it is an upstream error, not the caller's
    assert (answer.status, answer.body["type"]) == (502, "upstream-error")


def test_every_log_line_of_a_request_names_the_request_and_the_caller(
    api: ProvisionerApi, service_log: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given a create that SignalWire fails once, then succeeds on the caller's retry
    api.emulator.inject_fault(Fault.SERVER_ERROR)
    api.create({"username": "pete"})
    api.create({"username": "pete"})
    # Then every structured log line of both carries the correlation id and the caller's IAM identity
    lines = service_log()
    assert len(lines) >= 4
    assert all(line["caller"] == CALLER.user_arn and line["correlation_id"] for line in lines)


def test_each_created_endpoint_leaves_one_audit_line(
    api: ProvisionerApi, service_log: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given / When an endpoint is created
    answer = api.create({"username": "quinn", "profile": "office"})
    # Then one audit line names the endpoint, the profile and the caller
    [audit] = [line for line in service_log() if line.get("audit") == "endpoint-created"]
    assert audit["endpoint_id"] == answer.body["endpoint"]["id"]
    assert (audit["username"], audit["profile"], audit["caller"]) == ("quinn", "office", CALLER.user_arn)


def test_metrics_count_creations_and_failures_by_problem_type(
    api: ProvisionerApi, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given / When one endpoint is created and one request fails validation
    api.create({"username": "rita"})
    api.create({"username": "r i t a"})
    # Then the EMF output counts both, the failure by its problem type
    documents = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert any(document.get("EndpointsCreated") == [1.0] for document in documents)
    assert any("UpstreamLatency" in document for document in documents)
    assert any(document.get("problem_type") == "validation-error" for document in documents)


def test_a_username_whose_percent_encoding_is_not_utf8_is_a_400_naming_the_path(api: ProvisionerApi) -> None:
    # Given / When a look-up of a username percent-encoded from bytes that are not UTF-8
    answer = api.request("GET", "/endpoints/ada%FF")
    # Then it is a 400 malformed-request about the path, not the body
    assert (answer.status, answer.body["type"]) == (400, "malformed-request")
    assert "path" in answer.body["detail"]
