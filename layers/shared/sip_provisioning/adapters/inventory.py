"""The inventory in DynamoDB: one current record per username, and the deleted ones kept.

Table layout (template.yaml `InventoryTable`, local/inventory_table.py):
  key        username (hash), record (range): "current", or "archived#<created_at>" for a
             deleted record that a re-created username moved aside
  by_profile profile (hash), username (range)     `GET /endpoints?profile=`
  by_owner   owner (hash), username (range)       `GET /endpoints?owner=` (sparse)
  by_username listing (hash, always "endpoint"), username (range)   the unfiltered list
  by_status  status (hash), username (range)      `GET /endpoints?status=` alone
Every write is conditional on what the caller last saw, so two requests never both win.
"""

import json
from collections.abc import Callable
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from sip_provisioning.adapters.dynamodb_writes import write_conditionally
from sip_provisioning.domain.records import EndpointStatus, InventoryRecord, ListPosition, RecordPage

CURRENT = "current"
LISTING = "endpoint"
INDEX_FOR_FILTER = {"profile": "by_profile", "owner": "by_owner"}
UNFILTERED_INDEX = "by_username"
STATUS_INDEX = "by_status"
# A page reads at most QUERIES_PER_PAGE queries of QUERY_BATCH records each: a caller who may see
# few of many records gets short pages that go on, rather than one request walking the table.
QUERY_BATCH = 100
QUERIES_PER_PAGE = 3

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class DynamoDBInventory:
    def __init__(self, dynamodb_client: Callable[[], Any], table_name: str) -> None:
        self._dynamodb = dynamodb_client
        self._table = table_name

    def current(self, username: str) -> InventoryRecord | None:
        item = (
            self._dynamodb()
            .get_item(TableName=self._table, Key=_key(username, CURRENT), ConsistentRead=True)
            .get("Item")
        )
        return _record(item) if item else None

    def current_of(self, usernames: list[str]) -> dict[str, InventoryRecord]:
        """The current records of up to 100 usernames (eventually consistent: a list's view), by username."""
        keys = [_key(username, CURRENT) for username in dict.fromkeys(usernames)]
        records: dict[str, InventoryRecord] = {}
        while keys:
            answer = self._dynamodb().batch_get_item(RequestItems={self._table: {"Keys": keys}})
            for item in answer.get("Responses", {}).get(self._table, []):
                record = _record(item)
                records[record.username] = record
            keys = answer.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
        return records

    def put_new(self, record: InventoryRecord, *, replacing: InventoryRecord | None) -> None:
        """Make `record` the username's current record. `replacing` is the current record the
        caller saw (None: there was none); a deleted one is archived beside it, never erased."""
        item = _item(record, CURRENT)
        if replacing is None:
            write_conditionally(
                self._dynamodb,
                [
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(username)",
                        }
                    }
                ],
            )
            return
        writes: list[dict[str, Any]] = []
        if replacing.status is EndpointStatus.DELETED:
            archived = _item(replacing, f"archived#{replacing.created_at}")
            writes.append({"Put": {"TableName": self._table, "Item": archived}})
        condition, values = _unchanged(replacing)
        writes.append(
            {
                "Put": {
                    "TableName": self._table,
                    "Item": item,
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": values,
                }
            }
        )
        write_conditionally(self._dynamodb, writes)

    def replace(self, seen: InventoryRecord, updated: InventoryRecord) -> None:
        """Write `updated` over the current record, if it is still `seen`."""
        condition, values = _unchanged(seen)
        write_conditionally(
            self._dynamodb,
            [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _item(updated, CURRENT),
                        "ConditionExpression": condition,
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": values,
                    }
                }
            ],
        )

    def release(self, pending: InventoryRecord) -> None:
        """Remove a reservation whose create certainly did not happen (it never was an endpoint)."""
        condition, values = _unchanged(pending)
        try:
            self._dynamodb().delete_item(
                TableName=self._table,
                Key=_key(pending.username, CURRENT),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def list_records(
        self,
        *,
        profile: str | None,
        owner: str | None,
        statuses: frozenset[EndpointStatus],
        profiles_seen: frozenset[str] | None,
        limit: int,
        after: ListPosition | None,
    ) -> RecordPage:
        """Up to `limit` records by username after `after`, read through the index of the filter
        given (never a scan); only those of `profiles_seen` (None: of any profile). A page reads
        at most QUERIES_PER_PAGE batches, so it may come back short with a position to go on from."""
        if profile is not None:
            index, partition = INDEX_FOR_FILTER["profile"], ("profile", profile)
        elif owner is not None:
            index, partition = INDEX_FOR_FILTER["owner"], ("owner", owner)
        elif len(statuses) == 1:
            (status,) = statuses
            index, partition = STATUS_INDEX, ("status", status.value)
        else:
            index, partition = UNFILTERED_INDEX, ("listing", LISTING)
        names = {"#p": partition[0], "#status": "status"}
        values: dict[str, Any] = {":p": {"S": partition[1]}}
        filters = []
        for position, status in enumerate(sorted(statuses)):
            values[f":s{position}"] = {"S": status.value}
            filters.append(f":s{position}")
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#p = :p",
            "FilterExpression": f"#status IN ({', '.join(filters)})",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "Limit": QUERY_BATCH,
        }
        if profile is not None and owner is not None:
            names["#owner"] = "owner"
            values[":owner"] = {"S": owner}
            query["FilterExpression"] += " AND #owner = :owner"
        start = _start_key(after, partition) if after is not None else None
        records: list[InventoryRecord] = []
        for _ in range(QUERIES_PER_PAGE):
            answer = self._dynamodb().query(**query, **({"ExclusiveStartKey": start} if start else {}))
            items = answer.get("Items", [])
            start = answer.get("LastEvaluatedKey")
            for read, item in enumerate(items, start=1):
                record = _record(item)
                if profiles_seen is None or record.profile in profiles_seen:
                    records.append(record)
                if len(records) == limit and read < len(items):  # go on after it, not after the batch
                    start = _start_key(_position(item), partition)
                    break
            if start is None or len(records) == limit:
                break
        return RecordPage(records=records, resume_after=_position(start) if start else None)


