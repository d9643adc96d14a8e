"""The SCIM users' store on moto's DynamoDB: its uniqueness holds by condition, not by a look
first, so two requests racing for one userName or SIP username cannot both win."""

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from local.inventory_table import create_inventory_table
from sip_provisioning.adapters.scim_users import DynamoDBScimUsers
from sip_provisioning.domain.records import RecordChanged
from sip_provisioning.domain.scim_users import ScimUserRecord

TABLE = "scim-store-test-inventory"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBScimUsers]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb")
        create_inventory_table(client, TABLE)
        yield DynamoDBScimUsers(lambda: client, TABLE)


def user(scim_id: str, user_name: str, username: str, external_id: str | None = None) -> ScimUserRecord:
    return ScimUserRecord(
        scim_id=scim_id,
        username=username,
        user_name=user_name,
        external_id=external_id,
        active=True,
        attributes={"userName": user_name},
        created_at="2026-12-01T00:00:00.000000Z",
        updated_at="2026-12-01T00:00:00.000000Z",
    )


def test_a_second_user_with_the_same_user_name_in_another_case_is_refused_by_condition(
    store: DynamoDBScimUsers,
) -> None:
    # Given a user
    store.add(user("id-1", "Ada@example.com", "ada"))
    # When another with the same userName in other letters' case is added, past any look-up
    # Then the write itself is refused, and the first user alone holds the name
    with pytest.raises(RecordChanged):
        store.add(user("id-2", "ada@EXAMPLE.com", "ada2"))
    assert store.by_id("id-2") is None
    found = store.by_user_name("ADA@example.com")
    assert found is not None
    assert found.scim_id == "id-1"


def test_a_second_user_with_the_same_sip_username_is_refused_by_condition(store: DynamoDBScimUsers) -> None:
    # Given a user whose SIP username is "ada"
    store.add(user("id-1", "ada@example.com", "ada"))
    # When another user mapping to "ada" is added
    # Then the write is refused and leaves nothing of the second user
    with pytest.raises(RecordChanged):
        store.add(user("id-2", "ada@example.org", "ada"))
    assert store.by_user_name("ada@example.org") is None
    assert store.count() == 1


def test_a_write_over_a_user_another_request_changed_first_is_refused(store: DynamoDBScimUsers) -> None:
    # Given a user, changed by one request
    seen = user("id-1", "ada@example.com", "ada")
    store.add(seen)
    store.replace(seen, seen.model_copy(update={"active": False, "updated_at": "2026-12-01T00:00:01.000000Z"}))
    # When a second request writes over the user as it saw it before
    # Then its write is refused, and the first request's change stands
    with pytest.raises(RecordChanged):
        store.replace(
            seen, seen.model_copy(update={"attributes": {"title": "x"}, "updated_at": "2026-12-01T00:00:02.000000Z"})
        )
    stored = store.by_id("id-1")
    assert stored is not None
    assert stored.active is False


def test_a_rename_frees_the_old_user_name_and_takes_the_new_one(store: DynamoDBScimUsers) -> None:
    # Given a user
    seen = user("id-1", "ada@example.com", "ada")
    store.add(seen)
    # When it is renamed
    store.replace(seen, seen.model_copy(update={"user_name": "countess@example.com", "updated_at": "2026-12-01T01"}))
    # Then the new name finds it, and the old one is free for another user
    renamed = store.by_user_name("countess@example.com")
    assert renamed is not None
    assert renamed.scim_id == "id-1"
    store.add(user("id-2", "ada@example.com", "ada2"))
    other = store.by_user_name("ada@example.com")
    assert other is not None
    assert other.scim_id == "id-2"


def test_a_removed_user_frees_its_user_name_sip_username_and_external_id(store: DynamoDBScimUsers) -> None:
    # Given a user with an externalId, removed
    seen = user("id-1", "ada@example.com", "ada", external_id="00u1")
    store.add(seen)
    store.remove(seen)
    # When a new user takes the same names
    store.add(user("id-2", "ada@example.com", "ada", external_id="00u1"))
    # Then only the new user is found by any of them
    assert [found.scim_id for found in store.by_external_id("00u1")] == ["id-2"]
    assert store.by_id("id-1") is None
    assert store.count() == 1


def test_an_external_id_is_matched_exactly_even_when_another_begins_with_it(store: DynamoDBScimUsers) -> None:
    # Given users whose externalIds are "00u1" and "00u1#b"
    store.add(user("id-1", "ada@example.com", "ada", external_id="00u1"))
    store.add(user("id-2", "bob@example.com", "bob", external_id="00u1#b"))
    # When users are looked up by "00u1"
    found = store.by_external_id("00u1")
    # Then only the exact one is found
    assert [match.scim_id for match in found] == ["id-1"]


def test_pages_skip_and_take_in_id_order(store: DynamoDBScimUsers) -> None:
    # Given five users
    for index in range(5):
        store.add(user(f"id-{index}", f"u{index}@example.com", f"u{index}"))
    # When pages of two are read
    pages = [[found.scim_id for found in store.page(offset=offset, limit=2)] for offset in (0, 2, 4, 6)]
    # Then they hold every user once, in id order, and a page past the end is empty
    assert pages == [["id-0", "id-1"], ["id-2", "id-3"], ["id-4"], []]
