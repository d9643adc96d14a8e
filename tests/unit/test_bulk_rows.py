"""A bulk file's rows as requests, and the streaming validation of a whole file (CONTRACT.md section 7)."""

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from sip_provisioning.adapters.objects import S3Objects
from sip_provisioning.callers.bulk import (
    KNOWN_COLUMNS,
    LineTooLong,
    NotUtf8,
    RowInvalid,
    check_header,
    line_of,
    request_from_row,
    text_lines,
    validate_lines,
    without_byte_order_mark,
)
from sip_provisioning.domain.errors import FieldError, Forbidden, RequestInvalid
from sip_provisioning.domain.request import EndpointRequest, LamlWebhooksHandler
from sip_provisioning.use_cases.ports import SourceUnreadable


def accept_all(request: EndpointRequest) -> None:
    return None


def lines(text: str) -> Iterator[str]:
    return text_lines([text.encode("utf-8")])


# -- a row as a request ------------------------------------------------------------------------


def test_empty_cells_are_absent_fields() -> None:
    # Given / When a row with only a username filled in
    request = request_from_row({"username": "ada.lovelace", "profile": "", "owner": "", "caller_id": ""})
    # Then the request has the username and nothing else set
    assert request.model_fields_set == {"username"}
    assert request.profile == "default"


def test_handler_columns_become_the_requests_handler() -> None:
    # Given / When a row with a handler type and URL
    request = request_from_row(
        {"username": "ada", "handler_type": "laml_webhooks", "handler_url": "https://voice.example.com/a"}
    )
    # Then the handler is that type with that key only
    assert isinstance(request.handler, LamlWebhooksHandler)
    assert request.handler.signalwire_fields() == {"call_request_url": "https://voice.example.com/a"}


def test_a_handler_key_without_a_handler_type_is_named_by_its_type_column() -> None:
    # Given / When a row gives a handler URL but no handler type
    with pytest.raises(RowInvalid) as invalid:
        request_from_row({"username": "ada", "handler_type": "", "handler_url": "https://voice.example.com/a"})
    # Then the error names the handler_type column
    assert [error.field for error in invalid.value.errors] == ["handler_type"]


def test_a_broken_cell_is_named_by_its_column() -> None:
    # Given / When a row with a bad handler URL and a username with a space
    with pytest.raises(RowInvalid) as invalid:
        request_from_row({"username": "ada lovelace", "handler_type": "laml_webhooks", "handler_url": "not-a-url"})
    # Then each error names the CSV column, as a 422 names the field
    assert sorted(error.field for error in invalid.value.errors) == ["handler_url", "username"]


@pytest.mark.parametrize("port", ["99999", "0", "-1", "0x50", "", "+80", "00080"])
def test_a_handler_url_giving_an_impossible_port_is_named_by_its_column(port: str) -> None:
    # Given / When a row whose handler URL gives a port that is not decimal 1 to 65535
    with pytest.raises(RowInvalid) as invalid:
        request_from_row(
            {"username": "ada", "handler_type": "laml_webhooks", "handler_url": f"https://voice.example.com:{port}/a"}
        )
    # Then it is refused by the rule POST /endpoints holds URLs to, naming the handler_url column
    assert [error.field for error in invalid.value.errors] == ["handler_url"]
    assert "from 1 to 65535" in invalid.value.errors[0].message


def test_a_password_column_is_not_a_known_column() -> None:
    # Given / When the known columns are listed
    # Then no column could carry a password or its delivery into S3
    assert "password" not in KNOWN_COLUMNS
    assert "password_delivery" not in KNOWN_COLUMNS
    assert {"username", "profile", "owner", "caller_id", "send_as", "handler_type", "handler_url"} <= KNOWN_COLUMNS


def test_the_header_names_every_unknown_and_repeated_column_and_a_missing_username() -> None:
    # Given / When a header with an unknown column, a repeated one and no username
    problems = check_header(["profile", "password", "profile"])
    # Then each is named
    assert [(problem.field, problem.message.split(";")[0]) for problem in problems] == [
        ("password", "unknown column"),
        ("profile", "column given more than once"),
        ("username", "required column is missing"),
    ]


def test_excels_sep_hint_in_place_of_the_header_is_named_alone() -> None:
    # Given / When line 1 is Excel's `sep=,` hint (two cells as CSV reads it) or `sep=;`
    problems = [check_header(["sep=", ""]), check_header(["sep=;"])]
    # Then each is one problem of the file naming the hint, not a list of unknown columns
    assert [[(problem.field, problem.message[:23]) for problem in found] for found in problems] == [
        [("(file)", "is Excel's 'sep=,' hint")],
        [("(file)", "is Excel's 'sep=;' hint")],
    ]


