"""SSM Parameter Store: the settings and profiles under one prefix (names in `domain/profile.py`),
read as a request needs them, kept for a while, and served a little longer when SSM fails."""

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from sip_provisioning.domain.errors import ConfigurationError
from sip_provisioning.domain.profile import (
    PROFILES,
    SETTINGS,
    Profile,
    Profiles,
    ServiceConfig,
    parse_profile,
    parse_service_config,
)
from sip_provisioning.observability import logger, metrics


class ProfileCatalog(Profiles):
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
            self._profiles[name] = parse_profile(self._prefix, name, raw)
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
