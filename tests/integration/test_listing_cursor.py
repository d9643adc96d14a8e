"""`GET /endpoints`' cursor through the real handler (CONTRACT.md section 4, issue 19 items 3 and 4).

A cursor is opaque and tamper-evident: nothing in it can be read, every cursor is as long as
any other, and one the service did not issue for this query and this caller is a 422 naming
`cursor`, never a 500. No page or cursor shows a caller an endpoint of a profile it may not use.
SSM, DynamoDB are moto's, SignalWire is the emulator over real HTTP.
"""

import base64
import binascii
import contextlib
import json
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from local.gateway import IamCaller
from sip_provisioning.adapters.inventory import QUERIES_PER_PAGE, QUERY_BATCH
from tests.integration.conftest import CALLER, INVENTORY_TABLE, Answer, ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

ADMIN = CALLER  # alice.admin, the fixture's default caller
ONBOARDING = IamCaller(user_arn="arn:aws:sts::123456789012:assumed-role/onboarding-provisioner/session-7")
STRANGER = IamCaller(user_arn="arn:aws:iam::123456789012:user/mallory")
HIRES_ONLY = {"callers": ["arn:aws:sts::123456789012:assumed-role/onboarding-*"]}
TEAM_PROFILE = {"call_handler": "laml_webhooks", "call_request_url": "https://voice.example.com/laml/team"}


# -- helpers ------------------------------------------------------------------------------------


def list_page(api: ProvisionerApi, query: str, *, cursor: str | None = None, caller: IamCaller = ADMIN) -> Answer:
    if cursor is not None:
        query += f"&cursor={quote(cursor, safe='')}"
    return api.request("GET", "/endpoints", query=query.lstrip("&"), caller=caller)


def next_cursor(api: ProvisionerApi, query: str, *, caller: IamCaller = ADMIN) -> str:
    answer = list_page(api, query, caller=caller)
    assert answer.status == 200, answer.body
    cursor: str = answer.body["next_cursor"]
    assert cursor
    return cursor


def every_page(api: ProvisionerApi, query: str, *, caller: IamCaller) -> list[Answer]:
    pages: list[Answer] = []
    cursor: str | None = None
    while True:
        answer = list_page(api, query, cursor=cursor, caller=caller)
        assert answer.status == 200, answer.body
        pages.append(answer)
        cursor = answer.body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100


def readable_forms(cursor: str) -> bytes:
    """The cursor as it is, and as base64 (either alphabet) decodes it: wherever a name could be read."""
    forms = [cursor.encode()]
    padded = cursor + "=" * (-len(cursor) % 4)
    for decode in (base64.urlsafe_b64decode, base64.b64decode):
        with contextlib.suppress(ValueError, binascii.Error):
            forms.append(decode(padded))
    return b"\n".join(forms)


def assert_cursor_refused(answer: Answer) -> None:
    assert answer.status == 422, answer.body
    assert answer.body["type"] == "validation-error"
    assert [error["field"] for error in answer.body["errors"]] == ["cursor"]


def hide_behind_a_profile(api: ProvisionerApi) -> None:
    """A deployment whose only admin is alice; `new-hires` for onboarding roles only, `team` for all."""
    api.put_parameter("policy", json.dumps({"admins": [ADMIN.user_arn]}))
    api.put_parameter("profiles/new-hires", json.dumps({**TEAM_PROFILE, "policy": HIRES_ONLY}))
    api.put_parameter("profiles/team", json.dumps(TEAM_PROFILE))


def create(api: ProvisionerApi, username: str, profile: str, caller: IamCaller = ADMIN, **fields: Any) -> None:
    answer = api.create({"username": username, "profile": profile, **fields}, caller=caller)
    assert answer.status == 201, answer.body


def record_many(count: int, profile: str, status: str = "active") -> list[str]:
    """`count` records of `profile`, written straight to the table in its layout (the adapter's
    module docstring): a fleet too large to create one request at a time in a test."""
    usernames = [f"{profile}.{n:04d}" for n in range(count)]
    with boto3.resource("dynamodb").Table(INVENTORY_TABLE).batch_writer() as table:
        for username in usernames:
            table.put_item(
                Item={
                    "username": username,
                    "record": "current",
                    "listing": "endpoint",
                    "profile": profile,
                    "request": json.dumps({"profile": profile, "username": username}),
                    "created_by": ONBOARDING.user_arn,
                    "created_via": "http",
                    "created_at": "2026-01-01T00:00:00.000000Z",
                    "updated_at": "2026-01-01T00:00:00.000000Z",
                    "status": status,
                }
            )
    return usernames


# -- nothing in a cursor can be read ------------------------------------------------------------


