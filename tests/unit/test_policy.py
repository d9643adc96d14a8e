"""The policy rules of CONTRACT.md section 5, one behaviour each."""

from typing import Any

import pytest
from pydantic import ValidationError

from sip_provisioning.domain.policy import (
    FORCED_DELIVERY,
    REQUEST_RULES,
    URL_KEYS,
    DeploymentPolicy,
    PasswordDelivery,
    ProfilePolicy,
    RequestedFields,
    Rule,
    Violation,
    is_admin,
    matches,
    may_manage,
    may_see_endpoint,
    may_use_profile,
    password_delivery_for,
    request_violations,
    url_host,
)
from sip_provisioning.domain.request import EndpointRequest
from sip_provisioning.domain.signalwire import HANDLERS

ROLE = "arn:aws:sts::123456789012:assumed-role/onboarding-bot/session-1"
OTHER_ROLE = "arn:aws:sts::123456789012:assumed-role/intern/session-9"
SLACK_USER = "slack:T0123ABCD:U0001"


def profile(**rules: Any) -> ProfilePolicy:
    return ProfilePolicy.model_validate(rules)


def deployment(**rules: Any) -> DeploymentPolicy:
    return DeploymentPolicy.model_validate(rules)


def webhook(*, profile_type: str | None = "laml_webhooks", **keys: str) -> RequestedFields:
    return RequestedFields.from_request(
        {"username": "alice", "handler": {"type": "laml_webhooks", **keys}}, profile_handler_type=profile_type
    )


def rules_of(violations: list[Violation]) -> list[str]:
    return [violation.rule for violation in violations]


# -- the URL keys ---------------------------------------------------------------------------------


def test_the_url_keys_are_exactly_the_handler_keys_that_set_a_url_field() -> None:
    # Given every handler key and the SignalWire field it sets
    url_keys = {key.short for keys in HANDLERS.values() for key in keys.keys if key.field.endswith("_url")}
    # When / Then the policy checks exactly those as URLs
    assert url_keys == URL_KEYS


# -- patterns -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("workflow", "workflow", True),
        ("workflow", "workflows", False),
        ("workflow", "my-workflow", False),
        ("arn:aws:iam::123456789012:role/onboarding-*", "arn:aws:iam::123456789012:role/onboarding-bot", True),
        ("slack:T0123ABCD:*", "slack:T0123ABCD:U0001", True),
        ("slack:T0123ABCD:*", "slack:T9999:U0001", False),
        ("*", "", True),
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "aXbYcd", False),
        ("a?c", "abc", False),
        ("a[b]c", "abc", False),
        ("a.c", "abc", False),
    ],
)
def test_a_pattern_matches_the_whole_value_with_star_as_the_only_wildcard(
    pattern: str, value: str, expected: bool
) -> None:
    # Given a pattern and a value
    # When they are matched
    # Then only a whole match counts, and `*` is the only character that is not itself
    assert matches(pattern, value) is expected


def test_caller_patterns_are_case_sensitive() -> None:
    # Given a caller pattern in one case
    # When an identity differs only in case
    # Then it does not match
    assert not matches("slack:T0123ABCD:*", "slack:t0123abcd:U0001")


def test_host_patterns_are_case_insensitive() -> None:
    # Given a host pattern in mixed case
    # When a host in another case is matched ignoring case
    # Then it matches
    assert matches("*.Example.COM", "hooks.example.com", ignore_case=True)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Hooks.Example.com/voice", "hooks.example.com"),
        ("https://hooks.example.com./voice", "hooks.example.com"),
        ("https://user:pw@hooks.example.com:8443/x?y=1", "hooks.example.com"),
        ("https://hooks.example.com@evil.test/", "evil.test"),
        ("http://[::1]:8080/", "::1"),
        ("http://10.0.0.1/", "10.0.0.1"),
    ],
)
def test_the_host_of_a_url_is_the_one_an_http_client_would_call(url: str, host: str) -> None:
    # Given / When a URL's host is read
    # Then it is that host, lower case
    assert url_host(url) == host


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.test\\@hooks.example.com/",
        "https://evil%2etest.example.com/",
        "https://h\u043eoks.example.com/",
        "https://hooks.example.com\u200b/",
        "ftp://hooks.example.com/",
        "hooks.example.com/voice",
        "https:///voice",
    ],
    ids=["backslash", "percent escape", "cyrillic o", "zero width space", "ftp", "relative", "no host"],
)
def test_a_url_without_an_unambiguous_dns_or_ip_host_has_no_host(url: str) -> None:
    # Given / When a URL whose host parsers could read differently, or that has none, is read
    # Then it has no host a pattern could vouch for
    assert url_host(url) is None


