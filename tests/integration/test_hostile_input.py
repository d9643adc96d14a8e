"""Hostile sizes, shapes, media types, usernames and query values: a precise 4xx, nothing created.

Complements test_hostile_envelope.py (invalid UTF-8, deep nesting, duplicate keys, base64
decoding), through the real handler with moto SSM and the SignalWire emulator.
"""

import base64
import json
from typing import Any

import pytest

from local.gateway import LambdaFunction, LocalLambdaContext, build_event
from tests.integration.conftest import CALLER, Answer, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

LIMIT_BYTES = 16 * 1024
PROBLEM_JSON = "application/problem+json"

# One code point per Unicode whitespace and control class a username must not hold.
FORBIDDEN_USERNAME_CHARACTERS = [
    "\u0009",  # Cc, whitespace: tab
    "\u000a",  # Cc, whitespace: line feed
    "\u000b",  # Cc, whitespace: vertical tab
    "\u000c",  # Cc, whitespace: form feed
    "\u000d",  # Cc, whitespace: carriage return
    "\u0020",  # Zs: space
    "\u0085",  # Cc, whitespace: next line
    "\u00a0",  # Zs: no-break space
    "\u1680",  # Zs: ogham space mark
    *(chr(code) for code in range(0x2000, 0x200B)),  # Zs: en quad .. hair space
    "\u2028",  # Zl: line separator
    "\u2029",  # Zp: paragraph separator
    "\u202f",  # Zs: narrow no-break space
    "\u205f",  # Zs: medium mathematical space
    "\u3000",  # Zs: ideographic space
    "\u0000",  # Cc: null
    "\u001f",  # Cc: unit separator
    "\u007f",  # Cc: delete
    "\u009f",  # Cc: application program command
    "\u200b",  # Cf: zero width space
    "\ufeff",  # Cf: byte order mark
    "\u200e",  # Cf: left-to-right mark
]


def assert_problem(answer: Answer, status: int, problem_type: str) -> None:
    assert answer.status == status, answer.body
    assert answer.headers["Content-Type"] == PROBLEM_JSON
    assert answer.body["type"] == problem_type
    assert answer.body["status"] == status


def padded_body(document: dict[str, Any], size: int) -> bytes:
    """`document` as JSON, padded with insignificant whitespace to exactly `size` bytes."""
    compact = json.dumps(document, ensure_ascii=False).encode()
    padded = compact[:-1] + b" " * (size - len(compact)) + b"}"
    assert len(padded) == size
    return padded


def handle_base64_event(api: ProvisionerApi, body: bytes) -> dict[str, Any]:
    event = build_event("POST", "/endpoints", "", [("content-type", "application/json")], b"", caller=CALLER)
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    result: dict[str, Any] = api.module.lambda_handler(event, LocalLambdaContext(LambdaFunction()))
    return result


# -- size ------------------------------------------------------------------------------------


def test_a_body_of_exactly_16384_bytes_is_accepted(api: ProvisionerApi) -> None:
    # Given a valid request padded to exactly the limit
    body = padded_body({"username": "at.the.limit"}, LIMIT_BYTES)
    # When it is sent
    answer = api.create(None, raw_body=body)
    # Then the endpoint is created
    assert answer.status == 201, answer.body
    assert [endpoint["username"] for endpoint in api.emulator.endpoints] == ["at.the.limit"]


def test_a_body_of_16385_bytes_is_a_413(api: ProvisionerApi) -> None:
    # Given the same valid request one byte over the limit
    body = padded_body({"username": "over.the.limit"}, LIMIT_BYTES + 1)
    # When it is sent
    answer = api.create(None, raw_body=body)
    # Then it is too large and nothing is created
    assert_problem(answer, 413, "payload-too-large")
    assert api.emulator.create_requests_received() == 0


def test_a_one_mebibyte_body_is_a_413(api: ProvisionerApi) -> None:
    # Given / When a body of 1 MiB
    answer = api.create(None, raw_body=padded_body({"username": "huge"}, 1024 * 1024))
    # Then it is too large and nothing is created
    assert_problem(answer, 413, "payload-too-large")
    assert api.emulator.create_requests_received() == 0


def test_the_limit_counts_bytes_not_characters(api: ProvisionerApi) -> None:
    # Given a body of 16385 bytes that is only about 8,400 characters (8,000 two-byte "é")
    body = padded_body({"username": "bytes", "caller_id": "é" * 8000}, LIMIT_BYTES + 1)
    assert len(body.decode()) < LIMIT_BYTES
    # When it is sent
    answer = api.create(None, raw_body=body)
    # Then it is too large
    assert_problem(answer, 413, "payload-too-large")
    assert api.emulator.create_requests_received() == 0


def test_a_base64_encoded_body_is_measured_after_decoding(api: ProvisionerApi) -> None:
    # Given a 16384-byte body whose base64 form is far longer than 16 KiB
    body = padded_body({"username": "b64.at.limit"}, LIMIT_BYTES)
    # When API Gateway delivers it base64-encoded
    result = handle_base64_event(api, body)
    # Then it is within the limit and created
    assert result["statusCode"] == 201, result["body"]


