"""The SCIM documents, both ways: a User as an identity provider sends it (POST, PUT) and as the
service returns it, the ListResponse, the Error, and the discovery documents
(ServiceProviderConfig, ResourceTypes, Schemas).

A user is scim2-models' core User with the enterprise extension (which identity providers send)
and the service's SIP extension (which only the service writes). Every attribute a client sends
is kept and returned as sent, except `password`: the service generates every SIP password, so one
sent is dropped on arrival and never stored; so is the SIP extension, which clients may echo back
in a PUT. Read-only attributes a POST or PUT carries (`id`, `meta`) are ignored, as RFC 7643 §2.2
has it."""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator
from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    Context,
    Email,
    EnterpriseUser,
    ETag,
    Extension,
    Filter,
    ListResponse,
    Manager,
    Meta,
    Mutability,
    Patch,
    Reference,
    ResourceType,
    ResponseParameters,
    SCIMException,
    ServiceProviderConfig,
    Sort,
    User,
)
from scim2_models import Error as ErrorDocument
from scim2_models import Schema as SchemaDocument

from sip_provisioning.callers.scim.errors import ResourceNotFound, ScimError, scim_error_from, status_and_scim_type

SCIM_CONTENT_TYPE = "application/scim+json"
SIP_EXTENSION_URN = "urn:sip-provisioning:scim:schemas:extension:sip:2.0:User"
USER_RESOURCE_TYPE = "User"
MAX_RESULTS = 100
"""The most users one list answers with (`count` is capped to it), as ServiceProviderConfig says."""


class SipUser(Extension):
    """The SIP endpoint the service keeps for a user; the service alone writes it."""

    __schema__ = URN(SIP_EXTENSION_URN)

    sip_username: Annotated[str | None, Mutability.read_only] = None
    """The SIP username the user's userName maps to."""

    sip_uri: Annotated[str | None, Mutability.read_only] = None
    """`sip:<sipUsername>@<space domain>`."""

    sip_endpoint_id: Annotated[str | None, Mutability.read_only] = None
    """SignalWire's id of the endpoint; absent while the user has no endpoint."""

    profile: Annotated[str | None, Mutability.read_only] = None
    """The profile the endpoint is built from."""

    password_secret_arn: Annotated[str | None, Mutability.read_only] = None
    """The Secrets Manager secret that holds the endpoint's password."""


class AsSentEmail(Email):
    """An email as the identity provider sent it: any text, not only what pydantic's EmailStr
    accepts. Companies' mail domains include reserved names (`corp.local`), and EmailStr would
    also lower-case the domain, where the user must be returned as sent."""

    value: str | None = None


class AsSentManager(Manager):
    """The enterprise `manager` as identity providers send it: `{"value": <id>}` without `$ref`
    (Okta's mapping, Microsoft's validation collection), or the id alone (Entra's PATCH), which is
    kept as `{"value": <id>}`. RFC 7643 §4.3 only recommends `value` and `$ref`; scim2-models
    requires both, and would refuse these users and every PUT of them as GET returns them."""

    value: Annotated[str | None, CaseExact.true] = None
    ref: Reference["User"] | None = Field(None, serialization_alias="$ref", validation_alias="$ref")  # type: ignore[type-arg]

    @model_validator(mode="before")
    @classmethod
    def _an_id_alone_is_the_value(cls, data: Any) -> Any:
        return {"value": data} if isinstance(data, str) else data


class AsSentEnterpriseUser(EnterpriseUser):
    """The enterprise extension, its `manager` as identity providers send it."""

    manager: AsSentManager | None = None


class ScimUser(User[AsSentEnterpriseUser | SipUser]):
    """A user: the core User schema with the enterprise and the SIP extensions."""

    emails: list[AsSentEmail] | None = None  # type: ignore[assignment]  # a wider value type, by design


_UserList = ListResponse[ScimUser]


