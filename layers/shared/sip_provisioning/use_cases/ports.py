"""What the use cases need from the outside world, as small protocols, and who is asking."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import SecretStr

from sip_provisioning.configuration import ServiceConfig, SignalWireSettings
from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.records import (
    CreatedVia,
    EndpointStatus,
    InventoryRecord,
    ListPosition,
    RecordPage,
    SecretLabels,
)
from sip_provisioning.domain.scim_users import ScimUserRecord
from sip_provisioning.errors import FieldError
from sip_provisioning.signalwire.models import CreateSipEndpointPayload, SipEndpoint, SipEndpointPage
from sip_provisioning.use_cases.once import OnceStore


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
