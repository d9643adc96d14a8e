"""SCIM's discovery documents (RFC 7644 section 4): read-only, the same for every client but for
where it addressed the service. Their routes, and the refusals of what SCIM lets us not support."""

from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sip_provisioning.callers.scim.errors import MethodNotAllowed, NotSupported
from sip_provisioning.callers.scim.http import WRITES, answer, base_url
from sip_provisioning.callers.scim.resources import (
    resource_type_document,
    resource_types_document,
    schema_document,
    schemas_document,
    service_provider_config_document,
)

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools leaves its __init__ untyped


@router.get("/ServiceProviderConfig")
def get_service_provider_config() -> Response[str]:
    return answer(service_provider_config_document())


@router.get("/ResourceTypes")
def get_resource_types() -> Response[str]:
    return answer(resource_types_document(base_url(router.current_event)))


@router.get("/ResourceTypes/<name>")
def get_resource_type(name: str) -> Response[str]:
    return answer(resource_type_document(unquote(name), base_url(router.current_event)))


@router.get("/Schemas")
def get_schemas() -> Response[str]:
    return answer(schemas_document(base_url(router.current_event)))


@router.get("/Schemas/<schema_id>")
def get_schema(schema_id: str) -> Response[str]:
    return answer(schema_document(unquote(schema_id), base_url(router.current_event)))


@router.route("/ServiceProviderConfig", method=WRITES)
@router.route("/ResourceTypes", method=WRITES)
@router.route("/ResourceTypes/<name>", method=WRITES)
@router.route("/Schemas", method=WRITES)
@router.route("/Schemas/<schema_id>", method=WRITES)
def refuse_discovery_write(**_: str) -> Response[str]:
    raise MethodNotAllowed("The discovery documents are read-only.")


@router.post("/.search")
@router.post("/Users/.search")
def refuse_search() -> Response[str]:
    raise NotSupported("POST /.search is not supported; send GET /Users?filter=... instead.")
