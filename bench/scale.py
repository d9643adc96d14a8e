"""`make bench-scale`: what a listing page and a create cost as the data grows, counted, not timed.

    python -m bench.scale      # from the repository root

Listing: the real adapter (`DynamoDBInventory.list_records`) reads an inventory of 1k, 10k and
100k records held by a counting fake of the DynamoDB client, which answers `query` as DynamoDB
does (the index's partition in key order, `Limit` applied before the filter, `LastEvaluatedKey`
while more remain) and counts the queries and the items each evaluates. Every filter of
`GET /endpoints` is walked for up to PAGES pages of the default size, following the position each
page gives, and the worst page is reported. The fake refuses any query shape it does not know, so
a change of the adapter's queries breaks the bench rather than its figures.

Profiles: the real HTTP function in this process, against moto and the SignalWire emulator, with
5, 50 and 500 profiles in SSM. SSM calls are counted where botocore sends them: per cold start
(a fresh composition and its warm-up, as in INIT), per create naming a profile other than
`default` right after it (the costliest create), per warm create, and for an admin's first listing
after them.

Prints both tables and writes bench/scale.json.
"""

import bisect
import contextlib
import copy
import functools
import importlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from local.gateway import IamCaller, LambdaFunction, LocalLambdaContext, build_event
from local.inventory_table import create_inventory_table
from local.run import put_lambda_code_on_path
from local.seed import SignalWireAccount, create_idempotency_table, seed_ssm
from local.signalwire_emulator import SignalWireEmulator
from reliability.aws_faults import FailingCalls, in_every_new_session

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = REPOSITORY_ROOT / "bench" / "scale.json"
PROFILES_DIR = REPOSITORY_ROOT / "config" / "profiles"
INVENTORY_SIZES = (1_000, 10_000, 100_000)
PROFILE_COUNTS = (5, 50, 500)
PAGES = 5
PAGE_SIZE = 50  # GET /endpoints' default limit
# The inventory's make-up: PROFILES profiles and OWNERS owners in turn; one record in
# DELETED_EVERY deleted and one in DISABLED_EVERY disabled, the rest active.
PROFILES = 10
OWNERS = 100
DELETED_EVERY = 500
DISABLED_EVERY = 20
PARAMETERS_PATH = "/sip-provisioning/scale"
INVENTORY_TABLE = "sip-provisioning-scale-inventory"
IDEMPOTENCY_TABLE = "sip-provisioning-scale-idempotency"
ADMIN = IamCaller(user_arn="arn:aws:iam::123456789012:user/alice.admin")
FILTERS: dict[str, dict[str, Any]] = {
    "none": {},
    "profile": {"profile": "team-03"},
    "owner": {"owner": "owner-007"},
    "status=deleted": {"status": "deleted"},
    "status=disabled": {"status": "disabled"},
}


# -- listing ------------------------------------------------------------------------------------


