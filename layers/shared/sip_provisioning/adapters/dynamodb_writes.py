"""Conditional DynamoDB writes, shared by the adapters: one Put alone, or several in one
transaction; a failed condition is `RecordChanged`, whatever the write."""

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from sip_provisioning.domain.records import RecordChanged

_CONDITION_FAILED = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})


def write_conditionally(dynamodb: Callable[[], Any], writes: list[dict[str, Any]]) -> None:
    """`writes` as TransactWriteItems entries; a lone Put goes as a plain PutItem (half the cost)."""
    try:
        if len(writes) == 1 and "Put" in writes[0]:
            dynamodb().put_item(**writes[0]["Put"])
        else:
            dynamodb().transact_write_items(TransactItems=writes)
    except ClientError as error:
        if error.response["Error"]["Code"] in _CONDITION_FAILED:
            raise RecordChanged from None
        raise