def parse_user(body: object) -> ScimUser:
    """The user a `POST /Users` body asks for, or a `PUT /Users/{id}` body replaces one with (every
    client attribute, so one it leaves out is cleared)."""
    try:
        user = ScimUser.model_validate(body, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    except (SCIMException, ValidationError) as refusal:
        raise scim_error_from(refusal) from None
    user.password = None
    user[SipUser] = None
    return user


def client_attributes(user: ScimUser) -> dict[str, Any]:
    """What the client owns of `user`, as JSON to store: no `id`, `meta`, SIP extension or
    password (which a PATCH may carry: it is dropped, never stored)."""
    attributes = user.model_copy(update={"id": None, "meta": None, "password": None})
    attributes[SipUser] = None
    return attributes.model_dump(mode="json")


def user_from_client_attributes(attributes: dict[str, Any]) -> ScimUser:
    """The user `client_attributes` stored."""
    return ScimUser.model_validate(attributes)


def returned_user(
    user: ScimUser,
    *,
    user_id: str,
    created: datetime,
    last_modified: datetime,
    location: str,
    sip: SipUser,
) -> ScimUser:
    """`user` as the service returns it: with its `id`, its `meta` and its SIP extension."""
    returned = user.model_copy(
        update={
            "id": user_id,
            "meta": Meta(
                resource_type=USER_RESOURCE_TYPE, created=created, last_modified=last_modified, location=location
            ),
        }
    )
    returned[SipUser] = sip
    return returned


UserResponseParameters = ResponseParameters[ScimUser]


def response_parameters(attributes: str | None, excluded_attributes: str | None) -> UserResponseParameters:
    """The `attributes` and `excludedAttributes` query parameters (RFC 7644 §3.9), comma-separated."""
    given = {"attributes": attributes, "excludedAttributes": excluded_attributes}
    try:
        return UserResponseParameters.model_validate({name: value for name, value in given.items() if value})
    except (SCIMException, ValidationError) as refusal:
        raise scim_error_from(refusal) from None


def user_document(user: ScimUser, parameters: UserResponseParameters | None = None) -> dict[str, Any]:
    """The JSON of a `returned_user` (never a password), with what `parameters` select."""
    return user.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=parameters)


def list_document(
    users: Sequence[ScimUser],
    *,
    total_results: int,
    start_index: int,
    parameters: UserResponseParameters | None = None,
) -> dict[str, Any]:
    """A ListResponse of one page of `returned_user`s: `start_index` is 1-based, as in the request."""
    page = _UserList(
        total_results=total_results, start_index=start_index, items_per_page=len(users), resources=list(users)
    )
    return page.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=parameters)


def error_document(error: ScimError) -> dict[str, Any]:
    """The Error message (`status` as a string) of `error`."""
    status, scim_type = status_and_scim_type(error)
    return ErrorDocument(status=status, scim_type=scim_type, detail=error.detail).model_dump()


def service_provider_config_document() -> dict[str, Any]:
    """What the service supports: PATCH and filters, not bulk, sort, ETags or changePassword;
    a bearer token authenticates."""
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="OAuth Bearer Token",
                description="The token configured for the service, as `Authorization: Bearer <token>`.",
                primary=True,
            )
        ],
    )
    return config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def _resource_types(base_url: str) -> list[ResourceType]:
    user_type = ResourceType.from_resource(ScimUser)
    user_type.description = "A person whose SIP endpoint follows their identity provider account."
    user_type.meta = Meta(resource_type="ResourceType", location=f"{base_url}/ResourceTypes/{user_type.id}")
    return [user_type]


def _enterprise_schema() -> SchemaDocument:
    """The enterprise extension's schema under its name and description in RFC 7643 §8.7.1 (not
    those of the class that reads it)."""
    schema = AsSentEnterpriseUser.to_schema()
    schema.name, schema.description = "EnterpriseUser", "Enterprise User"
    return schema


def _schemas(base_url: str) -> list[SchemaDocument]:
    schemas = [User.to_schema(), _enterprise_schema(), SipUser.to_schema()]
    for schema in schemas:
        schema.meta = Meta(resource_type="Schema", location=f"{base_url}/Schemas/{schema.id}")
    return schemas


def _discovery_list(documents: list[ResourceType] | list[SchemaDocument]) -> dict[str, Any]:
    page = ListResponse[ResourceType | SchemaDocument](
        total_results=len(documents), start_index=1, items_per_page=len(documents), resources=list(documents)
    )
    return page.model_dump(scim_ctx=Context.SEARCH_RESPONSE)


def resource_types_document(base_url: str) -> dict[str, Any]:
    """`GET /ResourceTypes`: a ListResponse of the one resource type, User; `base_url` ends in `/scim/v2`."""
    return _discovery_list(_resource_types(base_url))


def resource_type_document(name: str, base_url: str) -> dict[str, Any]:
    """`GET /ResourceTypes/{name}`; a name that is not one is `ResourceNotFound`."""
    for resource_type in _resource_types(base_url):
        if resource_type.id == name:
            return resource_type.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    raise ResourceNotFound(f"No resource type {name!r}.")


def schemas_document(base_url: str) -> dict[str, Any]:
    """`GET /Schemas`: a ListResponse of the core User schema and its two extensions."""
    return _discovery_list(_schemas(base_url))


def schema_document(schema_id: str, base_url: str) -> dict[str, Any]:
    """`GET /Schemas/{id}` (a URN: matched case-insensitively); an id that is not one is `ResourceNotFound`."""
    for schema in _schemas(base_url):
        if (schema.id or "").lower() == schema_id.lower():
            return schema.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    raise ResourceNotFound(f"No schema {schema_id!r}.")