def test_a_base64_encoded_body_over_the_limit_is_a_413(api: ProvisionerApi) -> None:
    # Given a 16385-byte body
    body = padded_body({"username": "b64.over.limit"}, LIMIT_BYTES + 1)
    # When API Gateway delivers it base64-encoded
    result = handle_base64_event(api, body)
    # Then it is too large, as a problem document, and nothing is created
    assert result["statusCode"] == 413
    assert result["headers"]["Content-Type"] == PROBLEM_JSON
    assert json.loads(result["body"])["type"] == "payload-too-large"
    assert api.emulator.create_requests_received() == 0


# -- shape -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw_body",
    [b"null", b"0", b"-1.5e3", b"true", b"false", b'"alice"', b"[]", b'[{"username": "alice"}]', b"NaN"],
    ids=["null", "integer", "float", "true", "false", "string", "empty array", "array of the object", "NaN"],
)
def test_json_that_is_not_an_object_is_a_400(api: ProvisionerApi, raw_body: bytes) -> None:
    # Given / When a body that is JSON but not an object
    answer = api.create(None, raw_body=raw_body)
    # Then it is malformed and nothing is created
    assert_problem(answer, 400, "malformed-request")
    assert api.emulator.create_requests_received() == 0


@pytest.mark.parametrize(
    "raw_body",
    [b"", b"   ", b'{"username": "alice"} {"username": "bob"}', b"{'username': 'alice'}"],
    ids=["empty", "whitespace only", "two documents", "single quotes"],
)
def test_a_body_that_is_not_one_json_document_is_a_400(api: ProvisionerApi, raw_body: bytes) -> None:
    # Given / When a body that is not exactly one JSON document
    answer = api.create(None, raw_body=raw_body)
    # Then it is malformed and nothing is created
    assert_problem(answer, 400, "malformed-request")
    assert api.emulator.create_requests_received() == 0


# -- media type ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": ""},
        {"Content-Type": "text/plain"},
        {"Content-Type": "text/plain; charset=utf-8"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=xyz"},
        {"Content-Type": "application/xml"},
        {"Content-Type": "application/octet-stream"},
        {"Content-Type": "application/jsonp"},
        {"Content-Type": "application/json-seq"},
        {"Content-Type": "text/json"},
    ],
    ids=lambda headers: headers.get("Content-Type", "absent") or "empty",
)
def test_a_json_body_under_another_content_type_is_a_415(api: ProvisionerApi, headers: dict[str, str]) -> None:
    # Given a valid request body declared as something other than application/json
    body = json.dumps({"username": "wrong.type"}).encode()
    # When it is sent
    answer = api.create(None, raw_body=body, headers=headers)
    # Then the media type is unsupported and nothing is created
    assert_problem(answer, 415, "unsupported-media-type")
    assert api.emulator.create_requests_received() == 0


@pytest.mark.parametrize("header_name", ["content-type", "CONTENT-TYPE", "Content-type", "cOnTeNt-TyPe"])
def test_the_content_type_header_name_is_matched_in_any_case(api: ProvisionerApi, header_name: str) -> None:
    # Given / When a valid request whose Content-Type header name is spelled in another case
    answer = api.create({"username": "header.case"}, headers={header_name: "application/json"})
    # Then it is created
    assert answer.status == 201, answer.body


@pytest.mark.parametrize(
    "content_type",
    ["application/json;charset=utf-8", "application/json; charset=UTF-8", "APPLICATION/JSON;CHARSET=UTF-8",
     "application/json ; charset=utf-8", "Application/Json"],
)  # fmt: skip
def test_the_content_type_value_may_vary_in_case_and_carry_a_charset(api: ProvisionerApi, content_type: str) -> None:
    # Given / When a valid request declared as JSON in one of its legal spellings
    answer = api.create({"username": "value.case"}, headers={"Content-Type": content_type})
    # Then it is created
    assert answer.status == 201, answer.body


# -- username --------------------------------------------------------------------------------


@pytest.mark.parametrize("character", FORBIDDEN_USERNAME_CHARACTERS, ids=lambda char: f"U+{ord(char):04X}")
def test_a_username_ending_in_whitespace_or_a_control_character_is_a_422(api: ProvisionerApi, character: str) -> None:
    # Given a username ending in the character as json.dumps writes it (\u-escaped unless ASCII); trimming would show
    body = json.dumps({"username": f"alice.smith{character}"}, ensure_ascii=True).encode()
    # When it is sent
    answer = api.create(None, raw_body=body)
    # Then the username is invalid and nothing is created
    assert_problem(answer, 422, "validation-error")
    assert [error["field"] for error in answer.body["errors"]] == ["username"]
    assert api.emulator.create_requests_received() == 0