# -- the policy models ----------------------------------------------------------------------------


def test_a_profile_policy_with_every_rule_of_the_contracts_example_is_valid() -> None:
    # Given the policy of CONTRACT.md section 5
    document = {
        "callers": ["arn:aws:iam::123456789012:role/onboarding-*", "slack:T0123ABCD:*", "workflow"],
        "overridable": ["caller_id", "handler.url", "owner"],
        "handler_types": ["laml_webhooks"],
        "url_hosts": ["*.example.com"],
        "password_delivery": "secrets_manager",
    }
    # When it is validated
    policy = ProfilePolicy.model_validate(document)
    # Then every rule is kept
    assert policy.overridable == ("caller_id", "handler.url", "owner")
    assert policy.password_delivery is PasswordDelivery.SECRETS_MANAGER


@pytest.mark.parametrize(
    "document",
    [
        {"overridable": ["username"]},
        {"overridable": ["handler.call_request_url"]},
        {"overridable": ["handler.nonsense"]},
        {"handler_types": ["webhooks"]},
        {"url_hosts": ["https://hooks.example.com"]},
        {"url_hosts": [""]},
        {"callers": ["workflow\n"]},
        {"password_delivery": "email"},
        {"admins": ["workflow"]},
    ],
    ids=["username", "signalwire field name", "unknown handler key", "unknown type", "url as host",
         "empty host", "newline in caller", "unknown delivery", "unknown rule"],
)  # fmt: skip
def test_a_profile_policy_breaking_a_rule_is_rejected_when_read(document: dict[str, Any]) -> None:
    # Given a policy with a bad rule
    # When it is validated
    # Then it is rejected
    with pytest.raises(ValidationError):
        ProfilePolicy.model_validate(document)


def test_a_deployment_policy_with_an_unknown_rule_is_rejected_when_read() -> None:
    # Given a deployment policy with a key the contract does not list
    # When it is validated
    # Then it is rejected
    with pytest.raises(ValidationError):
        DeploymentPolicy.model_validate({"admins": ["workflow"], "callers": ["*"]})


# -- what a request asks for -------------------------------------------------------------------


def test_requested_fields_come_from_what_the_request_model_says_the_caller_gave() -> None:
    # Given a parsed request with a caller id and a webhook handler
    request = EndpointRequest.model_validate(
        {"username": "alice", "profile": "sales", "caller_id": "Alice", "handler": {"type": "laml_webhooks",
         "url": "https://hooks.example.com/voice", "method": "post"}}
    )  # fmt: skip
    # When it is described for the policy
    requested = RequestedFields.from_request(request.model_dump(exclude_unset=True), profile_handler_type="ai_agent")
    # Then it names the fields, the handler's type and keys, and its URLs by request key
    assert requested == RequestedFields(
        fields=frozenset({"caller_id"}),
        handler_type="laml_webhooks",
        handler_keys=frozenset({"url", "method"}),
        urls=(("handler.url", "https://hooks.example.com/voice"),),
        profile_handler_type="ai_agent",
    )


def test_a_field_given_as_null_is_no_override() -> None:
    # Given a change that clears the caller id (back to the profile's value)
    # When it is described for the policy
    requested = RequestedFields.from_request({"caller_id": None, "owner": "e-42"}, profile_handler_type=None)
    # Then only the field it sets counts
    assert requested.fields == {"owner"}


