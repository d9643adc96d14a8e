"""The bulk onboarding state machine's four steps (statemachine/bulk_onboarding.asl.json), each
bound to its work: `validate`, `create_row`, `row_failed` and `report`, their events and answers
(the module docstring of `functions/bulk_import/bulk_import.py` describes them)."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import pydantic
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter

from sip_provisioning.callers import workflow
from sip_provisioning.callers.bulk import (
    RowInvalid,
    RowResult,
    Source,
    created_result,
    line_of,
    record_row,
    request_from_row,
    validate_source,
    without_byte_order_mark,
    write_report,
)
from sip_provisioning.callers.invocation import Invocation
from sip_provisioning.deadline import Deadline
from sip_provisioning.domain import errors
from sip_provisioning.observability import logger
from sip_provisioning.use_cases import create
from sip_provisioning.use_cases.bulk_import import preview_for
from sip_provisioning.use_cases.ports import ObjectStore, SourceUnreadable

MAX_CONCURRENCY_RANGE: Final = (1, 100)
# Waiting out SignalWire's Retry-After here (Step Functions' Retry cannot read it) costs at most
# this much of the invocation, and never the time the function needs to answer.
MAX_RETRY_AFTER_WAIT_SECONDS: Final = 10.0
ANSWER_MARGIN_SECONDS: Final = 2.0


class RowResultNotRecorded(Exception):
    """The row's outcome could not be written to S3; a Retry replays the create under its key."""


@dataclass(frozen=True)
class Run:
    """What a step runs with: the invocation (as the bulk caller) and the imports bucket's objects."""

    invocation: Invocation
    objects: ObjectStore


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Source
    execution_name: str = Field(min_length=1, max_length=80, pattern=r"^[^\s/:]+$")


# A Map item: the CSV row by its column names (a file's BOM may still be on the first one).
type Row = Annotated[dict[str, str], AfterValidator(without_byte_order_mark)]


class Validate(_Event):
    action: Literal["validate"]
    # Strict: the Map reads the input's own value, so "10" or true must not pass as a number.
    max_concurrency: int = Field(strict=True, ge=MAX_CONCURRENCY_RANGE[0], le=MAX_CONCURRENCY_RANGE[1])


class CreateRow(_Event):
    action: Literal["create_row"]
    index: int = Field(ge=0)
    row: Row
    # Sent by the definition before the BOM fix (the key built from `$.row.username`); a redrive of
    # an execution it started still sends it. The key is `<execution name>:<username>` either way.
    idempotency_key: str | None = None


class RowFailed(_Event):
    action: Literal["row_failed"]
    index: int = Field(ge=0)
    row: Row
    failure: dict[str, Any]


class Report(_Event):
    action: Literal["report"]


type Event = Annotated[
    Annotated[Validate, Tag("validate")]
    | Annotated[CreateRow, Tag("create_row")]
    | Annotated[RowFailed, Tag("row_failed")]
    | Annotated[Report, Tag("report")],
    Discriminator(
        lambda value: value.get("action") if isinstance(value, dict) else getattr(value, "action", None),
        custom_error_type="unknown_action",
        custom_error_message="must be one of validate, create_row, row_failed, report",
    ),
]
_EVENT: TypeAdapter[Event] = TypeAdapter(Event)


def _validate(event: Validate, run: Run) -> dict[str, Any]:
    try:
        validation = validate_source(run.objects, event.source, preview_for(run.invocation.ports))
    except SourceUnreadable as unreadable:
        logger.warning(
            "Bulk source cannot be read",
            extra={"bucket": unreadable.bucket, "key": unreadable.key, "reason": unreadable.reason},
        )
        summary = f"The source {unreadable}; nothing was created."
        return {"valid": False, "rows": 0, "max_concurrency": event.max_concurrency, "summary": summary}
    answer: dict[str, Any] = {
        "valid": validation.valid,
        "rows": validation.rows,
        "max_concurrency": event.max_concurrency,
    }
    if not validation.valid:
        report = event.source.location()
        answer |= {
            "bad_rows": len(validation.bad_rows),
            "report": report,
            "summary": (
                f"{len(validation.bad_rows)} line(s) of {event.source.key} break a rule; nothing was created. "
                f"Every bad line is listed in s3://{report['bucket']}/{report['key']}."
            ),
        }
        logger.warning("Bulk file rejected", extra={"rows": validation.rows, "bad_rows": len(validation.bad_rows)})
    return answer


def _create_row(event: CreateRow, run: Run) -> dict[str, Any]:
    line = line_of(event.index)
    logger.append_keys(line=line)
    try:
        request = request_from_row(event.row)
    except RowInvalid as invalid:  # validated before: only a file changed since can get here
        raise errors.RequestInvalid(invalid.errors) from None
    invocation = run.invocation.keyed(f"{event.execution_name}:{request.username}")
    logger.set_correlation_id(invocation.key)
    try:
        created = invocation.once(create.create_endpoint_once, request)
    except errors.UpstreamUnavailable as unavailable:
        _wait_out(unavailable.retry_after, invocation.deadline)
        raise
    result = created_result(line, created)  # never the password: workflow delivery is Secrets Manager
    try:
        record_row(run.objects, event.source, event.execution_name, result)
    except (ClientError, BotoCoreError):
        raise RowResultNotRecorded(f"The outcome of line {line} could not be written to S3.") from None
    return {"line": line, "status": result.status}


def _wait_out(retry_after: int, deadline: Deadline) -> None:
    """SignalWire said when to come back; the state machine's Retry comes on top of that."""
    wait = min(float(retry_after), MAX_RETRY_AFTER_WAIT_SECONDS, deadline.remaining() - ANSWER_MARGIN_SECONDS)
    if wait > 0:
        time.sleep(wait)


def _row_failed(event: RowFailed, run: Run) -> dict[str, Any]:
    """The Catch of a row: what it caught, as a problem type and detail (`workflow.caught_problem`)."""
    line = line_of(event.index)
    problem, detail = workflow.caught_problem(event.failure)
    result = RowResult(line=line, username=event.row.get("username") or None, status=problem.value, detail=detail)
    record_row(run.objects, event.source, event.execution_name, result)
    return {"line": line, "status": result.status}


def _report(event: Report, run: Run) -> dict[str, Any]:
    return write_report(run.objects, event.source, event.execution_name)


ACTIONS: Final[Mapping[str, Callable[[Any, Run], dict[str, Any]]]] = {
    "validate": _validate,
    "create_row": _create_row,
    "row_failed": _row_failed,
    "report": _report,
}


def run_step(event: object, run_for: Callable[[], Run]) -> dict[str, Any]:
    """The step `event` names, run; its answer to the state machine."""
    parsed = _parse(event)
    logger.append_keys(action=parsed.action)
    return ACTIONS[parsed.action](parsed, run_for())


def _parse(event: object) -> Validate | CreateRow | RowFailed | Report:
    if not isinstance(event, dict):
        raise errors.MalformedRequest("The invocation must be a JSON object.")
    try:
        return _EVENT.validate_python(event)
    except pydantic.ValidationError as invalid:
        raise errors.RequestInvalid(
            [
                errors.FieldError.from_pydantic(".".join(str(part) for part in broken["loc"][1:]), broken["msg"])
                for broken in invalid.errors()
            ]
        ) from None
