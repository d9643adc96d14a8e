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
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
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


class ProfileCatalog(Mapping[str, Profile]):
    """The profiles under the prefix, read as they are asked for: one name costs one SSM call
    (then kept with the rest of the snapshot), while iterating or counting reads them all.

    A profile that breaks the rules fails only the requests that name it (or, for `default`,
    that build on it): it is absent from the mapping, and `broken` gives its error.
    """

    def __init__(
        self,
        prefix: str,
        read_named: Callable[[list[str]], Mapping[str, str]],
        read_all: Callable[[], Mapping[str, str]],
        known: Mapping[str, str],
    ) -> None:
        self._prefix = prefix
        self._read_named = read_named
        self._read_all = read_all
        self._profiles: dict[str, Profile] = {}
        self._broken: dict[str, ConfigurationError] = {}
        self._absent: set[str] = set()
        self._complete = False
        self._lock = threading.Lock()
        for name, raw in known.items():
            self._add(name, raw)

    def _add(self, name: str, raw: str) -> None:
        try:
            self._profiles[name] = _profile(self._prefix, name, raw)
        except ConfigurationError as error:
            self._broken[name] = error
            metrics.add_metric(name="BrokenProfiles", unit=MetricUnit.Count, value=1)
            logger.error("A profile breaks the rules; requests naming it fail", extra={"parameter": error.parameter})

    def _settle(self, name: str) -> None:
        """Read `name` unless it is known (valid, broken or absent) or everything was read."""
        with self._lock:
            if self._complete or name in self._profiles or name in self._broken or name in self._absent:
                return
            raw = self._read_named([f"{PROFILES}{name}"]).get(f"{PROFILES}{name}")
            if raw is None:
                self._absent.add(name)
            else:
                self._add(name, raw)

    def _read_everything(self) -> None:
        with self._lock:
            if self._complete:
                return
            for name, raw in self._read_all().items():
                profile_name = name.removeprefix(PROFILES)
                if profile_name not in self._profiles and profile_name not in self._broken:
                    self._add(profile_name, raw)
            self._complete = True

    def broken(self, name: str) -> ConfigurationError | None:
        self._settle(name)
        return self._broken.get(name)

    def __getitem__(self, name: str) -> Profile:
        self._settle(name)
        return self._profiles[name]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        self._settle(name)
        return name in self._profiles

    def __iter__(self) -> Iterator[str]:
        self._read_everything()
        return iter(dict(self._profiles))

    def __len__(self) -> int:
        self._read_everything()
        return len(self._profiles)


class ServiceConfig(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    profiles: ProfileCatalog
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


def parse_service_config(prefix: str, values: Mapping[str, str], profiles: ProfileCatalog) -> ServiceConfig:
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
PAGE_SIZE = 10  # GetParametersByPath's largest page


class ParameterStoreConfig:
    """Reads the settings and the `default` profile in one GetParameters call, any other profile
    by its name when a request names it (one GetParameters call, kept with the snapshot), and
    every profile (GetParametersByPath under profiles/, in pages of ten) only where a use case
    needs them all: the cost of a create does not grow with the number of profiles.

    A snapshot is kept for `max_age` seconds. When SSM keeps failing after it expired (the SDK
    has already retried with backoff), the last good snapshot keeps serving for `grace` seconds,
    and SSM is asked again at most every `STALE_RETRY_INTERVAL` seconds so that every request
    does not wait on a failing SSM.
    """

    STALE_RETRY_INTERVAL = 30.0

    def __init__(
        self,
        ssm: Any,
        prefix: str,
        *,
        max_age: int,
        grace: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ssm = ssm
        self._prefix = prefix.rstrip("/")
        self._max_age = max_age
        self._grace = grace
        self._clock = clock
        self._config: ServiceConfig | None = None
        self._read_at = 0.0
        self._next_attempt_at = 0.0

    def load(self) -> ServiceConfig:
        now = self._clock()
        if self._config is not None and (now < self._next_attempt_at or now - self._read_at < self._max_age):
            return self._config
        try:
            values = self._read_named(list(SETTINGS))
        except (ClientError, BotoCoreError):
            return self._last_good_config()
        profiles = ProfileCatalog(
            self._prefix,
            self._read_named_or_fail,
            self._read_all_profiles,
            {name.removeprefix(PROFILES): raw for name, raw in values.items() if name.startswith(PROFILES)},
        )
        self._config = parse_service_config(self._prefix, values, profiles)
        self._read_at = now
        self._next_attempt_at = 0.0
        return self._config

    def _read_named(self, names: list[str]) -> dict[str, str]:
        """The named parameters that exist (names relative to the prefix), decrypted."""
        try:
            answer = self._ssm.get_parameters(Names=[f"{self._prefix}/{name}" for name in names], WithDecryption=True)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationException":
                return {}  # a name SSM cannot hold names no parameter
            raise
        return {_relative(self._prefix, parameter["Name"]): parameter["Value"] for parameter in answer["Parameters"]}

    def _read_named_or_fail(self, names: list[str]) -> dict[str, str]:
        try:
            return self._read_named(names)
        except (ClientError, BotoCoreError):
            raise ConfigurationError(
                f"{self._prefix}/{names[0]}", "could not be read from SSM Parameter Store"
            ) from None

    def _read_all_profiles(self) -> dict[str, str]:
        path = f"{self._prefix}/{PROFILES.rstrip('/')}"
        values: dict[str, str] = {}
        request: dict[str, Any] = {"Path": path, "Recursive": True, "WithDecryption": True, "MaxResults": PAGE_SIZE}
        try:
            while True:
                page = self._ssm.get_parameters_by_path(**request)
                for parameter in page["Parameters"]:
                    values[_relative(self._prefix, parameter["Name"])] = parameter["Value"]
                if not page.get("NextToken"):
                    return values
                request["NextToken"] = page["NextToken"]
        except (ClientError, BotoCoreError):
            raise ConfigurationError(path, "could not be read from SSM Parameter Store") from None

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


def _relative(prefix: str, name: str) -> str:
    return name.removeprefix(f"{prefix}/")
