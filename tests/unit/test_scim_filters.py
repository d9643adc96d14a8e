"""The `filter` of `GET /Users`: the three equality forms identity providers send, and nothing else."""

import re

import pytest

from sip_provisioning.callers.scim.errors import InvalidFilter
from sip_provisioning.callers.scim.filters import FilterAttribute, UserFilter, parse_user_filter


@pytest.mark.parametrize(
    ("text", "attribute"),
    [
        ('userName eq "alice@example.com"', FilterAttribute.USER_NAME),
        ('externalId eq "alice@example.com"', FilterAttribute.EXTERNAL_ID),
        ('id eq "alice@example.com"', FilterAttribute.ID),
    ],
)
def test_each_supported_attribute_is_filtered_by_equality(text: str, attribute: FilterAttribute) -> None:
    # Given / When an equality filter on a supported attribute is parsed
    parsed = parse_user_filter(text)
    # Then it names the attribute and the value
    assert parsed == UserFilter(attribute, "alice@example.com")


@pytest.mark.parametrize("text", ['USERNAME eq "alice"', 'username EQ "alice"', 'UserName Eq "alice"'])
def test_attribute_names_and_the_operator_are_case_insensitive(text: str) -> None:
    # Given / When a filter written in another case is parsed
    parsed = parse_user_filter(text)
    # Then it is the userName filter
    assert parsed == UserFilter(FilterAttribute.USER_NAME, "alice")


def test_an_attribute_name_may_carry_the_core_user_schema_urn() -> None:
    # Given / When a fully qualified userName filter is parsed
    parsed = parse_user_filter('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "alice"')
    # Then it is the userName filter
    assert parsed == UserFilter(FilterAttribute.USER_NAME, "alice")


def test_a_value_keeps_its_escaped_quotes_and_backslashes() -> None:
    # Given / When a filter whose value holds an escaped quote and an escaped backslash is parsed
    parsed = parse_user_filter(r'userName eq "al\"ice\\x"')
    # Then the value is unescaped as JSON
    assert parsed.value == 'al"ice\\x'


def test_a_value_keeps_its_case() -> None:
    # Given / When a filter on a mixed-case userName is parsed
    parsed = parse_user_filter('userName eq "Alice@Example.com"')
    # Then the value is as sent: comparing without regard to case is the lookup's business
    assert parsed.value == "Alice@Example.com"


def test_extra_whitespace_around_the_tokens_is_accepted() -> None:
    # Given / When a filter with extra spaces is parsed
    parsed = parse_user_filter('  userName   eq   "alice"  ')
    # Then it is the userName filter
    assert parsed == UserFilter(FilterAttribute.USER_NAME, "alice")


@pytest.mark.parametrize(
    "text",
    [
        'userName co "x"',
        'userName sw "x"',
        'userName ne "x"',
        "userName pr",
        'userName eq "a" and id eq "b"',
        'userName eq "a" or userName eq "b"',
        'not (userName eq "a")',
        'title eq "x"',
        'emails.value eq "x"',
        'emails[type eq "work"]',
        "userName eq 5",
        "userName eq true",
        "userName eq null",
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName eq "x"',
    ],
)
def test_a_filter_form_the_service_does_not_answer_is_an_invalid_filter(text: str) -> None:
    # Given / When a valid SCIM filter of another form is parsed
    # Then it is an invalid filter that names the forms supported
    with pytest.raises(InvalidFilter, match=re.escape('userName eq "..."')):
        parse_user_filter(text)


@pytest.mark.parametrize(
    "text", ["", "garbage", "userName eq", "userName eq 'alice'", 'userName eq "alice', 'userName == "alice"']
)
def test_text_that_is_no_filter_at_all_is_an_invalid_filter(text: str) -> None:
    # Given / When text that is not SCIM filter syntax is parsed
    # Then it is an invalid filter
    with pytest.raises(InvalidFilter, match="not SCIM filter syntax"):
        parse_user_filter(text)
