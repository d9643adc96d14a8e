"""A URL's port, when it gives one, is decimal 1 to 65535 (CONTRACT.md section 1): the rule of
`AbsoluteUrl`, which every handler URL a caller sends and every URL a profile sets is held to."""

import pytest
from pydantic import TypeAdapter, ValidationError

from sip_provisioning.domain.signalwire import AbsoluteUrl, SipEndpointSettings

ABSOLUTE_URL: TypeAdapter[str] = TypeAdapter(AbsoluteUrl)

# Each port a URL may not give, and why. Leading zeros are refused: `00080` is 80 to some
# clients and nothing to others, and no URL needs them.
IMPOSSIBLE_PORTS = {
    "99999": "above 65535",
    "65536": "one above 65535",
    "0": "zero",
    "-1": "negative",
    "0x50": "hexadecimal",
    "": "empty after the colon",
    " 80": "a space before it",
    "+80": "a sign",
    "\u0668\u0660": "Arabic-Indic digits",
    "\uff18\uff10": "full-width digits",
    "00080": "leading zeros",
    "080": "a leading zero",
    "80:81": "two ports",
    "8o": "a letter",
}
POSSIBLE_URLS = [
    "https://hooks.example.com/voice",
    "https://hooks.example.com:1/voice",
    "https://hooks.example.com:80/voice",
    "https://hooks.example.com:8443/voice",
    "https://hooks.example.com:65535/voice",
    "https://hooks.example.com:443",
    "http://[2001:db8::1]/voice",
    "http://[2001:db8::1]:8080/voice",
    "https://user:secret@hooks.example.com:8443/voice",
    "https://hooks.example.com/voice?at=10:30",
]


@pytest.mark.parametrize("port", IMPOSSIBLE_PORTS.keys(), ids=IMPOSSIBLE_PORTS.values())
def test_a_url_giving_a_port_that_is_not_decimal_1_to_65535_is_refused(port: str) -> None:
    # Given / When a URL whose port is impossible
    # Then it is refused
    with pytest.raises(ValidationError):
        ABSOLUTE_URL.validate_python(f"https://hooks.example.com:{port}/voice")


@pytest.mark.parametrize("port", ["0", "99999", "-1", ""])
def test_an_ipv6_url_giving_an_impossible_port_is_refused(port: str) -> None:
    # Given / When an IPv6 literal's URL whose port is impossible
    # Then it is refused: the colons inside the brackets are the address's, the port's is after them
    with pytest.raises(ValidationError):
        ABSOLUTE_URL.validate_python(f"http://[2001:db8::1]:{port}/voice")


@pytest.mark.parametrize("url", POSSIBLE_URLS)
def test_a_url_giving_no_port_or_one_from_1_to_65535_is_accepted_as_given(url: str) -> None:
    # Given / When a URL with no port or a possible one
    # Then it is accepted unchanged
    assert ABSOLUTE_URL.validate_python(url) == url


def test_the_refusal_says_what_a_port_may_be() -> None:
    # Given / When a URL whose port is above 65535
    with pytest.raises(ValidationError) as raised:
        ABSOLUTE_URL.validate_python("https://hooks.example.com:99999/voice")
    # Then the message says the rule
    assert "decimal number from 1 to 65535" in raised.value.errors()[0]["msg"]


def test_a_profile_url_giving_an_impossible_port_is_refused() -> None:
    # Given / When profile settings whose fallback URL has port 0x50
    # Then they are refused, naming the field
    with pytest.raises(ValidationError) as raised:
        SipEndpointSettings.model_validate({"call_fallback_url": "https://hooks.example.com:0x50/fallback"})
    assert raised.value.errors()[0]["loc"] == ("call_fallback_url",)
