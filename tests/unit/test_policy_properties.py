"""Properties of the policy module over generated policies and requests (CONTRACT.md section 5).

Each rule is restated here as a plain sentence over a reference matcher (a regex), and the
module must agree with it: a request any rule forbids is refused naming that rule, and one
that no rule forbids is never refused.
"""

import re
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from sip_provisioning.domain.policy import (
    FORCED_DELIVERY,
    GOVERNED_FIELDS,
    HANDLER_KEYS,
    URL_KEYS,
    DeploymentPolicy,
    PasswordDelivery,
    ProfilePolicy,
    RequestedFields,
    Rule,
    matches,
    password_delivery_for,
    request_violations,
    url_host,
)

# -- a reference for `matches` -----------------------------------------------------------------


def reference_matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if char == "*" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


# Few characters, so that matches are common; regex and glob metacharacters among them.
pattern_text = st.text(st.sampled_from("ab.*?[]\\+Ab"), max_size=12)
value_text = st.text(st.sampled_from("ab.?[]\\+AB\n"), max_size=16)


@settings(max_examples=1000)
@given(pattern=pattern_text, value=value_text)
def test_matches_agrees_with_a_regex_where_star_is_the_only_wildcard(pattern: str, value: str) -> None:
    # Given any pattern and value over a small alphabet with metacharacters
    # When / Then matching agrees with the reference regex
    assert matches(pattern, value) is reference_matches(pattern, value)


@settings(max_examples=500)
@given(pattern=pattern_text, value=value_text)
def test_matching_ignoring_case_agrees_with_a_case_insensitive_regex(pattern: str, value: str) -> None:
    # Given any pattern and value
    # When / Then matching ignoring case agrees with the reference regex ignoring case
    assert matches(pattern, value, ignore_case=True) is reference_matches(pattern, value, ignore_case=True)


@given(pattern=st.text(st.characters(exclude_characters="*"), max_size=12), value=st.text(max_size=12))
def test_a_pattern_without_a_star_matches_only_itself(pattern: str, value: str) -> None:
    # Given a pattern without `*`
    # When / Then it matches a value exactly when they are equal, and never a longer one
    assert matches(pattern, value) is (pattern == value)
    assert matches(pattern, pattern)
    assert not matches(pattern, pattern + "x")
    assert not matches(pattern, "x" + pattern)


@given(pattern=pattern_text, prefix=value_text, value=value_text)
def test_a_pattern_not_starting_with_a_star_does_not_match_inside_a_value(
    pattern: str, prefix: str, value: str
) -> None:
    # Given a pattern that matches a value and does not start with `*`
    # When the value gains a prefix the pattern's start cannot take
    # Then it no longer matches: patterns match whole
    if pattern and not pattern.startswith("*") and matches(pattern, value):
        assert not matches(pattern, "\n" + value) or pattern[0] == "\n"


# -- generated policies and requests ------------------------------------------------------------

CALLERS = [
    "workflow",
    "scim",
    "slack:T1:U1",
    "slack:T2:U1",
    "arn:aws:iam::1:role/onboarding-a",
    "arn:aws:iam::1:role/x",
]
CALLER_PATTERNS = ["*", "workflow", "Workflow", "slack:T1:*", "arn:aws:iam::1:role/onboarding-*", "*:U1", "scim*"]
HOST_PATTERNS = ["*", "*.example.com", "a.example.com", "A.Example.com", "example.com", "evil.*", "*a*"]
# URLs and the host an HTTP client would call (None: no host a pattern may vouch for).
URLS = [
    ("https://a.example.com/voice", "a.example.com"),
    ("https://B.EXAMPLE.COM/voice?token=1", "b.example.com"),
    ("http://example.com:8080/", "example.com"),
    ("https://evil.test/", "evil.test"),
    ("https://a.example.com.evil.test/", "a.example.com.evil.test"),
    ("https://a.example.com@evil.test/", "evil.test"),
    ("https://evil.test\\@a.example.com/", None),
    ("https://a%2eexample.com/", None),
]
HANDLER_TYPES = sorted(HANDLER_KEYS)
OVERRIDABLE = sorted(
    GOVERNED_FIELDS | {"handler"} | {f"handler.{key}" for keys in HANDLER_KEYS.values() for key in keys}
)
HOST_OF = dict(URLS)