class CountingDynamoDB:
    """DynamoDB's `query` over in-memory items, for the index shapes the adapter uses."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self._items = items
        self._partitions: dict[tuple[str, str], list[tuple[tuple[str, str], dict[str, Any]]]] = {}
        self.queries = 0
        self.items_read = 0

    def _partition(self, attribute: str, value: str) -> list[tuple[tuple[str, str], dict[str, Any]]]:
        if (attribute, value) not in self._partitions:
            members = [(_order(item), item) for item in self._items if item.get(attribute, {}).get("S") == value]
            self._partitions[(attribute, value)] = sorted(members, key=lambda member: member[0])
        return self._partitions[(attribute, value)]

    def query(
        self,
        *,
        KeyConditionExpression: str,  # DynamoDB's argument names
        FilterExpression: str,
        ExpressionAttributeNames: dict[str, str],
        ExpressionAttributeValues: dict[str, Any],
        Limit: int,
        ExclusiveStartKey: dict[str, Any] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        statuses = {value["S"] for name, value in ExpressionAttributeValues.items() if name.startswith(":s")}
        status_filter = f"#status IN ({', '.join(sorted(n for n in ExpressionAttributeValues if n.startswith(':s')))})"
        owner = ExpressionAttributeValues.get(":owner", {}).get("S")
        known_filters = {status_filter, f"{status_filter} AND #owner = :owner"}
        if KeyConditionExpression != "#p = :p" or FilterExpression not in known_filters:
            raise SystemExit(f"the fake does not know this query: {KeyConditionExpression} / {FilterExpression}")
        members = self._partition(ExpressionAttributeNames["#p"], ExpressionAttributeValues[":p"]["S"])
        orders = [order for order, _ in members]
        first = bisect.bisect_right(orders, _order(ExclusiveStartKey)) if ExclusiveStartKey else 0
        evaluated = members[first : first + Limit]
        self.queries += 1
        self.items_read += len(evaluated)
        matching = [
            item
            for _, item in evaluated
            if item["status"]["S"] in statuses and (owner is None or item.get("owner", {}).get("S") == owner)
        ]
        answer: dict[str, Any] = {"Items": matching, "Count": len(matching), "ScannedCount": len(evaluated)}
        if first + Limit < len(members):
            last = evaluated[-1][1]
            answer["LastEvaluatedKey"] = {"username": last["username"], "record": last["record"]}
        return answer


def _order(item: dict[str, Any]) -> tuple[str, str]:
    return item["username"]["S"], item["record"]["S"]


def inventory_items(template: dict[str, Any], size: int) -> list[dict[str, Any]]:
    """`size` current records shaped as the adapter writes them, from one it wrote."""
    items = []
    for number in range(size):
        item = copy.deepcopy(template)
        status = "deleted" if number % DELETED_EVERY == 7 else "disabled" if number % DISABLED_EVERY == 3 else "active"
        item["username"] = {"S": f"user-{number:06d}"}
        item["profile"] = {"S": f"team-{number % PROFILES:02d}"}
        item["owner"] = {"S": f"owner-{number % OWNERS:03d}"}
        item["status"] = {"S": status}
        items.append(item)
    return items


def listing_rows(template: dict[str, Any]) -> list[dict[str, Any]]:
    from sip_provisioning.adapters.inventory import DynamoDBInventory
    from sip_provisioning.domain.records import EndpointStatus
    from sip_provisioning.use_cases.list_endpoints import LISTED_BY_DEFAULT

    rows = []
    for size in INVENTORY_SIZES:
        dynamodb = CountingDynamoDB(inventory_items(template, size))
        inventory = DynamoDBInventory(functools.partial(lambda client: client, dynamodb), INVENTORY_TABLE)
        for name, query in FILTERS.items():
            status = query.get("status")
            pages = []
            after = None
            for _ in range(PAGES):
                before = (dynamodb.queries, dynamodb.items_read)
                page = inventory.list_records(
                    profile=query.get("profile"),
                    owner=query.get("owner"),
                    statuses=frozenset({EndpointStatus(status)}) if status else LISTED_BY_DEFAULT,
                    profiles_seen=None,
                    limit=PAGE_SIZE,
                    after=after,
                )
                pages.append((dynamodb.queries - before[0], dynamodb.items_read - before[1], len(page.records)))
                after = page.resume_after
                if after is None:
                    break
            rows.append(
                {
                    "inventory": size,
                    "filter": name,
                    "queries_per_page": max(queries for queries, _, _ in pages),
                    "items_read_per_page": max(read for _, read, _ in pages),
                    "records_per_page": min(records for _, _, records in pages),
                    "pages_read": len(pages),
                }
            )
            print(f"  listing {size:>7} {name:<16} {rows[-1]}", file=sys.stderr, flush=True)
    return rows


# -- profiles -----------------------------------------------------------------------------------


@dataclass
class Service:
    module: Any
    ssm: Any
    ssm_calls: FailingCalls

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", "/endpoints", json.dumps(body).encode(), 201)

    def list_endpoints(self) -> dict[str, Any]:
        return self._send("GET", "/endpoints", b"", 200)

    def _send(self, method: str, path: str, body: bytes, expected: int) -> dict[str, Any]:
        event = build_event(method, path, "", [("Content-Type", "application/json")], body, caller=ADMIN)
        result: dict[str, Any] = self.module.lambda_handler(event, LocalLambdaContext(LambdaFunction()))
        if result["statusCode"] != expected:
            raise SystemExit(f"{method} {path} answered {result['statusCode']}: {result.get('body')}")
        return result


@contextmanager
def running_service() -> Iterator[Service]:
    """The HTTP function in this process against moto and the emulator, counting every SSM call."""
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PARAMETERS_PATH": PARAMETERS_PATH,
        "PARAMETERS_MAX_AGE": "300",
        "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
        "INVENTORY_TABLE": INVENTORY_TABLE,
        "SECRETS_PREFIX": "sip-provisioning/scale/endpoints/",
        "POWERTOOLS_SERVICE_NAME": "sip-provisioner",
        "POWERTOOLS_METRICS_NAMESPACE": "SipProvisioning",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    os.environ.update(environment)
    ssm_calls = FailingCalls("never", 500)  # never told to fail: it counts
    with (
        SignalWireEmulator(project_id="scale-project", api_token="scale-token") as emulator,  # noqa: S106
        mock_aws(),
        in_every_new_session("before-send.ssm", ssm_calls),
    ):
        ssm = boto3.client("ssm")
        account = SignalWireAccount(emulator.base_url, "scale-project", "scale-token", "scale.sip.signalwire.com")
        seed_ssm(ssm, PARAMETERS_PATH, PROFILES_DIR, account)
        create_idempotency_table(boto3.client("dynamodb"), IDEMPOTENCY_TABLE)
        create_inventory_table(boto3.client("dynamodb"), INVENTORY_TABLE)
        module = importlib.import_module("http_api")
        yield Service(module, ssm, ssm_calls)
        module.wiring.cache_clear()


def profile_rows(service: Service) -> list[dict[str, Any]]:
    seeded = {
        parameter["Name"]
        for page in service.ssm.get_paginator("get_parameters_by_path").paginate(
            Path=f"{PARAMETERS_PATH}/profiles", Recursive=True
        )
        for parameter in page["Parameters"]
    }
    rows = []
    for count in PROFILE_COUNTS:
        added = [f"{PARAMETERS_PATH}/profiles/scale-{number:03d}" for number in range(len(seeded), count)]
        for name in added:
            service.ssm.put_parameter(
                Name=name, Value=json.dumps({"description": "A profile among many"}), Type="String", Overwrite=True
            )
        seeded.update(added)
        named = "office"  # a profile other than default, from config/profiles
        service.module.wiring.cache_clear()  # a fresh container
        before = service.ssm_calls.calls
        service.module.wiring().warm_up()  # what INIT does
        cold = service.ssm_calls.calls - before
        before = service.ssm_calls.calls
        service.create({"username": f"scale-{count}-first", "profile": named})
        first_create = service.ssm_calls.calls - before
        before = service.ssm_calls.calls
        service.create({"username": f"scale-{count}-warm", "profile": named})
        warm_create = service.ssm_calls.calls - before
        before = service.ssm_calls.calls
        service.list_endpoints()
        first_listing = service.ssm_calls.calls - before
        rows.append(
            {
                "profiles": count,
                "ssm_calls_per_cold_start": cold,
                "ssm_calls_per_create": first_create,
                "ssm_calls_per_warm_create": warm_create,
                # An admin sees every profile's endpoints: no profile is read for it.
                "ssm_calls_per_first_listing": first_listing,
            }
        )
        print(f"  profiles {rows[-1]}", file=sys.stderr, flush=True)
    return rows


def written_record(service: Service) -> dict[str, Any]:
    """One inventory item as the adapter wrote it, for the listing's records to copy."""
    service.create({"username": "scale-template", "owner": "owner-000"})
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=INVENTORY_TABLE)["Items"]
    return next(item for item in items if item["username"]["S"] == "scale-template")