def test_a_row_whose_first_column_name_kept_the_files_byte_order_mark_is_read_without_it() -> None:
    # Given / When a Map item whose first column's name starts with the file's BOM is read
    request = request_from_row(without_byte_order_mark({"\ufeffusername": "ada", "profile": "office"}))
    # Then it is the request its cells say
    assert (request.username, request.profile) == ("ada", "office")


def test_the_maps_item_index_is_the_file_line_below_the_header() -> None:
    # Given / When the first item of the Map
    # Then it is line 2 of the file
    assert line_of(0) == 2


# -- reading the object ------------------------------------------------------------------------


def test_lines_are_whole_even_when_a_chunk_splits_a_character() -> None:
    # Given the UTF-8 bytes of two lines, cut in the middle of "é"
    data = "username\njosé\n".encode()
    cut = data.index(b"\xa9")
    # When they are read as text lines
    read = list(text_lines([data[:cut], data[cut:]]))
    # Then the lines are whole, each with its newline
    assert read == ["username\n", "josé\n"]


@pytest.mark.parametrize("cut", [1, 2, 3, 4], ids=lambda cut: f"cut-after-{cut}-bytes")
def test_a_byte_order_mark_is_not_part_of_the_text_wherever_a_chunk_ends(cut: int) -> None:
    # Given a file as Excel's "CSV UTF-8" saves it, a BOM and CRLF line ends, in two chunks
    data = "\ufeffusername,profile\r\nada,office\r\n".encode()
    # When it is read as text lines
    read = list(text_lines([data[:cut], data[cut:]]))
    # Then the BOM is gone and each line is whole
    assert read == ["username,profile\r\n", "ada,office\r\n"]


def test_a_byte_that_is_not_utf8_after_a_byte_order_mark_is_found_at_its_line() -> None:
    # Given a file with a BOM whose second line holds a Latin-1 byte
    data = "\ufeffusername\n".encode() + b"gr\xe9ce\n"
    # When it is read
    # Then the reading stops at line 2
    with pytest.raises(NotUtf8) as not_utf8:
        list(text_lines([data]))
    assert not_utf8.value.line == 2


def test_a_line_longer_than_a_request_body_stops_the_reading() -> None:
    # Given a line of 20,000 characters arriving in small chunks
    chunks = [b"x" * 1000] * 20
    # When it is read with the 16 KiB limit
    # Then reading stops at that line, never holding more than the limit and a chunk
    with pytest.raises(LineTooLong) as too_long:
        list(text_lines(chunks))
    assert too_long.value.line == 1


def test_an_object_s3_will_not_let_us_read_is_unreadable_naming_bucket_and_key() -> None:
    # Given S3 answering the object's GET with AccessDenied
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(s3) as stubber:
        stubber.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
        # When the object is read
        # Then it is unreadable, naming where it is and why
        with pytest.raises(SourceUnreadable) as unreadable:
            list(S3Objects(lambda: s3).chunks("imports", "2025/intake.csv"))
    assert str(unreadable.value) == "s3://imports/2025/intake.csv cannot be read: access is denied"


def test_an_s3_failure_that_is_not_about_the_object_stays_a_failure() -> None:
    # Given S3 answering the object's GET with an internal error
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(s3) as stubber:
        stubber.add_client_error("get_object", service_error_code="InternalError", http_status_code=500)
        # When the object is read
        # Then that is no verdict on the file: the error goes on as it is
        with pytest.raises(ClientError):
            list(S3Objects(lambda: s3).chunks("imports", "2025/intake.csv"))


# -- validating a file -------------------------------------------------------------------------


def test_a_good_file_counts_its_rows_and_has_no_bad_ones() -> None:
    # Given / When a file of two good rows is validated
    validation = validate_lines(lines("username,profile\nada,office\ngrace,\n"), accept_all)
    # Then it is valid with two rows
    assert validation.valid
    assert validation.rows == 2


def test_every_bad_row_is_named_by_its_line_and_the_good_ones_are_not() -> None:
    # Given a file whose lines 3 and 5 break a rule
    text = "username,caller_id\nada,\nbad name,\ngrace,\nalan,\x07\n"
    # When it is validated
    validation = validate_lines(lines(text), accept_all)
    # Then exactly those lines are bad, with the column that breaks the rule
    assert [(bad.line, bad.username, [e.field for e in bad.errors]) for bad in validation.bad_rows] == [
        (3, "bad name", ["username"]),
        (5, "alan", ["caller_id"]),
    ]
    assert validation.rows == 4