def test_a_cursor_holds_the_username_it_goes_on_from_in_no_readable_form(api: ProvisionerApi) -> None:
    # Given two endpoints
    create(api, "ada.lovelace", "office")
    create(api, "grace.hopper", "office")
    # When the first page of one is listed
    cursor = next_cursor(api, "limit=1")
    # Then its cursor holds neither username, the index nor the record's key, plainly or as base64
    forms = readable_forms(cursor)
    for hidden in (b"ada.lovelace", b"grace.hopper", b"by_username", b"current", b"endpoint"):
        assert hidden not in forms


def test_every_cursor_is_as_long_as_any_other_whatever_the_username_it_goes_on_from(api: ProvisionerApi) -> None:
    # Given a short and a long username, each the last of a first page
    create(api, "a", "office")
    create(api, "b", "office")
    create(api, "l" * 100, "support")
    create(api, "m", "support")
    # When each first page is listed
    short = next_cursor(api, "profile=office&limit=1")
    long = next_cursor(api, "profile=support&limit=1")
    # Then both cursors are as long: the length tells nothing of the name
    assert len(short) == len(long)


def test_a_caller_following_every_cursor_is_shown_no_endpoint_of_a_profile_it_may_not_use(
    api: ProvisionerApi,
) -> None:
    # Given endpoints of a profile mallory may not use, between and around those of one she may
    hide_behind_a_profile(api)
    for username, profile in [
        ("a.hire", "new-hires"),
        ("b.team", "team"),
        ("c.hire", "new-hires"),
        ("d.hire", "new-hires"),
        ("e.team", "team"),
        ("f.hire", "new-hires"),
    ]:
        create(api, username, profile, caller=ONBOARDING)
    # When mallory lists the inventory one at a time, following every cursor
    pages = every_page(api, "limit=1", caller=STRANGER)
    # Then she is shown only her profile's endpoints, and no cursor holds a hidden username
    shown = [summary["username"] for page in pages for summary in page.body["endpoints"]]
    assert shown == ["b.team", "e.team"]
    for page in pages:
        forms = readable_forms(page.body["next_cursor"] or "")
        assert not [name for name in ("a.hire", "c.hire", "d.hire", "f.hire") if name.encode() in forms]


def test_a_caller_who_may_see_few_of_many_records_gets_short_pages_and_in_the_end_every_one_once(
    api: ProvisionerApi,
) -> None:
    # Given more records of a profile mallory may not use than one page reads, and three of one she may
    hide_behind_a_profile(api)
    record_many(QUERY_BATCH * QUERIES_PER_PAGE + 20, "new-hires")
    visible = sorted(record_many(3, "team"))
    # When mallory lists the inventory, following every cursor
    pages = every_page(api, "limit=2", caller=STRANGER)
    # Then the first page comes back short with a cursor rather than after a walk of the whole
    # table, and together the pages show every record she may see once, in order
    assert len(pages[0].body["endpoints"]) < 2
    assert pages[0].body["next_cursor"]
    assert [summary["username"] for page in pages for summary in page.body["endpoints"]] == visible


def test_a_listing_by_status_alone_reads_records_of_that_status_and_finds_the_few_behind_many(
    api: ProvisionerApi,
) -> None:
    # Given more active records than one page reads, and three deleted ones after them by username
    record_many(QUERY_BATCH * QUERIES_PER_PAGE + 20, "fleet")
    gone = record_many(3, "zz-gone", status="deleted")
    # When an admin lists the deleted endpoints
    page = list_page(api, "status=deleted&limit=10")
    # Then one page holds all three and ends the list: it read deleted records, not the fleet
    assert [summary["username"] for summary in page.body["endpoints"]] == gone
    assert page.body["next_cursor"] is None


def test_a_profile_filter_a_caller_may_not_use_answers_an_empty_last_page(api: ProvisionerApi) -> None:
    # Given endpoints of a profile mallory may not use
    hide_behind_a_profile(api)
    for username in ("a.hire", "b.hire", "c.hire"):
        create(api, username, "new-hires", caller=ONBOARDING)
    # When mallory lists that profile's endpoints one at a time
    answer = list_page(api, "profile=new-hires&limit=1", caller=STRANGER)
    # Then she is shown nothing, and no cursor to follow: as for a profile with no endpoints
    assert answer.status == 200, answer.body
    assert answer.body == {"endpoints": [], "next_cursor": None}


# -- a cursor the service did not issue ---------------------------------------------------------


