"""Profiles and SignalWire settings, and the names of the SSM parameters they are read from
(`adapters/parameter_store.py` reads them; `local/seed.py` writes them).

Layout (CONTRACT.md section 2), names relative to the prefix:
  profiles/<name>          JSON object of SignalWire create fields plus an optional description
  signalwire/space_url     https://<space>.signalwire.com (http only for loopback hosts)
  signalwire/project_id
  signalwire/api_token     SecureString
  signalwire/sip_domain    optional, default <space>.sip.signalwire.com
  slack/signing_secret     SecureString, only with the Slack route
  slack/allowed_team_ids   StringList of Slack workspace ids, only with the Slack route
  policy                   optional: the deployment's policy, JSON (CONTRACT.md section 5)
  scim/bearer_token        SecureString, only with the SCIM route
  scim/settings            optional: how SCIM users map to endpoints, JSON (CONTRACT.md section 8)
"""

import ipaddress
import json
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from sip_provisioning.domain.errors import ConfigurationError
from sip_provisioning.domain.policy import DeploymentPolicy, ProfilePolicy
from sip_provisioning.domain.signalwire import SipEndpointSettings

PROFILES = "profiles/"
SPACE_URL = "signalwire/space_url"
PROJECT_ID = "signalwire/project_id"
API_TOKEN = "signalwire/api_token"  # noqa: S105 - a parameter name
SIP_DOMAIN = "signalwire/sip_domain"
SLACK_SIGNING_SECRET = "slack/signing_secret"  # noqa: S105 - a parameter name
SLACK_ALLOWED_TEAM_IDS = "slack/allowed_team_ids"
DEPLOYMENT_POLICY = "policy"
SCIM_BEARER_TOKEN = "scim/bearer_token"  # noqa: S105 - a parameter name
SCIM_SETTINGS = "scim/settings"
DEFAULT_PROFILE = "default"


class Profile(SipEndpointSettings):
    """A named set of defaults a self-service request starts from."""

    description: str | None = Field(default=None, max_length=512)
    policy: ProfilePolicy | None = None

    def create_fields(self) -> dict[str, Any]:
        """The SignalWire create fields this profile sets (never `description` or `policy`)."""
        return self.model_dump(exclude_unset=True, exclude={"description", "policy"})


class SignalWireSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    space_url: str
    project_id: str = Field(min_length=1)
    api_token: SecretStr = Field(min_length=1)
    sip_domain: str


class SlackSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    signing_secret: SecretStr = Field(min_length=1)
    allowed_team_ids: frozenset[str]


class ScimParameters(BaseModel):
    """The SCIM route's parameters, None where absent: only the SCIM function reads them (and
    refuses every request while the token is missing), so they never fail another route."""

    model_config = ConfigDict(frozen=True)

    bearer_token: SecretStr | None = None
    settings: str | None = Field(default=None, description="The raw JSON; the SCIM function parses it.")


class Profiles(Mapping[str, Profile]):
    """The deployment's profiles by name. A profile that breaks the rules is absent from the
    mapping, and `broken` gives its error: it fails only the requests that name it (or, for
    `default`, that build on it)."""

    @abstractmethod
    def broken(self, name: str) -> ConfigurationError | None: ...


