"""SCIM's discovery documents (RFC 7644 section 4): read-only, the same for every client but for
where it addressed the service. Their routes, and the refusals of what SCIM lets us not support."""

from urllib.parse import unquote

from sip_provisioning.callers.gateway import GatewayAnswer
from sip_provisioning.callers.scim.errors import MethodNotAllowed, NotSupported
from sip_provisioning.callers.scim.http import WRITES, ScimCall, ScimRoute, answer, base_url
from sip_provisioning.callers.scim.resources import (
    resource_type_document,
    resource_types_document,
    schema_document,
    schemas_document,
    service_provider_config_document,
)


def get_service_provider_config(_: ScimCall) -> GatewayAnswer:
    return answer(service_provider_config_document())


def get_resource_types(call: ScimCall) -> GatewayAnswer:
    return answer(resource_types_document(base_url(call.request)))


def get_resource_type(call: ScimCall) -> GatewayAnswer:
    return answer(resource_type_document(unquote(call.path["name"]), base_url(call.request)))


def get_schemas(call: ScimCall) -> GatewayAnswer:
    return answer(schemas_document(base_url(call.request)))


def get_schema(call: ScimCall) -> GatewayAnswer:
    return answer(schema_document(unquote(call.path["schema_id"]), base_url(call.request)))


def refuse_discovery_write(_: ScimCall) -> GatewayAnswer:
    raise MethodNotAllowed("The discovery documents are read-only.")


def refuse_search(_: ScimCall) -> GatewayAnswer:
    raise NotSupported("POST /.search is not supported; send GET /Users?filter=... instead.")


_DOCUMENTS = (
    ("/ServiceProviderConfig", get_service_provider_config),
    ("/ResourceTypes", get_resource_types),
    ("/ResourceTypes/{name}", get_resource_type),
    ("/Schemas", get_schemas),
    ("/Schemas/{schema_id}", get_schema),
)
DISCOVERY_ROUTES = (
    *(ScimRoute("GET", path, document) for path, document in _DOCUMENTS),
    *(ScimRoute(method, path, refuse_discovery_write) for path, _ in _DOCUMENTS for method in WRITES),
    ScimRoute("POST", "/.search", refuse_search),
    ScimRoute("POST", "/Users/.search", refuse_search),
)
