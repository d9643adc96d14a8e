"""The policies of CONTRACT.md section 5 through the deployed handlers (issue 10, item 1).

Every rule of a profile's `policy` and of the deployment's `<prefix>/policy` is met on the HTTP
entry (`dry_run` included) and on the workflow entry: a request that breaks one is a 403
`forbidden` whose detail names the rule, and nothing reaches SignalWire or the inventory. SSM,
DynamoDB and Secrets Manager are moto's, SignalWire is the emulator over real HTTP; profiles and
the deployment policy are written to SSM per test (PARAMETERS_MAX_AGE is 0).
"""

import json
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from local.gateway import IamCaller
from sip_provisioning.callers import workflow
from tests.integration.conftest import CALLER, INVENTORY_TABLE, PARAMETERS_PATH, Answer, ProvisionerApi, invoke_workflow

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

ADMIN = CALLER  # alice.admin, the fixture's default caller
ONBOARDING_ARN = "arn:aws:sts::123456789012:assumed-role/onboarding-provisioner/session-7"
ONBOARDING = IamCaller(user_arn=ONBOARDING_ARN)
STRANGER = IamCaller(user_arn="arn:aws:iam::123456789012:user/mallory")
CREATOR = IamCaller(user_arn="arn:aws:iam::123456789012:user/carol.creator")

ADMINS_ONLY_ALICE = {"admins": [ADMIN.user_arn]}

# A LaML-webhooks profile; each test adds the policy it is about.
WEBHOOKS_PROFILE: dict[str, Any] = {
    "description": "Webhooks at the company's own hosts",
    "call_handler": "laml_webhooks",
    "call_request_url": "https://voice.example.com/laml/team",
    "call_request_method": "POST",
}


# -- helpers ------------------------------------------------------------------------------------


def put_profile(api: ProvisionerApi, name: str, policy: dict[str, Any] | None = None, **fields: Any) -> None:
    document = {**WEBHOOKS_PROFILE, **fields}
    if policy is not None:
        document["policy"] = policy
    api.put_parameter(f"profiles/{name}", json.dumps(document))


def put_deployment_policy(api: ProvisionerApi, policy: dict[str, Any]) -> None:
    api.put_parameter("policy", json.dumps(policy))


def create(api: ProvisionerApi, body: dict[str, Any], *, caller: IamCaller = ADMIN, dry_run: bool = False) -> Answer:
    return api.request("POST", "/endpoints", body, query="dry_run=true" if dry_run else "", caller=caller)


def endpoint_path(username: str) -> str:
    return f"/endpoints/{quote(username, safe='')}"


