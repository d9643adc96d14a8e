"""The Slack slash command through `python -m local.run` (what `make run` starts), as Slack meets it.

Requests are Slack's form-encoded, signed POSTs to `/chatops/slack`; a command's delayed answer
comes to a loopback stand-in for its `response_url`; what SignalWire holds is read from the
emulator's API.
"""

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import requests

from local.slack_response_url import ResponseUrlStandIn
from tests.e2e.test_make_run import REPOSITORY_ROOT, REQUEST_TIMEOUT_SECONDS, LocalRun, end, start_local_run
from tests.slack_helpers import message_text, signed_headers, slash_command_body

SIGNING_SECRET = "e2e-slack-signing-secret-7a6b5c4d3e2f"
TEAM = "T0E2ETEAM"
USER = "U0E2EUSER"
SLACK_LINE = re.compile(
    r"Slack command: POST (?P<url>\S+); signing secret (?P<secret>.+); allowed teams (?P<teams>\S+)"
)


def start_with(environment: dict[str, str]) -> LocalRun:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("SLACK_SIGNING_SECRET", "SLACK_ALLOWED_TEAM_IDS"):
            patch.delenv(name, raising=False)
        for name, value in environment.items():
            patch.setenv(name, value)
        run = start_local_run()
    run.wait_until_listening()
    return run


@pytest.fixture(scope="module")
def local_run() -> Iterator[LocalRun]:
    run = start_with({"SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_ALLOWED_TEAM_IDS": f"{TEAM},T0SECONDTEAM"})
    try:
        yield run
    finally:
        end(run)


@pytest.fixture
def response_url() -> Iterator[ResponseUrlStandIn]:
    with ResponseUrlStandIn() as stand_in:
        yield stand_in


def slack_line(run: LocalRun) -> re.Match[str]:
    [line] = [match for line in run.output if (match := SLACK_LINE.search(line))]
    return line


def send(
    run: LocalRun, text: str, response_url: str, *, secret: str = SIGNING_SECRET, team: str = TEAM
) -> requests.Response:
    body = slash_command_body(text, team_id=team, user_id=USER, response_url=response_url)
    return requests.post(
        f"{run.base_url}/chatops/slack",
        data=body,
        headers=signed_headers(body, secret),
        timeout=REQUEST_TIMEOUT_SECONDS,
    )


def unique_username() -> str:
    return f"slack-{uuid.uuid4().hex[:8]}"


def answer_to(run: LocalRun, text: str, response_url: ResponseUrlStandIn) -> str:
    """The text of what the command's job posts to the response_url, after its immediate answer."""
    posts_before = len(response_url.posts)
    answer = send(run, text, response_url.url(TEAM))
    assert answer.status_code == 200, answer.text
    return message_text(response_url.wait_for_posts(posts_before + 1)[posts_before].message)


def test_a_signed_create_is_answered_at_once_and_its_result_is_posted_to_the_response_url(
    local_run: LocalRun, response_url: ResponseUrlStandIn
) -> None:
    # Given a username nobody has
    username = unique_username()
    # When Slack posts a signed create for it
    answer = send(local_run, f"create {username} profile=office", response_url.url(TEAM))
    # Then it is answered at once, and the created endpoint with its password arrives at the response_url
    assert answer.status_code == 200, answer.text
    assert f"Creating SIP endpoint `{username}`" in message_text(answer.json())
    [post] = response_url.wait_for_posts(1)
    [endpoint] = local_run.emulator_endpoints_named(username)
    assert f"*Endpoint id*\n`{endpoint['id']}`" in message_text(post.message)
    assert re.search(r"\*Password\*\n`[A-Za-z0-9_-]{24,}`", message_text(post.message))


def test_a_signed_profiles_is_answered_with_the_profiles(local_run: LocalRun, response_url: ResponseUrlStandIn) -> None:
    # Given / When Slack posts a signed `profiles`
    answer = send(local_run, "profiles", response_url.url(TEAM))
    # Then the profiles are in the answer itself
    assert answer.status_code == 200
    assert "`office`" in message_text(answer.json())