def render(results: dict[str, Any]) -> str:
    lines = [
        f"GET /endpoints, the worst of up to {PAGES} pages of {PAGE_SIZE} (inventory: {PROFILES} profiles, "
        f"{OWNERS} owners, 1 in {DELETED_EVERY} deleted, 1 in {DISABLED_EVERY} disabled)",
        f"{'inventory':>9} {'filter':<16} {'queries/page':>12} {'items read/page':>15} {'records, fewest':>15}",
    ]
    for row in results["listing"]:
        lines.append(
            f"{row['inventory']:>9} {row['filter']:<16} {row['queries_per_page']:>12} "
            f"{row['items_read_per_page']:>15} {row['records_per_page']:>15}"
        )
    lines += [
        "",
        "SSM calls (the create names a profile other than default, right after the cold start)",
        f"{'profiles':>9} {'per cold start':>14} {'per create':>10} {'per warm create':>15} "
        f"{'first admin GET /endpoints':>26}",
    ]
    for row in results["profiles"]:
        lines.append(
            f"{row['profiles']:>9} {row['ssm_calls_per_cold_start']:>14} {row['ssm_calls_per_create']:>10} "
            f"{row['ssm_calls_per_warm_create']:>15} {row['ssm_calls_per_first_listing']:>26}"
        )
    return "\n".join(lines)


def main() -> int:
    put_lambda_code_on_path()
    # The function's log and metric lines (stdout in Lambda) go to stderr, beside the progress.
    with contextlib.redirect_stdout(sys.stderr), running_service() as service:
        template = written_record(service)
        profiles = profile_rows(service)
    results = {"listing": listing_rows(template), "profiles": profiles}
    RESULTS_PATH.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(render(results))
    print(f"\nwrote {RESULTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
