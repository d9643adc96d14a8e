"""SCIM users in the inventory table, read by key only: consistent, and no index to add.

Items (username is the table's hash key, record its range key):
  "@scim-users",        "user#<id>"                     the user (the list: one Query, by id)
  "@scim-user-names",   "<userName, lower-cased>"       its userName, unique by condition
  "@scim-external-ids", "<externalId>#<id>"             its externalId, when it has one
  <SIP username>,       "scim-user"                     its SIP username, unique by condition,
                                                        beside the endpoint's own record
No SIP username holds "@", so the first three never meet an endpoint's records; none of these
items carries an endpoint index's key (profile, owner, listing), so no endpoint list meets one.
A user's items are written and removed together, in one transaction, conditional on what the
caller last saw; a userName or SIP username already held fails it.
"""

import json
from collections.abc import Callable, Iterator
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from sip_provisioning.adapters.dynamodb_writes import write_conditionally
from sip_provisioning.domain.scim_users import ScimUserRecord

USERS = "@scim-users"
USER_NAMES = "@scim-user-names"
EXTERNAL_IDS = "@scim-external-ids"
SIP_USERNAME = "scim-user"
USER = "user#"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class DynamoDBScimUsers:
    def __init__(self, dynamodb_client: Callable[[], Any], table_name: str) -> None:
        self._dynamodb = dynamodb_client
        self._table = table_name

    def by_id(self, scim_id: str) -> ScimUserRecord | None:
        item = self._get(USERS, f"{USER}{scim_id}")
        return _user(item) if item else None

    def by_user_name(self, user_name: str) -> ScimUserRecord | None:
        name = self._get(USER_NAMES, user_name.lower())
        return self.by_id(name["scim_id"]["S"]) if name else None

    def by_external_id(self, external_id: str) -> list[ScimUserRecord]:
        users = []
        for item in self._query(EXTERNAL_IDS, f"{external_id}#", keys_only=False):
            user = self.by_id(item["scim_id"]["S"])
            if user is not None and user.external_id == external_id:  # an externalId may hold "#"
                users.append(user)
        return users

    def count(self) -> int:
        return sum(1 for _ in self._query(USERS, USER, keys_only=True))

    def page(self, *, offset: int, limit: int) -> list[ScimUserRecord]:
        """`limit` users after the first `offset`, in id order; the skipped ones read as keys only."""
        start = None
        if offset > 0:
            skipped = list(self._query(USERS, USER, keys_only=True, limit=offset))
            if len(skipped) < offset:
                return []
            start = {"username": {"S": USERS}, "record": skipped[-1]["record"]}
        return [_user(item) for item in self._query(USERS, USER, keys_only=False, limit=limit, start=start)]

    def add(self, user: ScimUserRecord) -> None:
        """Store a new user; `RecordChanged` when its userName or SIP username is already held."""
        write_conditionally(self._dynamodb, [self._put(_item(user), _NEW), *self._claims(user)])

    def replace(self, seen: ScimUserRecord, updated: ScimUserRecord) -> None:
        """Write `updated` over the user, if it is still `seen`; a new userName must be free."""
        writes = [self._put(_item(updated), *_unchanged(seen))]
        if updated.user_name.lower() != seen.user_name.lower():
            writes += [self._delete(_user_name_key(seen)), self._put(_user_name_item(updated), _NEW)]
        if updated.external_id != seen.external_id:
            if seen.external_id is not None:
                writes.append(self._delete(_external_id_key(seen)))
            if updated.external_id is not None:
                writes.append(self._put(_external_id_item(updated)))
        write_conditionally(self._dynamodb, writes)

    def remove(self, seen: ScimUserRecord) -> None:
        """Remove the user and what it holds, if it is still `seen`."""
        keys = [_user_name_key(seen), _sip_username_key(seen)]
        if seen.external_id is not None:
            keys.append(_external_id_key(seen))
        write_conditionally(
            self._dynamodb, [self._delete(_user_key(seen.scim_id), *_unchanged(seen)), *map(self._delete, keys)]
        )

    def _claims(self, user: ScimUserRecord) -> list[dict[str, Any]]:
        claims = [
            self._put(_user_name_item(user), _NEW),
            self._put({**_sip_username_key(user), "scim_id": {"S": user.scim_id}}, _NEW),
        ]
        if user.external_id is not None:
            claims.append(self._put(_external_id_item(user)))
        return claims

    def _put(self, item: dict[str, Any], condition: str | None = None, values: dict[str, Any] | None = None) -> Any:
        put: dict[str, Any] = {"TableName": self._table, "Item": item}
        if condition is not None:
            put["ConditionExpression"] = condition
        if values:
            put["ExpressionAttributeValues"] = values
        return {"Put": put}

    def _delete(self, key: dict[str, Any], condition: str | None = None, values: dict[str, Any] | None = None) -> Any:
        delete: dict[str, Any] = {"TableName": self._table, "Key": key}
        if condition is not None:
            delete["ConditionExpression"] = condition
        if values:
            delete["ExpressionAttributeValues"] = values
        return {"Delete": delete}

    def _get(self, partition: str, record: str) -> dict[str, Any] | None:
        key = {"username": {"S": partition}, "record": {"S": record}}
        item: dict[str, Any] | None = (
            self._dynamodb().get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        )
        return item

    def _query(
        self,
        partition: str,
        prefix: str,
        *,
        keys_only: bool,
        limit: int | None = None,
        start: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "username = :p AND begins_with(#record, :prefix)",
            "ExpressionAttributeNames": {"#record": "record"},
            "ExpressionAttributeValues": {":p": {"S": partition}, ":prefix": {"S": prefix}},
            "ConsistentRead": True,
        }
        if keys_only:
            query["ProjectionExpression"] = "#record"
        if start is not None:
            query["ExclusiveStartKey"] = start
        remaining = limit
        while remaining is None or remaining > 0:
            page = self._dynamodb().query(**query, **({"Limit": remaining} if remaining is not None else {}))
            items = page.get("Items", [])
            yield from items
            if remaining is not None:
                remaining -= len(items)
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