def test_a_username_repeated_in_the_file_names_the_line_it_first_appeared_on() -> None:
    # Given / When a file with the same username on lines 2 and 4
    validation = validate_lines(lines("username\nada\ngrace\nada\n"), accept_all)
    # Then line 4 is bad, pointing at line 2
    [bad] = validation.bad_rows
    assert bad.line == 4
    assert bad.errors[0].field == "username"
    assert "line 2" in bad.errors[0].message


def test_each_row_meets_the_dry_run_and_its_errors_are_named_by_column() -> None:
    # Given a dry run that refuses one row's handler URL and forbids another's profile
    def preview(request: EndpointRequest) -> None:
        if request.username == "ada":
            raise RequestInvalid([FieldError(field="handler.url", message="host not allowed")])
        if request.username == "grace":
            raise Forbidden("policy.callers", "Forbidden by policy.callers: the profile is not yours to use.")

    # When a file of three rows is validated
    validation = validate_lines(lines("username\nada\ngrace\nalan\n"), preview)
    # Then the refused row names the handler_url column, the forbidden one is a forbidden problem
    ada, grace = validation.bad_rows
    assert (ada.line, ada.type, ada.errors[0].field) == (2, "validation-error", "handler_url")
    assert (grace.line, grace.type, grace.errors[0].field) == (3, "forbidden", "policy.callers")


def test_a_row_with_more_or_fewer_cells_than_columns_is_bad() -> None:
    # Given / When rows with one cell too many and one too few
    validation = validate_lines(lines("username,profile\nada,office,extra\ngrace\n"), accept_all)
    # Then both are named
    assert [bad.line for bad in validation.bad_rows] == [2, 3]


def test_a_blank_line_is_bad_so_item_indexes_stay_file_lines() -> None:
    # Given / When a file with a blank line between rows
    validation = validate_lines(lines("username\nada\n\ngrace\n"), accept_all)
    # Then the blank line is named, and the row after it keeps its own line number
    assert [bad.line for bad in validation.bad_rows] == [3]


def test_a_row_spanning_two_lines_is_bad_and_the_next_row_keeps_its_line() -> None:
    # Given a quoted cell holding a line break on line 2
    text = 'username,handler_type,handler_topic\nada,relay_topic,"a\nb"\ngrace,,\nbad name,,\n'
    # When it is validated
    validation = validate_lines(lines(text), accept_all)
    # Then line 2 is named for spanning lines, and line 5 for its username
    assert [bad.line for bad in validation.bad_rows] == [2, 5]
    assert "spans 2 lines" in validation.bad_rows[0].errors[0].message


def test_an_empty_file_and_a_header_alone_are_bad_at_line_1() -> None:
    # Given / When an empty file and a file with only a header are validated
    empty = validate_lines(lines(""), accept_all)
    header_only = validate_lines(lines("username\n"), accept_all)
    # Then both are bad at line 1
    assert [bad.line for bad in empty.bad_rows] == [1]
    assert [bad.line for bad in header_only.bad_rows] == [1]


def test_bytes_that_are_not_utf8_stop_the_validation_at_their_line() -> None:
    # Given a file whose third line holds a Latin-1 byte
    data = b"username\nada\ngr\xe9ce\n"
    # When it is validated
    validation = validate_lines(text_lines([data]), accept_all)
    # Then the file is bad from that line on
    [bad] = validation.bad_rows
    assert bad.line == 3
    assert "UTF-8" in bad.errors[0].message


def test_an_excel_export_with_a_byte_order_mark_and_crlf_line_ends_is_a_good_file() -> None:
    # Given a file as Excel's "CSV UTF-8" saves it
    data = "\ufeffusername,profile\r\nada,office\r\ngrace,\r\n".encode()
    # When it is validated
    validation = validate_lines(text_lines([data]), accept_all)
    # Then both rows are counted and none is bad
    assert (validation.rows, validation.bad_rows) == (2, [])


def test_an_unknown_column_stops_at_the_header_before_any_row_is_checked() -> None:
    # Given a dry run that counts what it sees
    seen: list[str] = []

    def preview(request: EndpointRequest) -> None:
        seen.append(request.username)

    # When a file with an unknown column is validated
    validation = validate_lines(lines("username,department\nada,R&D\n"), preview)
    # Then only line 1 is bad and no row was previewed
    assert [bad.line for bad in validation.bad_rows] == [1]
    assert seen == []