def _key(username: str, record: str) -> dict[str, Any]:
    return {"username": {"S": username}, "record": {"S": record}}


def _unchanged(seen: InventoryRecord) -> tuple[str, dict[str, Any]]:
    """A condition that holds while the current record is still the one `seen`."""
    return "#status = :seen_status AND updated_at = :seen_updated", {
        ":seen_status": {"S": seen.status.value},
        ":seen_updated": {"S": seen.updated_at},
    }


def _item(record: InventoryRecord, sort_key: str) -> dict[str, Any]:
    document = record.model_dump(mode="json", exclude_none=True)
    for internal in ("attempt_id", "pending_until", "username_was_free"):
        value = getattr(record, internal)
        if value is not None:
            document[internal] = value
    document["request"] = json.dumps(record.request, sort_keys=True)
    document["record"] = sort_key
    document["listing"] = LISTING
    return {name: _serializer.serialize(value) for name, value in document.items()}


def _record(item: dict[str, Any]) -> InventoryRecord:
    document = {name: _deserializer.deserialize(value) for name, value in item.items()}
    for storage_only in ("record", "listing"):
        document.pop(storage_only, None)
    document["request"] = json.loads(document["request"])
    if "pending_until" in document:
        document["pending_until"] = int(document["pending_until"])
    return InventoryRecord.model_validate(document)


def _position(key: dict[str, Any]) -> ListPosition:
    return ListPosition(username=key["username"]["S"], record_key=key["record"]["S"])


def _start_key(after: ListPosition, partition: tuple[str, str]) -> dict[str, Any]:
    """An index's ExclusiveStartKey: the table's key of the record and the index's own."""
    return {**_key(after.username, after.record_key), partition[0]: {"S": partition[1]}}