_NEW = "attribute_not_exists(username)"


def _unchanged(seen: ScimUserRecord) -> tuple[str, dict[str, Any]]:
    return "updated_at = :seen", {":seen": {"S": seen.updated_at}}


def _user_key(scim_id: str) -> dict[str, Any]:
    return {"username": {"S": USERS}, "record": {"S": f"{USER}{scim_id}"}}


def _user_name_key(user: ScimUserRecord) -> dict[str, Any]:
    return {"username": {"S": USER_NAMES}, "record": {"S": user.user_name.lower()}}


def _user_name_item(user: ScimUserRecord) -> dict[str, Any]:
    return {**_user_name_key(user), "scim_id": {"S": user.scim_id}}


def _external_id_key(user: ScimUserRecord) -> dict[str, Any]:
    return {"username": {"S": EXTERNAL_IDS}, "record": {"S": f"{user.external_id}#{user.scim_id}"}}


def _external_id_item(user: ScimUserRecord) -> dict[str, Any]:
    return {**_external_id_key(user), "scim_id": {"S": user.scim_id}}


def _sip_username_key(user: ScimUserRecord) -> dict[str, Any]:
    return {"username": {"S": user.username}, "record": {"S": SIP_USERNAME}}


def _item(user: ScimUserRecord) -> dict[str, Any]:
    document: dict[str, Any] = {
        "username": USERS,
        "record": f"{USER}{user.scim_id}",
        "scim_id": user.scim_id,
        "sip_username": user.username,
        "user_name": user.user_name,
        "active": user.active,
        "attributes": json.dumps(user.attributes, sort_keys=True),
        "cycle": user.cycle,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }
    if user.external_id is not None:
        document["external_id"] = user.external_id
    return {name: _serializer.serialize(value) for name, value in document.items()}


def _user(item: dict[str, Any]) -> ScimUserRecord:
    document = {name: _deserializer.deserialize(value) for name, value in item.items()}
    return ScimUserRecord(
        scim_id=document["scim_id"],
        username=document["sip_username"],
        user_name=document["user_name"],
        external_id=document.get("external_id"),
        active=document["active"],
        attributes=json.loads(document["attributes"]),
        cycle=int(document["cycle"]),
        created_at=document["created_at"],
        updated_at=document["updated_at"],
    )
