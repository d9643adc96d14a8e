"""Run a slash command against `make run` the way Slack sends it: a signed form, with a loopback
stand-in for its `response_url` that prints what the function posts there.

    SLACK_SIGNING_SECRET=<the secret make run printed> python -m local.slack_sign create alice profile=office
    SLACK_SIGNING_SECRET=... python -m local.slack_sign show alice
    SLACK_SIGNING_SECRET=... python -m local.slack_sign delete alice confirm
    SLACK_SIGNING_SECRET=... python -m local.slack_sign --curl profiles   # print a ready-to-paste curl instead

Quote the command for your shell when a value has spaces:
    python -m local.slack_sign 'create alice caller_id="Alice Smith"'

The signature holds a timestamp: a printed curl works for 5 minutes. With --curl nothing listens
for a command's delayed answer unless --response-url names a loopback listener of yours.
"""

import argparse
import json
import os
import secrets
import shlex
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import requests

from local.slack_response_url import ResponseUrlStandIn

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY_ROOT / "layers" / "shared"))  # the function's own signing and grammar

from pydantic import SecretStr  # noqa: E402

from sip_provisioning.callers.slack.commands import CommandNotUnderstood, HelpCommand, ProfilesCommand, parse_command  # noqa: E402
from sip_provisioning.callers.slack.messages import working_message  # noqa: E402
from sip_provisioning.callers.slack.signature import slack_signature  # noqa: E402

REQUEST_TIMEOUT_SECONDS = 10.0
UNUSED_RESPONSE_URL = "http://127.0.0.1:9/commands/none"  # the discard port: nothing answers there


def slack_escaped(text: str) -> str:
    """The text as Slack delivers what was typed: `&`, `<` and `>` HTML-escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slash_command_form(text: str, *, team: str, user: str, command: str, response_url: str) -> bytes:
    """The form Slack posts for a slash command, with a fresh trigger id."""
    fields = {
        "token": "local-verification-token",
        "team_id": team,
        "team_domain": "local",
        "channel_id": "C0LOCAL",
        "channel_name": "local",
        "user_id": user,
        "user_name": "local-user",
        "command": command,
        "text": slack_escaped(text),
        "api_app_id": "A0LOCAL",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{time.time_ns()}.{secrets.randbelow(10**11)}.{secrets.token_hex(16)}",
    }
    return urlencode(fields).encode()


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": slack_signature(SecretStr(secret), timestamp, body),
    }


def awaits_answer(text: str, immediate_answer: object) -> bool:
    """Whether the immediate answer says the command goes on, so its result comes to the response_url."""
    try:
        command = parse_command(slack_escaped(text))
    except CommandNotUnderstood:
        return False
    if isinstance(command, HelpCommand | ProfilesCommand):
        return False
    working: object = json.loads(working_message(command).to_json())
    return immediate_answer == working


def main(argv: list[str] | None = None) -> int:
    port = os.environ.get("PORT") or "3000"
    parser = argparse.ArgumentParser(prog="python -m local.slack_sign", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("text", nargs="*", help="the command's text, e.g. create alice profile=office")
    parser.add_argument("--url", default=f"http://127.0.0.1:{port}/chatops/slack")
    parser.add_argument("--team", default="T0LOCAL", help="the Slack team (workspace) id")
    parser.add_argument("--user", default="U0LOCAL", help="the Slack user id")
    parser.add_argument("--command", default="/sip", help="the slash command's name")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for a command's delayed answer")
    parser.add_argument("--curl", action="store_true", help="print a signed curl command instead of sending")
    parser.add_argument("--response-url", help="where the function posts a command's delayed answer (with --curl)")
    arguments = parser.parse_args(argv)
    secret = os.environ.get("SLACK_SIGNING_SECRET")
    if not secret:
        parser.error("set SLACK_SIGNING_SECRET to the signing secret `make run` printed")
    text = " ".join(arguments.text)

    if arguments.curl:
        response_url = arguments.response_url or UNUSED_RESPONSE_URL
        body = slash_command_form(
            text, team=arguments.team, user=arguments.user, command=arguments.command, response_url=response_url
        )
        header_options = " ".join(
            f"-H {shlex.quote(f'{name}: {value}')}" for name, value in signed_headers(secret, body).items()
        )
        print(
            f"curl -sS -X POST {shlex.quote(arguments.url)} {header_options} --data-binary {shlex.quote(body.decode())}"
        )
        return 0

    with ResponseUrlStandIn() as stand_in:
        body = slash_command_form(
            text, team=arguments.team, user=arguments.user, command=arguments.command, response_url=stand_in.url()
        )
        response = requests.post(
            arguments.url, data=body, headers=signed_headers(secret, body), timeout=REQUEST_TIMEOUT_SECONDS
        )
        print(f"HTTP {response.status_code}")
        if not response.headers.get("Content-Type", "").startswith("application/json"):
            print(response.text)
            return 1
        answer = response.json()
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        if not awaits_answer(text, answer):
            return 0
        print(f"Waiting up to {arguments.wait:g} s for the answer at the response_url…")
        try:
            (delivered,) = stand_in.wait_for_posts(1, timeout=arguments.wait)
        except TimeoutError:
            print("No answer arrived; see the make run log.", file=sys.stderr)
            return 1
        print(json.dumps(delivered.message, indent=2, ensure_ascii=False))
        return 0


if __name__ == "__main__":
    sys.exit(main())