def plain_base64(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param(plain_base64(["by_username", {}]), id="right-shape-empty-key"),
        pytest.param(plain_base64(["by_username", {"username": "a"}]), id="right-shape-partial-key"),
        pytest.param(plain_base64(["by_username", {"nope": "x"}]), id="right-shape-unknown-attribute"),
        pytest.param(
            plain_base64(["by_username", {"username": "b", "record": "current", "listing": "endpoint"}]),
            id="right-shape-whole-key",
        ),
        pytest.param("not-a-cursor", id="garbage"),
        pytest.param("%%%%", id="not-base64"),
        pytest.param("A" * 2048, id="base64-of-zeros"),
        pytest.param("A" * 5000, id="huge"),
    ],
)
def test_a_forged_cursor_is_a_422_naming_it_never_a_500(api: ProvisionerApi, cursor: str) -> None:
    # Given an inventory
    for username in ("a", "b", "c"):
        create(api, username, "office")
    # When a cursor the service never issued is sent
    answer = list_page(api, "limit=1", cursor=cursor)
    # Then it is a validation error naming the cursor
    assert_cursor_refused(answer)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda cursor: cursor[: len(cursor) // 2], id="truncated"),
        pytest.param(lambda cursor: cursor[:-1], id="last-character-cut"),
        pytest.param(lambda cursor: ("B" if cursor[10] == "A" else "A").join((cursor[:10], cursor[11:])), id="flipped"),
        pytest.param(lambda cursor: cursor + "AAAA", id="extended"),
    ],
)
def test_an_issued_cursor_changed_in_any_way_is_a_422_naming_it(api: ProvisionerApi, tamper: Any) -> None:
    # Given a cursor the service issued
    for username in ("a", "b", "c"):
        create(api, username, "office")
    cursor = next_cursor(api, "limit=1")
    # When it is sent back changed
    answer = list_page(api, "limit=1", cursor=tamper(cursor))
    # Then it is a validation error naming the cursor
    assert_cursor_refused(answer)


def test_another_callers_cursor_is_a_422_naming_it(api: ProvisionerApi) -> None:
    # Given a cursor the service issued to alice
    for username in ("a", "b", "c"):
        create(api, username, "office")
    alices = next_cursor(api, "limit=1")
    # When bob sends it with the same query
    answer = list_page(api, "limit=1", cursor=alices, caller=IamCaller(user_arn="arn:aws:iam::123456789012:user/bob"))
    # Then it is refused: a cursor is the caller's own
    assert_cursor_refused(answer)


@pytest.mark.parametrize(
    ("issued_for", "sent_with"),
    [
        ("profile=office&limit=1", "profile=support&limit=1"),
        ("profile=office&limit=1", "limit=1"),
        ("limit=1", "profile=office&limit=1"),
        ("owner=E1&limit=1", "owner=E2&limit=1"),
        ("owner=E1&limit=1", "owner=E1&profile=office&limit=1"),
        ("limit=1", "status=active&limit=1"),
        ("status=active&limit=1", "status=disabled&limit=1"),
    ],
)
def test_a_cursor_of_another_query_is_a_422_naming_it(api: ProvisionerApi, issued_for: str, sent_with: str) -> None:
    # Given a cursor issued for one query
    for username in ("a", "b", "c"):
        create(api, username, "office", owner="E1")
    for username in ("d", "e", "f"):
        create(api, username, "support", owner="E2")
    for username in ("b", "e"):
        assert api.request("POST", f"/endpoints/{username}/disable").status == 200
    cursor = next_cursor(api, issued_for)
    # When it is sent with another filter
    answer = list_page(api, sent_with, cursor=cursor)
    # Then it is refused, not silently applied to the other list
    assert_cursor_refused(answer)


def test_a_cursor_goes_on_with_another_page_size(api: ProvisionerApi) -> None:
    # Given a cursor issued for pages of one
    for username in ("a", "b", "c", "d"):
        create(api, username, "office")
    cursor = next_cursor(api, "limit=1")
    # When the next page is asked for three at a time
    answer = list_page(api, "limit=3", cursor=cursor)
    # Then the list goes on after the first record: the page size is not part of the query
    assert answer.status == 200, answer.body
    assert [summary["username"] for summary in answer.body["endpoints"]] == ["b", "c", "d"]


def test_a_cursor_issued_before_the_api_token_was_rotated_is_a_422_naming_it(api: ProvisionerApi) -> None:
    # Given a cursor issued, and then a new SignalWire API token in SSM
    for username in ("a", "b", "c"):
        create(api, username, "office")
    cursor = next_cursor(api, "limit=1")
    api.put_parameter("signalwire/api_token", "a-rotated-token-0123456789", "SecureString")
    # When the cursor is sent back
    answer = list_page(api, "limit=1", cursor=cursor)
    # Then it is refused (its keys came from the old token): the caller lists from the start again
    assert_cursor_refused(answer)
