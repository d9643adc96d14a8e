"""SignalWire's Retry-After is honoured in both forms HTTP allows (RFC 9110 section 10.2.3)."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from sip_provisioning.adapters.signalwire_client import _retry_after


def answer_with(retry_after: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    response.headers["Retry-After"] = retry_after
    return response


def test_a_number_of_seconds_is_taken_as_is() -> None:
    # Given / When Retry-After: 12
    # Then 12 seconds
    assert _retry_after(answer_with("12")) == 12


def test_an_http_date_becomes_the_seconds_until_then() -> None:
    # Given a date 30 s ahead
    when = datetime.now(UTC) + timedelta(seconds=30)
    # When it is read
    seconds = _retry_after(answer_with(format_datetime(when, usegmt=True)))
    # Then it is about 30 s (whole seconds, rounded up)
    assert seconds is not None
    assert 28 <= seconds <= 31


def test_a_date_in_the_past_means_retry_after_one_second() -> None:
    # Given / When a date already gone
    # Then one second, never zero or negative
    assert _retry_after(answer_with("Wed, 21 Oct 2015 07:28:00 GMT")) == 1


@pytest.mark.parametrize("value", ["", "soon", "-5", "1.5"])
def test_an_unreadable_value_is_no_retry_after(value: str) -> None:
    # Given / When an unreadable Retry-After
    # Then there is none
    assert _retry_after(answer_with(value)) is None
