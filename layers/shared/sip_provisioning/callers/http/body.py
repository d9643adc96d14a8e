"""What a request body must be before any model sees it: at most 16 KiB of application/json, one
JSON object, no key given twice, nested at most `MAX_NESTING_DEPTH` deep, valid Unicode text."""

from typing import Any

from sip_provisioning.callers.gateway import GatewayRequest
from sip_provisioning.domain.documents import MAX_NESTING_DEPTH, NestedTooDeep, parse_json
from sip_provisioning.domain.errors import (
    FieldError,
    MalformedRequest,
    PayloadTooLarge,
    RequestInvalid,
    UnsupportedMediaType,
)
from sip_provisioning.domain.request import fields_holding_invalid_text, holds_invalid_text

MAX_BODY_BYTES = 16 * 1024
JSON_CONTENT_TYPE = "application/json"
NOT_UNICODE = "not valid Unicode text (it holds a lone surrogate)"


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if holds_invalid_text(key):  # never echoed: it cannot be written back as text
            raise MalformedRequest("The body holds a key that is not valid Unicode text (a lone surrogate).")
        if key in document:
            raise MalformedRequest(f"The JSON body repeats the key '{key[:64]}'.")
        document[key] = value
    return document


def json_object_body(request: GatewayRequest) -> dict[str, Any]:
    """The body as a JSON object: its media type, size and shape checked before any model sees it."""
    if request.media_type != JSON_CONTENT_TYPE:
        raise UnsupportedMediaType("Send the body as application/json.")
    body = request.text()
    if not body:
        raise MalformedRequest("The body must be a JSON object.")
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The body exceeds {MAX_BODY_BYTES} bytes.")
    try:
        document = parse_json(body, object_pairs_hook=_reject_duplicate_keys)
    except NestedTooDeep:
        message = f"The body nests arrays or objects deeper than {MAX_NESTING_DEPTH} levels."
        raise MalformedRequest(message) from None
    except ValueError:
        raise MalformedRequest("The body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise MalformedRequest("The body must be a JSON object.")
    invalid = [FieldError(field=field, message=NOT_UNICODE) for field in fields_holding_invalid_text(document)]
    if invalid:
        raise RequestInvalid(invalid)
    return document
