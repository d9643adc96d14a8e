"""Who may do what (CONTRACT.md section 5): profile and deployment policies, read as tables.

Pure: no I/O, nothing from adapters. A use case reads the policies (validated when the
profile or `<prefix>/policy` is read), describes what a request asks for as `RequestedFields`,
and asks this module for the violations; a caller module turns them into its 403.

Caller identities are strings: an IAM ARN, `slack:<team_id>:<user_id>`, `workflow`, `scim`.
Patterns match the whole string, `*` matching any run of characters (and nothing else is
special): case-sensitive for caller identities, case-insensitive for hosts.
"""

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, NamedTuple
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from sip_provisioning.domain.signalwire import HANDLERS, CallHandler

# -- the request's vocabulary (CONTRACT.md section 1) -----------------------------------------

# Handler short names and their keys, as the request spells them (read from the one table).
HANDLER_KEYS: Mapping[str, frozenset[str]] = {
    handler.value: frozenset(key.short for key in keys.keys) for handler, keys in HANDLERS.items()
}
# The handler keys whose values are URLs someone else's server would answer calls from.
URL_KEYS: frozenset[str] = frozenset({"url", "fallback_url", "status_callback_url"})

# Request fields a policy governs, beyond `username` and `profile` (which anyone may set) and
# `handler` (described by its type and keys).
GOVERNED_FIELDS: frozenset[str] = frozenset({"caller_id", "send_as", "password", "owner", "password_delivery"})
UNGOVERNED_FIELDS: frozenset[str] = frozenset({"username", "profile"})
WHOLE_HANDLER = "handler"
OVERRIDABLE_NAMES: frozenset[str] = (
    GOVERNED_FIELDS | {WHOLE_HANDLER} | {f"{WHOLE_HANDLER}.{key}" for keys in HANDLER_KEYS.values() for key in keys}
)


class PasswordDelivery(StrEnum):
    """Where a generated password goes."""

    RESPONSE = "response"
    SECRETS_MANAGER = "secrets_manager"


# -- the policy models, validated when read ---------------------------------------------------


def _check_caller_pattern(value: str) -> str:
    if any(char.isspace() or unicodedata.category(char) in {"Cc", "Cf", "Cs"} for char in value):
        raise ValueError("must not contain whitespace or control characters")
    return value


def _check_overridable(value: str) -> str:
    if value not in OVERRIDABLE_NAMES:
        raise ValueError(
            "must be one of caller_id, send_as, password, owner, password_delivery, handler"
            " or handler.<key> for a key of a handler type"
        )
    return value


CallerPattern = Annotated[str, Field(min_length=1, max_length=512), AfterValidator(_check_caller_pattern)]
# A host pattern: letters, digits, "-", "." and "*" (IP literals are matched only by "*").
HostPattern = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.*-]+$")]
OverridableField = Annotated[str, AfterValidator(_check_overridable)]


class ProfilePolicy(BaseModel):
    """A profile's `policy`. Each rule absent: no restriction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    callers: tuple[CallerPattern, ...] | None = None
    overridable: tuple[OverridableField, ...] | None = None
    handler_types: tuple[CallHandler, ...] | None = None
    url_hosts: tuple[HostPattern, ...] | None = None
    password_delivery: PasswordDelivery | None = None


class DeploymentPolicy(BaseModel):
    """`<prefix>/policy`. The whole document absent (None where it is used): everyone is an admin."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    admins: tuple[CallerPattern, ...] = ()
    url_hosts: tuple[HostPattern, ...] | None = None
    password_delivery: PasswordDelivery | None = None


# -- what a request asks for --------------------------------------------------------------------


@dataclass(frozen=True)
class RequestedFields:
    """What a request asks for, independent of any HTTP, Slack or workflow model.

    `fields`: the governed fields it sets (GOVERNED_FIELDS). `handler_type`/`handler_keys`: the
    handler it gives, if any, and the keys it sets. `urls`: every URL it supplies, as
    (request key, URL) pairs such as ("handler.url", "https://..."). `profile_handler_type`:
    the profile's own `call_handler`, the only type `handler.<key>` overrides apply to.
    """

    fields: frozenset[str] = frozenset()
    handler_type: str | None = None
    handler_keys: frozenset[str] = frozenset()
    urls: tuple[tuple[str, str], ...] = ()
    profile_handler_type: str | None = None

    def __post_init__(self) -> None:
        if not self.fields <= GOVERNED_FIELDS:
            raise ValueError(f"not governed request fields: {sorted(self.fields - GOVERNED_FIELDS)}")
        if self.handler_type is None and self.handler_keys:
            raise ValueError("handler keys without a handler type")

    @classmethod
    def from_request(cls, given: Mapping[str, Any], *, profile_handler_type: str | None) -> "RequestedFields":
        """From a request's fields as the caller gave them: `model.model_dump(exclude_unset=True)`.

        A `None` value sets nothing (on PATCH it removes a stored value), so it is no override.
        `username` and `profile` are ignored; any other unknown key is an error, so that a new
        request field cannot slip past the policy unnoticed.
        """
        present = {key: value for key, value in given.items() if value is not None and key not in UNGOVERNED_FIELDS}
        handler = present.pop(WHOLE_HANDLER, None)
        unknown = set(present) - GOVERNED_FIELDS
        if unknown:
            raise ValueError(f"request fields the policy does not know: {sorted(unknown)}")
        if handler is None:
            return cls(fields=frozenset(present), profile_handler_type=profile_handler_type)
        keys = {key: value for key, value in handler.items() if key != "type" and value is not None}
        return cls(
            fields=frozenset(present),
            handler_type=str(handler["type"]),
            handler_keys=frozenset(keys),
            urls=tuple((f"{WHOLE_HANDLER}.{key}", str(keys[key])) for key in sorted(keys) if key in URL_KEYS),
            profile_handler_type=profile_handler_type,
        )