def test_a_request_field_the_policy_does_not_know_is_an_error() -> None:
    # Given a request field no policy rule speaks of
    # When it is described for the policy
    # Then the policy refuses to guess
    with pytest.raises(ValueError, match="description"):
        RequestedFields.from_request({"description": "x"}, profile_handler_type=None)


# -- policy.callers -------------------------------------------------------------------------------


def test_a_profile_without_callers_may_be_used_by_everyone() -> None:
    # Given a profile policy that does not list callers
    # When / Then any caller may use it, as may any caller of a profile without a policy
    assert may_use_profile(OTHER_ROLE, profile(overridable=["owner"]))
    assert may_use_profile(OTHER_ROLE, None)


def test_a_caller_matching_a_callers_pattern_may_use_the_profile() -> None:
    # Given a profile open to the onboarding role's sessions
    policy = profile(callers=["arn:aws:sts::123456789012:assumed-role/onboarding-bot/*"])
    # When / Then that role may use it
    assert request_violations(ROLE, RequestedFields(), policy, None) == []


def test_a_caller_matching_no_callers_pattern_breaks_policy_callers() -> None:
    # Given a profile open to the onboarding role only
    policy = profile(callers=["arn:aws:sts::123456789012:assumed-role/onboarding-bot/*"])
    # When another role asks for it
    violations = request_violations(OTHER_ROLE, RequestedFields(), policy, None)
    # Then the rule broken is policy.callers, and the detail does not name who may
    assert rules_of(violations) == [Rule.CALLERS]
    assert "onboarding" not in violations[0].detail


def test_a_caller_refused_the_profile_hears_of_no_other_rule() -> None:
    # Given a profile that lets its caller override nothing
    policy = profile(callers=["workflow"], overridable=[], url_hosts=["*.example.com"])
    # When someone else asks for it with overrides and a foreign URL
    violations = request_violations(SLACK_USER, webhook(url="https://evil.test/"), policy, None)
    # Then only policy.callers is named: its other rules stay private
    assert rules_of(violations) == [Rule.CALLERS]


def test_an_empty_callers_list_lets_no_one_use_the_profile() -> None:
    # Given a profile whose callers list is empty
    # When / Then no caller may use it
    assert not may_use_profile("workflow", profile(callers=[]))


# -- policy.overridable --------------------------------------------------------------------------


def test_without_overridable_every_field_may_be_set() -> None:
    # Given a profile policy without overridable
    requested = RequestedFields(fields=frozenset({"caller_id", "send_as", "password", "owner", "password_delivery"}))
    # When a request sets every field
    # Then no rule is broken
    assert request_violations(ROLE, requested, profile(callers=["*"]), None) == []


def test_a_field_listed_in_overridable_may_be_set() -> None:
    # Given a profile that lets the caller id be overridden
    # When a request sets the caller id
    # Then no rule is broken
    requested = RequestedFields(fields=frozenset({"caller_id"}))
    assert request_violations(ROLE, requested, profile(overridable=["caller_id"]), None) == []


def test_a_field_not_listed_in_overridable_breaks_policy_overridable_naming_the_field() -> None:
    # Given a profile that lets only the caller id be overridden
    # When a request also sets a password
    requested = RequestedFields(fields=frozenset({"caller_id", "password"}))
    violations = request_violations(ROLE, requested, profile(overridable=["caller_id"]), None)
    # Then policy.overridable names the password field
    assert violations == [Violation(Rule.OVERRIDABLE, "password is not overridable in this profile")]


def test_a_handler_key_listed_in_overridable_may_be_set_on_the_profiles_own_handler_type() -> None:
    # Given a webhooks profile that lets the request give the URL
    # When a request gives a webhooks handler with a URL only
    # Then no rule is broken
    assert (
        request_violations(ROLE, webhook(url="https://a.example.com/"), profile(overridable=["handler.url"]), None)
        == []
    )


