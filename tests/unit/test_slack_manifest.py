"""The Slack app manifest (slack/manifest.yaml) creates the app the stack serves: its one command
on the template's Slack route, asking for no scope beyond the command itself."""

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.unit.test_template import load_template

MANIFEST = Path(__file__).resolve().parents[2] / "slack" / "manifest.yaml"


def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return loaded


def test_the_manifests_one_command_is_sip_on_the_templates_slack_route() -> None:
    # Given the template's Slack function's route
    [route] = [
        event["Properties"]["Path"]
        for event in load_template()["Resources"]["SlackCommandFunction"]["Properties"]["Events"].values()
        if event["Type"] == "HttpApi"
    ]
    # When the manifest's slash commands are read
    [command] = manifest()["features"]["slash_commands"]
    # Then it is /sip, sent to that route, its text passed as typed
    assert command["command"] == "/sip"
    assert urlsplit(command["url"]).path == route
    assert command["should_escape"] is False


def test_the_manifest_asks_for_no_scope_beyond_the_command() -> None:
    # Given / When the manifest's OAuth scopes are read
    scopes = manifest()["oauth_config"]["scopes"]
    # Then the app asks for the commands scope alone (answers go to each command's response_url)
    assert scopes == {"bot": ["commands"]}