class Rule(StrEnum):
    """The rule a violation names: what a 403 `forbidden` tells the caller."""

    CALLERS = "policy.callers"
    OVERRIDABLE = "policy.overridable"
    HANDLER_TYPES = "policy.handler_types"
    URL_HOSTS = "policy.url_hosts"
    DEPLOYMENT_URL_HOSTS = "deployment.url_hosts"
    DEPLOYMENT_ADMINS = "deployment.admins"


@dataclass(frozen=True)
class Violation:
    """A broken rule. `detail` names the rule and the field, never a value the request holds."""

    rule: Rule
    detail: str


# -- patterns -----------------------------------------------------------------------------------


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Whether `pattern` matches the whole of `value`, `*` matching any run of characters.

    Linear backtracking to the last `*`, O(len(pattern) * len(value)) at worst, never exponential.
    """
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    p = v = 0
    star, resume = -1, 0
    while v < len(value):
        if p < len(pattern) and pattern[p] == "*":
            star, resume = p, v
            p += 1
        elif p < len(pattern) and pattern[p] == value[v]:
            p += 1
            v += 1
        elif star >= 0:
            # Let the last `*` take one more character and try again from there.
            resume += 1
            p, v = star + 1, resume
        else:
            return False
    return all(char == "*" for char in pattern[p:])


def matches_any(patterns: Iterable[str], value: str, *, ignore_case: bool = False) -> bool:
    return any(matches(pattern, value, ignore_case=ignore_case) for pattern in patterns)


_DNS_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*$")


def url_host(url: str) -> str | None:
    """The host an HTTP client would call, lower case; None when it is not unambiguous.

    Only plain DNS names and IP literals count: a host with percent escapes, non-ASCII or other
    characters, or an authority with a backslash (which WHATWG parsers read as a path separator,
    so `https://evil.test\\@good.test/` calls evil.test), has no host a pattern may vouch for.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not host or "\\" in parts.netloc:
        return None
    if any(char.isspace() or unicodedata.category(char) in {"Cc", "Cf"} for char in url):
        return None
    host = host.removesuffix(".")
    if _DNS_HOST.fullmatch(host):
        return host
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _host_allowed(patterns: Iterable[str], url: str) -> bool:
    host = url_host(url)
    return host is not None and matches_any(patterns, host, ignore_case=True)


# -- who may use a profile, who may manage an endpoint ------------------------------------------


def may_use_profile(caller: str, policy: ProfilePolicy | None) -> bool:
    """Whether `caller` may create from (or see endpoints of) a profile with this policy."""
    return policy is None or policy.callers is None or matches_any(policy.callers, caller)


def is_admin(caller: str, deployment: DeploymentPolicy | None) -> bool:
    """Without a deployment policy every caller is an admin."""
    return deployment is None or matches_any(deployment.admins, caller)


def may_manage(caller: str, created_by: str, deployment: DeploymentPolicy | None) -> bool:
    """Whether `caller` may change, reset, disable or delete an endpoint `created_by` made."""
    return not manage_violations(caller, created_by, deployment)


def manage_violations(caller: str, created_by: str, deployment: DeploymentPolicy | None) -> list[Violation]:
    """The violation a change or delete by `caller` breaks: none for admins and the creator."""
    if is_admin(caller, deployment) or caller == created_by:
        return []
    return [Violation(Rule.DEPLOYMENT_ADMINS, "only an admin or the endpoint's creator may change it")]


def visible_profiles(
    caller: str, profile_policies: Mapping[str, ProfilePolicy | None], deployment: DeploymentPolicy | None
) -> frozenset[str] | None:
    """The profiles whose endpoints `caller` sees (GET of one endpoint, GET /endpoints); None:
    every endpoint's, an admin's view. `profile_policies` holds the profiles read and valid: an
    endpoint whose profile broke or disappeared is an admin's alone, so visibility fails closed."""
    if is_admin(caller, deployment):
        return None
    return frozenset(name for name, policy in profile_policies.items() if may_use_profile(caller, policy))


