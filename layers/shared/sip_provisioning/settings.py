"""The function's own settings: read once from the environment at the edge, then passed down."""

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sip_provisioning.errors import ConfigurationError


class RuntimeSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    parameters_path: str = Field(pattern=r"^/[A-Za-z0-9_.\-/]+$")
    parameters_max_age: int = Field(default=300, ge=0)
    signalwire_connect_timeout: float = Field(default=3.05, gt=0)
    signalwire_read_timeout: float = Field(default=10.0, gt=0)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "RuntimeSettings":
        """PARAMETERS_PATH is required; the rest have defaults."""
        names = {
            "parameters_path": "PARAMETERS_PATH",
            "parameters_max_age": "PARAMETERS_MAX_AGE",
            "signalwire_connect_timeout": "SIGNALWIRE_CONNECT_TIMEOUT",
            "signalwire_read_timeout": "SIGNALWIRE_READ_TIMEOUT",
        }
        try:
            return cls.model_validate({field: environ[name] for field, name in names.items() if name in environ})
        except ValidationError as error:
            broken = ", ".join(names[str(e["loc"][0])] for e in error.errors())
            raise ConfigurationError(f"environment variable(s) {broken}", "missing or invalid") from None
