"""What the use cases need from the outside world, as small protocols, and who is asking."""

import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, SecretStr

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.errors import FieldError
from sip_provisioning.domain.profile import ServiceConfig, SignalWireSettings
from sip_provisioning.domain.records import (
    CreatedVia,
    EndpointStatus,
    InventoryRecord,
    ListPosition,
    RecordPage,
    SecretLabels,
)
from sip_provisioning.domain.scim_users import ScimUserRecord
from sip_provisioning.domain.signalwire import CreateSipEndpointPayload, SipEndpoint, SipEndpointPage


class SignalWireFault(Exception):
    """SignalWire did not give a usable answer. Messages never hold credentials or bodies."""


class NotSent(SignalWireFault):
    """The connection failed before the request left: SignalWire cannot have acted on it."""


class AnswerLost(SignalWireFault):
    """The request was sent but no answer came back (read timeout, connection dropped)."""


class RateLimited(SignalWireFault):
    """SignalWire said to come back later (429, or 503 with Retry-After)."""

    def __init__(self, status: int, retry_after: int) -> None:
        super().__init__(f"SignalWire answered {status}, retry after {retry_after} s")
        self.status = status
        self.retry_after = retry_after


class ServerFailed(SignalWireFault):
    """SignalWire answered 5xx: whether it acted on the request is unknown."""

    def __init__(self, status: int) -> None:
        super().__init__(f"SignalWire answered {status}")
        self.status = status


class UnreadableAnswer(SignalWireFault):
    """SignalWire answered something that is not the documented JSON."""


class CredentialsRejected(SignalWireFault):
    """SignalWire refused the project id and API token (401/403)."""


class EndpointMissing(SignalWireFault):
    """SignalWire answered 404: no endpoint with that id."""


class PayloadRejected(SignalWireFault):
    """SignalWire answered 422: the payload broke one of its rules (a taken username among them)."""

    def __init__(self, details: list[str]) -> None:
        super().__init__("SignalWire rejected the payload")
        self.details = details


NONCE_BYTES = 32


@dataclass(frozen=True)
class Attempt:
    """One run of an operation: who it is for, and what earlier runs under the same key did.

    `attempt_id` is the same for every retry under one key (random for an unkeyed request), so
    a record written by an earlier retry is recognised as this request's own. `username_was_free`:
    an earlier run under the key saw SignalWire without the username before its create left, so
    an endpoint found later may be that create's (see `OnceStore.remember_username_free`).
    """

    attempt_id: str
    nonce: bytes
    is_retry: bool
    username_was_free: bool = False
    record_id: str | None = None  # the key's record; None for an unkeyed request

    @classmethod
    def unkeyed(cls) -> "Attempt":
        return cls(attempt_id=secrets.token_hex(16), nonce=secrets.token_bytes(NONCE_BYTES), is_retry=False)


class OnceStore(Protocol):
    """The idempotency records: a verb run at most once per (caller, key) scope."""

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
        ...

    def remember_username_free(self, attempt: Attempt) -> None: ...


class ConfigSource(Protocol):
    def load(self) -> ServiceConfig: ...


class SignalWire(Protocol):
    def create_endpoint(self, payload: CreateSipEndpointPayload, deadline: Deadline) -> SipEndpoint: ...
    def retrieve_endpoint(self, endpoint_id: str, deadline: Deadline) -> SipEndpoint: ...
    def update_endpoint(self, endpoint_id: str, changes: dict[str, Any], deadline: Deadline) -> SipEndpoint: ...
    def delete_endpoint(self, endpoint_id: str, deadline: Deadline) -> None: ...
    def find_endpoints_by_username(self, username: str, deadline: Deadline) -> list[SipEndpoint]: ...
    def list_page(self, page_link: str | None, page_size: int, deadline: Deadline) -> SipEndpointPage: ...


class Inventory(Protocol):
    def current(self, username: str) -> InventoryRecord | None: ...
    def current_of(self, usernames: list[str]) -> dict[str, InventoryRecord]: ...
    def put_new(self, record: InventoryRecord, *, replacing: InventoryRecord | None) -> None: ...
    def replace(self, seen: InventoryRecord, updated: InventoryRecord) -> None: ...
    def release(self, pending: InventoryRecord) -> None: ...
    def list_records(
        self,
        *,
        profile: str | None,
        owner: str | None,
        statuses: frozenset[EndpointStatus],
        profiles_seen: frozenset[str] | None,
        limit: int,
        after: ListPosition | None,
    ) -> RecordPage: ...


class SecretStore(Protocol):
    def unfit(self, labels: SecretLabels) -> list[FieldError]: ...
    def put_password(self, labels: SecretLabels, password: SecretStr, sip_uri: str) -> str: ...
    def label(self, labels: SecretLabels) -> None: ...
    def schedule_deletion(self, username: str) -> None: ...


class ScimUsers(Protocol):
    def by_id(self, scim_id: str) -> ScimUserRecord | None: ...
    def by_user_name(self, user_name: str) -> ScimUserRecord | None: ...
    def by_external_id(self, external_id: str) -> list[ScimUserRecord]: ...
    def count(self) -> int: ...
    def page(self, *, offset: int, limit: int) -> list[ScimUserRecord]: ...
    def add(self, user: ScimUserRecord) -> None: ...
    def replace(self, seen: ScimUserRecord, updated: ScimUserRecord) -> None: ...
    def remove(self, seen: ScimUserRecord) -> None: ...


class JsonObjects(Protocol):
    """A bucket's JSON documents, by key."""

    def put_json(self, bucket: str, key: str, document: object) -> None: ...
    def get_json(self, bucket: str, key: str) -> Any: ...


class SourceUnreadable(Exception):
    """The source object cannot be read at all: it, or its bucket, does not exist, or access is denied."""

    def __init__(self, bucket: str, key: str, reason: str) -> None:
        super().__init__(f"s3://{bucket}/{key} {reason}")
        self.bucket, self.key, self.reason = bucket, key, reason


class ObjectStore(Protocol):
    """The imports bucket, object by object."""

    def chunks(self, bucket: str, key: str) -> Iterator[bytes]:
        """The object's bytes; `SourceUnreadable` when there is no object to read."""
        ...

    def put_json(self, bucket: str, key: str, document: Mapping[str, Any]) -> None: ...
    def get_json(self, bucket: str, key: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class ReportBucket:
    """Where the fleet's state machines keep their manifests and write their reports (the imports bucket)."""

    objects: JsonObjects
    name: str


@dataclass(frozen=True)
class Ports:
    config: ConfigSource
    signalwire: Callable[[SignalWireSettings], SignalWire]
    inventory: Inventory
    once: OnceStore
    secrets: SecretStore
    scim_users: ScimUsers


@dataclass(frozen=True)
class Caller:
    """Who asks (an IAM ARN, `slack:<team>:<user>`, `workflow`, `scim`) and through which door."""

    identity: str
    via: CreatedVia


def now_iso() -> str:
    """Timestamps of records: UTC, microseconds, so they sort and tell two writes apart."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