def may_see_endpoint(
    caller: str, profile: str, profile_policies: Mapping[str, ProfilePolicy | None], deployment: DeploymentPolicy | None
) -> bool:
    """Whether `caller` sees an endpoint of `profile`, by `visible_profiles`."""
    visible = visible_profiles(caller, profile_policies, deployment)
    return visible is None or profile in visible


# -- the request rules, as a table ----------------------------------------------------------------

# A check returns one detail per broken instance of its rule.
Check = Callable[[str, RequestedFields, ProfilePolicy | None, DeploymentPolicy | None], list[str]]


def _callers(caller: str, requested: RequestedFields, profile: ProfilePolicy | None, _: object) -> list[str]:
    return [] if may_use_profile(caller, profile) else ["this caller may not use the profile"]


def _overridable(_: str, requested: RequestedFields, profile: ProfilePolicy | None, __: object) -> list[str]:
    if profile is None or profile.overridable is None:
        return []
    allowed = frozenset(profile.overridable)
    not_allowed = sorted(requested.fields - allowed)
    if requested.handler_type is not None and WHOLE_HANDLER not in allowed:
        if requested.handler_type != requested.profile_handler_type:
            not_allowed.append("handler.type")  # another type is the whole handler
        else:
            not_allowed += sorted({f"{WHOLE_HANDLER}.{key}" for key in requested.handler_keys} - allowed)
    return [f"{name} is not overridable in this profile" for name in not_allowed]


def _handler_types(_: str, requested: RequestedFields, profile: ProfilePolicy | None, __: object) -> list[str]:
    if profile is None or profile.handler_types is None or requested.handler_type is None:
        return []
    if requested.handler_type == requested.profile_handler_type or requested.handler_type in profile.handler_types:
        return []
    return ["handler.type is not one of the profile's handler_types"]


def _profile_url_hosts(_: str, requested: RequestedFields, profile: ProfilePolicy | None, __: object) -> list[str]:
    if profile is None or profile.url_hosts is None:
        return []
    hosts = profile.url_hosts
    return [
        f"{key}: its host is not in the profile's url_hosts"
        for key, url in requested.urls
        if not _host_allowed(hosts, url)
    ]


def _deployment_url_hosts(
    _: str, requested: RequestedFields, __: object, deployment: DeploymentPolicy | None
) -> list[str]:
    if deployment is None or deployment.url_hosts is None:
        return []
    hosts = deployment.url_hosts
    return [
        f"{key}: its host is not in the deployment's url_hosts"
        for key, url in requested.urls
        if not _host_allowed(hosts, url)
    ]


class RequestRule(NamedTuple):
    rule: Rule
    check: Check
    # When broken, nothing else is said: a caller refused the profile learns nothing of its policy.
    final: bool = False


REQUEST_RULES: tuple[RequestRule, ...] = (
    RequestRule(Rule.CALLERS, _callers, final=True),
    RequestRule(Rule.OVERRIDABLE, _overridable),
    RequestRule(Rule.HANDLER_TYPES, _handler_types),
    RequestRule(Rule.URL_HOSTS, _profile_url_hosts),
    RequestRule(Rule.DEPLOYMENT_URL_HOSTS, _deployment_url_hosts),
)


def request_violations(
    caller: str,
    requested: RequestedFields,
    profile_policy: ProfilePolicy | None,
    deployment: DeploymentPolicy | None,
) -> list[Violation]:
    """Every rule of REQUEST_RULES the request breaks, in table order; [] when it may proceed."""
    violations: list[Violation] = []
    for row in REQUEST_RULES:
        broken = [Violation(row.rule, detail) for detail in row.check(caller, requested, profile_policy, deployment)]
        violations += broken
        if broken and row.final:
            break
    return violations


# -- where a generated password goes --------------------------------------------------------------

# Callers whose answers end up in places a password must never be: execution history, an IdP.
FORCED_DELIVERY: Mapping[str, PasswordDelivery] = {
    "workflow": PasswordDelivery.SECRETS_MANAGER,
    "scim": PasswordDelivery.SECRETS_MANAGER,
}


def password_delivery_for(
    caller: str,
    requested: PasswordDelivery | None,
    profile_policy: ProfilePolicy | None,
    deployment: DeploymentPolicy | None,
) -> PasswordDelivery:
    """The caller's forced delivery, else the request's (when overridable), else the profile's,
    else the deployment's, else `response`."""
    overridable = (
        profile_policy is None
        or profile_policy.overridable is None
        or ("password_delivery" in profile_policy.overridable)
    )
    candidates = (
        FORCED_DELIVERY.get(caller),
        requested if overridable else None,
        profile_policy.password_delivery if profile_policy else None,
        deployment.password_delivery if deployment else None,
    )
    return next((choice for choice in candidates if choice is not None), PasswordDelivery.RESPONSE)
