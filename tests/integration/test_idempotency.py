"""Idempotency-Key: a create runs at most once per caller and key for 24 hours."""

import pytest

from local.gateway import IamCaller
from local.signalwire_emulator import Fault
from tests.integration.conftest import ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

KEY = "onboarding-4711-phone"


def keyed(key: str = KEY) -> dict[str, str]:
    return {"Content-Type": "application/json", "Idempotency-Key": key}


def test_a_repeat_with_the_same_key_and_body_gets_the_first_answer_and_creates_nothing(api: ProvisionerApi) -> None:
    # Given a create with an Idempotency-Key
    first = api.create({"username": "ida"}, headers=keyed())
    # When the same request is repeated
    again = api.create({"username": "ida"}, headers=keyed())
    # Then the answer is the first one, generated password included, and SignalWire got one create
    assert (first.status, again.status) == (201, 201)
    assert again.body == first.body
    assert api.emulator.create_requests_received() == 1


def test_the_same_key_with_another_body_is_refused_and_creates_nothing(api: ProvisionerApi) -> None:
    # Given a create with an Idempotency-Key
    api.create({"username": "ida"}, headers=keyed())
    # When the key comes again with a different body
    answer = api.create({"username": "ida", "profile": "office"}, headers=keyed())
    # Then it is refused as a reused key
    assert (answer.status, answer.body["type"]) == (422, "idempotency-key-reused")
    assert api.emulator.create_requests_received() == 1


def test_a_different_password_under_the_same_key_is_a_different_body(api: ProvisionerApi) -> None:
    # Given a create with the caller's own password
    api.create({"username": "ida", "password": "first-password-123"}, headers=keyed())
    # When the key comes again with another password
    answer = api.create({"username": "ida", "password": "other-password-456"}, headers=keyed())
    # Then it is a reused key
    assert answer.body["type"] == "idempotency-key-reused"


def test_two_callers_using_the_same_key_never_see_each_others_results(api: ProvisionerApi) -> None:
    # Given one caller's create under a key
    alice = api.create({"username": "from.alice"}, headers=keyed())
    # When another IAM identity sends another body with the same key
    bob = api.create(
        {"username": "from.bob"}, headers=keyed(), caller=IamCaller(user_arn="arn:aws:iam::123456789012:user/bob")
    )
    # Then each gets its own endpoint
    assert (alice.status, bob.status) == (201, 201)
    assert bob.body["endpoint"]["username"] == "from.bob"
    assert bob.body["password"] != alice.body["password"]


def test_the_header_name_is_read_case_insensitively(api: ProvisionerApi) -> None:
    # Given a create keyed with a lower-case header name
    first = api.create({"username": "ida"}, headers={"content-type": "application/json", "idempotency-key": KEY})
    # When it is repeated with an upper-case header name
    again = api.create({"username": "ida"}, headers={"CONTENT-TYPE": "application/json", "IDEMPOTENCY-KEY": KEY})
    # Then it is the same key
    assert again.body == first.body
    assert api.emulator.create_requests_received() == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "naïve", "tab\there"], ids=str.__len__)
def test_a_key_outside_1_to_255_visible_ascii_characters_is_a_422(api: ProvisionerApi, key: str) -> None:
    # Given / When a create with an invalid Idempotency-Key
    answer = api.create({"username": "ida"}, headers=keyed(key))
    # Then the header is named and nothing is created
    assert (answer.status, answer.body["type"]) == (422, "validation-error")
    assert answer.body["errors"][0]["field"] == "idempotency-key"
    assert api.emulator.create_requests_received() == 0


def test_a_dry_run_is_never_stored_under_its_key(api: ProvisionerApi) -> None:
    # Given a dry run with an Idempotency-Key
    api.create({"username": "ida"}, headers=keyed(), query="dry_run=true")
    # When the real create follows with the same key
    answer = api.create({"username": "ida"}, headers=keyed())
    # Then it creates the endpoint rather than replaying the dry run
    assert answer.status == 201
    assert api.emulator.create_requests_received() == 1


def test_a_failed_create_is_not_stored_so_a_retry_with_the_key_can_succeed(api: ProvisionerApi) -> None:
    # Given a keyed create that fails on a SignalWire 500 (and the lookup finds nothing)
    api.emulator.inject_fault(Fault.SERVER_ERROR)
    failed = api.create({"username": "ida"}, headers=keyed())
    # When the caller retries with the same key after SignalWire recovered
    retried = api.create({"username": "ida"}, headers=keyed())
    # Then the retry creates the endpoint
    assert failed.status == 502
    assert retried.status == 201
    assert len(api.emulator.endpoints) == 1


def test_a_lost_answer_whose_create_happened_is_answered_once_and_replayed_with_the_password(
    api: ProvisionerApi,
) -> None:
    # Given SignalWire commits the create but the answer is lost
    api.emulator.inject_fault(Fault.COMMIT_THEN_CLOSE)
    # When a keyed create is sent and then repeated
    first = api.create({"username": "ida"}, headers=keyed())
    again = api.create({"username": "ida"}, headers=keyed())
    # Then both get the created endpoint with the password SignalWire stored, created once
    assert (first.status, again.status) == (201, 201)
    assert first.body["password"] == again.body["password"] == api.emulator.endpoints[0]["password"]
    assert api.emulator.creates_committed() == 1
