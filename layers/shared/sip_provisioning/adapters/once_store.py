"""DynamoDB: the idempotency records `use_cases/support/once.py` runs a verb under, one item per
(caller, key), kept for 24 hours. The record never holds a password, only the nonce a replay
derives it from."""

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from sip_provisioning.domain.errors import IdempotencyInProgress, IdempotencyKeyReused
from sip_provisioning.use_cases.ports import NONCE_BYTES, Attempt

WINDOW_SECONDS = 24 * 60 * 60
USERNAME_WAS_FREE = "username_was_free"


class DynamoDBOnceStore:
    """The idempotency records in DynamoDB, one item per (caller, key)."""

    def __init__(self, dynamodb_client: Callable[[], Any], table_name: str, clock: Callable[[], float] = time.time):
        self._dynamodb = dynamodb_client  # built on first use: unkeyed requests never need it
        self._table = table_name
        self._clock = clock

    def run[T: BaseModel](
        self,
        *,
        scope: str,
        request_fingerprint: str,
        busy_seconds: float,
        answer_model: type[T],
        work: Callable[[Attempt], T],
        restore: Callable[[T, Attempt], T],
    ) -> T:
        """Run `work` once for `scope`; `restore` puts back what the record does not keep (the
        password) into a replayed answer. `busy_seconds` is how long this run may take before
        another attempt may take over (the invocation's remaining time)."""
        record_id = "once#" + hashlib.sha256(scope.encode("utf-8", "surrogatepass")).hexdigest()
        attempt, replay = self._claim(record_id, request_fingerprint, busy_seconds)
        if replay is not None:
            return restore(answer_model.model_validate_json(replay), attempt)
        try:
            answer = work(attempt)
        except BaseException:
            self._finish(record_id, status="failed")
            raise
        self._finish(record_id, status="completed", answer=answer.model_dump_json(exclude={"password"}))
        return answer

    def _claim(self, record_id: str, request_fingerprint: str, busy_seconds: float) -> tuple[Attempt, str | None]:
        now = self._clock()
        nonce = secrets.token_bytes(NONCE_BYTES)
        try:
            self._dynamodb().put_item(
                TableName=self._table,
                Item={
                    "id": {"S": record_id},
                    "fingerprint": {"S": request_fingerprint},
                    "nonce": {"B": nonce},
                    "status": {"S": "in_progress"},
                    "busy_until": {"N": _milliseconds(now + busy_seconds)},
                    "expiration": {"N": str(int(now) + WINDOW_SECONDS)},
                },
                ConditionExpression="attribute_not_exists(id) OR expiration < :now",
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        else:
            return Attempt(attempt_id=_attempt_id(record_id), nonce=nonce, is_retry=False, record_id=record_id), None
        return self._claim_existing(record_id, request_fingerprint, busy_seconds, now)

    def _claim_existing(
        self, record_id: str, request_fingerprint: str, busy_seconds: float, now: float
    ) -> tuple[Attempt, str | None]:
        item = self._dynamodb().get_item(TableName=self._table, Key={"id": {"S": record_id}}, ConsistentRead=True)[
            "Item"
        ]
        if item["fingerprint"]["S"] != request_fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used before for another request; use a new key for a new request."
            )
        attempt = Attempt(
            attempt_id=_attempt_id(record_id),
            nonce=bytes(item["nonce"]["B"]),
            is_retry=True,
            username_was_free=item.get(USERNAME_WAS_FREE, {}).get("BOOL", False),
            record_id=record_id,
        )
        status = item["status"]["S"]
        if status == "completed":
            return attempt, item["answer"]["S"]
        if status == "in_progress" and int(item["busy_until"]["N"]) > now * 1000:
            raise IdempotencyInProgress(
                "A request with this Idempotency-Key is still running; retry shortly to get its answer."
            )
        # The earlier attempt failed or its function died: take over, unless another retry just did.
        try:
            self._dynamodb().update_item(
                TableName=self._table,
                Key={"id": {"S": record_id}},
                UpdateExpression="SET #status = :running, busy_until = :until",
                ConditionExpression="#status = :seen AND busy_until = :seen_until",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":running": {"S": "in_progress"},
                    ":until": {"N": _milliseconds(now + busy_seconds)},
                    ":seen": {"S": status},
                    ":seen_until": item["busy_until"],
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            raise IdempotencyInProgress(
                "A request with this Idempotency-Key is still running; retry shortly to get its answer."
            ) from None
        return attempt, None

    def remember_username_free(self, attempt: Attempt) -> None:
        """Keep, for every later retry under the key, that SignalWire was seen without the
        username before this key's create left: written before the create is sent, it is what
        lets a retry claim what that create may have made (and nothing found without it)."""
        if attempt.record_id is None:
            return  # unkeyed: nothing retries it; its reservation keeps the fact
        self._dynamodb().update_item(
            TableName=self._table,
            Key={"id": {"S": attempt.record_id}},
            UpdateExpression="SET #free = :true",
            ExpressionAttributeNames={"#free": USERNAME_WAS_FREE},
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )

    def _finish(self, record_id: str, *, status: str, answer: str | None = None) -> None:
        names = {"#status": "status"}
        values: dict[str, Any] = {":status": {"S": status}, ":done": {"N": "0"}}
        update = "SET #status = :status, busy_until = :done"
        if answer is not None:
            update += ", answer = :answer"
            values[":answer"] = {"S": answer}
        self._dynamodb().update_item(
            TableName=self._table,
            Key={"id": {"S": record_id}},
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )


def _milliseconds(epoch_seconds: float) -> str:
    """`busy_until` in epoch milliseconds: a dead invocation's key frees as soon as its time is up."""
    return str(int(epoch_seconds * 1000))


def _attempt_id(record_id: str) -> str:
    """Stable for every retry under one key, and no copy of the key or the caller."""
    digest = hashlib.sha256(("attempt\0" + record_id).encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")