def optional_subset(values: list[str]) -> st.SearchStrategy[tuple[str, ...] | None]:
    return st.none() | st.lists(st.sampled_from(values), unique=True, max_size=len(values)).map(tuple)


profile_policies = st.none() | st.builds(
    ProfilePolicy,
    callers=optional_subset(CALLER_PATTERNS),
    overridable=optional_subset(OVERRIDABLE),
    handler_types=optional_subset(HANDLER_TYPES),
    url_hosts=optional_subset(HOST_PATTERNS),
)
deployments = st.none() | st.builds(DeploymentPolicy, url_hosts=optional_subset(HOST_PATTERNS))


@st.composite
def requests(draw: st.DrawFn) -> RequestedFields:
    fields = draw(st.frozensets(st.sampled_from(sorted(GOVERNED_FIELDS))))
    profile_type = draw(st.none() | st.sampled_from(HANDLER_TYPES))
    if not draw(st.booleans()):
        return RequestedFields(fields=fields, profile_handler_type=profile_type)
    # A request gives the profile's own type more often than chance would.
    handler_type = draw(
        st.sampled_from(HANDLER_TYPES) if profile_type is None else st.sampled_from([profile_type, *HANDLER_TYPES])
    )
    keys = (
        draw(st.frozensets(st.sampled_from(sorted(HANDLER_KEYS[handler_type]))))
        if HANDLER_KEYS[handler_type]
        else frozenset()
    )
    urls = tuple((f"handler.{key}", draw(st.sampled_from([url for url, _ in URLS]))) for key in sorted(keys & URL_KEYS))
    return RequestedFields(
        fields=fields, handler_type=handler_type, handler_keys=keys, urls=urls, profile_handler_type=profile_type
    )


# -- the rules, restated ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    caller: str
    requested: RequestedFields
    profile: ProfilePolicy | None
    deployment: DeploymentPolicy | None


def host_allowed(patterns: tuple[str, ...], url: str) -> bool:
    host = HOST_OF[url]
    return host is not None and any(reference_matches(pattern, host, ignore_case=True) for pattern in patterns)


def forbidden_by(case: Case) -> set[Rule]:
    """The rules that forbid the request, each in the contract's own words."""
    profile = case.profile or ProfilePolicy()
    deployment = case.deployment or DeploymentPolicy()
    requested = case.requested
    gives_handler = requested.handler_type is not None
    other_type = gives_handler and requested.handler_type != requested.profile_handler_type
    listed = set(profile.overridable or ())
    own_keys_listed = not other_type and all(f"handler.{key}" in listed for key in requested.handler_keys)
    urls = [url for _, url in requested.urls]
    sentences = {
        # callers: who may use the profile
        Rule.CALLERS: profile.callers is not None
        and not any(reference_matches(pattern, case.caller) for pattern in profile.callers),
        # overridable: the fields a caller may set; `handler` as a whole, or `handler.<key>`
        # for one key of the profile's own handler type
        Rule.OVERRIDABLE: profile.overridable is not None
        and (not requested.fields <= listed or (gives_handler and "handler" not in listed and not own_keys_listed)),
        # handler_types: the handler types a request may choose
        Rule.HANDLER_TYPES: profile.handler_types is not None
        and other_type
        and requested.handler_type not in profile.handler_types,
        # url_hosts: host patterns every URL a request supplies must match
        Rule.URL_HOSTS: profile.url_hosts is not None and not all(host_allowed(profile.url_hosts, url) for url in urls),
        # the deployment's url_hosts apply to every request on top of the profile's
        Rule.DEPLOYMENT_URL_HOSTS: deployment.url_hosts is not None
        and not all(host_allowed(deployment.url_hosts, url) for url in urls),
    }
    return {rule for rule, forbids in sentences.items() if forbids}


