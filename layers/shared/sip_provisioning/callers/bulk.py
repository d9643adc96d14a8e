"""Bulk onboarding (CONTRACT.md section 7): a CSV file in S3, validated whole, then created row by row.

A row is a `POST /endpoints` body in columns: `username` (required), `profile`, `owner`,
`caller_id`, `send_as`, `handler_type` and `handler_<key>` for the keys of the handler table.
An empty cell is an absent field; any other column makes the whole file bad. There is no
`password` or `password_delivery` column on purpose: the bulk caller is `workflow`, whose
generated passwords always go to Secrets Manager, so no password is ever in the file, in S3 or
in an execution's history.

Validation streams the object: it decodes the body chunk by chunk and hands `csv.reader` one
line at a time, keeping only the usernames seen (for uniqueness) and the bad rows (for the
report). Every row is checked as `preview_endpoint` (a dry run) checks it for the bulk caller,
under one snapshot of the configuration. A good file has one physical line per row (no blank
lines, no row spanning lines), so the Distributed Map's item index `i` is line `i + 2`. What
Excel's "CSV UTF-8" writes is a good file: its byte order mark is dropped, and its CRLF line ends
are line ends like LF. Its `sep=,` hint above the header is refused by name: the Map's reader
would take that line for the header.

While the Map runs, each row's outcome is a small JSON object under `ROW_RESULTS_PREFIX` (see
`row_result_key`), so the Map's own output stays tiny whatever the number of rows; the report
step reads them back in the order of the file.
"""

import codecs
import csv
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from sip_provisioning.callers.problems import problem_for
from sip_provisioning.domain.answers import EndpointCreated
from sip_provisioning.domain.errors import FieldError, Forbidden, ProblemType, RequestInvalid
from sip_provisioning.domain.request import EndpointRequest
from sip_provisioning.domain.signalwire import HANDLERS
from sip_provisioning.use_cases.ports import ObjectStore

SCALAR_COLUMNS: Final = ("username", "profile", "owner", "caller_id", "send_as")
HANDLER_TYPE_COLUMN: Final = "handler_type"
HANDLER_PREFIX: Final = "handler_"
HANDLER_KEYS: Final = frozenset(key.short for keys in HANDLERS.values() for key in keys.keys)
KNOWN_COLUMNS: Final = frozenset(
    {*SCALAR_COLUMNS, HANDLER_TYPE_COLUMN, *(f"{HANDLER_PREFIX}{key}" for key in HANDLER_KEYS)}
)
# A row is a request body: it may be no longer than POST /endpoints takes (16 KiB).
MAX_LINE_CHARACTERS: Final = 16 * 1024
BOM: Final = "\ufeff"
EXCEL_SEPARATOR_HINT: Final = "sep="
HEADER_LINE: Final = 1
FIRST_ROW_LINE: Final = 2
ROW_RESULTS_PREFIX: Final = "bulk-results/"
REPORT_SUFFIX: Final = ".report.json"
CREATED: Final = "created"
# Reading the row results back: S3 GETs are network-bound, a few at a time.
REPORT_READERS: Final = 16


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024 - len(REPORT_SUFFIX))

    @property
    def report_key(self) -> str:
        return self.key + REPORT_SUFFIX

    def location(self, key: str | None = None) -> dict[str, str]:
        return {"bucket": self.bucket, "key": key if key is not None else self.report_key}


class BadRow(BaseModel):
    """One line of the file that cannot be created, with why, as a 422 names it."""

    model_config = ConfigDict(frozen=True)

    line: int
    username: str | None = None
    type: str = ProblemType.VALIDATION_ERROR.value
    errors: list[FieldError]


@dataclass(frozen=True)
class Validation:
    rows: int
    bad_rows: list[BadRow]

    @property
    def valid(self) -> bool:
        return not self.bad_rows


class RowResult(BaseModel):
    """A row's outcome as the report lists it: never a password."""

    model_config = ConfigDict(frozen=True)

    line: int
    username: str | None = None
    status: str
    sip_uri: str | None = None
    password_secret_arn: str | None = None
    detail: str | None = None