def test_a_handler_key_not_listed_in_overridable_breaks_policy_overridable() -> None:
    # Given a webhooks profile that lets the request give the URL only
    # When a request also gives the method
    violations = request_violations(
        ROLE, webhook(url="https://a.example.com/", method="POST"), profile(overridable=["handler.url"]), None
    )
    # Then policy.overridable names handler.method
    assert violations == [Violation(Rule.OVERRIDABLE, "handler.method is not overridable in this profile")]


def test_handler_keys_do_not_allow_choosing_another_handler_type() -> None:
    # Given an AI agent profile that lets handler.url be overridden
    # When a request gives a webhooks handler with just a URL
    requested = webhook(profile_type="ai_agent", url="https://a.example.com/")
    violations = request_violations(ROLE, requested, profile(overridable=["handler.url"]), None)
    # Then choosing the other type breaks policy.overridable
    assert violations == [Violation(Rule.OVERRIDABLE, "handler.type is not overridable in this profile")]


def test_handler_listed_as_a_whole_allows_any_handler() -> None:
    # Given a profile that lets the whole handler be overridden
    requested = webhook(profile_type="ai_agent", url="https://a.example.com/", method="GET")
    # When a request gives another type with several keys
    # Then no rule is broken
    assert request_violations(ROLE, requested, profile(overridable=["handler"]), None) == []


# -- policy.handler_types --------------------------------------------------------------------------


def test_a_handler_type_listed_in_handler_types_may_be_chosen() -> None:
    # Given a profile that allows choosing webhooks
    policy = profile(overridable=["handler"], handler_types=["laml_webhooks"])
    # When a request chooses webhooks over the profile's AI agent
    # Then no rule is broken
    assert request_violations(ROLE, webhook(profile_type="ai_agent", url="https://a.test/"), policy, None) == []


def test_a_handler_type_not_listed_in_handler_types_breaks_policy_handler_types() -> None:
    # Given a profile that allows choosing relay scripts only
    policy = profile(overridable=["handler"], handler_types=["relay_script"])
    # When a request chooses webhooks
    violations = request_violations(ROLE, webhook(profile_type="ai_agent", url="https://a.test/"), policy, None)
    # Then policy.handler_types is broken
    assert rules_of(violations) == [Rule.HANDLER_TYPES]


def test_the_profiles_own_handler_type_needs_no_listing_in_handler_types() -> None:
    # Given a webhooks profile whose handler_types lists another type
    policy = profile(handler_types=["relay_script"])
    # When a request adjusts the profile's own webhooks handler
    # Then no rule is broken
    assert request_violations(ROLE, webhook(url="https://a.test/"), policy, None) == []


# -- policy.url_hosts and deployment.url_hosts -------------------------------------------------------


def test_a_url_whose_host_matches_url_hosts_is_allowed() -> None:
    # Given a profile whose webhooks must go to the company's hosts
    # When a request's URL goes to one of them
    # Then no rule is broken
    policy = profile(url_hosts=["*.example.com"])
    assert request_violations(ROLE, webhook(url="https://voice.EXAMPLE.com/in"), policy, None) == []


def test_a_url_whose_host_matches_no_url_hosts_breaks_policy_url_hosts_naming_the_key_not_the_url() -> None:
    # Given a profile whose webhooks must go to the company's hosts
    # When a request's fallback URL goes elsewhere, with a token in it
    requested = webhook(url="https://voice.example.com/", fallback_url="https://evil.test/?token=s3cr3t")
    violations = request_violations(ROLE, requested, profile(url_hosts=["*.example.com"]), None)
    # Then policy.url_hosts names handler.fallback_url, and never the URL
    assert violations == [Violation(Rule.URL_HOSTS, "handler.fallback_url: its host is not in the profile's url_hosts")]


