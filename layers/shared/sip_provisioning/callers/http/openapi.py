"""What the OpenAPI document says of the HTTP API beyond its routes' models: the answers each
status means, the answers that are one of two bodies, the tags and the SigV4 scheme. `document`
renders it with Powertools' OpenAPI machinery, for the export (`make openapi`) alone: the functions
never import it, as it costs a cold start more than a third of its INIT."""

import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BaseModel, RootModel
from pydantic.fields import FieldInfo

from sip_provisioning.callers.http.body import JSON_CONTENT_TYPE
from sip_provisioning.callers.http.queries import IdempotencyKeyHeader
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
    from sip_provisioning.callers.http.routes import HttpRoute

# As Powertools' route declarations take them: status -> {"description", "content": {media type: {"model"}}}.
type Responses = dict[int, dict[str, Any]]

_PROBLEM_CONTENT = {PROBLEM_CONTENT_TYPE: {"model": Problem}}


def problems(*statuses: int) -> Responses:
    return {status: {"description": STATUS_DESCRIPTIONS[status], "content": _PROBLEM_CONTENT} for status in statuses}


def ok(status: int, description: str, model: "type[BaseModel] | OneOf") -> Responses:
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


@dataclass(frozen=True)
class OneOf:
    """An answer that is one of several bodies, named and described as the document shows it.
    Its model is made by the export alone: a union model costs INIT a schema build for nothing."""

    name: str
    description: str
    models: tuple[type[BaseModel], ...]

    def model(self) -> type[BaseModel]:
        one_of: Any = Union[self.models]  # noqa: UP007 - a union of a tuple of types, made at run time
        return type(self.name, (RootModel[one_of],), {"__doc__": self.description})


ENDPOINT_PAGE = OneOf(
    "EndpointPage",
    "`GET /endpoints`: the inventory's records, or with `managed=false` the unmanaged endpoints.",
    (EndpointList, UnmanagedEndpointList),
)
CHANGE_ANSWER = OneOf(
    "ChangeAnswer",
    "`PATCH /endpoints/{username}`: the changed endpoint, or with `dry_run` each change it would make.",
    (EndpointChanged, ChangePreview),
)
ADOPT_ANSWER = OneOf(
    "AdoptAnswer",
    "`POST /endpoints/{username}/adopt`: the adopted endpoint, or with `dry_run` what would be recorded.",
    (EndpointAdopted, AdoptPreview),
)


ENDPOINTS, PROFILES, FLEET = "endpoints", "profiles", "fleet"
# API Gateway's IAM authorizer, as its OpenAPI import names it: every route of this function sits behind it.
SIGV4 = "sigv4"


def document(routes: Sequence["HttpRoute"]) -> dict[str, Any]:
    """The OpenAPI document of `routes` as Powertools' resolver renders it: each route declared on
    one with the signature its parameters' models describe, then the document's title, tags and
    SigV4 scheme."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Tag
    from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query

    app = APIGatewayHttpResolver(enable_validation=True)
    for route in routes:
        parameters = [_parameter(name, str) for name in _path_parameters(route.path)]
        if route.body is not None:
            parameters.append(_parameter("body", Annotated[route.body, Body()]))
        for name, field in route.query.model_fields.items():
            query = Query(description=field.description, **_constraints(field))
            parameters.append(_parameter(name, Annotated[field.annotation, query], field.default))
        if route.keyed:
            field = IdempotencyKeyHeader.model_fields["key"]
            header = Header(alias=field.alias, description=field.description, **_constraints(field))
            parameters.append(_parameter("idempotency_key", Annotated[field.annotation, header], None))

        def declared(**_: object) -> None:
            """Never called: it carries the route's signature to Powertools' OpenAPI machinery."""

        declared.__name__ = route.answer.__name__
        declared.__signature__ = inspect.Signature(parameters, return_annotation=Response[str])  # type: ignore[attr-defined]
        openapi_path = route.path.replace("{", "<").replace("}", ">")
        app.route(
            openapi_path,
            route.method,
            summary=route.summary,
            description=route.description,
            tags=list(route.tags),
            responses=_with_models(route.responses),  # type: ignore[arg-type]
        )(declared)

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
    rendered: dict[str, Any] = json.loads(app.get_openapi_json_schema())
    return rendered


def _parameter(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation)


def _path_parameters(template: str) -> list[str]:
    return [segment[1:-1] for segment in template.split("/") if segment.startswith("{")]


def _constraints(field: FieldInfo) -> dict[str, Any]:
    """A field's length, bound and pattern rules, as Powertools' parameter declarations take them."""
    return {
        name: getattr(rule, name)
        for rule in field.metadata
        for name in ("min_length", "max_length", "ge", "le", "pattern")
        if getattr(rule, name, None) is not None
    }


def _with_models(responses: Responses) -> Responses:
    """The responses as Powertools takes them: each `OneOf` answer as its model."""
    return {status: {**response, "content": _content_models(response)} for status, response in responses.items()}


def _content_models(response: dict[str, Any]) -> dict[str, Any]:
    return {
        media_type: {"model": model.model() if isinstance(model := content["model"], OneOf) else model}
        for media_type, content in response.get("content", {}).items()
    }