# -- a row as a request -------------------------------------------------------------------------


class RowInvalid(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("the row breaks one or more rules")
        self.errors = errors


def check_header(header: Sequence[str]) -> list[FieldError]:
    """The header's problems: Excel's `sep=` hint in its place, unknown or repeated columns, no `username`."""
    if header and header[0].startswith(EXCEL_SEPARATOR_HINT) and not any(header[1:]):
        hint = ",".join(header)[:16]  # `sep=,` reads as the cells "sep=" and ""
        message = f"is Excel's '{hint}' hint, not the header: remove it, so that line 1 is the header"
        return [FieldError(field="(file)", message=message)]
    problems = []
    for column in header:
        if column not in KNOWN_COLUMNS:
            problems.append(FieldError(field=column[:64], message=f"unknown column; known: {known_columns_text()}"))
    for column in sorted({column for column in header if header.count(column) > 1}):
        problems.append(FieldError(field=column[:64], message="column given more than once"))
    if "username" not in header:
        problems.append(FieldError(field="username", message="required column is missing"))
    return problems


def known_columns_text() -> str:
    handler_columns = ", ".join(sorted(f"{HANDLER_PREFIX}{key}" for key in HANDLER_KEYS))
    return f"{', '.join(SCALAR_COLUMNS)}, {HANDLER_TYPE_COLUMN}, {handler_columns}"


def request_document(row: Mapping[str, str]) -> dict[str, Any]:
    """The `POST /endpoints` body a row stands for: empty cells left out, handler cells nested."""
    document: dict[str, Any] = {column: row[column] for column in SCALAR_COLUMNS if row.get(column)}
    handler = {
        column.removeprefix(HANDLER_PREFIX): value
        for column, value in row.items()
        if column.startswith(HANDLER_PREFIX) and column != HANDLER_TYPE_COLUMN and value
    }
    if row.get(HANDLER_TYPE_COLUMN):
        document["handler"] = {"type": row[HANDLER_TYPE_COLUMN], **handler}
    elif handler:
        raise RowInvalid(
            [
                FieldError(field=HANDLER_TYPE_COLUMN, message=f"required when {HANDLER_PREFIX}{key} has a value")
                for key in sorted(handler)
            ]
        )
    return document


def without_byte_order_mark(row: Mapping[str, str]) -> dict[str, str]:
    """A row as the Map's reader hands it, its first column's name freed of the file's BOM if it kept it."""
    return {column.removeprefix(BOM): value for column, value in row.items()}


def request_from_row(row: Mapping[str, str]) -> EndpointRequest:
    """The request a row stands for; `RowInvalid` naming each broken column otherwise."""
    unknown = sorted(column for column in row if column not in KNOWN_COLUMNS)
    if unknown:
        raise RowInvalid([FieldError(field=column[:64], message="unknown column") for column in unknown])
    try:
        return EndpointRequest.model_validate(request_document(row))
    except pydantic.ValidationError as invalid:
        raise RowInvalid([_field_error(error["loc"], error["msg"]) for error in invalid.errors()]) from None


def _field_error(location: tuple[int | str, ...], message: str) -> FieldError:
    """Named by column: `handler.url` is `handler_url`, the handler's type `handler_type`."""
    parts = [str(part) for part in location]
    if parts[:1] == ["handler"]:
        parts = parts[2:] if len(parts) > 2 else ["type"]  # drop the union's tag
        return FieldError.from_pydantic(HANDLER_PREFIX + ".".join(parts), message)
    return FieldError.from_pydantic(".".join(parts) or "(row)", message)


def _column_named(field: str) -> str:
    """A field of a problem named as its column (`handler.url` -> `handler_url`)."""
    return HANDLER_PREFIX + field.removeprefix("handler.") if field.startswith("handler.") else field


# -- validation, streaming ----------------------------------------------------------------------


def text_lines(chunks: Iterable[bytes], max_characters: int = MAX_LINE_CHARACTERS) -> Iterator[str]:
    """The UTF-8 text of `chunks` as lines, each with its `\\n` (only `\\n` ends a line, as for CSV),
    without the byte order mark the text may start with.

    Raises `NotUtf8` at the first byte that is not UTF-8, `LineTooLong` when a line outgrows
    `max_characters`: memory stays bounded by one chunk and one line.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    pending = ""
    line_number = 1
    for chunk in chunks:
        try:
            pending += decoder.decode(chunk)
        except UnicodeDecodeError as error:
            # Counted in the bytes the decoder saw (the chunk after a BOM, or after the at most 3
            # bytes of an unfinished character it held back, never a newline).
            raise NotUtf8(line_number + error.object[: max(error.start, 0)].count(b"\n")) from None
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
            line_number += 1
        if len(pending) > max_characters:
            raise LineTooLong(line_number)
    try:
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise NotUtf8(line_number) from None
    if len(pending) > max_characters:
        raise LineTooLong(line_number)
    if pending:
        yield pending


class NotUtf8(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(f"line {line} is not UTF-8")
        self.line = line


class LineTooLong(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(f"line {line} is longer than {MAX_LINE_CHARACTERS} characters")
        self.line = line


class _CountedLines:
    """Lines handed to `csv.reader`, counted, so each record knows the physical lines it spans."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.count = 0

    def __iter__(self) -> "_CountedLines":
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        return line


def validate_lines(lines: Iterator[str], preview: Callable[[EndpointRequest], None]) -> Validation:
    """Every row of the CSV text `lines` checked; the rows counted and every bad one named."""
    counted = _CountedLines(lines)
    reader = csv.reader(counted, strict=True)
    bad_rows: list[BadRow] = []
    first_line_by_username: dict[str, int] = {}
    rows = 0
    try:
        header = next(reader, None)
        if header is None:
            return Validation(0, [BadRow(line=HEADER_LINE, errors=[_file_error("is empty; line 1 is the header")])])
        header_errors = check_header(header)
        if header_errors:
            bad_rows.append(BadRow(line=HEADER_LINE, errors=header_errors))
            return Validation(0, bad_rows)
        previous_end = counted.count
        for cells in reader:
            line, previous_end = previous_end + 1, counted.count
            rows += 1
            bad = _check_row(line, counted.count - line + 1, header, cells, preview, first_line_by_username)
            if bad is not None:
                bad_rows.append(bad)
    except csv.Error as error:
        bad_rows.append(BadRow(line=counted.count, errors=[_file_error(f"is not CSV from here on: {error}")]))
    except NotUtf8 as not_utf8:
        bad_rows.append(BadRow(line=not_utf8.line, errors=[_file_error("is not UTF-8 from here on")]))
    except LineTooLong as too_long:
        bad_rows.append(BadRow(line=too_long.line, errors=[_file_error(str(too_long).split(" ", 2)[2])]))
    if rows == 0 and not bad_rows:
        bad_rows.append(BadRow(line=HEADER_LINE, errors=[_file_error("has no rows below the header")]))
    return Validation(rows, bad_rows)


def _file_error(message: str) -> FieldError:
    return FieldError(field="(file)", message=message)


def _check_row(
    line: int,
    spans: int,
    header: Sequence[str],
    cells: Sequence[str],
    preview: Callable[[EndpointRequest], None],
    first_line_by_username: dict[str, int],
) -> BadRow | None:
    if not cells:
        return BadRow(line=line, errors=[FieldError(field="(row)", message="blank line; remove it")])
    username = cells[header.index("username")] if len(cells) > header.index("username") else None
    username = username or None
    if len(cells) != len(header):
        message = f"has {len(cells)} cells for {len(header)} columns"
        return BadRow(line=line, username=username, errors=[FieldError(field="(row)", message=message)])
    if spans > 1:
        message = f"spans {spans} lines (a quoted cell holds a line break); a row is one line"
        return BadRow(line=line, username=username, errors=[FieldError(field="(row)", message=message)])
    try:
        request = request_from_row(dict(zip(header, cells, strict=True)))
    except RowInvalid as invalid:
        return BadRow(line=line, username=username, errors=invalid.errors)
    if request.username in first_line_by_username:
        first = first_line_by_username[request.username]
        message = f"already on line {first}: usernames must be unique within the file"
        return BadRow(line=line, username=username, errors=[FieldError(field="username", message=message)])
    first_line_by_username[request.username] = line
    try:
        preview(request)
    except RequestInvalid as invalid:
        errors = [FieldError(field=_column_named(error.field), message=error.message) for error in invalid.errors]
        return BadRow(line=line, username=username, errors=errors)
    except Forbidden as forbidden:
        errors = [FieldError(field=forbidden.rule, message=str(forbidden))]
        return BadRow(line=line, username=username, type=ProblemType.FORBIDDEN.value, errors=errors)
    return None


def validate_source(objects: ObjectStore, source: Source, preview: Callable[[EndpointRequest], None]) -> Validation:
    """The whole object validated as it streams in; a bad file's report written beside it."""
    validation = validate_lines(text_lines(objects.chunks(source.bucket, source.key)), preview)
    if not validation.valid:
        objects.put_json(source.bucket, source.report_key, validation_report(source, validation))
    return validation


def validation_report(source: Source, validation: Validation) -> dict[str, Any]:
    return {
        "source": source.location(source.key),
        "status": "invalid",
        "detail": "Nothing was created: fix every line listed and start the import again.",
        "rows": validation.rows,
        "bad_rows": [bad.model_dump(mode="json", exclude_none=True) for bad in validation.bad_rows],
    }


# -- creating, row by row -----------------------------------------------------------------------


def line_of(item_index: int) -> int:
    """The file line of the Distributed Map's item `item_index` (a valid file: one line a row)."""
    return item_index + FIRST_ROW_LINE


def row_result_key(execution_name: str, line: int) -> str:
    return f"{ROW_RESULTS_PREFIX}{execution_name}/{line:09d}.json"


def created_result(line: int, created: EndpointCreated) -> RowResult:
    return RowResult(
        line=line,
        username=created.endpoint.username,
        status=CREATED,
        sip_uri=created.sip_uri,
        password_secret_arn=created.password_secret_arn,
    )


def failed_result(line: int, username: str | None, error: Exception) -> RowResult:
    problem, _ = problem_for(error, request_id=None)
    detail = problem.detail
    if problem.errors:
        detail = f"{detail} " + json.dumps([e.model_dump() for e in problem.errors], separators=(",", ":"))
    return RowResult(line=line, username=username, status=problem.type, detail=detail)


def record_row(objects: ObjectStore, source: Source, execution_name: str, result: RowResult) -> None:
    objects.put_json(
        source.bucket, row_result_key(execution_name, result.line), result.model_dump(mode="json", exclude_none=True)
    )


# -- the report ---------------------------------------------------------------------------------


def source_rows(objects: ObjectStore, source: Source) -> Iterator[tuple[int, str]]:
    """Each row of a validated source: its line and username."""
    reader = csv.reader(text_lines(objects.chunks(source.bucket, source.key)), strict=True)
    header = next(reader)
    column = header.index("username")
    for index, cells in enumerate(reader):
        yield line_of(index), cells[column]


def write_report(objects: ObjectStore, source: Source, execution_name: str) -> dict[str, Any]:
    """`<key>.report.json`: every row of the file with its outcome; the execution's output."""
    rows = list(source_rows(objects, source))

    def outcome(row: tuple[int, str]) -> dict[str, Any]:
        line, username = row
        found = objects.get_json(source.bucket, row_result_key(execution_name, line))
        if found is None:  # the row's iteration failed beyond its Catch: nothing recorded
            missing = RowResult(line=line, username=username, status=ProblemType.INTERNAL_ERROR.value)
            return missing.model_dump(mode="json", exclude_none=True)
        return found

    with ThreadPoolExecutor(max_workers=REPORT_READERS) as pool:
        results = list(pool.map(outcome, rows))
    created = sum(1 for result in results if result.get("status") == CREATED)
    summary = {"rows": len(results), "created": created, "failed": len(results) - created}
    objects.put_json(
        source.bucket,
        source.report_key,
        {
            "source": source.location(source.key),
            "status": "done",
            "execution": execution_name,
            **summary,
            "results": results,
        },
    )
    return {**summary, "report": source.location()}