def test_a_host_pattern_matches_the_whole_host() -> None:
    # Given a profile whose webhooks must go to subdomains of example.com
    # When a request's URL goes to a host that merely contains it
    violations = request_violations(
        ROLE, webhook(url="https://voice.example.com.evil.test/"), profile(url_hosts=["*.example.com"]), None
    )
    # Then policy.url_hosts is broken
    assert rules_of(violations) == [Rule.URL_HOSTS]


def test_a_url_with_an_ambiguous_host_breaks_url_hosts() -> None:
    # Given a profile whose webhooks must go to the company's hosts
    # When a request hides another host behind a backslash
    violations = request_violations(
        ROLE, webhook(url="https://evil.test\\@voice.example.com/"), profile(url_hosts=["*.example.com"]), None
    )
    # Then policy.url_hosts is broken
    assert rules_of(violations) == [Rule.URL_HOSTS]


def test_the_deployments_url_hosts_apply_on_top_of_the_profiles() -> None:
    # Given a profile allowing any example.com host and a deployment allowing only voice.example.com
    policy = profile(url_hosts=["*.example.com"])
    # When a request's URL goes to another example.com host
    violations = request_violations(
        ROLE, webhook(url="https://other.example.com/"), policy, deployment(url_hosts=["voice.example.com"])
    )
    # Then deployment.url_hosts is broken
    assert violations == [
        Violation(Rule.DEPLOYMENT_URL_HOSTS, "handler.url: its host is not in the deployment's url_hosts")
    ]


def test_the_deployments_url_hosts_apply_to_profiles_without_a_policy() -> None:
    # Given a profile without a policy and a deployment that allows example.com hosts
    # When a request's URL goes elsewhere
    violations = request_violations(
        ROLE, webhook(url="https://evil.test/"), None, deployment(url_hosts=["*.example.com"])
    )
    # Then deployment.url_hosts is broken
    assert rules_of(violations) == [Rule.DEPLOYMENT_URL_HOSTS]


def test_every_broken_rule_is_named_in_table_order() -> None:
    # Given a profile and a deployment each restricting hosts, and nothing overridable
    policy = profile(overridable=[], url_hosts=["*.example.com"])
    # When a request sets an owner and a foreign URL
    requested = RequestedFields.from_request(
        {"owner": "e-1", "handler": {"type": "laml_webhooks", "url": "https://evil.test/"}},
        profile_handler_type="laml_webhooks",
    )
    violations = request_violations(ROLE, requested, policy, deployment(url_hosts=["*.example.com"]))
    # Then each broken rule is named once per field, in the table's order
    assert rules_of(violations) == [Rule.OVERRIDABLE, Rule.OVERRIDABLE, Rule.URL_HOSTS, Rule.DEPLOYMENT_URL_HOSTS]
    assert [row.rule for row in REQUEST_RULES][:2] == [Rule.CALLERS, Rule.OVERRIDABLE]


# -- deployment.admins ----------------------------------------------------------------------------


def test_without_a_deployment_policy_every_caller_is_an_admin() -> None:
    # Given no deployment policy
    # When / Then anyone is an admin and may manage anyone's endpoint
    assert is_admin(OTHER_ROLE, None)
    assert may_manage(OTHER_ROLE, ROLE, None)


def test_an_admin_may_manage_any_endpoint() -> None:
    # Given a deployment whose admins are the platform team's roles
    policy = deployment(admins=["arn:aws:sts::123456789012:assumed-role/platform-*"])
    # When / Then a platform role may manage an endpoint someone else created
    assert may_manage("arn:aws:sts::123456789012:assumed-role/platform-ops/s", ROLE, policy)


def test_the_creator_may_manage_its_own_endpoint() -> None:
    # Given a deployment policy that does not list the creator as an admin
    # When / Then the creator may still manage its endpoint
    assert may_manage(ROLE, ROLE, deployment(admins=["workflow"]))


def test_a_caller_neither_admin_nor_creator_may_not_manage_the_endpoint() -> None:
    # Given a deployment policy with admins
    # When / Then another caller may not change or delete the endpoint
    assert not may_manage(OTHER_ROLE, ROLE, deployment(admins=["workflow"]))


