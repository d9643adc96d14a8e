"""The function's own settings: read once from the environment at the edge, then passed down."""

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sip_provisioning.errors import ConfigurationError

_ENVIRONMENT_NAMES = {
    "parameters_path": "PARAMETERS_PATH",
    "parameters_max_age": "PARAMETERS_MAX_AGE",
    "parameters_grace_period": "PARAMETERS_GRACE_PERIOD",
    "idempotency_table": "IDEMPOTENCY_TABLE",
    "signalwire_connect_timeout": "SIGNALWIRE_CONNECT_TIMEOUT",
    "signalwire_read_timeout": "SIGNALWIRE_READ_TIMEOUT",
}


class RuntimeSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    parameters_path: str = Field(pattern=r"^/[A-Za-z0-9_.\-/]+$")
    parameters_max_age: int = Field(default=300, ge=0)
    # How long the last good parameters keep serving while SSM fails after the cache expired.
    parameters_grace_period: int = Field(default=900, ge=0)
    idempotency_table: str = Field(min_length=3, max_length=255)
    signalwire_connect_timeout: float = Field(default=3.05, gt=0)
    signalwire_read_timeout: float = Field(default=10.0, gt=0)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "RuntimeSettings":
        """PARAMETERS_PATH and IDEMPOTENCY_TABLE are required; the rest have defaults."""
        given = {field: environ[name] for field, name in _ENVIRONMENT_NAMES.items() if name in environ}
        try:
            return cls.model_validate(given)
        except ValidationError as error:
            broken = ", ".join(_ENVIRONMENT_NAMES[str(e["loc"][0])] for e in error.errors())
            raise ConfigurationError(f"environment variable(s) {broken}", "missing or invalid") from None
