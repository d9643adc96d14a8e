"""The short self-service request callers send, and the handler short names it accepts."""

from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

from sip_provisioning.domain.policy import PasswordDelivery
from sip_provisioning.domain.signalwire import (
    HANDLERS,
    AbsoluteUrl,
    CallerId,
    CallFlowVersion,
    CallHandler,
    HttpMethod,
    NonEmptyText,
    SendAs,
    Username,
    UuidString,
    refuse_control_characters,
)


def _upper_case(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


# Callers may write methods in any case; SignalWire gets upper case.
AnyCaseHttpMethod = Annotated[HttpMethod, BeforeValidator(_upper_case)]
ProfileName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Password = Annotated[SecretStr, Field(min_length=12, max_length=128)]
Owner = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(refuse_control_characters)]


def fields_holding_invalid_text(document: Any) -> list[str]:
    """The dotted names of every string in `document` that holds a lone surrogate: not Unicode
    text, so it can be neither sent on nor echoed back in an error. A key that holds one is named
    by where it stands, never by itself. Iterative, so that no depth of nesting exhausts the stack."""
    found: list[str] = []
    pending: list[tuple[Any, str]] = [(document, "")]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str):
            if any("\ud800" <= character <= "\udfff" for character in value):
                found.append(path.rstrip("."))
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                pending += [(item, f"{path}{key}."), (key, f"{path}(a key)")]
        elif isinstance(value, list | tuple):
            pending.extend(reversed([(item, f"{path}{i}.") for i, item in enumerate(value)]))
    return found


def holds_invalid_text(document: Any) -> bool:
    return bool(fields_holding_invalid_text(document))


class TextOnly(BaseModel):
    """Refuses, before any field is validated, input holding text that is not valid Unicode."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_lone_surrogates(cls, data: Any) -> Any:
        if holds_invalid_text(data):
            raise ValueError("holds text that is not valid Unicode (a lone surrogate)")
        return data


class HandlerRequest(BaseModel):
    """A handler in short names, as `HANDLERS` names its keys and maps them to create fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str  # each subclass narrows it to its own Literal, the union's discriminator

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """A handler model takes exactly the keys the table gives its type: no second list."""
        super().__pydantic_init_subclass__(**kwargs)
        (handler_type,) = get_args(cls.model_fields["type"].annotation)
        table_keys = {key.short for key in HANDLERS[CallHandler(handler_type)].keys}
        if set(cls.model_fields) - {"type"} != table_keys:
            raise TypeError(f"{cls.__name__} must take the keys HANDLERS gives {handler_type}: {sorted(table_keys)}")

    def signalwire_fields(self) -> dict[str, Any]:
        """The create fields this handler sets: only the keys the caller gave."""
        given = self.model_dump(exclude_unset=True, exclude={"type"})
        fields = HANDLERS[self.call_handler].fields_by_short
        return {fields[key]: value for key, value in given.items()}

    @property
    def call_handler(self) -> CallHandler:
        return CallHandler(self.type)


class LamlWebhooksHandler(HandlerRequest):
    type: Literal["laml_webhooks"]
    url: AbsoluteUrl | None = None
    method: AnyCaseHttpMethod | None = None
    fallback_url: AbsoluteUrl | None = None
    fallback_method: AnyCaseHttpMethod | None = None
    status_callback_url: AbsoluteUrl | None = None
    status_callback_method: AnyCaseHttpMethod | None = None


class LamlApplicationHandler(HandlerRequest):
    type: Literal["laml_application"]
    application_id: NonEmptyText | None = None


class DialogflowHandler(HandlerRequest):
    type: Literal["dialogflow"]
    agent_id: NonEmptyText | None = None


class RelayTopicHandler(HandlerRequest):
    type: Literal["relay_topic"]
    topic: NonEmptyText | None = None
    status_callback_url: AbsoluteUrl | None = None


class RelayContextHandler(HandlerRequest):
    type: Literal["relay_context"]
    context: NonEmptyText | None = None
    status_callback_url: AbsoluteUrl | None = None


class RelayApplicationHandler(HandlerRequest):
    type: Literal["relay_application"]
    application: NonEmptyText | None = None


class RelayConnectorHandler(HandlerRequest):
    type: Literal["relay_connector"]


class VideoRoomHandler(HandlerRequest):
    type: Literal["video_room"]
    room_id: UuidString | None = None


class CallFlowHandler(HandlerRequest):
    type: Literal["call_flow"]
    flow_id: UuidString | None = None
    version: CallFlowVersion | None = None


class AiAgentHandler(HandlerRequest):
    type: Literal["ai_agent"]
    agent_id: UuidString | None = None


class RelayScriptHandler(HandlerRequest):
    type: Literal["relay_script"]
    url: AbsoluteUrl | None = None


Handler = Annotated[
    LamlWebhooksHandler
    | LamlApplicationHandler
    | DialogflowHandler
    | RelayTopicHandler
    | RelayContextHandler
    | RelayApplicationHandler
    | RelayConnectorHandler
    | VideoRoomHandler
    | CallFlowHandler
    | AiAgentHandler
    | RelayScriptHandler,
    Field(discriminator="type"),
]


def request_key_for(call_handler: CallHandler, field: str) -> str | None:
    """The request key (`handler.<short>`) that sets SignalWire `field`, if a request can."""
    for key in HANDLERS[call_handler].keys:
        if key.field == field:
            return f"handler.{key.short}"
    return None


class EndpointRequest(TextOnly):
    """`POST /endpoints`: give <username> a SIP endpoint, optionally from <profile>."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: Username
    profile: ProfileName = "default"
    caller_id: CallerId | None = None
    send_as: SendAs | None = None
    password: Password | None = None
    handler: Handler | None = None
    owner: Owner | None = None
    password_delivery: PasswordDelivery | None = None


class EndpointChanges(TextOnly):
    """`PATCH /endpoints/{username}`: a given key replaces the stored request's, null removes it."""

    # Off the create path: built at first use, not in every cold start's INIT.
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    profile: ProfileName | None = None
    caller_id: CallerId | None = None
    send_as: SendAs | None = None
    handler: Handler | None = None
    owner: Owner | None = None

    def applied_to(self, stored: dict[str, Any]) -> dict[str, Any]:
        """The stored request with these changes laid over it."""
        changed = self.model_dump(mode="json", include=self.model_fields_set)
        merged = {**stored, **changed}
        return {key: value for key, value in merged.items() if value is not None}


class PasswordResetRequest(TextOnly):
    """`POST /endpoints/{username}/password`: `{}` for a generated password, or one to set."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    password: Password | None = None
    password_delivery: PasswordDelivery | None = None


class AdoptRequest(TextOnly):
    """`POST /endpoints/{username}/adopt`: the profile to measure the endpoint against, and whose it is."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    profile: ProfileName
    owner: Owner | None = None
