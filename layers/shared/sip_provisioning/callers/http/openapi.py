"""What the HTTP API's routes declare beyond their models: the idempotency header, the dry-run
query, the answers each status means, the answers that are one of two bodies, and (for the export
alone) the document's tags and SigV4 scheme."""

from typing import TYPE_CHECKING, Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseContentModel,
    OpenAPIResponseContentSchema,
)
from pydantic import BaseModel, RootModel

from sip_provisioning.callers.http.body import JSON_CONTENT_TYPE
from sip_provisioning.callers.problems import PROBLEM_CONTENT_TYPE
from sip_provisioning.domain.answers import (
    AdoptPreview,
    ChangePreview,
    EndpointAdopted,
    EndpointChanged,
    EndpointList,
    Problem,
    UnmanagedEndpointList,
)
from sip_provisioning.version import __version__

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

_PROBLEM_CONTENT: dict[str, OpenAPIResponseContentModel | OpenAPIResponseContentSchema] = {
    PROBLEM_CONTENT_TYPE: {"model": Problem}
}

IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="1 to 255 visible ASCII characters. A repeat within 24 h gets the first answer again.",
    ),
]
DryRun = Annotated[bool, Query(description="Show what would change; change nothing.")]
# `{username}` is one path segment, percent-encoded where the username holds `/`, `?`, `#`, `%`...
ENDPOINT_PATH = "/endpoints/<username>"
ListedStatus = Literal["active", "disabled", "deleted"]


def problems(*statuses: int) -> dict[int, OpenAPIResponse]:
    return {status: {"description": STATUS_DESCRIPTIONS[status], "content": _PROBLEM_CONTENT} for status in statuses}


def ok(status: int, description: str, model: type[BaseModel]) -> dict[int, OpenAPIResponse]:
    return {status: {"description": description, "content": {JSON_CONTENT_TYPE: {"model": model}}}}


STATUS_DESCRIPTIONS = {
    400: "Malformed request",
    403: "Forbidden by a policy",
    404: "Endpoint not found",
    409: "Username taken, endpoint not managed or already managed, or idempotent request in progress",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation error, or idempotency key reused",
    500: "Configuration or internal error",
    502: "SignalWire error",
    503: "SignalWire unavailable",
    504: "SignalWire timeout",
}
UPSTREAM = (502, 503, 504)
BODY = (400, 413, 415, 422)


class EndpointPage(RootModel[EndpointList | UnmanagedEndpointList]):
    """`GET /endpoints`: the inventory's records, or with `managed=false` the unmanaged endpoints."""


class ChangeAnswer(RootModel[EndpointChanged | ChangePreview]):
    """`PATCH /endpoints/{username}`: the changed endpoint, or with `dry_run` each change it would make."""


class AdoptAnswer(RootModel[EndpointAdopted | AdoptPreview]):
    """`POST /endpoints/{username}/adopt`: the adopted endpoint, or with `dry_run` what would be recorded."""


UNMANAGED_QUERY = (
    "false: the endpoints SignalWire holds and the inventory does not (admins only; with limit and cursor, "
    "never with profile, owner or status). true or absent: the inventory."
)


ENDPOINTS, PROFILES, FLEET = "endpoints", "profiles", "fleet"
# API Gateway's IAM authorizer, as its OpenAPI import names it: every route of this function sits behind it.
SIGV4 = "sigv4"


def describe(app: "APIGatewayHttpResolver") -> None:
    """The document's title, description, tags and SigV4 scheme. Only the export (`make openapi`)
    asks for them: Powertools' OpenAPI models cost about 90 ms of INIT, which a Lambda that never
    serves its document would pay on every cold start."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Tag

    app.configure_openapi(
        title="SIP endpoint provisioner",
        version=__version__,
        summary="Self-service SignalWire SIP endpoints from profile defaults kept in SSM Parameter Store.",
        description=(
            "Every route here is behind API Gateway's IAM authorizer: sign each request with AWS Signature "
            "Version 4 (service `execute-api`). Errors are RFC 9457 problem documents "
            "(`application/problem+json`); a request API Gateway refuses before the function (a bad signature, "
            'a route that does not exist) gets API Gateway\'s own `{"message": ...}`.'
        ),
        tags=[
            Tag(name=ENDPOINTS, description="Create, look up, list, change, reset, disable and delete SIP endpoints."),
            Tag(name=PROFILES, description="The defaults profiles a self-service request can name."),
            Tag(
                name=FLEET,
                description="Endpoints made outside the service: list them and adopt them into the inventory (admins).",
            ),
        ],
        security_schemes={
            SIGV4: APIKey(
                name="Authorization",
                in_=APIKeyIn.header,
                description=(
                    "AWS Signature Version 4 for service `execute-api` (`AWS4-HMAC-SHA256 Credential=...`, with "
                    "`X-Amz-Date` and, for temporary credentials, `X-Amz-Security-Token`); the caller needs "
                    "`execute-api:Invoke`. Sign with botocore, the AWS SDKs or the `sipctl` client: a value "
                    "pasted here cannot sign a request Swagger UI builds."
                ),
                openapi_extensions={"x-amazon-apigateway-authtype": "awsSigv4"},
            )
        },
        security=[{SIGV4: []}],
    )