class ServiceConfig(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    profiles: Profiles
    signalwire: SignalWireSettings
    # None where the Slack route is not set up: the parameters are optional.
    slack: SlackSettings | None = None
    # None where the parameter is absent: every caller may do everything (CONTRACT.md section 5).
    deployment_policy: DeploymentPolicy | None = None
    scim: ScimParameters = ScimParameters()

    def profiles_for(self, name: str) -> Mapping[str, Profile]:
        """The profiles a request naming `name` builds on, unless it or `default` is broken."""
        for needed in (name, DEFAULT_PROFILE):
            error = self.profiles.broken(needed)
            if error is not None:
                raise error
        return self.profiles


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _space_url(prefix: str, value: str) -> str:
    parts = urlsplit(value.strip())
    host = parts.hostname or ""
    if not host or parts.path not in {"", "/"} or parts.query or parts.username:
        raise ConfigurationError(f"{prefix}/{SPACE_URL}", "must be a base URL like https://example.signalwire.com")
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
        raise ConfigurationError(f"{prefix}/{SPACE_URL}", "must use https (http only for loopback hosts)")
    return f"{parts.scheme}://{parts.netloc}"


def _required(prefix: str, values: Mapping[str, str], name: str) -> str:
    value = values.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{prefix}/{name}", "is missing or empty")
    return value


def parse_profile(prefix: str, name: str, raw: str) -> Profile:
    parameter = f"{prefix}/{PROFILES}{name}"
    try:
        document = json.loads(raw)
    except ValueError:
        raise ConfigurationError(parameter, "is not valid JSON") from None
    if not isinstance(document, dict):
        raise ConfigurationError(parameter, "must be a JSON object")
    try:
        return Profile.model_validate(document)
    except ValidationError as error:
        # Field locations and error kinds only: profile values are configuration, not for bodies.
        broken = sorted({".".join(str(part) for part in e["loc"]) or "(object)" for e in error.errors()})
        raise ConfigurationError(parameter, f"breaks the profile rules in: {', '.join(broken)}") from None


def _slack(prefix: str, values: Mapping[str, str]) -> SlackSettings | None:
    if SLACK_SIGNING_SECRET not in values and SLACK_ALLOWED_TEAM_IDS not in values:
        return None
    team_ids = frozenset(team.strip() for team in _required(prefix, values, SLACK_ALLOWED_TEAM_IDS).split(","))
    if not all(team.isalnum() and team.isascii() for team in team_ids):
        raise ConfigurationError(f"{prefix}/{SLACK_ALLOWED_TEAM_IDS}", "must be comma-separated Slack team ids")
    return SlackSettings(
        signing_secret=SecretStr(_required(prefix, values, SLACK_SIGNING_SECRET)), allowed_team_ids=team_ids
    )


def _scim(values: Mapping[str, str]) -> ScimParameters:
    token = values.get(SCIM_BEARER_TOKEN, "").strip()
    return ScimParameters(bearer_token=SecretStr(token) if token else None, settings=values.get(SCIM_SETTINGS))


def _deployment_policy(prefix: str, values: Mapping[str, str]) -> DeploymentPolicy | None:
    """A broken policy fails every request (closed, never open), naming the parameter."""
    if DEPLOYMENT_POLICY not in values:
        return None
    parameter = f"{prefix}/{DEPLOYMENT_POLICY}"
    try:
        return DeploymentPolicy.model_validate_json(values[DEPLOYMENT_POLICY])
    except ValidationError as error:
        broken = sorted({".".join(str(part) for part in e["loc"]) or "(document)" for e in error.errors()})
        raise ConfigurationError(parameter, f"breaks the policy rules in: {', '.join(broken)}") from None


def parse_service_config(prefix: str, values: Mapping[str, str], profiles: Profiles) -> ServiceConfig:
    """Validate the settings read under `prefix` (names relative to it) into a ServiceConfig."""
    if f"{PROFILES}{DEFAULT_PROFILE}" not in values:
        raise ConfigurationError(f"{prefix}/{PROFILES}{DEFAULT_PROFILE}", "is missing")
    space_url = _space_url(prefix, _required(prefix, values, SPACE_URL))
    space = (urlsplit(space_url).hostname or "").split(".")[0]
    sip_domain = values.get(SIP_DOMAIN, "").strip() or f"{space}.sip.signalwire.com"
    return ServiceConfig(
        profiles=profiles,
        signalwire=SignalWireSettings(
            space_url=space_url,
            project_id=_required(prefix, values, PROJECT_ID),
            api_token=SecretStr(_required(prefix, values, API_TOKEN)),
            sip_domain=sip_domain,
        ),
        slack=_slack(prefix, values),
        deployment_policy=_deployment_policy(prefix, values),
        scim=_scim(values),
    )


# Everything but the profiles, and the `default` profile every request builds on: ten names, one
# GetParameters call (its limit is ten names).
SETTINGS = (
    SPACE_URL,
    PROJECT_ID,
    API_TOKEN,
    SIP_DOMAIN,
    SLACK_SIGNING_SECRET,
    SLACK_ALLOWED_TEAM_IDS,
    DEPLOYMENT_POLICY,
    SCIM_BEARER_TOKEN,
    SCIM_SETTINGS,
    f"{PROFILES}{DEFAULT_PROFILE}",
)