def test_an_unsigned_request_is_refused_and_creates_nothing(
    local_run: LocalRun, response_url: ResponseUrlStandIn
) -> None:
    # Given a create form without Slack's signature
    username = unique_username()
    body = slash_command_body(f"create {username}", team_id=TEAM, user_id=USER, response_url=response_url.url())
    # When it is posted
    answer = requests.post(
        f"{local_run.base_url}/chatops/slack",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    # Then it is refused 401 with problem details, and no endpoint exists
    assert answer.status_code == 401
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["status"] == 401
    assert local_run.emulator_endpoints_named(username) == []
    assert response_url.posts == []


def test_slacks_signed_ssl_check_is_answered_200_with_an_empty_body(local_run: LocalRun) -> None:
    # Given the form Slack posts to check the command URL's certificate, signed
    body = urlencode({"ssl_check": "1", "token": "gIkuvaNzQIHg97ATvDxqgjtO"}).encode()
    # When it is posted
    answer = requests.post(
        f"{local_run.base_url}/chatops/slack",
        data=body,
        headers=signed_headers(body, SIGNING_SECRET),
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    # Then Slack gets the 200 it checks for, with nothing in it
    assert (answer.status_code, answer.content) == (200, b"")


def test_a_request_from_a_workspace_not_allowed_is_refused_403(
    local_run: LocalRun, response_url: ResponseUrlStandIn
) -> None:
    # Given / When a correctly signed request comes from a workspace not in SLACK_ALLOWED_TEAM_IDS
    answer = send(local_run, "profiles", response_url.url(), team="T0NOTALLOWED")
    # Then it is refused 403 with problem details
    assert answer.status_code == 403
    assert answer.json()["type"] == "forbidden"


def test_a_signed_show_posts_the_endpoint_as_signalwire_holds_it(
    local_run: LocalRun, response_url: ResponseUrlStandIn
) -> None:
    # Given an endpoint created through Slack
    username = unique_username()
    answer_to(local_run, f"create {username} profile=office", response_url)
    # When Slack posts a signed show of it
    text = answer_to(local_run, f"show {username}", response_url)
    # Then its id as the emulator holds it, its status and profile arrive at the response_url
    [endpoint] = local_run.emulator_endpoints_named(username)
    assert f"*Endpoint id*\n`{endpoint['id']}`" in text
    assert "*Status*\n`active`" in text
    assert "*Profile*\n`office`" in text


def test_a_signed_reset_password_posts_a_new_password(local_run: LocalRun, response_url: ResponseUrlStandIn) -> None:
    # Given an endpoint created through Slack, with its first password
    username = unique_username()
    first = re.search(r"\*Password\*\n`([^`]+)`", answer_to(local_run, f"create {username}", response_url))
    assert first is not None
    # When Slack posts a signed reset-password of it
    text = answer_to(local_run, f"reset-password {username}", response_url)
    # Then another generated password arrives
    new = re.search(r"\*Password\*\n`([A-Za-z0-9_-]{24,})`", text)
    assert new is not None
    assert new[1] != first[1]


def test_a_signed_delete_previews_and_a_signed_delete_confirm_removes_the_endpoint(
    local_run: LocalRun, response_url: ResponseUrlStandIn
) -> None:
    # Given an endpoint created through Slack, and a delete without confirm that left it in place
    username = unique_username()
    answer_to(local_run, f"create {username}", response_url)
    preview = answer_to(local_run, f"delete {username}", response_url)
    assert f"`/sip delete {username} confirm`" in preview
    assert len(local_run.emulator_endpoints_named(username)) == 1
    # When Slack posts the signed `delete ... confirm` the preview gave
    text = answer_to(local_run, f"delete {username} confirm", response_url)
    # Then the endpoint is gone from the emulator
    assert "is deleted from SignalWire" in text
    assert local_run.emulator_endpoints_named(username) == []


def test_the_startup_output_names_the_route_and_teams_but_not_a_signing_secret_the_user_gave(
    local_run: LocalRun,
) -> None:
    # Given the server started with the user's own signing secret
    line = slack_line(local_run)
    # Then the route and teams are printed, and the secret is not, anywhere
    assert line["url"] == f"{local_run.base_url}/chatops/slack"
    assert line["teams"] == f"{TEAM},T0SECONDTEAM"
    assert SIGNING_SECRET not in "".join(local_run.output)


def test_the_slack_sign_helper_runs_a_create_and_shows_its_answer(local_run: LocalRun) -> None:
    # Given a username nobody has
    username = unique_username()
    # When the README's helper sends a create to the server
    url = f"{local_run.base_url}/chatops/slack"
    helper = subprocess.run(  # noqa: S603 - our own helper, with arguments built here
        [sys.executable, "-m", "local.slack_sign", "--url", url, "--team", TEAM, "create", username],
        cwd=REPOSITORY_ROOT,
        env={"SLACK_SIGNING_SECRET": SIGNING_SECRET, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Then it shows the immediate answer, then the created endpoint from the response_url
    assert helper.returncode == 0, helper.stdout + helper.stderr
    assert "Creating SIP endpoint" in helper.stdout
    assert f"SIP endpoint {username} created." in helper.stdout
    assert len(local_run.emulator_endpoints_named(username)) == 1


def test_the_slack_sign_helper_waits_for_the_delayed_answer_of_every_verb(local_run: LocalRun) -> None:
    # Given an endpoint, and the README's helper
    username = unique_username()
    url = f"{local_run.base_url}/chatops/slack"

    def helper(*words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own helper, with arguments built here
            [sys.executable, "-m", "local.slack_sign", "--url", url, "--team", TEAM, *words],
            cwd=REPOSITORY_ROOT,
            env={"SLACK_SIGNING_SECRET": SIGNING_SECRET, "PATH": ""},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert helper("create", username).returncode == 0
    # When it sends a disable of it
    disabled = helper("disable", username)
    # Then it shows the immediate answer, then the job's answer from the response_url
    assert disabled.returncode == 0, disabled.stdout + disabled.stderr
    assert "Disabling SIP endpoint" in disabled.stdout
    assert f"SIP endpoint {username} disabled." in disabled.stdout


def test_without_slack_settings_a_generated_secret_and_team_t0local_are_printed_and_work() -> None:
    # Given a server started without SLACK_SIGNING_SECRET or SLACK_ALLOWED_TEAM_IDS
    run = start_with({})
    try:
        line = slack_line(run)
        # When a request is signed with the printed secret, from the printed team
        with ResponseUrlStandIn() as response_url:
            answer = send(run, "help", response_url.url(), secret=line["secret"], team=line["teams"])
        # Then it is answered, and the team is T0LOCAL
        assert line["teams"] == "T0LOCAL"
        assert answer.status_code == 200, answer.text
    finally:
        end(run)
