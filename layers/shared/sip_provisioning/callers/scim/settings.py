"""`<prefix>/scim/settings`: how a SCIM user becomes a SIP endpoint, its username and its profile,
and what deactivating the user does to the endpoint."""

from collections.abc import Callable
from enum import StrEnum
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from scim2_models import Path, SCIMException
from scim2_models.path import AttrPath

from sip_provisioning.callers.scim.errors import InvalidValue
from sip_provisioning.callers.scim.resources import ScimUser
from sip_provisioning.domain.errors import ConfigurationError
from sip_provisioning.domain.request import ProfileName
from sip_provisioning.domain.scim_users import DeactivationAction
from sip_provisioning.domain.signalwire import Username


class UsernameRule(StrEnum):
    """How a userName becomes a SIP username."""

    LOCAL_PART = "local_part"
    AS_IS = "as_is"


def _local_part(user_name: str) -> str:
    """Before the last `@` (a domain holds none), lower-cased; the whole userName when it has none.
    A userName with two `@`s keeps one in its local part, which no SIP username may hold."""
    local_part, at, _ = user_name.rpartition("@")
    return (local_part if at else user_name).lower()


SIP_USERNAME_OF_USER_NAME: dict[UsernameRule, Callable[[str], str]] = {
    UsernameRule.LOCAL_PART: _local_part,
    UsernameRule.AS_IS: str,
}

_SIP_USERNAME = TypeAdapter(Username)


def _profile_attribute_path(attribute: str) -> Path[ScimUser]:
    """The path of a single-valued string attribute of a user, such as `name.givenName`; anything
    else (a value selection, a multi-valued or non-string attribute, an unknown one) is refused."""
    try:
        path = Path[ScimUser](attribute)
    except SCIMException as refusal:
        raise ValueError(f"is not a SCIM attribute path: {refusal.detail}") from None
    binding = path.resolve()
    if (
        not isinstance(path.ast, AttrPath)
        or binding is None
        or binding.target_type is not str
        or binding.is_multivalued
    ):
        raise ValueError("must name a single-valued string attribute of the User schema or one of its extensions")
    return path


class ScimSettings(BaseModel):
    """The JSON of `<prefix>/scim/settings`; every key is optional."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: UsernameRule = UsernameRule.LOCAL_PART
    default_profile: ProfileName = "default"
    profile_attribute: str | None = Field(
        default=None,
        description='A SCIM attribute path, such as "title" or '
        '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"; none: every user '
        "gets `default_profile`.",
    )
    profiles: dict[str, ProfileName] = Field(
        default_factory=dict, description="The profile of each value of `profile_attribute`, matched exactly."
    )
    on_deactivate: DeactivationAction = DeactivationAction.DISABLE

    @field_validator("profile_attribute")
    @classmethod
    def _check_profile_attribute(cls, attribute: str | None) -> str | None:
        if attribute is not None:
            _profile_attribute_path(attribute)
        return attribute


def sip_username_for(user_name: str, settings: ScimSettings) -> str:
    """The SIP username `user_name` maps to; `InvalidValue` when it maps to no valid one
    (1-128 characters, no whitespace, control character or `@`)."""
    sip_username = SIP_USERNAME_OF_USER_NAME[settings.username](user_name)
    try:
        return _SIP_USERNAME.validate_python(sip_username)
    except ValidationError as refusal:
        reason = refusal.errors()[0]["msg"]
        raise InvalidValue(f"userName {user_name!r} maps to no valid SIP username ({reason}).") from None


def profile_for(user: ScimUser, settings: ScimSettings) -> str:
    """The profile `profiles` gives the value of the user's `profile_attribute`; `default_profile`
    when there is no such attribute, the user has no value or the value has no profile."""
    if settings.profile_attribute is None:
        return settings.default_profile
    value = _profile_attribute_path(settings.profile_attribute).get(user)
    return settings.profiles.get(value, settings.default_profile) if value is not None else settings.default_profile


@lru_cache(maxsize=4)
def parse_scim_settings(raw: str | None, parameter: str) -> ScimSettings:
    """The settings `<prefix>/scim/settings` holds (all defaults when it is absent); a broken one is
    a `ConfigurationError` naming the parameter and the keys at fault, never their values."""
    if raw is None:
        return ScimSettings()
    try:
        return ScimSettings.model_validate_json(raw)
    except ValidationError as error:
        broken = sorted({".".join(str(part) for part in e["loc"]) or "(document)" for e in error.errors()})
        raise ConfigurationError(parameter, f"breaks the SCIM settings rules in: {', '.join(broken)}") from None
