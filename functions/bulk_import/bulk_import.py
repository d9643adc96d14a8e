"""Lambda entry of the bulk onboarding state machine (statemachine/bulk_onboarding.asl.json).

Step Functions invokes it directly (`lambda:invoke`) with one of four actions:

- `validate` `{"source": {"bucket", "key"}, "max_concurrency", "execution_name"}`: the whole file
  checked as it streams in (`sip_provisioning.callers.bulk`); answers
  `{"valid", "rows", "max_concurrency"}`, and for a bad file writes `<key>.report.json` first and
  adds `"bad_rows"`, `"report"` and `"summary"` (the Fail state's cause). A source that cannot be
  read at all (no such object or bucket, access denied) is a bad file too: `"summary"` names it,
  and there is no report (there may be no bucket to write it to).
- `create_row` `{"source", "execution_name", "index", "row"}`: one row of the Distributed Map
  created under the bulk caller at most once per key `<execution name>:<username>`, its outcome
  written under `bulk-results/`; answers only `{"line", "status"}` so the Map's output stays tiny.
  A failure is raised by its problem type's name (`sip_provisioning.callers.workflow`) for the state
  machine's Retry and Catch, as the workflow entry raises it.
- `row_failed` `{"source", "execution_name", "index", "row", "failure": {"Error", "Cause"}}`: the
  Catch of a row that failed for good; records its problem type.
- `report` `{"source", "execution_name"}`: every row's outcome, in file order, as
  `<key>.report.json`; answers the execution's output `{"rows", "created", "failed", "report"}`.
"""

import json
import os
import time
from collections.abc import Callable, Mapping
from functools import cache
from typing import Annotated, Any, Final, Literal

import pydantic
from aws_lambda_powertools.utilities.typing import LambdaContext
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
from sip_provisioning.deadline import Deadline
from sip_provisioning.domain import errors
from sip_provisioning.domain.errors import ProblemType
from sip_provisioning.observability import logger, metrics, record_failure
from sip_provisioning.settings import RuntimeSettings
from sip_provisioning.use_cases import create
from sip_provisioning.use_cases.bulk_import import BULK_CALLER, preview_for
from sip_provisioning.use_cases.ports import SourceUnreadable
from sip_provisioning.wiring import Wiring, warm_up_during_init

MAX_CONCURRENCY_RANGE: Final = (1, 100)
# Waiting out SignalWire's Retry-After here (Step Functions' Retry cannot read it) costs at most
# this much of the invocation, and never the time the function needs to answer.
MAX_RETRY_AFTER_WAIT_SECONDS: Final = 10.0
ANSWER_MARGIN_SECONDS: Final = 2.0


class RowResultNotRecorded(Exception):
    """The row's outcome could not be written to S3; a Retry replays the create under its key."""


@cache
def wiring() -> Wiring:
    return Wiring(RuntimeSettings.from_environ(os.environ))


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


def _validate(event: Validate, context: LambdaContext) -> dict[str, Any]:
    bulk = wiring()
    try:
        validation = validate_source(bulk.objects, event.source, preview_for(bulk.ports))
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


def _create_row(event: CreateRow, context: LambdaContext) -> dict[str, Any]:
    bulk = wiring()
    line = line_of(event.index)
    logger.append_keys(line=line)
    try:
        request = request_from_row(event.row)
    except RowInvalid as invalid:  # validated before: only a file changed since can get here
        raise errors.RequestInvalid(invalid.errors) from None
    key = f"{event.execution_name}:{request.username}"
    logger.set_correlation_id(key)
    deadline = Deadline.before_timeout(context.get_remaining_time_in_millis())
    try:
        created = create.create_endpoint_once(
            bulk.ports,
            BULK_CALLER,
            request,
            deadline,
            key=key,
            busy_seconds=context.get_remaining_time_in_millis() / 1000,
        )
    except errors.UpstreamUnavailable as unavailable:
        _wait_out(unavailable.retry_after, deadline)
        raise
    result = created_result(line, created)  # never the password: workflow delivery is Secrets Manager
    try:
        record_row(bulk.objects, event.source, event.execution_name, result)
    except (ClientError, BotoCoreError):
        raise RowResultNotRecorded(f"The outcome of line {line} could not be written to S3.") from None
    return {"line": line, "status": result.status}


def _wait_out(retry_after: int, deadline: Deadline) -> None:
    """SignalWire said when to come back; the state machine's Retry comes on top of that."""
    wait = min(float(retry_after), MAX_RETRY_AFTER_WAIT_SECONDS, deadline.remaining() - ANSWER_MARGIN_SECONDS)
    if wait > 0:
        time.sleep(wait)


_PROBLEM_OF_ERROR_NAME: Final[Mapping[str, ProblemType]] = {
    failure.__name__: problem for problem, failure in workflow.FAILURE_FOR_PROBLEM.items()
}


def _row_failed(event: RowFailed, context: LambdaContext) -> dict[str, Any]:
    """The Catch of a row: its problem type from the error's name (ours, or Lambda's or Step
    Functions' own, which are `internal-error`), its detail when the cause is our payload."""
    line = line_of(event.index)
    error_name = str(event.failure.get("Error", ""))
    problem = _PROBLEM_OF_ERROR_NAME.get(error_name, ProblemType.INTERNAL_ERROR)
    detail = None
    if error_name in _PROBLEM_OF_ERROR_NAME:
        try:
            cause = json.loads(str(event.failure.get("Cause", "")))
            detail = str(cause["errorMessage"])[:2048] if isinstance(cause, dict) else None
        except (ValueError, KeyError):
            detail = None
    result = RowResult(line=line, username=event.row.get("username") or None, status=problem.value, detail=detail)
    record_row(wiring().objects, event.source, event.execution_name, result)
    return {"line": line, "status": result.status}


def _report(event: Report, context: LambdaContext) -> dict[str, Any]:
    return write_report(wiring().objects, event.source, event.execution_name)


ACTIONS: Final[Mapping[str, Callable[[Any, LambdaContext], dict[str, Any]]]] = {
    "validate": _validate,
    "create_row": _create_row,
    "row_failed": _row_failed,
    "report": _report,
}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: object, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(caller=BULK_CALLER.identity)
    try:
        parsed = _parse(event)
        logger.append_keys(action=parsed.action)
        return ACTIONS[parsed.action](parsed, context)
    except RowResultNotRecorded:
        raise
    except Exception as error:
        failure = workflow.failure_for(error)
        record_failure(failure.problem_type, str(failure), error=type(failure).__name__)
        raise failure from None


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


warm_up_during_init(wiring, os.environ)
