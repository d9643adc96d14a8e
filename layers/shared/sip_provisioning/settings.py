"""The function's own settings: read once from the environment at the edge, then passed down."""

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from sip_provisioning.domain.errors import ConfigurationError

_ENVIRONMENT_NAMES = {
    "parameters_path": "PARAMETERS_PATH",
    "parameters_max_age": "PARAMETERS_MAX_AGE",
    "parameters_grace_period": "PARAMETERS_GRACE_PERIOD",
    "idempotency_table": "IDEMPOTENCY_TABLE",
    "inventory_table": "INVENTORY_TABLE",
    "secrets_prefix": "SECRETS_PREFIX",
    "signalwire_connect_timeout": "SIGNALWIRE_CONNECT_TIMEOUT",
    "signalwire_read_timeout": "SIGNALWIRE_READ_TIMEOUT",
    "slack_response_url_prefixes": "SLACK_RESPONSE_URL_PREFIXES",
    "imports_bucket": "IMPORTS_BUCKET",
}


def _comma_separated(value: Any) -> Any:
    return tuple(item.strip() for item in value.split(",") if item.strip()) if isinstance(value, str) else value


# An https prefix pins its host (it runs up to the first "/"); plain http only for loopback hosts.
ResponseUrlPrefix = Annotated[
    str, Field(pattern=r"^(https://[A-Za-z0-9.-]+(:[0-9]{1,5})?/|http://(127\.0\.0\.1|localhost)[:/])[\x21-\x7e]*$")
]


class RuntimeSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    parameters_path: str = Field(pattern=r"^/[A-Za-z0-9_.\-/]+$")
    parameters_max_age: int = Field(default=300, ge=0)
    # How long the last good parameters keep serving while SSM fails after the cache expired.
    parameters_grace_period: int = Field(default=900, ge=0)
    idempotency_table: str = Field(min_length=3, max_length=255)
    inventory_table: str = Field(min_length=3, max_length=255)
    # Where delivered passwords go in Secrets Manager: `<prefix><username>` (CONTRACT.md section 5).
    secrets_prefix: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9/_+=.@-]+/$")
    signalwire_connect_timeout: float = Field(default=3.05, gt=0)
    signalwire_read_timeout: float = Field(default=10.0, gt=0)
    # Where the Slack command may post its answers: Slack's own response URLs, never any URL a
    # request names (the function must not become an open HTTP relay). Comma-separated.
    slack_response_url_prefixes: Annotated[
        tuple[ResponseUrlPrefix, ...], BeforeValidator(_comma_separated), Field(min_length=1)
    ] = ("https://hooks.slack.com/",)
    # The imports bucket (bulk files; the fleet's manifests and reports): only the workflow
    # function reads it, and only for the fleet's actions.
    imports_bucket: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "RuntimeSettings":
        """PARAMETERS_PATH, IDEMPOTENCY_TABLE, INVENTORY_TABLE and SECRETS_PREFIX are required; the rest
        have defaults."""
        given = {field: environ[name] for field, name in _ENVIRONMENT_NAMES.items() if name in environ}
        try:
            return cls.model_validate(given)
        except ValidationError as error:
            broken = ", ".join(_ENVIRONMENT_NAMES[str(e["loc"][0])] for e in error.errors())
            raise ConfigurationError(f"environment variable(s) {broken}", "missing or invalid") from None
