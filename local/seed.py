"""The AWS resources the function expects, made as the stack and an operator make them.

Shared by `local.run` and the integration tests so both run the function against the same
state: SSM parameters (CONTRACT.md section 2: every profile in a directory, the SignalWire
settings, the Slack command's and the deployment's policy); the tests' idempotency table too.
The parameters' names are the function's own (`sip_provisioning.domain.profile`), imported where
they are used: the function's code is on the import path only once `local.run` has put it there.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.push_profiles import load_profiles, put_profiles
from local.stack import create_table, load_stack


@dataclass(frozen=True)
class SignalWireAccount:
    """Where the function finds SignalWire. `sip_domain` None leaves the function's default."""

    space_url: str
    project_id: str
    api_token: str = field(repr=False)
    sip_domain: str | None = None


def seed_ssm(ssm_client: Any, prefix: str, profiles_dir: Path, signalwire: SignalWireAccount) -> list[str]:
    """Write the profiles and SignalWire settings under `prefix`; return the parameter names written.

    Profiles are validated first (as `config/push_profiles.py` does), so a broken one stops here.
    """
    from sip_provisioning.domain.profile import API_TOKEN, PROJECT_ID, SIP_DOMAIN, SPACE_URL

    prefix = prefix.rstrip("/")
    names = put_profiles(ssm_client, prefix, load_profiles(profiles_dir))
    settings = [
        (SPACE_URL, signalwire.space_url, "String"),
        (PROJECT_ID, signalwire.project_id, "String"),
        (API_TOKEN, signalwire.api_token, "SecureString"),
    ]
    if signalwire.sip_domain is not None:
        settings.append((SIP_DOMAIN, signalwire.sip_domain, "String"))
    for name, value, parameter_type in settings:
        ssm_client.put_parameter(Name=f"{prefix}/{name}", Value=value, Type=parameter_type, Overwrite=True)
        names.append(f"{prefix}/{name}")
    return names


@dataclass(frozen=True)
class SlackApp:
    """The Slack app whose slash command the function answers: its signing secret and workspaces."""

    signing_secret: str = field(repr=False)
    allowed_team_ids: tuple[str, ...]


def seed_slack(ssm_client: Any, prefix: str, slack: SlackApp) -> list[str]:
    """Write the Slack command's parameters under `prefix` as an operator does; return their names."""
    from sip_provisioning.domain.profile import SLACK_ALLOWED_TEAM_IDS, SLACK_SIGNING_SECRET

    prefix = prefix.rstrip("/")
    settings = [
        (SLACK_SIGNING_SECRET, slack.signing_secret, "SecureString"),
        (SLACK_ALLOWED_TEAM_IDS, ",".join(slack.allowed_team_ids), "StringList"),
    ]
    for name, value, parameter_type in settings:
        ssm_client.put_parameter(Name=f"{prefix}/{name}", Value=value, Type=parameter_type, Overwrite=True)
    return [f"{prefix}/{name}" for name, _, _ in settings]


def seed_policy(ssm_client: Any, prefix: str, policy_file: Path) -> str:
    """Write the deployment's policy (CONTRACT.md section 5) from `policy_file` as `<prefix>/policy`,
    a String holding the file's text as an operator puts it; return the parameter's name.

    Only its shape is checked here, a JSON object (ValueError otherwise): the function validates
    the rest when it reads the parameter, as it does in AWS.
    """
    from sip_provisioning.domain.profile import DEPLOYMENT_POLICY

    name = f"{prefix.rstrip('/')}/{DEPLOYMENT_POLICY}"
    ssm_client.put_parameter(Name=name, Value=_json_object_text(policy_file), Type="String", Overwrite=True)
    return name


def seed_scim(ssm_client: Any, prefix: str, bearer_token: str, settings_file: Path | None) -> list[str]:
    """Write the SCIM endpoint's parameters (CONTRACT.md section 8) as an operator does: the bearer
    token as the SecureString `<prefix>/scim/bearer_token` and, when given, `settings_file` as the
    String `<prefix>/scim/settings`; return their names. The settings must be a JSON object
    (ValueError otherwise); the function validates the rest, as it does in AWS."""
    from sip_provisioning.domain.profile import SCIM_BEARER_TOKEN, SCIM_SETTINGS

    prefix = prefix.rstrip("/")
    names = [f"{prefix}/{SCIM_BEARER_TOKEN}"]
    ssm_client.put_parameter(Name=names[0], Value=bearer_token, Type="SecureString", Overwrite=True)
    if settings_file is not None:
        names.append(f"{prefix}/{SCIM_SETTINGS}")
        ssm_client.put_parameter(Name=names[1], Value=_json_object_text(settings_file), Type="String", Overwrite=True)
    return names


def _json_object_text(path: Path) -> str:
    """The text of `path`, which must hold a JSON object (ValueError naming the file otherwise)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON: {error}") from None
    if not isinstance(document, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(document), "a number"
        )
        raise ValueError(f"{path} must hold a JSON object, not {kind}")
    return text


def create_idempotency_table(dynamodb_client: Any, table_name: str) -> None:
    """The table template.yaml declares for Powertools' idempotency records (its key and TTL)."""
    create_table(dynamodb_client, load_stack(), "IdempotencyTable", table_name)
