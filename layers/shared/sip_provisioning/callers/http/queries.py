"""What a route's request must be before its use case runs: no query parameter it does not take,
its query and `Idempotency-Key` valid, its body a JSON object its model accepts. Every breach of
the query, the header and the body is named in one 422; the inventory's filters mean nothing
beside `managed=false`."""

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sip_provisioning.callers.gateway import GatewayRequest
from sip_provisioning.callers.http.body import json_object_body
from sip_provisioning.domain.errors import FieldError, RequestInvalid

IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
UNMANAGED_QUERY = (
    "false: the endpoints SignalWire holds and the inventory does not (admins only; with limit and cursor, "
    "never with profile, owner or status). true or absent: the inventory."
)
ListedStatus = Literal["active", "disabled", "deleted"]


class NoQuery(BaseModel):
    """A route that takes no query parameter."""

    model_config = ConfigDict(frozen=True)


class DryRunQuery(BaseModel):
    model_config = ConfigDict(frozen=True)

    dry_run: bool = Field(False, description="Show what would change; change nothing.")


class EndpointsQuery(BaseModel):
    """`GET /endpoints`: the inventory's filters and page, or with `managed=false` SignalWire's."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    managed: bool | None = Field(None, description=UNMANAGED_QUERY)
    profile: str | None = Field(None, min_length=1, max_length=64)
    owner: str | None = Field(None, min_length=1, max_length=256)
    status: ListedStatus | None = Field(None, description="Default: every status but deleted.")
    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = Field(
        None,
        min_length=1,
        max_length=2048,
        description="A page's `next_cursor`, for this caller and the same filters (any other is a 422).",
    )


class IdempotencyKeyHeader(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str | None = Field(
        None,
        alias="idempotency-key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="1 to 255 visible ASCII characters. A repeat within 24 h gets the first answer again.",
    )


@dataclass(frozen=True)
class Accepted:
    """What a request brings its route, each part valid."""

    query: Any
    body: Any
    key: str | None


def accepted(request: GatewayRequest, query: type[BaseModel], body: type[BaseModel] | None, keyed: bool) -> Accepted:
    """The request's query, body and key, or `RequestInvalid` naming every breach (the body's
    media type, size and JSON are checked first, each its own error)."""
    _refuse_unknown_query_parameters(request, query)
    errors: list[FieldError] = []
    query_values = _validated(query, request.query, "query", errors)
    header = _validated(IdempotencyKeyHeader, request.headers, "header", errors) if keyed else None
    body_value = _validated(body, json_object_body(request), "body", errors) if body is not None else None
    if errors:
        raise RequestInvalid(errors)
    return Accepted(query_values, body_value, header.key if isinstance(header, IdempotencyKeyHeader) else None)


def _validated(model: type[BaseModel], values: Any, source: str, errors: list[FieldError]) -> BaseModel | None:
    try:
        return model.model_validate(values)
    except ValidationError as invalid:
        errors.extend(
            FieldError.from_pydantic(_field_name(source, tuple(detail["loc"])), detail["msg"])
            for detail in invalid.errors(include_url=False, include_context=False, include_input=False)
        )
        return None


def _field_name(source: str, location: tuple[Any, ...]) -> str:
    # Drop the discriminator tag pydantic inserts for the handler union (`handler.laml_application.x`).
    parts = [str(part) for part in location]
    if source == "body" and len(parts) > 1 and parts[0] == "handler":
        parts = [parts[0], *parts[2:]]
    return ".".join(parts) or source


def _refuse_unknown_query_parameters(request: GatewayRequest, query: type[BaseModel]) -> None:
    """Any query parameter a route does not take is a 422 naming it: a misspelled `dryRun` must
    never create."""
    unknown = sorted(set(request.query) - set(query.model_fields))
    if unknown:
        raise RequestInvalid(
            [FieldError(field=name[:64], message="unknown query parameter") for name in unknown],
            detail="The request names query parameters this route does not take.",
        )


def refuse_inventory_filters(**filters: str | None) -> None:
    """The inventory's filters mean nothing for endpoints it does not hold: given, they are a 422."""
    given = [name for name, value in filters.items() if value is not None]
    if given:
        raise RequestInvalid(
            [FieldError(field=name, message="not combinable with managed=false") for name in given],
            detail="The inventory's filters do not apply to endpoints it does not hold.",
        )