@pytest.mark.parametrize("character", FORBIDDEN_USERNAME_CHARACTERS, ids=lambda char: f"U+{ord(char):04X}")
def test_a_username_holding_whitespace_or_a_control_character_as_raw_utf8_is_refused(
    api: ProvisionerApi, character: str
) -> None:
    # Given the character as raw UTF-8 inside the username (JSON forbids raw U+0000..U+001F in strings)
    body = b'{"username": "alice' + character.encode() + b'smith"}'
    # When it is sent
    answer = api.create(None, raw_body=body)
    # Then it is malformed JSON or an invalid username, and nothing is created
    if ord(character) < 0x20:
        assert_problem(answer, 400, "malformed-request")
    else:
        assert_problem(answer, 422, "validation-error")
        assert [error["field"] for error in answer.body["errors"]] == ["username"]
    assert api.emulator.create_requests_received() == 0


@pytest.mark.parametrize("username", ["alice@example.com", "@alice", "alice@", "@"])
def test_a_username_with_an_at_sign_is_a_422(api: ProvisionerApi, username: str) -> None:
    # Given / When a username holding "@" (it would break the SIP URI)
    answer = api.create({"username": username})
    # Then the username is invalid and nothing is created
    assert_problem(answer, 422, "validation-error")
    assert [error["field"] for error in answer.body["errors"]] == ["username"]
    assert api.emulator.create_requests_received() == 0


def test_a_username_with_an_escaped_lone_surrogate_is_a_422(api: ProvisionerApi) -> None:
    # Given / When a username holding "\ud800", valid JSON that decodes to no Unicode character
    answer = api.create(None, raw_body=b'{"username": "alice\\ud800"}')
    # Then the username is invalid and nothing is created
    assert_problem(answer, 422, "validation-error")
    assert [error["field"] for error in answer.body["errors"]] == ["username"]
    assert api.emulator.create_requests_received() == 0


# -- handler URLs ----------------------------------------------------------------------------

# Each port a handler URL may not give (decimal 1 to 65535, no leading zeros), and why.
IMPOSSIBLE_PORTS = {
    "99999": "above 65535",
    "0": "zero",
    "-1": "negative",
    "0x50": "hexadecimal",
    "": "empty after the colon",
    " 80": "a space before it",
    "+80": "a sign",
    "\u0668\u0660": "Arabic-Indic digits",
    "00080": "leading zeros",
}


@pytest.mark.parametrize("port", IMPOSSIBLE_PORTS.keys(), ids=IMPOSSIBLE_PORTS.values())
@pytest.mark.parametrize("key", ["url", "fallback_url", "status_callback_url"])
def test_a_handler_url_with_an_impossible_port_is_a_422_naming_it_and_sends_nothing(
    api: ProvisionerApi, key: str, port: str
) -> None:
    # Given a webhook handler whose every URL is good but one, whose port is impossible
    handler = {
        "type": "laml_webhooks",
        "url": "https://hooks.example.com/voice",
        "fallback_url": "https://hooks.example.com:8443/fallback",
        "status_callback_url": "https://hooks.example.com/status",
        key: f"https://hooks.example.com:{port}/{key}",
    }
    # When it is sent, for real and as a dry run
    answers = [api.create({"username": "port.user", "handler": handler}, query=query) for query in ("", "dry_run=true")]
    # Then each is a 422 naming that URL, and nothing reaches SignalWire
    for answer in answers:
        assert_problem(answer, 422, "validation-error")
        assert [error["field"] for error in answer.body["errors"]] == [f"handler.{key}"]
    assert api.emulator.create_requests_received() == 0


@pytest.mark.parametrize("port", ["1", "80", "8443", "65535"])
def test_a_handler_url_with_a_port_from_1_to_65535_is_sent_as_given(api: ProvisionerApi, port: str) -> None:
    # Given / When a relay script handler whose URL gives a possible port
    url = f"https://hooks.example.com:{port}/script"
    answer = api.create({"username": "port.user", "handler": {"type": "relay_script", "url": url}})
    # Then the endpoint is created with that URL
    assert answer.status == 201, answer.body
    assert api.emulator.endpoints[0]["call_relay_script_url"] == url


# -- query -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["dry_run=", "dry_run", "dry_run=maybe", "dry_run=tru", "dry_run=2", "dry_run=null", "dry_run=%00",
     "dry_run=true%00", "dry_run=%20true", "dry_run=true&dry_run=false"],
)  # fmt: skip
def test_an_unreadable_dry_run_value_is_a_422_and_creates_nothing(api: ProvisionerApi, query: str) -> None:
    # Given / When a valid body with a dry_run value that is not a boolean
    answer = api.create({"username": "odd.dry.run"}, query=query)
    # Then dry_run is invalid and nothing is created
    assert_problem(answer, 422, "validation-error")
    assert [error["field"] for error in answer.body["errors"]] == ["dry_run"]
    assert api.emulator.create_requests_received() == 0


@pytest.mark.parametrize("value", ["TRUE", "True"])
def test_dry_run_true_in_another_case_is_a_dry_run(api: ProvisionerApi, value: str) -> None:
    # Given / When a valid body with dry_run=true spelled in another case
    answer = api.create({"username": "loud.dry.run"}, query=f"dry_run={value}")
    # Then it is previewed and nothing is created
    assert answer.status == 200, answer.body
    assert answer.body["dry_run"] is True
    assert api.emulator.create_requests_received() == 0