def inventory_item(username: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        boto3.client("dynamodb")
        .get_item(
            TableName=INVENTORY_TABLE,
            Key={"username": {"S": username}, "record": {"S": "current"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return item


def assert_forbidden(answer: Answer, rule: str) -> None:
    assert answer.status == 403, answer.body
    assert answer.body["type"] == "forbidden"
    assert rule in answer.body["detail"]


def assert_nothing_created(api: ProvisionerApi, username: str) -> None:
    assert api.emulator.create_requests_received() == 0
    assert api.emulator.endpoints == []
    assert inventory_item(username) is None


def signalwire_endpoint(api: ProvisionerApi, username: str) -> dict[str, object]:
    (found,) = [endpoint for endpoint in api.emulator.endpoints if endpoint["username"] == username]
    return found


def listed_usernames(api: ProvisionerApi, caller: IamCaller) -> list[str]:
    answer = api.request("GET", "/endpoints", caller=caller)
    assert answer.status == 200, answer.body
    return [summary["username"] for summary in answer.body["endpoints"]]


# -- policy.callers -------------------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [False, True], ids=["create", "dry-run"])
def test_a_caller_the_profiles_callers_do_not_match_is_forbidden_and_nothing_is_created(
    api: ProvisionerApi, dry_run: bool
) -> None:
    # Given a profile only onboarding roles may use
    put_profile(api, "new-hires", {"callers": ["arn:aws:sts::123456789012:assumed-role/onboarding-*"]})
    # When another IAM caller asks for an endpoint from it
    answer = create(api, {"username": "c.stranger", "profile": "new-hires"}, caller=STRANGER, dry_run=dry_run)
    # Then it is a 403 naming policy.callers, and nothing was created
    assert_forbidden(answer, "policy.callers")
    assert_nothing_created(api, "c.stranger")


def test_a_caller_a_star_pattern_of_the_profiles_callers_matches_may_use_it(api: ProvisionerApi) -> None:
    # Given a profile whose callers are the onboarding roles, by a `*` pattern
    put_profile(api, "new-hires", {"callers": ["arn:aws:sts::123456789012:assumed-role/onboarding-*"]})
    # When an onboarding role's session asks for an endpoint from it
    answer = create(api, {"username": "c.onboarded", "profile": "new-hires"}, caller=ONBOARDING)
    # Then it is created
    assert answer.status == 201, answer.body
    assert signalwire_endpoint(api, "c.onboarded")["username"] == "c.onboarded"


def test_a_callers_pattern_matches_the_whole_identity_not_a_part_of_it(api: ProvisionerApi) -> None:
    # Given a profile whose only caller is one exact user
    put_profile(api, "bot-only", {"callers": ["arn:aws:iam::123456789012:user/onboarding-bot"]})
    # When a user whose ARN merely begins with it asks
    caller = IamCaller(user_arn="arn:aws:iam::123456789012:user/onboarding-bot-impostor")
    answer = create(api, {"username": "c.impostor", "profile": "bot-only"}, caller=caller)
    # Then it is forbidden
    assert_forbidden(answer, "policy.callers")
    assert_nothing_created(api, "c.impostor")


def test_get_profiles_shows_each_caller_only_the_profiles_it_may_use(api: ProvisionerApi) -> None:
    # Given one profile for onboarding roles only, one for mallory only, and one for everyone
    put_profile(api, "new-hires", {"callers": ["arn:aws:sts::123456789012:assumed-role/onboarding-*"]})
    put_profile(api, "mallorys", {"callers": [STRANGER.user_arn]})
    put_profile(api, "open-to-all", {"overridable": ["owner"]})
    # When each caller lists the profiles
    seen = {
        caller.user_arn: {p["name"] for p in api.request("GET", "/profiles", caller=caller).body["profiles"]}
        for caller in (ONBOARDING, STRANGER)
    }
    # Then each sees the open profiles and its own, and never the other's
    assert {"default", "office", "open-to-all", "new-hires"} <= seen[ONBOARDING_ARN]
    assert "mallorys" not in seen[ONBOARDING_ARN]
    assert {"default", "office", "open-to-all", "mallorys"} <= seen[STRANGER.user_arn]
    assert "new-hires" not in seen[STRANGER.user_arn]


# -- policy.overridable ---------------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [False, True], ids=["create", "dry-run"])
def test_setting_a_field_the_profile_does_not_list_as_overridable_is_forbidden(
    api: ProvisionerApi, dry_run: bool
) -> None:
    # Given a profile that lets a request set only the caller id and the owner
    put_profile(api, "locked", {"overridable": ["caller_id", "owner"]})
    # When a request sets send_as as well
    body = {"username": "o.send-as", "profile": "locked", "caller_id": "Team", "send_as": "+15551230000"}
    answer = create(api, body, dry_run=dry_run)
    # Then it is a 403 naming policy.overridable and the field, and nothing was created
    assert_forbidden(answer, "policy.overridable")
    assert "send_as" in answer.body["detail"]
    assert "+15551230000" not in answer.body["detail"]
    assert_nothing_created(api, "o.send-as")


def test_a_given_password_is_forbidden_where_password_is_not_overridable(api: ProvisionerApi) -> None:
    # Given a profile whose overridable fields leave out the password
    put_profile(api, "locked", {"overridable": ["caller_id"]})
    # When a request brings its own password
    answer = create(api, {"username": "o.password", "profile": "locked", "password": "a-Chosen-Passw0rd-1"})
    # Then it is forbidden, naming the field and never its value
    assert_forbidden(answer, "policy.overridable")
    assert "password" in answer.body["detail"]
    assert "a-Chosen-Passw0rd-1" not in json.dumps(answer.body)
    assert_nothing_created(api, "o.password")


def test_handler_url_listed_as_overridable_lets_a_request_set_the_url_of_the_profiles_own_handler_type(
    api: ProvisionerApi,
) -> None:
    # Given a LaML-webhooks profile that lets a request set only `handler.url`
    put_profile(api, "url-only", {"overridable": ["handler.url"]})
    # When a request gives a LaML-webhooks handler with just a url
    body = {
        "username": "o.url",
        "profile": "url-only",
        "handler": {"type": "laml_webhooks", "url": "https://voice.example.com/laml/ada"},
    }
    answer = create(api, body)
    # Then it is created with that url
    assert answer.status == 201, answer.body
    assert signalwire_endpoint(api, "o.url")["call_request_url"] == "https://voice.example.com/laml/ada"


def test_handler_url_listed_as_overridable_does_not_let_a_request_set_another_handler_key(
    api: ProvisionerApi,
) -> None:
    # Given a LaML-webhooks profile that lets a request set only `handler.url`
    put_profile(api, "url-only", {"overridable": ["handler.url"]})
    # When a request also sets the handler's method
    body = {
        "username": "o.method",
        "profile": "url-only",
        "handler": {"type": "laml_webhooks", "url": "https://voice.example.com/laml/ada", "method": "GET"},
    }
    answer = create(api, body)
    # Then it is forbidden, naming handler.method
    assert_forbidden(answer, "policy.overridable")
    assert "handler.method" in answer.body["detail"]
    assert_nothing_created(api, "o.method")


def test_handler_url_listed_as_overridable_does_not_let_a_request_choose_another_handler_type(
    api: ProvisionerApi,
) -> None:
    # Given a LaML-webhooks profile that lets a request set only `handler.url`
    put_profile(api, "url-only", {"overridable": ["handler.url"]})
    # When a request gives a relay script handler with a url
    body = {
        "username": "o.script",
        "profile": "url-only",
        "handler": {"type": "relay_script", "url": "https://voice.example.com/script"},
    }
    answer = create(api, body)
    # Then it is forbidden: another type is the whole handler
    assert_forbidden(answer, "policy.overridable")
    assert "handler" in answer.body["detail"]
    assert_nothing_created(api, "o.script")


def test_handler_as_a_whole_listed_as_overridable_lets_a_request_choose_another_handler_type(
    api: ProvisionerApi,
) -> None:
    # Given a LaML-webhooks profile that lets a request set the handler as a whole
    put_profile(api, "any-handler", {"overridable": ["handler"]})
    # When a request sends inbound calls to a video room instead
    room = "0b7e9d54-8c1a-4f3e-b2d6-5a9c7e1f3d20"
    body = {"username": "o.room", "profile": "any-handler", "handler": {"type": "video_room", "room_id": room}}
    answer = create(api, body)
    # Then it is created with that handler
    assert answer.status == 201, answer.body
    created = signalwire_endpoint(api, "o.room")
    assert (created["call_handler"], created["call_video_room_id"]) == ("video_room", room)


def test_handler_url_overridable_applies_to_the_handler_type_a_profile_takes_from_default(
    api: ProvisionerApi,
) -> None:
    # Given a profile that sets no handler of its own (it gets default's LaML webhooks) and lets
    # a request set only `handler.url`
    api.put_parameter(
        "profiles/inherits", json.dumps({"caller_id": "Team", "policy": {"overridable": ["handler.url"]}})
    )
    # When a request gives a LaML-webhooks handler with just a url
    body = {
        "username": "o.inherits",
        "profile": "inherits",
        "handler": {"type": "laml_webhooks", "url": "https://voice.example.com/laml/ada"},
    }
    answer = create(api, body)
    # Then it is created: the profile's own handler type is the one its endpoints get
    assert answer.status == 201, answer.body
    assert signalwire_endpoint(api, "o.inherits")["call_request_url"] == "https://voice.example.com/laml/ada"


def test_a_patch_setting_a_field_the_endpoints_profile_does_not_let_it_set_is_forbidden_and_changes_nothing(
    api: ProvisionerApi,
) -> None:
    # Given an endpoint of a profile that lets a request set only the owner
    put_profile(api, "locked", {"overridable": ["owner"]})
    assert create(api, {"username": "p.locked", "profile": "locked"}).status == 201
    before = signalwire_endpoint(api, "p.locked")
    # When a PATCH (for real or as a dry run) sets its caller id
    answers = [
        api.request("PATCH", endpoint_path("p.locked"), {"caller_id": "Anything"}, query=query)
        for query in ("", "dry_run=true")
    ]
    # Then both are forbidden naming policy.overridable, and SignalWire was sent no change
    for answer in answers:
        assert_forbidden(answer, "policy.overridable")
    assert api.emulator.updates_committed() == 0
    assert signalwire_endpoint(api, "p.locked") == before


def test_handler_url_listed_as_overridable_lets_a_patch_change_the_url_alone_keeping_the_profiles_urls(
    api: ProvisionerApi,
) -> None:
    # Given carol's endpoint of a LaML-webhooks profile that sets fallback and status callback
    # urls and lets a request set only `handler.url` (and the owner)
    put_profile(
        api,
        "url-only",
        {"overridable": ["handler.url", "owner"], "url_hosts": ["*.example.com"]},
        call_fallback_url="https://voice-fallback.example.com/laml/team",
        call_status_callback_url="https://voice.example.com/laml/status",
    )
    assert create(api, {"username": "p.url", "profile": "url-only"}, caller=CREATOR).status == 201
    # When carol's PATCH gives a LaML-webhooks handler with just a url
    url = "https://voice.example.com/laml/carol"
    handler = {"type": "laml_webhooks", "url": url}
    answer = api.request("PATCH", endpoint_path("p.url"), {"handler": handler}, caller=CREATOR)
    # Then the url changed alone: the profile's fallback and status callback urls stay
    assert answer.status == 200, answer.body
    assert answer.body["changed"] == ["call_request_url"]
    held = signalwire_endpoint(api, "p.url")
    assert (held["call_request_url"], held["call_fallback_url"], held["call_status_callback_url"]) == (
        url,
        "https://voice-fallback.example.com/laml/team",
        "https://voice.example.com/laml/status",
    )
    assert api.request("GET", endpoint_path("p.url")).body["drift"] == []


def test_a_patch_moving_an_endpoint_to_a_profile_the_caller_may_not_use_is_forbidden(api: ProvisionerApi) -> None:
    # Given carol's endpoint of an open profile, and a profile only onboarding roles may use
    put_profile(api, "team")
    put_profile(api, "new-hires", {"callers": ["arn:aws:sts::123456789012:assumed-role/onboarding-*"]})
    assert create(api, {"username": "p.move", "profile": "team"}, caller=CREATOR).status == 201
    # When carol moves it to the onboarding profile
    answer = api.request("PATCH", endpoint_path("p.move"), {"profile": "new-hires"}, caller=CREATOR)
    # Then it is forbidden naming policy.callers, and the record still names the old profile
    assert_forbidden(answer, "policy.callers")
    assert api.emulator.updates_committed() == 0
    item = inventory_item("p.move")
    assert item is not None
    assert item["profile"] == {"S": "team"}


def test_a_patch_moving_an_endpoint_to_a_profile_its_stored_handler_url_breaks_is_forbidden(
    api: ProvisionerApi,
) -> None:
    # Given an endpoint of an open profile whose request sent inbound calls to another host,
    # and a profile whose URLs must be on the company's hosts
    put_profile(api, "team")
    put_profile(api, "company-hosts", {"url_hosts": ["*.example.com"]})
    handler = {"type": "laml_webhooks", "url": "https://attacker.test/laml"}
    assert create(api, {"username": "p.carry", "profile": "team", "handler": handler}).status == 201
    # When a PATCH moves it to the company-hosts profile, keeping that handler
    answer = api.request("PATCH", endpoint_path("p.carry"), {"profile": "company-hosts"})
    # Then it is forbidden: the result would break the profile's url_hosts
    assert_forbidden(answer, "policy.url_hosts")
    item = inventory_item("p.carry")
    assert item is not None
    assert item["profile"] == {"S": "team"}


# -- policy.handler_types -------------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [False, True], ids=["create", "dry-run"])
def test_a_handler_type_the_profiles_handler_types_leave_out_is_forbidden(api: ProvisionerApi, dry_run: bool) -> None:
    # Given a profile whose requests may choose only LaML webhooks or a LaML application
    put_profile(api, "laml-only", {"handler_types": ["laml_webhooks", "laml_application"]})
    # When a request chooses a relay script
    body = {
        "username": "h.script",
        "profile": "laml-only",
        "handler": {"type": "relay_script", "url": "https://voice.example.com/script"},
    }
    answer = create(api, body, dry_run=dry_run)
    # Then it is a 403 naming policy.handler_types, and nothing was created
    assert_forbidden(answer, "policy.handler_types")
    assert_nothing_created(api, "h.script")


def test_a_handler_type_the_profiles_handler_types_list_is_allowed(api: ProvisionerApi) -> None:
    # Given a profile whose requests may choose only LaML webhooks or a LaML application
    put_profile(api, "laml-only", {"handler_types": ["laml_webhooks", "laml_application"]})
    # When a request chooses a LaML application
    body = {
        "username": "h.app",
        "profile": "laml-only",
        "handler": {"type": "laml_application", "application_id": "a1"},
    }
    answer = create(api, body)
    # Then it is created
    assert answer.status == 201, answer.body
    assert signalwire_endpoint(api, "h.app")["call_handler"] == "laml_application"


# -- policy.url_hosts and the deployment's url_hosts ----------------------------------------------


@pytest.mark.parametrize("dry_run", [False, True], ids=["create", "dry-run"])
@pytest.mark.parametrize(
    "url",
    [
        "https://attacker.test/laml",
        "https://example.com.attacker.test/laml",
        "https://voice.example.com@attacker.test/laml",
    ],
    ids=["another-host", "lookalike-suffix", "userinfo-trick"],
)
def test_a_url_to_a_host_the_profiles_url_hosts_do_not_match_is_forbidden(
    api: ProvisionerApi, url: str, dry_run: bool
) -> None:
    # Given a profile whose URLs must be on the company's hosts
    put_profile(api, "company-hosts", {"url_hosts": ["*.example.com"]})
    # When a request points inbound calls at another host
    body = {"username": "u.other", "profile": "company-hosts", "handler": {"type": "laml_webhooks", "url": url}}
    answer = create(api, body, dry_run=dry_run)
    # Then it is a 403 naming policy.url_hosts and the key, never the URL, and nothing was created
    assert_forbidden(answer, "policy.url_hosts")
    assert "handler.url" in answer.body["detail"]
    assert "attacker" not in answer.body["detail"]
    assert_nothing_created(api, "u.other")


def test_a_url_whose_host_the_profiles_url_hosts_match_is_allowed(api: ProvisionerApi) -> None:
    # Given a profile whose URLs must be on the company's hosts
    put_profile(api, "company-hosts", {"url_hosts": ["*.example.com"]})
    # When a request's URLs are on them (in any letter case)
    handler = {
        "type": "laml_webhooks",
        "url": "https://Voice.Example.com/laml/ada",
        "fallback_url": "https://backup.example.com/laml/ada",
    }
    answer = create(api, {"username": "u.company", "profile": "company-hosts", "handler": handler})
    # Then it is created
    assert answer.status == 201, answer.body
    assert signalwire_endpoint(api, "u.company")["call_fallback_url"] == "https://backup.example.com/laml/ada"


def test_a_url_some_profiles_url_host_does_not_match_is_forbidden_though_another_url_matches(
    api: ProvisionerApi,
) -> None:
    # Given a profile whose URLs must be on the company's hosts
    put_profile(api, "company-hosts", {"url_hosts": ["*.example.com"]})
    # When one URL is the company's and the status callback goes elsewhere
    handler = {
        "type": "laml_webhooks",
        "url": "https://voice.example.com/laml/ada",
        "status_callback_url": "https://attacker.test/status",
    }
    answer = create(api, {"username": "u.mixed", "profile": "company-hosts", "handler": handler})
    # Then it is forbidden, naming the key that breaks it
    assert_forbidden(answer, "policy.url_hosts")
    assert "handler.status_callback_url" in answer.body["detail"]
    assert_nothing_created(api, "u.mixed")


@pytest.mark.parametrize("dry_run", [False, True], ids=["create", "dry-run"])
def test_a_url_to_a_host_the_deployments_url_hosts_do_not_match_is_forbidden_for_every_profile(
    api: ProvisionerApi, dry_run: bool
) -> None:
    # Given a deployment policy whose URLs must be on the company's hosts, and a profile with no policy
    put_deployment_policy(api, {"admins": [ADMIN.user_arn], "url_hosts": ["*.example.com"]})
    put_profile(api, "no-policy")
    # When a request to that profile points inbound calls at another host
    body = {
        "username": "d.other",
        "profile": "no-policy",
        "handler": {"type": "laml_webhooks", "url": "https://attacker.test/laml"},
    }
    answer = create(api, body, dry_run=dry_run)
    # Then it is a 403 naming deployment.url_hosts, and nothing was created
    assert_forbidden(answer, "deployment.url_hosts")
    assert_nothing_created(api, "d.other")


def test_the_deployments_url_hosts_apply_on_top_of_a_profiles_own(api: ProvisionerApi) -> None:
    # Given a profile that allows any host and a deployment that allows only the company's
    put_deployment_policy(api, {"admins": [ADMIN.user_arn], "url_hosts": ["*.example.com"]})
    put_profile(api, "anywhere", {"url_hosts": ["*"]})
    # When a request points inbound calls at another host
    handler = {"type": "laml_webhooks", "url": "https://attacker.test/laml"}
    answer = create(api, {"username": "d.anywhere", "profile": "anywhere", "handler": handler})
    # Then the deployment's rule still forbids it
    assert_forbidden(answer, "deployment.url_hosts")
    assert_nothing_created(api, "d.anywhere")


def test_a_url_whose_host_the_deployments_url_hosts_match_is_allowed(api: ProvisionerApi) -> None:
    # Given a deployment policy whose URLs must be on the company's hosts
    put_deployment_policy(api, {"admins": [ADMIN.user_arn], "url_hosts": ["*.example.com"]})
    put_profile(api, "no-policy")
    # When a request's URL is on them
    handler = {"type": "laml_webhooks", "url": "https://voice.example.com/laml/ada"}
    answer = create(api, {"username": "d.company", "profile": "no-policy", "handler": handler})
    # Then it is created
    assert answer.status == 201, answer.body


def test_a_patch_pointing_inbound_calls_at_a_host_the_profile_forbids_is_forbidden_and_changes_nothing(
    api: ProvisionerApi,
) -> None:
    # Given an endpoint of a profile whose URLs must be on the company's hosts
    put_profile(api, "company-hosts", {"url_hosts": ["*.example.com"]})
    assert create(api, {"username": "p.hosts", "profile": "company-hosts"}).status == 201
    # When a PATCH (for real or as a dry run) points it at another host
    handler = {"type": "laml_webhooks", "url": "https://attacker.test/laml"}
    answers = [
        api.request("PATCH", endpoint_path("p.hosts"), {"handler": handler}, query=query)
        for query in ("", "dry_run=true")
    ]
    # Then both are forbidden and SignalWire was sent no change
    for answer in answers:
        assert_forbidden(answer, "policy.url_hosts")
    assert api.emulator.updates_committed() == 0
    assert signalwire_endpoint(api, "p.hosts")["call_request_url"] == "https://voice.example.com/laml/team"


# -- the deployment's admins ----------------------------------------------------------------------

MANAGING_ROUTES: dict[str, tuple[str, str, object, str]] = {
    # name: (method, path suffix, body, query)
    "patch": ("PATCH", "", {"caller_id": "Changed"}, ""),
    "patch-dry-run": ("PATCH", "", {"caller_id": "Changed"}, "dry_run=true"),
    "password": ("POST", "/password", {}, ""),
    "disable": ("POST", "/disable", None, ""),
    "delete": ("DELETE", "", None, ""),
    "delete-dry-run": ("DELETE", "", None, "dry_run=true"),
}


def manage(api: ProvisionerApi, route: str, username: str, caller: IamCaller) -> Answer:
    method, suffix, body, query = MANAGING_ROUTES[route]
    return api.request(method, endpoint_path(username) + suffix, body, query=query, caller=caller)


@pytest.fixture
def carols_endpoint(api: ProvisionerApi) -> dict[str, object]:
    """An endpoint carol created from a profile without policy, under a deployment policy
    whose only admin is alice; SignalWire's copy of it as it was created."""
    put_deployment_policy(api, ADMINS_ONLY_ALICE)
    put_profile(api, "team")
    answer = create(api, {"username": "a.carol", "profile": "team"}, caller=CREATOR)
    assert answer.status == 201, answer.body
    return signalwire_endpoint(api, "a.carol")


@pytest.mark.parametrize("route", sorted(MANAGING_ROUTES))
def test_a_caller_neither_admin_nor_creator_may_not_change_reset_disable_or_delete_an_endpoint(
    api: ProvisionerApi, carols_endpoint: dict[str, object], route: str
) -> None:
    # Given carol's endpoint under a deployment policy whose only admin is alice
    record_before = inventory_item("a.carol")
    # When mallory, neither admin nor creator, manages it
    answer = manage(api, route, "a.carol", STRANGER)
    # Then it is a 403 naming deployment.admins, and nothing changed in SignalWire or the inventory
    assert_forbidden(answer, "deployment.admins")
    assert api.emulator.updates_committed() == 0
    assert api.emulator.deletes_committed() == 0
    assert signalwire_endpoint(api, "a.carol") == carols_endpoint
    assert inventory_item("a.carol") == record_before


@pytest.mark.parametrize("caller", [CREATOR, ADMIN], ids=["creator", "admin"])
@pytest.mark.parametrize("route", sorted(MANAGING_ROUTES))
def test_the_creator_and_an_admin_may_change_reset_disable_and_delete_an_endpoint(
    api: ProvisionerApi, carols_endpoint: dict[str, object], route: str, caller: IamCaller
) -> None:
    # Given carol's endpoint under a deployment policy whose only admin is alice
    # When carol herself, or alice, manages it
    answer = manage(api, route, "a.carol", caller)
    # Then it succeeds
    assert answer.status in {200, 204}, answer.body


def test_a_non_admin_looks_up_an_endpoint_of_a_profile_it_may_use(
    api: ProvisionerApi, carols_endpoint: dict[str, object]
) -> None:
    # Given carol's endpoint of a profile everyone may use
    # When mallory, no admin, looks it up
    answer = api.request("GET", endpoint_path("a.carol"), caller=STRANGER)
    # Then she sees it
    assert answer.status == 200, answer.body
    assert answer.body["managed"] is True


def test_a_non_admin_may_not_look_up_an_endpoint_of_a_profile_it_may_not_use(api: ProvisionerApi) -> None:
    # Given an endpoint an onboarding role created from a profile only onboarding roles may use
    put_deployment_policy(api, ADMINS_ONLY_ALICE)
    put_profile(api, "new-hires", {"callers": ["arn:aws:sts::123456789012:assumed-role/onboarding-*"]})
    assert create(api, {"username": "g.hire", "profile": "new-hires"}, caller=ONBOARDING).status == 201
    # When mallory, no admin, and alice, the admin, look it up
    mallorys = api.request("GET", endpoint_path("g.hire"), caller=STRANGER)
    alices = api.request("GET", endpoint_path("g.hire"), caller=ADMIN)
    # Then mallory is refused and alice sees it
    assert_forbidden(mallorys, "policy.callers")
    assert "endpoint" not in mallorys.body
    assert alices.status == 200, alices.body


def test_get_endpoints_shows_a_non_admin_only_endpoints_of_profiles_it_may_use_and_an_admin_all(
    api: ProvisionerApi,
) -> None:
    # Given one endpoint of a profile only onboarding roles may use and one of a profile for everyone
    put_deployment_policy(api, ADMINS_ONLY_ALICE)
    put_profile(api, "new-hires", {"callers": ["arn:aws:sts::123456789012:assumed-role/onboarding-*"]})
    put_profile(api, "team")
    assert create(api, {"username": "l.hire", "profile": "new-hires"}, caller=ONBOARDING).status == 201
    assert create(api, {"username": "l.team", "profile": "team"}, caller=CREATOR).status == 201
    # When mallory, the onboarding role and alice list the inventory
    # Then mallory sees only the open profile's, the onboarding role both, alice both
    assert listed_usernames(api, STRANGER) == ["l.team"]
    assert listed_usernames(api, ONBOARDING) == ["l.hire", "l.team"]
    assert listed_usernames(api, ADMIN) == ["l.hire", "l.team"]


def test_get_endpoints_filtered_by_a_profile_a_non_admin_may_not_use_lists_nothing_of_it(
    api: ProvisionerApi,
) -> None:
    # Given an endpoint of a profile only onboarding roles may use
    put_deployment_policy(api, ADMINS_ONLY_ALICE)
    put_profile(api, "new-hires", {"callers": ["arn:aws:sts::123456789012:assumed-role/onboarding-*"]})
    assert create(api, {"username": "f.hire", "profile": "new-hires"}, caller=ONBOARDING).status == 201
    # When mallory lists the inventory filtered by that profile
    answer = api.request("GET", "/endpoints", query="profile=new-hires", caller=STRANGER)
    # Then she is shown none of it
    assert answer.status == 200, answer.body
    assert answer.body["endpoints"] == []


def break_profile(api: ProvisionerApi, name: str, how: str) -> None:
    if how == "not-json":
        api.put_parameter(f"profiles/{name}", "{carrier-pigeon-7f3a")
    else:
        api.ssm.delete_parameter(Name=f"{PARAMETERS_PATH}/profiles/{name}")


@pytest.fixture
def hire_and_team(api: ProvisionerApi) -> None:
    """A deployment whose only admin is alice; `l.hire` of a profile only onboarding roles may
    use, `l.team` of a profile for everyone."""
    put_deployment_policy(api, ADMINS_ONLY_ALICE)
    put_profile(api, "new-hires", {"callers": ["arn:aws:sts::123456789012:assumed-role/onboarding-*"]})
    put_profile(api, "team")
    assert create(api, {"username": "l.hire", "profile": "new-hires"}, caller=ONBOARDING).status == 201
    assert create(api, {"username": "l.team", "profile": "team"}, caller=CREATOR).status == 201


@pytest.mark.usefixtures("hire_and_team")
@pytest.mark.parametrize("how", ["not-json", "deleted"])
def test_get_endpoints_shows_the_endpoints_of_a_profile_that_broke_or_disappeared_to_admins_only(
    api: ProvisionerApi, how: str
) -> None:
    # Given the profile of l.hire broken (not JSON) or deleted from SSM
    break_profile(api, "new-hires", how)
    # When mallory, the onboarding role and alice list the inventory
    # Then no one but the admin is shown l.hire: visibility fails closed, never open
    assert listed_usernames(api, STRANGER) == ["l.team"]
    assert listed_usernames(api, ONBOARDING) == ["l.team"]
    assert listed_usernames(api, ADMIN) == ["l.hire", "l.team"]


@pytest.mark.usefixtures("hire_and_team")
@pytest.mark.parametrize("how", ["not-json", "deleted"])
def test_only_an_admin_looks_up_an_endpoint_of_a_profile_that_broke_or_disappeared(
    api: ProvisionerApi, how: str
) -> None:
    # Given the profile of l.hire broken (not JSON) or deleted from SSM
    break_profile(api, "new-hires", how)
    # When mallory and alice look it up
    mallorys = api.request("GET", endpoint_path("l.hire"), caller=STRANGER)
    alices = api.request("GET", endpoint_path("l.hire"), caller=ADMIN)
    # Then mallory is refused, without the endpoint, and alice sees it
    assert_forbidden(mallorys, "policy.callers")
    assert "endpoint" not in mallorys.body
    assert alices.status == 200, alices.body


# -- broken policies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        '{"admins": ["arn:aws:iam::123456789012:user/alice.admin"], "password_delivery": "carrier-pigeon-7f3a"}',
        '{"admins": "carrier-pigeon-7f3a"}',
        '{"admins": [], "tunnel": "carrier-pigeon-7f3a"}',
        "carrier-pigeon-7f3a: not json",
    ],
    ids=["bad-delivery", "admins-not-a-list", "unknown-key", "not-json"],
)
def test_a_broken_deployment_policy_is_a_configuration_error_naming_the_parameter_not_its_value(
    api: ProvisionerApi, value: str
) -> None:
    # Given a deployment policy that breaks the policy rules
    api.put_parameter("policy", value)
    # When anyone asks for an endpoint
    answer = create(api, {"username": "b.deployment", "profile": "office"})
    # Then it is a 500 configuration-error naming the parameter and not its value, and nothing was created
    assert answer.status == 500, answer.body
    assert answer.body["type"] == "configuration-error"
    assert f"{PARAMETERS_PATH}/policy" in answer.body["detail"]
    assert "carrier-pigeon" not in json.dumps(answer.body)
    assert_nothing_created(api, "b.deployment")


@pytest.mark.parametrize(
    "policy",
    [
        {"callers": ["arn:aws:iam::123456789012:user/carrier pigeon-7f3a"]},
        {"overridable": ["caller_id", "carrier-pigeon-7f3a"]},
        {"handler_types": ["carrier-pigeon-7f3a"]},
        {"url_hosts": ["carrier-pigeon-7f3a/path"]},
        {"password_delivery": "carrier-pigeon-7f3a"},
        {"tunnel": ["carrier-pigeon-7f3a"]},
    ],
    ids=["caller-with-space", "unknown-overridable", "unknown-handler-type", "bad-host", "bad-delivery", "unknown"],
)
def test_a_broken_profile_policy_is_a_configuration_error_naming_the_parameter_not_its_value(
    api: ProvisionerApi, policy: dict[str, Any]
) -> None:
    # Given a profile whose policy breaks the policy rules
    put_profile(api, "broken", policy)
    # When a request names that profile
    answer = create(api, {"username": "b.profile", "profile": "broken"})
    # Then it is a 500 configuration-error naming the profile's parameter and not its value
    assert answer.status == 500, answer.body
    assert answer.body["type"] == "configuration-error"
    assert f"{PARAMETERS_PATH}/profiles/broken" in answer.body["detail"]
    assert "carrier" not in json.dumps(answer.body)
    assert_nothing_created(api, "b.profile")


def test_a_broken_profile_policy_fails_only_the_requests_naming_that_profile(api: ProvisionerApi) -> None:
    # Given one profile whose policy is broken
    put_profile(api, "broken", {"overridable": ["no-such-field"]})
    # When a request names another profile
    answer = create(api, {"username": "b.other", "profile": "office"})
    # Then it is created
    assert answer.status == 201, answer.body


# -- without any policy ---------------------------------------------------------------------------


def test_without_any_policy_any_caller_may_override_any_field_and_point_at_any_host(api: ProvisionerApi) -> None:
    # Given the seeded profiles and no deployment policy
    body = {
        "username": "n.anything",
        "profile": "office",
        "caller_id": "Anything",
        "send_as": "+15551230000",
        "owner": "anyone@example.org",
        "handler": {"type": "relay_script", "url": "https://anywhere.test/script"},
    }
    # When a caller nobody listed anywhere sets every field
    answer = create(api, body, caller=STRANGER)
    # Then it is created
    assert answer.status == 201, answer.body
    assert signalwire_endpoint(api, "n.anything")["call_relay_script_url"] == "https://anywhere.test/script"


@pytest.mark.parametrize("route", sorted(MANAGING_ROUTES))
def test_without_a_deployment_policy_every_caller_may_manage_every_endpoint(api: ProvisionerApi, route: str) -> None:
    # Given carol's endpoint and no deployment policy
    assert create(api, {"username": "n.carol", "profile": "office"}, caller=CREATOR).status == 201
    # When mallory manages it
    answer = manage(api, route, "n.carol", STRANGER)
    # Then she may, as in sections 1 to 3
    assert answer.status in {200, 204}, answer.body


# -- the workflow entry ---------------------------------------------------------------------------


def test_the_workflow_entry_raises_forbidden_for_a_profile_whose_callers_exclude_workflow(
    api: ProvisionerApi, workflow_module: Any
) -> None:
    # Given a profile only onboarding roles may use, not workflows
    put_profile(api, "roles-only", {"callers": ["arn:aws:sts::123456789012:assumed-role/onboarding-*"]})
    # When a state machine asks for an endpoint from it
    with pytest.raises(workflow.WorkflowFailure) as raised:
        invoke_workflow(workflow_module, {"username": "w.refused", "profile": "roles-only"}, "exec-w-refused")
    # Then the failure is named Forbidden and names the rule, and nothing was created
    assert type(raised.value).__name__ == "Forbidden"
    assert "policy.callers" in str(raised.value)
    assert_nothing_created(api, "w.refused")


def test_the_workflow_entry_raises_forbidden_for_a_field_the_profile_does_not_let_it_set(
    api: ProvisionerApi, workflow_module: Any
) -> None:
    # Given a profile workflows may use, which lets a request set only the owner
    put_profile(api, "workflows", {"callers": ["workflow"], "overridable": ["owner"]})
    # When a state machine also sets the caller id
    request = {"username": "w.caller-id", "profile": "workflows", "caller_id": "Anything"}
    with pytest.raises(workflow.WorkflowFailure) as raised:
        invoke_workflow(workflow_module, request, "exec-w-caller-id")
    # Then the failure is named Forbidden and names policy.overridable
    assert type(raised.value).__name__ == "Forbidden"
    assert "policy.overridable" in str(raised.value)
    assert_nothing_created(api, "w.caller-id")


def test_the_workflow_entry_creates_from_a_profile_whose_callers_include_workflow(
    api: ProvisionerApi, workflow_module: Any
) -> None:
    # Given a profile only workflows may use
    put_profile(api, "workflows", {"callers": ["workflow"]})
    # When a state machine asks for an endpoint from it
    body = invoke_workflow(workflow_module, {"username": "w.allowed", "profile": "workflows"}, "exec-w-allowed")
    # Then it is created
    assert body["endpoint"]["username"] == "w.allowed"
    assert signalwire_endpoint(api, "w.allowed")["username"] == "w.allowed"
