"""sipctl's pure parts: problem documents as exceptions, the command line as the contract gives it
(CONTRACT.md section 10), and what it prints for a problem."""

import json

import pytest

from sip_provisioning.domain.errors import ProblemType
from sipctl.cli import describe_problem, main, parser, table
from sipctl.problems import GATEWAY_TYPE, PROBLEM_CLASSES, ProblemError, problem_from_answer

# Answered only to Slack and SCIM callers, never behind IAM auth.
NOT_HTTP_API_PROBLEMS = {ProblemType.UNAUTHORIZED}
NOWHERE = "http://127.0.0.1:9"


def problem_body(problem_type: str, status: int) -> bytes:
    return json.dumps({"type": problem_type, "title": "t", "status": status, "detail": "d"}).encode()


def test_every_problem_type_the_http_api_answers_has_a_class_of_its_own() -> None:
    # Given the problem types the service answers HTTP callers with
    answered = {problem_type.value for problem_type in ProblemType} - NOT_HTTP_API_PROBLEMS
    # Then the client maps exactly those, each to a class of its own
    assert set(PROBLEM_CLASSES) == answered
    assert len(set(PROBLEM_CLASSES.values())) == len(PROBLEM_CLASSES)


@pytest.mark.parametrize(("problem_type", "problem_class"), sorted(PROBLEM_CLASSES.items()))
def test_a_problem_document_becomes_its_types_exception(problem_type: str, problem_class: type[ProblemError]) -> None:
    # Given a problem document of that type
    # When the client reads it
    problem = problem_from_answer(409, problem_body(problem_type, 409), "3")
    # Then it is that type's exception, with the status, detail and Retry-After
    assert type(problem) is problem_class
    assert (problem.status, problem.type, problem.detail, problem.retry_after) == (409, problem_type, "d", 3.0)


def test_api_gateways_own_message_is_a_problem_without_a_type() -> None:
    # Given API Gateway's refusal of a bad signature
    # When the client reads it
    problem = problem_from_answer(403, b'{"message":"Forbidden"}')
    # Then it is a plain ProblemError of type about:blank, its message the detail
    assert type(problem) is ProblemError
    assert str(problem) == f"403 {GATEWAY_TYPE}: Forbidden"


def test_a_problem_prints_as_one_line_then_one_line_per_field_error() -> None:
    # Given a validation problem naming two fields
    body = {
        "type": "validation-error",
        "status": 422,
        "detail": "The request breaks one or more rules.",
        "errors": [{"field": "username", "message": "too long"}, {"field": "send_as", "message": "not E.164"}],
    }
    problem = problem_from_answer(422, json.dumps(body).encode())
    # When it is described for stderr
    # Then the first line is `<status> <type>: <detail>`, then each field
    assert describe_problem(problem).splitlines() == [
        "422 validation-error: The request breaks one or more rules.",
        "  username: too long",
        "  send_as: not E.164",
    ]


def test_common_options_may_come_before_or_after_the_command() -> None:
    # Given the same options before and after the command name
    before = parser().parse_args(["--json", "--url", NOWHERE, "--timeout", "5", "show", "alice"])
    after = parser().parse_args(["show", "alice", "--json", "--url", NOWHERE, "--timeout", "5"])
    # Then both read the same
    assert (before.json, before.url, before.timeout) == (after.json, after.url, after.timeout) == (True, NOWHERE, 5.0)


def test_an_option_given_only_before_the_command_is_kept() -> None:
    # Given --url before the command and nothing after it
    arguments = parser().parse_args(["--url", NOWHERE, "show", "alice"])
    # Then the command still sees it
    assert arguments.url == NOWHERE


@pytest.mark.parametrize(
    "command_line",
    [
        ["create", "alice", "--handler", "url=https://x.example.com"],
        ["create", "alice", "--handler-type", "laml_webhooks", "--handler", "no-equals-sign"],
        ["update", "alice", "--clear", "password"],
        ["update", "alice", "--owner", "e1", "--clear", "owner"],
    ],
)
def test_a_command_line_the_api_cannot_take_is_a_usage_error_before_any_request(
    command_line: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a command line that cannot become a request (and a URL where nothing listens)
    # When sipctl runs it
    status = main([*command_line, "--url", NOWHERE, "--region", "us-east-1"])
    # Then it exits 2 with one message, having sent nothing (nothing listens there to answer)
    assert status == 2
    assert capsys.readouterr().err.startswith("sipctl: ")


def test_no_url_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Given no --url and no SIPCTL_URL
    monkeypatch.delenv("SIPCTL_URL", raising=False)
    # When a command runs
    status = main(["profiles", "--region", "us-east-1"])
    # Then it exits 2 saying where the URL comes from
    assert status == 2
    assert "SIPCTL_URL" in capsys.readouterr().err


def test_a_table_pads_each_column_to_its_widest_cell() -> None:
    # Given rows with a missing value and a boolean
    # When they are a table
    printed = table([["alice", None, True], ["bob-the-builder", "office", False]], ["username", "profile", "managed"])
    # Then the columns line up, a missing value is "-"
    assert printed.splitlines() == [
        "USERNAME         PROFILE  MANAGED",
        "alice            -        yes",
        "bob-the-builder  office   no",
    ]
