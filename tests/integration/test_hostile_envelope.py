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
