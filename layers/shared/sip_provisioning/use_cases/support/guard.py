"""The policies (CONTRACT.md section 5) applied to a use case: the rules are `domain.policy`'s
tables; this module only feeds them what a use case knows and turns a violation into `Forbidden`."""

from collections.abc import Iterator, Mapping

from sip_provisioning.domain.errors import Forbidden, UnknownProfile
from sip_provisioning.domain.policy import (
    PasswordDelivery,
    ProfilePolicy,
    RequestedFields,
    Rule,
    Violation,
    is_admin,
    manage_violations,
    may_see_endpoint,
    may_use_profile,
    password_delivery_for,
    request_violations,
    visible_profiles,
)
from sip_provisioning.domain.profile import DEFAULT_PROFILE, Profile, ServiceConfig
from sip_provisioning.domain.records import InventoryRecord
from sip_provisioning.domain.request import EndpointRequest, PasswordResetRequest
from sip_provisioning.use_cases.ports import Caller


def check_request(config: ServiceConfig, caller: Caller, request: EndpointRequest, given: set[str]) -> None:
    """A create under its profile's and the deployment's policy. `given`: the fields the caller set."""
    _refuse(_request_violations(config, caller, request, given))


def check_change(
    config: ServiceConfig, caller: Caller, record: InventoryRecord, changed: EndpointRequest, given: set[str]
) -> None:
    """A PATCH: admins and the creator; the fields it sets under the policy of the profile it
    leaves the endpoint in, and who may use that profile only when it names one."""
    check_manage(config, caller, record)
    if "profile" in given:  # the whole request must suit the profile it moves to
        _refuse(_request_violations(config, caller, changed, set(changed.model_fields_set)))
        return
    violations = _request_violations(config, caller, changed, given)
    _refuse([v for v in violations if v.rule is not Rule.CALLERS])


def check_manage(config: ServiceConfig, caller: Caller, record: InventoryRecord) -> None:
    """Changing, resetting, disabling or deleting: admins and the endpoint's creator."""
    _refuse(manage_violations(caller.identity, record.created_by, config.deployment_policy))


def check_reset(config: ServiceConfig, caller: Caller, record: InventoryRecord, request: PasswordResetRequest) -> None:
    """A reset: admins and the creator; a given password or delivery only where overridable."""
    check_manage(config, caller, record)
    profile = config.profiles.get(record.profile)
    requested = RequestedFields.from_request(
        request.model_dump(mode="json", exclude_none=True), profile_handler_type=None
    )
    violations = request_violations(caller.identity, requested, profile.policy if profile else None, None)
    _refuse([v for v in violations if v.rule is not Rule.CALLERS])


def check_see(config: ServiceConfig, caller: Caller, record: InventoryRecord | None) -> None:
    """Looking one endpoint up: admins see every one; others those of profiles they may use
    (an endpoint the service did not create belongs to no profile, and one whose profile broke or
    disappeared to none that can be read: admins only)."""
    if record is None and not is_admin(caller.identity, config.deployment_policy):
        raise Forbidden("deployment.admins", "Forbidden by deployment.admins: only admins look up unmanaged endpoints.")
    if record is not None and not may_see_endpoint(
        caller.identity, record.profile, _profile_policies(config), config.deployment_policy
    ):
        raise Forbidden("policy.callers", "Forbidden by policy.callers: this endpoint's profile is not yours to use.")


def profiles_seen_by(config: ServiceConfig, caller: Caller) -> frozenset[str] | None:
    """The profiles whose endpoints `caller` sees; None: every endpoint's (an admin)."""
    return visible_profiles(caller.identity, _profile_policies(config), config.deployment_policy)


def _profile_policies(config: ServiceConfig) -> Mapping[str, ProfilePolicy | None]:
    """The policy of every profile read and valid (a broken one is not among them)."""
    return _ProfilePolicies(config.profiles)


class _ProfilePolicies(Mapping[str, ProfilePolicy | None]):
    """Profiles' policies, read as they are asked for: an admin's view asks for none, so SSM is
    not listed for it."""

    def __init__(self, profiles: Mapping[str, Profile]) -> None:
        self._profiles = profiles

    def __getitem__(self, name: str) -> ProfilePolicy | None:
        return self._profiles[name].policy

    def __iter__(self) -> Iterator[str]:
        return iter(self._profiles)

    def __len__(self) -> int:
        return len(self._profiles)


def usable_profiles(config: ServiceConfig, caller: Caller) -> list[str]:
    return sorted(name for name, profile in config.profiles.items() if may_use_profile(caller.identity, profile.policy))


def delivery_for(
    config: ServiceConfig, caller: Caller, profile_name: str, requested: PasswordDelivery | None
) -> PasswordDelivery:
    profile = config.profiles.get(profile_name)
    return password_delivery_for(
        caller.identity, requested, profile.policy if profile else None, config.deployment_policy
    )


def _request_violations(
    config: ServiceConfig, caller: Caller, request: EndpointRequest, given: set[str]
) -> list[Violation]:
    profile = config.profiles_for(request.profile).get(request.profile)
    if profile is None:  # named among the known ones only those this caller may use
        raise UnknownProfile(request.profile, usable_profiles(config, caller))
    document = request.model_dump(mode="json", include=given | {"username", "profile"}, exclude_none=True)
    # The handler type the profile gives, its own or the one it takes from `default`.
    own_handler = profile.call_handler or config.profiles[DEFAULT_PROFILE].call_handler
    requested = RequestedFields.from_request(document, profile_handler_type=own_handler.value if own_handler else None)
    return request_violations(caller.identity, requested, profile.policy, config.deployment_policy)


def _refuse(violations: list[Violation]) -> None:
    if violations:
        rules = sorted({violation.rule.value for violation in violations})
        details = "; ".join(violation.detail for violation in violations)
        raise Forbidden(rules[0], f"Forbidden by {', '.join(rules)}: {details}.")
