"""Which keyed request already sent a create for which username.

A create whose answer was lost may commit after the lookup that followed it, and the keyed retry
then meets its own endpoint as a "taken" username. This record, written just before each keyed
create, tells that case apart from a username another request took: only a retry of the same
(caller, Idempotency-Key) that already sent a create for the username may claim the endpoint.
"""

import hashlib
import time
from collections.abc import Callable
from typing import Any

ATTEMPT_TTL_SECONDS = 24 * 60 * 60  # as long as the idempotency records they accompany


class CreateAttempts:
    """Records in the idempotency table, beside Powertools' own, under keys of their own."""

    def __init__(self, dynamodb_client: Callable[[], Any], table_name: str) -> None:
        self._dynamodb = dynamodb_client  # built on first use: unkeyed requests never need it
        self._table_name = table_name

    def record(self, retry_scope: str, username: str) -> bool:
        """Record that `retry_scope` is about to create `username`; True when an earlier
        invocation of the same scope had already sent a create for it."""
        previous = (
            self._dynamodb()
            .put_item(
                TableName=self._table_name,
                Item={
                    "id": {"S": "create-attempt#" + hashlib.sha256(retry_scope.encode()).hexdigest()},
                    "username": {"S": username},
                    "expiration": {"N": str(int(time.time()) + ATTEMPT_TTL_SECONDS)},
                },
                ReturnValues="ALL_OLD",
            )
            .get("Attributes")
        )
        return previous is not None and previous.get("username", {}).get("S") == username
