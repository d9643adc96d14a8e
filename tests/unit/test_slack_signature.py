"""Slack's request signature: only a request signed with the secret, over these very bytes, within
five minutes of now, is Slack's."""

import time

import pytest
from pydantic import SecretStr

from sip_provisioning.callers.slack.signature import SignatureRejected, verify_slack_signature
from tests.slack_helpers import slack_signature

# Slack's documented example (api.slack.com, "Verifying requests from Slack").
SECRET = SecretStr("8f742231b10e8888abcd99yyyzzz85a5")
TIMESTAMP = "1531420618"
BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
SIGNED_AT = int(TIMESTAMP)
FIVE_MINUTES = 5 * 60


def rejection(
    timestamp: str | None = TIMESTAMP,
    signature: str | None = SIGNATURE,
    body: bytes = BODY,
    *,
    secret: SecretStr = SECRET,
    now: float = SIGNED_AT,
) -> SignatureRejected:
    with pytest.raises(SignatureRejected) as raised:
        verify_slack_signature(secret, timestamp, signature, body, now)
    return raised.value


def test_slacks_documented_example_is_accepted() -> None:
    # Given the request, secret and signature of Slack's own example
    # When it is verified at the moment it was signed
    # Then it passes
    verify_slack_signature(SECRET, TIMESTAMP, SIGNATURE, BODY, now=SIGNED_AT)


def test_a_request_signed_with_another_secret_is_rejected() -> None:
    # Given a request signed with a secret that is not the app's
    signature = slack_signature("not-the-apps-signing-secret", TIMESTAMP, BODY)
    # When it is verified
    error = rejection(signature=signature)
    # Then it is rejected as not matching
    assert "does not match" in str(error)


def test_a_request_whose_body_was_changed_after_signing_is_rejected() -> None:
    # Given Slack's signed request with the team swapped in its body
    tampered = BODY.replace(b"team_id=T1DC2JH3J", b"team_id=T0ATTACKER")
    # When it is verified with the original signature
    error = rejection(body=tampered)
    # Then it is rejected
    assert "does not match" in str(error)


@pytest.mark.parametrize("seconds", [0, 1, FIVE_MINUTES], ids=["at-once", "a-second-later", "five-minutes-later"])
def test_a_request_up_to_five_minutes_old_is_accepted(seconds: int) -> None:
    # Given Slack's signed request
    # When it is verified up to five minutes after it was signed
    # Then it passes
    verify_slack_signature(SECRET, TIMESTAMP, SIGNATURE, BODY, now=SIGNED_AT + seconds)


def test_a_request_signed_more_than_five_minutes_ago_is_rejected_as_stale() -> None:
    # Given Slack's signed request
    # When it is verified five minutes and a second after it was signed
    error = rejection(now=SIGNED_AT + FIVE_MINUTES + 1)
    # Then it is rejected for its age
    assert "more than 300 s" in str(error)


def test_a_request_signed_more_than_five_minutes_in_the_future_is_rejected() -> None:
    # Given a request whose timestamp lies beyond five minutes ahead of our clock
    # When it is verified
    error = rejection(now=SIGNED_AT - FIVE_MINUTES - 1)
    # Then it is rejected: the window holds both ways
    assert "more than 300 s" in str(error)


def test_a_replay_of_an_old_signed_request_is_rejected_today() -> None:
    # Given a genuine request captured when Slack sent it, years ago
    # When an attacker replays it unchanged now
    error = rejection(now=time.time())
    # Then it is rejected: its signature still matches, but its time has passed
    assert "more than 300 s" in str(error)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [(None, SIGNATURE), (TIMESTAMP, None), ("", SIGNATURE), (TIMESTAMP, ""), (None, None)],
    ids=["no-timestamp", "no-signature", "empty-timestamp", "empty-signature", "neither"],
)
def test_a_request_without_its_signing_headers_is_rejected(timestamp: str | None, signature: str | None) -> None:
    # Given a request missing a signing header
    # When it is verified
    error = rejection(timestamp, signature)
    # Then it is rejected as unsigned
    assert "missing" in str(error)


@pytest.mark.parametrize(
    "timestamp", ["1531420618.0", " 1531420618", "-1531420618", "1e9", "\uff10\uff11\uff12\uff13", "soon"]
)
def test_a_timestamp_that_is_not_whole_unix_seconds_is_rejected(timestamp: str) -> None:
    # Given a request signed correctly over a timestamp that is not plain digits
    signature = slack_signature(SECRET.get_secret_value(), timestamp, BODY)
    # When it is verified
    error = rejection(timestamp, signature)
    # Then it is rejected for the timestamp's form, whatever the signature
    assert "not a Unix time" in str(error)


@pytest.mark.parametrize(
    "signature",
    [SIGNATURE.replace("v0=", "v1="), SIGNATURE.upper(), SIGNATURE[:-1], f"{SIGNATURE} ", "v0=é" + SIGNATURE[4:]],
    ids=["other-version", "upper-case", "truncated", "trailing-space", "not-ascii"],
)
def test_a_signature_that_differs_in_any_way_is_rejected(signature: str) -> None:
    # Given Slack's request with its signature altered
    # When it is verified
    error = rejection(signature=signature)
    # Then it is rejected, not crashed on
    assert "does not match" in str(error)


def test_no_rejection_reveals_the_secret_or_a_signature() -> None:
    # Given rejections of every kind
    errors = [
        rejection(signature=slack_signature("other", TIMESTAMP, BODY)),
        rejection(now=time.time()),
        rejection(timestamp=None),
        rejection(timestamp="soon"),
    ]
    # When their messages are read
    messages = " ".join(str(error) for error in errors)
    # Then neither the secret nor any signature is in them
    assert SECRET.get_secret_value() not in messages
    assert SIGNATURE.removeprefix("v0=") not in messages
    assert "v0=" not in messages