cases = st.builds(
    Case, caller=st.sampled_from(CALLERS), requested=requests(), profile=profile_policies, deployment=deployments
)


@settings(max_examples=2000)
@given(case=cases)
def test_a_request_is_refused_naming_exactly_the_rules_that_forbid_it(case: Case) -> None:
    # Given any caller, request, profile policy and deployment policy
    # When the request's violations are listed
    violations = request_violations(case.caller, case.requested, case.profile, case.deployment)
    # Then they name every rule that forbids it and no other; a caller refused the profile
    # hears of policy.callers only
    expected = forbidden_by(case)
    named = {violation.rule for violation in violations}
    assert named == ({Rule.CALLERS} if Rule.CALLERS in expected else expected)


@settings(max_examples=1000)
@given(case=cases)
def test_a_request_no_rule_forbids_always_gets_past_the_policy(case: Case) -> None:
    # Given any case
    # When / Then it has no violation exactly when no rule forbids it
    assert (request_violations(case.caller, case.requested, case.profile, case.deployment) == []) is (
        not forbidden_by(case)
    )


@settings(max_examples=500)
@given(case=cases)
def test_no_violation_detail_holds_a_url_or_a_pattern(case: Case) -> None:
    # Given any case
    # When its violations are described
    details = [v.detail for v in request_violations(case.caller, case.requested, case.profile, case.deployment)]
    # Then no detail repeats a URL the request holds or a pattern of the policies
    leaked = [url for url, _ in URLS] + CALLER_PATTERNS + HOST_PATTERNS + CALLERS
    assert not [secret for secret in leaked for detail in details if secret in detail and secret != "*"]


@given(url=st.sampled_from(URLS))
def test_a_urls_host_is_the_one_an_http_client_would_call(url: tuple[str, str | None]) -> None:
    # Given a URL and the host a WHATWG client would call
    # When / Then the policy reads the same host, or none where the host is ambiguous
    assert url_host(url[0]) == url[1]


@given(
    labels=st.lists(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True), min_size=1, max_size=4),
    upper=st.booleans(),
)
def test_a_plain_dns_hostname_is_read_lower_case(labels: list[str], upper: bool) -> None:
    # Given a URL with a plain DNS name, in any case
    host = ".".join(labels)
    # When / Then its host is that name, lower case
    assert url_host(f"https://{host.upper() if upper else host}/x") == host


delivery = st.none() | st.sampled_from(PasswordDelivery)


@given(
    caller=st.sampled_from(CALLERS),
    requested=delivery,
    overridable=optional_subset(["password_delivery", "owner"]),
    profile_choice=delivery,
    deployment_choice=delivery,
)
def test_the_password_goes_where_the_first_choice_in_line_says(
    caller: str,
    requested: PasswordDelivery | None,
    overridable: tuple[str, ...] | None,
    profile_choice: PasswordDelivery | None,
    deployment_choice: PasswordDelivery | None,
) -> None:
    # Given any caller, request choice and policies
    profile = ProfilePolicy(overridable=overridable, password_delivery=profile_choice)
    deployment = DeploymentPolicy(password_delivery=deployment_choice)
    # When the delivery is chosen
    chosen = password_delivery_for(caller, requested, profile, deployment)
    # Then workflow and SCIM always use Secrets Manager; others the request's (when
    # overridable), else the profile's, else the deployment's, else the response
    may_choose = overridable is None or "password_delivery" in overridable
    line = [requested if may_choose else None, profile_choice, deployment_choice, PasswordDelivery.RESPONSE]
    expected = FORCED_DELIVERY.get(caller) or next(choice for choice in line if choice is not None)
    assert chosen is expected