def test_a_non_admin_sees_only_endpoints_of_profiles_it_may_use() -> None:
    # Given a deployment with admins and a profile for the onboarding role only
    policies, admins = {"hires": profile(callers=[ROLE]), "team": None}, deployment(admins=["workflow"])
    # When / Then the admin and the profile's callers see its endpoints, others do not
    assert may_see_endpoint("workflow", "hires", policies, admins)
    assert may_see_endpoint(ROLE, "hires", policies, admins)
    assert not may_see_endpoint(OTHER_ROLE, "hires", policies, admins)


def test_an_endpoint_of_a_profile_that_broke_or_disappeared_is_seen_by_admins_only() -> None:
    # Given a deployment with admins, and profiles read that do not include the endpoint's
    policies, admins = {"team": None}, deployment(admins=["workflow"])
    # When / Then only the admin sees it: visibility fails closed
    assert may_see_endpoint("workflow", "gone", policies, admins)
    assert not may_see_endpoint(ROLE, "gone", policies, admins)


# -- password delivery -----------------------------------------------------------------------------


def test_a_generated_password_is_delivered_in_the_response_when_nothing_says_otherwise() -> None:
    # Given no request choice and no policies
    # When / Then the password goes in the response
    assert password_delivery_for(ROLE, None, None, None) is PasswordDelivery.RESPONSE


def test_the_deployments_delivery_applies_when_the_profile_names_none() -> None:
    # Given a deployment that delivers to Secrets Manager
    # When / Then a profile without a delivery uses it
    assert (
        password_delivery_for(ROLE, None, profile(), deployment(password_delivery="secrets_manager"))
        is PasswordDelivery.SECRETS_MANAGER
    )


def test_the_profiles_delivery_wins_over_the_deployments() -> None:
    # Given a profile delivering in the response, in a deployment delivering to Secrets Manager
    # When / Then the profile's choice applies
    assert (
        password_delivery_for(
            ROLE, None, profile(password_delivery="response"), deployment(password_delivery="secrets_manager")
        )
        is PasswordDelivery.RESPONSE
    )


def test_the_requests_delivery_wins_when_overridable() -> None:
    # Given a Secrets Manager profile that lets the request choose
    policy = profile(overridable=["password_delivery"], password_delivery="secrets_manager")
    # When / Then the request's choice applies
    assert password_delivery_for(ROLE, PasswordDelivery.RESPONSE, policy, None) is PasswordDelivery.RESPONSE


def test_the_requests_delivery_is_ignored_when_not_overridable() -> None:
    # Given a Secrets Manager profile that does not let the request choose
    policy = profile(overridable=["owner"], password_delivery="secrets_manager")
    # When / Then the profile's choice applies
    assert password_delivery_for(ROLE, PasswordDelivery.RESPONSE, policy, None) is PasswordDelivery.SECRETS_MANAGER


def test_a_password_delivery_not_listed_in_overridable_breaks_policy_overridable() -> None:
    # Given a profile that does not let the request choose the delivery
    requested = RequestedFields(fields=frozenset({"password_delivery"}))
    # When / Then a request choosing it is refused
    assert rules_of(request_violations(ROLE, requested, profile(overridable=["owner"]), None)) == [Rule.OVERRIDABLE]


@pytest.mark.parametrize("caller", sorted(FORCED_DELIVERY))
def test_workflow_and_scim_callers_always_deliver_to_secrets_manager(caller: str) -> None:
    # Given a workflow or SCIM caller asking for the response, on a response profile and deployment
    choice = password_delivery_for(
        caller,
        PasswordDelivery.RESPONSE,
        profile(password_delivery="response"),
        deployment(password_delivery="response"),
    )
    # When / Then the password goes to Secrets Manager anyway
    assert choice is PasswordDelivery.SECRETS_MANAGER
    assert set(FORCED_DELIVERY) == {"workflow", "scim"}
