"""S3: the imports bucket, where bulk files arrive and their reports and row results are written."""

import json
from collections.abc import Callable, Iterator
from typing import Any, Final

from botocore.exceptions import ClientError

from sip_provisioning.use_cases.ports import SourceUnreadable

CHUNK_BYTES: Final = 64 * 1024

# S3's answers for an object that cannot be read at all, in the caller's words.
UNREADABLE_REASONS: Final = {
    "NoSuchKey": "does not exist",
    "NoSuchBucket": "does not exist: there is no such bucket",
    "AccessDenied": "cannot be read: access is denied",
    "InvalidObjectState": "cannot be read: it is archived",
}


class S3Objects:
    def __init__(self, client: Callable[[], Any]) -> None:
        self._client = client  # built on first use

    def chunks(self, bucket: str, key: str) -> Iterator[bytes]:
        """The object's bytes as they arrive, `CHUNK_BYTES` at a time: never the whole object at once."""
        try:
            body = self._client().get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as error:
            reason = UNREADABLE_REASONS.get(error.response["Error"]["Code"])
            if reason is None:
                raise
            raise SourceUnreadable(bucket, key, reason) from None
        try:
            yield from body.iter_chunks(chunk_size=CHUNK_BYTES)
        finally:
            body.close()

    def put_json(self, bucket: str, key: str, document: object) -> None:
        self._client().put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            ContentType="application/json",
        )

    def get_json(self, bucket: str, key: str) -> Any:
        """The JSON document stored at `key`; None when there is none."""
        try:
            body = self._client().get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as error:
            if error.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                return None
            raise
        with body:
            return json.loads(body.read())
