"""Profiles and SignalWire settings, read from SSM Parameter Store under one prefix.

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
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from sip_provisioning.domain.policy import DeploymentPolicy, ProfilePolicy
from sip_provisioning.errors import ConfigurationError
from sip_provisioning.observability import logger, metrics
from sip_provisioning.signalwire.models import SipEndpointSettings

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


class ServiceConfig(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    profiles: dict[str, Profile]
    # A profile that breaks the rules fails only the requests that name it (or, for `default`,
    # that build on it); the rest of the service keeps working.
    broken_profiles: dict[str, ConfigurationError] = Field(default_factory=dict)
    signalwire: SignalWireSettings
    # None where the Slack route is not set up: the parameters are optional.
    slack: SlackSettings | None = None
    # None where the parameter is absent: every caller may do everything (CONTRACT.md section 5).
    deployment_policy: DeploymentPolicy | None = None
    scim: ScimParameters = ScimParameters()

    def profiles_for(self, name: str) -> dict[str, Profile]:
        """The profiles a request naming `name` builds on, unless it or `default` is broken."""
        for needed in (name, DEFAULT_PROFILE):
            if needed in self.broken_profiles:
                raise self.broken_profiles[needed]
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


def _profile(prefix: str, name: str, raw: str) -> Profile:
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


def parse_service_config(prefix: str, values: Mapping[str, str]) -> ServiceConfig:
    """Validate the parameters read under `prefix` (names relative to it) into a ServiceConfig."""
    profiles: dict[str, Profile] = {}
    broken: dict[str, ConfigurationError] = {}
    for name, raw in values.items():
        if not name.startswith(PROFILES):
            continue
        profile_name = name.removeprefix(PROFILES)
        try:
            profiles[profile_name] = _profile(prefix, profile_name, raw)
        except ConfigurationError as error:
            broken[profile_name] = error
            metrics.add_metric(name="BrokenProfiles", unit=MetricUnit.Count, value=1)
            logger.error("A profile breaks the rules; requests naming it fail", extra={"parameter": error.parameter})
    if DEFAULT_PROFILE not in profiles and DEFAULT_PROFILE not in broken:
        raise ConfigurationError(f"{prefix}/{PROFILES}{DEFAULT_PROFILE}", "is missing")
    space_url = _space_url(prefix, _required(prefix, values, SPACE_URL))
    space = (urlsplit(space_url).hostname or "").split(".")[0]
    sip_domain = values.get(SIP_DOMAIN, "").strip() or f"{space}.sip.signalwire.com"
    return ServiceConfig(
        profiles=profiles,
        broken_profiles=broken,
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


class ParametersProvider(Protocol):
    """The slice of Powertools' SSMProvider this module uses."""

    def get_multiple(
        self,
        path: str,
        max_age: int | None = ...,
        transform: None = ...,
        raise_on_transform_error: bool = ...,
        decrypt: bool | None = ...,
        force_fetch: bool = ...,
        recursive: bool = ...,
        **sdk_options: Any,
    ) -> Any: ...


class ParameterStoreConfig:
    """Reads every parameter under the prefix in one paginated, recursive, decrypting call.

    Powertools caches the raw values for `max_age` seconds and hands back the same dict while
    the cache is fresh, so the parsed ServiceConfig is rebuilt only when SSM was really read.
    When SSM keeps failing after the cache expired (the SDK has already retried with backoff),
    the last good config keeps serving for `grace` seconds, and SSM is asked again at most every
    `STALE_RETRY_INTERVAL` seconds so that every request does not wait on a failing SSM.
    """

    STALE_RETRY_INTERVAL = 30.0

    def __init__(
        self,
        provider: ParametersProvider,
        prefix: str,
        *,
        max_age: int,
        grace: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._prefix = prefix.rstrip("/")
        self._max_age = max_age
        self._grace = grace
        self._clock = clock
        self._raw: object = None
        self._config: ServiceConfig | None = None
        self._read_at = 0.0
        self._next_attempt_at = 0.0

    def load(self) -> ServiceConfig:
        if self._config is not None and self._clock() < self._next_attempt_at:
            return self._config
        try:
            raw = self._provider.get_multiple(
                self._prefix, max_age=self._max_age, decrypt=True, recursive=True, MaxResults=10
            )
        except GetParameterError:
            return self._last_good_config()
        if raw is not self._raw or self._config is None:
            self._config = parse_service_config(self._prefix, raw)
            self._raw = raw
            self._read_at = self._clock()
        self._next_attempt_at = 0.0
        return self._config

    def _last_good_config(self) -> ServiceConfig:
        now = self._clock()
        if self._config is None or now - self._read_at > self._max_age + self._grace:
            raise ConfigurationError(self._prefix, "could not be read from SSM Parameter Store")
        # Ask SSM again after the interval, and in any case once the grace period is over.
        self._next_attempt_at = min(now + self.STALE_RETRY_INTERVAL, self._read_at + self._max_age + self._grace)
        metrics.add_metric(name="StaleConfigurationServed", unit=MetricUnit.Count, value=1)
        logger.warning(
            "SSM Parameter Store failed; serving the last good parameters",
            extra={"parameters_path": self._prefix, "age_s": round(now - self._read_at)},
        )
        return self._config
