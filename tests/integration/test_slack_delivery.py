"""Posting an answer to a slash command's `response_url`, over real HTTP to a loopback stand-in:
only under the allowed prefixes, no redirect followed, transient failures tried again in time."""

from collections.abc import Iterator

import pytest

from local.slack_response_url import ResponseUrlStandIn
from sip_provisioning.callers.slack.delivery import DeliveryFailed, DeliveryRefused, post_to_response_url
from sip_provisioning.callers.slack.messages import usage_message
from sip_provisioning.deadline import Deadline

LOOPBACK = ("http://127.0.0.1:",)
MESSAGE = usage_message("/sip")


@pytest.fixture
def hooks() -> Iterator[ResponseUrlStandIn]:
    with ResponseUrlStandIn() as stand_in:
        yield stand_in


def ample_time() -> Deadline:
    return Deadline.after(20)


def test_the_message_is_posted_as_json_to_an_allowed_url(hooks: ResponseUrlStandIn) -> None:
    # Given a response_url under an allowed prefix
    url = hooks.url()
    # When the message is posted
    post_to_response_url(url, MESSAGE, LOOPBACK, ample_time())
    # Then the stand-in received exactly that message as JSON, at that path
    [post] = hooks.posts
    assert post.content_type == "application/json; charset=utf-8"
    assert post.message == MESSAGE.model_dump(mode="json", exclude_none=True)
    assert url.endswith(post.path)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/commands/T0/1/x",
        "http://localhost:8080/commands/T0/1/x",
        "http://127.0.0.1:80@collector.example.net/x",
        "http://127.0.0.1:80\\@collector.example.net/x",
        "http://127.0.0.1:notaport/x",
        "http://127.0.0.1:80/x y",
        "http://127.0.0.1:80/x\r\nHost: collector.example.net",
        "http://127.0.0.1:80/é",
        "ftp://127.0.0.1:21/x",
    ],
    ids=[
        "not-listed",
        "other-loopback-name",
        "user-info",
        "backslash",
        "bad-port",
        "space",
        "crlf",
        "non-ascii",
        "ftp",
    ],
)
def test_a_url_outside_the_allowed_prefixes_is_refused_and_nothing_is_sent(hooks: ResponseUrlStandIn, url: str) -> None:
    # Given a URL no allowed prefix covers, or one a client could read as another host
    # When the message is to be posted there
    with pytest.raises(DeliveryRefused):
        post_to_response_url(url, MESSAGE, LOOPBACK, ample_time())
    # Then nothing was sent anywhere
    assert hooks.posts == []


def test_a_redirect_is_not_followed(hooks: ResponseUrlStandIn) -> None:
    # Given hooks that answer with a redirect that keeps the method (to a path of their own)
    hooks.answer_with(307)
    # When the message is posted
    with pytest.raises(DeliveryFailed) as failed:
        post_to_response_url(hooks.url(), MESSAGE, LOOPBACK, ample_time())
    # Then it fails for good after the one post: the redirect was not followed
    assert failed.value.transient is False
    assert len(hooks.posts) == 1


def test_a_server_error_is_tried_again_and_the_message_delivered(hooks: ResponseUrlStandIn) -> None:
    # Given hooks that fail once with a 503, then take posts
    hooks.answer_with(503)
    # When the message is posted
    post_to_response_url(hooks.url(), MESSAGE, LOOPBACK, ample_time())
    # Then the second attempt delivered it
    assert len(hooks.posts) == 2


def test_a_post_that_keeps_failing_gives_up_after_three_attempts_as_transient(hooks: ResponseUrlStandIn) -> None:
    # Given hooks that keep answering 503
    hooks.answer_with(503, 503, 503, 503)
    # When the message is posted
    with pytest.raises(DeliveryFailed) as failed:
        post_to_response_url(hooks.url(), MESSAGE, LOOPBACK, ample_time())
    # Then it was tried three times, and the failure says a later try may work
    assert len(hooks.posts) == 3
    assert failed.value.transient is True


def test_a_client_error_such_as_an_expired_url_fails_at_once_for_good(hooks: ResponseUrlStandIn) -> None:
    # Given hooks that answer 404, as Slack does for an expired response_url
    hooks.answer_with(404)
    # When the message is posted
    with pytest.raises(DeliveryFailed) as failed:
        post_to_response_url(hooks.url(), MESSAGE, LOOPBACK, ample_time())
    # Then there was one attempt, and no later try can help
    assert len(hooks.posts) == 1
    assert failed.value.transient is False


def test_nothing_is_posted_once_the_deadline_has_passed(hooks: ResponseUrlStandIn) -> None:
    # Given a deadline already reached
    deadline = Deadline.after(0)
    # When the message is to be posted
    with pytest.raises(DeliveryFailed) as failed:
        post_to_response_url(hooks.url(), MESSAGE, LOOPBACK, deadline)
    # Then nothing was sent, and the failure is one a retried job may get past
    assert hooks.posts == []
    assert failed.value.transient is True


def test_a_failure_never_names_the_url(hooks: ResponseUrlStandIn) -> None:
    # Given a response_url (a credential: it lets its holder post to the conversation)
    url = hooks.url()
    hooks.answer_with(404)
    # When a post to it fails
    with pytest.raises(DeliveryFailed) as failed:
        post_to_response_url(url, MESSAGE, LOOPBACK, ample_time())
    # Then the failure's message does not hold it
    assert url not in str(failed.value)
    assert url.rsplit("/", 1)[1] not in str(failed.value)
