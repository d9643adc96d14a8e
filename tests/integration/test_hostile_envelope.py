"""Hostile bodies and headers get a clear 4xx problem and change nothing; never a 500."""

import base64
import json

import pytest

from local.gateway import LambdaFunction, LocalLambdaContext, build_event
from tests.integration.conftest import CALLER, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.mark.parametrize(
    "raw_body",
    [b'{"username": "\xff\xfe"}', b"\xc3\x28", b'{"username": "ok\xed\xa0\x80"}'],
    ids=["invalid byte", "bad continuation", "encoded surrogate"],
)
def test_a_body_that_is_not_valid_utf8_is_a_400(api: ProvisionerApi, raw_body: bytes) -> None:
    # Given / When a body with bytes that are not UTF-8
    answer = api.create(None, raw_body=raw_body)
    # Then it is malformed and nothing is created
    assert (answer.status, answer.body["type"]) == (400, "malformed-request")
    assert api.emulator.create_requests_received() == 0


def test_json_nested_deeper_than_the_parser_can_follow_is_a_400(api: ProvisionerApi) -> None:
    # Given / When 5,000 nested arrays (under 16 KiB)
    answer = api.create(None, raw_body=b"[" * 5000 + b"]" * 5000)
    # Then it is malformed
    assert (answer.status, answer.body["type"]) == (400, "malformed-request")


# As deep as fits in an otherwise valid body within 16 KiB: 5,000 arrays, and 2,700 objects
# (`{"a":` takes five bytes a level, so 5,000 of them would pass the limit and be a 413).
DEEP_VALUES = {
    "5000 arrays": b"[" * 5000 + b"1" + b"]" * 5000,
    "2700 objects": b'{"a":' * 2700 + b"1" + b"}" * 2700,
}
# Each route that reads a body, a valid body for it, and a field of it to nest the value under.
ROUTES_WITH_A_BODY = {
    "create": ("POST", "/endpoints", b'{"username": "deep.new", "handler": '),
    "change": ("PATCH", "/endpoints/deep.user", b'{"owner": "deep.owner", "handler": '),
    "reset": ("POST", "/endpoints/deep.user/password", b'{"password": '),
}


def service_state(api: ProvisionerApi) -> tuple[object, ...]:
    """What a request could change: SignalWire's endpoints (passwords included) and the inventory."""
    return api.emulator.endpoints, api.request("GET", "/endpoints").body


@pytest.mark.parametrize("deep_value", DEEP_VALUES.values(), ids=DEEP_VALUES.keys())
@pytest.mark.parametrize("route", ROUTES_WITH_A_BODY.values(), ids=ROUTES_WITH_A_BODY.keys())
def test_a_body_nested_thousands_deep_within_the_size_limit_is_a_400_and_changes_nothing(
    api: ProvisionerApi, route: tuple[str, str, bytes], deep_value: bytes
) -> None:
    # Given an endpoint, and a body for the route whose one field nests thousands of levels deep
    assert api.create({"username": "deep.user"}).status == 201
    method, path, opening = route
    body = opening + deep_value + b"}"
    assert len(body) <= 16 * 1024
    before = service_state(api)
    # When it is sent
    answer = api.request(method, path, raw_body=body)
    # Then it is malformed, says why, and nothing changed
    assert (answer.status, answer.body["type"]) == (400, "malformed-request"), answer.body
    assert "deeper than 32 levels" in answer.body["detail"]
    assert service_state(api) == before
    assert api.emulator.create_requests_received() == 1


@pytest.mark.parametrize("deep_value", DEEP_VALUES.values(), ids=DEEP_VALUES.keys())
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/endpoints"), ("GET", "/endpoints/deep.user"), ("DELETE", "/endpoints/deep.user?dry_run=true")],
)
def test_a_deeply_nested_body_on_a_route_that_reads_none_is_not_a_500(
    api: ProvisionerApi, method: str, path: str, deep_value: bytes
) -> None:
    # Given an endpoint
    assert api.create({"username": "deep.user"}).status == 201
    route, _, query = path.partition("?")
    # When a route that takes no body is sent a deeply nested one
    answer = api.request(method, route, raw_body=b'{"a": ' + deep_value + b"}", query=query)
    # Then the body is never read: the route answers as it would without it
    assert answer.status == 200, answer.body


def test_a_json_object_with_a_duplicate_key_is_a_400(api: ProvisionerApi) -> None:
    # Given / When a body naming username twice (which value would win is ambiguous)
    answer = api.create(None, raw_body=b'{"username": "tom", "username": "jerry"}')
    # Then it is malformed and nothing is created
    assert (answer.status, answer.body["type"]) == (400, "malformed-request")
    assert "username" in answer.body["detail"]
    assert api.emulator.create_requests_received() == 0


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; Charset=UTF-8"])
def test_the_media_type_is_matched_case_insensitively(api: ProvisionerApi, content_type: str) -> None:
    # Given / When JSON declared with an upper-case media type
    answer = api.create({"username": f"case.{len(content_type)}"}, headers={"Content-Type": content_type})
    # Then it is accepted
    assert answer.status == 201


def test_a_base64_encoded_body_as_api_gateway_sends_it_is_decoded(api: ProvisionerApi) -> None:
    # Given an event whose body API Gateway base64-encoded
    event = build_event("POST", "/endpoints", "", [("content-type", "application/json")], b"", caller=CALLER)
    event["body"] = base64.b64encode(json.dumps({"username": "b64.user"}).encode()).decode()
    event["isBase64Encoded"] = True
    # When it is handled
    result = api.module.lambda_handler(event, LocalLambdaContext(LambdaFunction()))
    # Then the endpoint is created
    assert result["statusCode"] == 201
    assert api.emulator.endpoints[0]["username"] == "b64.user"


def test_a_body_flagged_base64_that_is_not_base64_is_a_400(api: ProvisionerApi) -> None:
    # Given an event flagged base64 whose body is not
    event = build_event("POST", "/endpoints", "", [("content-type", "application/json")], b"", caller=CALLER)
    event["body"], event["isBase64Encoded"] = "%%%not base64%%%", True
    # When it is handled
    result = api.module.lambda_handler(event, LocalLambdaContext(LambdaFunction()))
    # Then it is malformed
    assert result["statusCode"] == 400
