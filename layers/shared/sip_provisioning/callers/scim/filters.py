"""The `filter` of `GET /Users` (RFC 7644 §3.4.2.2) in the forms identity providers send before
they create or update a user: `userName eq "..."`, `externalId eq "..."`, `id eq "..."`.
Attribute names and the operator are case-insensitive, a name may carry the core User schema's
URN, the value is a JSON string (escaped quotes and all). Any other filter is `InvalidFilter`."""

from dataclasses import dataclass
from enum import StrEnum

from scim2_models import SCIMException, ScimFilter, User
from scim2_models.path import CompareOperator, Comparison

from sip_provisioning.callers.scim.errors import InvalidFilter


class FilterAttribute(StrEnum):
    """The attributes a user can be looked up by."""

    USER_NAME = "userName"
    EXTERNAL_ID = "externalId"
    ID = "id"


_ATTRIBUTE_OF_NAME = {attribute.lower(): attribute for attribute in FilterAttribute}
_CORE_USER_URN = str(User.__schema__).lower()
_SUPPORTED = 'userName eq "...", externalId eq "..." or id eq "..."'


@dataclass(frozen=True)
class UserFilter:
    """The users whose `attribute` equals `value` (for userName without regard to case, RFC 7643 §4.1.1)."""

    attribute: FilterAttribute
    value: str


def parse_user_filter(text: str) -> UserFilter:
    """The filter `text` says; `InvalidFilter` for a syntax error or a form the service does not answer."""
    try:
        expression = ScimFilter(text).ast
    except SCIMException as refusal:
        raise InvalidFilter(
            f"The filter is not SCIM filter syntax ({refusal.detail}); supported: {_SUPPORTED}."
        ) from None
    if not (
        isinstance(expression, Comparison)
        and expression.op is CompareOperator.eq
        and expression.attr_path.sub_attr is None
        and (expression.attr_path.uri is None or expression.attr_path.uri.lower() == _CORE_USER_URN)
        and expression.attr_path.attr.lower() in _ATTRIBUTE_OF_NAME
        and isinstance(expression.value, str)
    ):
        raise InvalidFilter(f"Unsupported filter {text!r}; supported: {_SUPPORTED}.")
    return UserFilter(_ATTRIBUTE_OF_NAME[expression.attr_path.attr.lower()], expression.value)
