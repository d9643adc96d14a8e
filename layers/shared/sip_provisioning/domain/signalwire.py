"""The models of SignalWire's "Create a SIP Endpoint" body and of the endpoint it returns.

Field names, enums and per-handler requirements follow `CreateSipEndpointRequest` in SignalWire's
published OpenAPI document and the product brief (which requires more than older spec versions).
"""

import re
import unicodedata
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator


class CallHandler(StrEnum):
    """What answers a call to the endpoint (all 11 values of `SipEndpointCallHandler`)."""

    LAML_WEBHOOKS = "laml_webhooks"
    LAML_APPLICATION = "laml_application"
    DIALOGFLOW = "dialogflow"
    RELAY_TOPIC = "relay_topic"
    RELAY_CONTEXT = "relay_context"
    RELAY_APPLICATION = "relay_application"
    RELAY_CONNECTOR = "relay_connector"
    VIDEO_ROOM = "video_room"
    CALL_FLOW = "call_flow"
    AI_AGENT = "ai_agent"
    RELAY_SCRIPT = "relay_script"


@dataclass(frozen=True)
class HandlerKey:
    """One key of a handler: its short name in a request (`handler.<short>`), the SignalWire
    create field it sets, and whether SignalWire requires that field for the handler."""

    short: str
    field: str
    required: bool = False


@dataclass(frozen=True)
class HandlerKeys:
    """A handler's keys, and the one a one-value form sets (Slack's `handler=<type>:<value>`;
    None for a handler that takes no value)."""

    keys: tuple[HandlerKey, ...]
    value_key: str | None

    @property
    def fields_by_short(self) -> dict[str, str]:
        return {key.short: key.field for key in self.keys}


# THE handler table (README "call_handler" table): what each handler's keys are called in a
# request, the call_* fields they set, which of them SignalWire requires, and the key a one-value
# form sets. The request model, the policies, Slack and bulk's columns all read it.
HANDLERS: dict[CallHandler, HandlerKeys] = {
    CallHandler.LAML_WEBHOOKS: HandlerKeys(
        (
            HandlerKey("url", "call_request_url", required=True),
            HandlerKey("method", "call_request_method"),
            HandlerKey("fallback_url", "call_fallback_url", required=True),
            HandlerKey("fallback_method", "call_fallback_method"),
            HandlerKey("status_callback_url", "call_status_callback_url", required=True),
            HandlerKey("status_callback_method", "call_status_callback_method"),
        ),
        value_key="url",
    ),
    CallHandler.LAML_APPLICATION: HandlerKeys(
        (HandlerKey("application_id", "call_laml_application_id", required=True),), value_key="application_id"
    ),
    CallHandler.DIALOGFLOW: HandlerKeys(
        (HandlerKey("agent_id", "call_dialogflow_agent_id", required=True),), value_key="agent_id"
    ),
    CallHandler.RELAY_TOPIC: HandlerKeys(
        (
            HandlerKey("topic", "call_relay_topic", required=True),
            HandlerKey("status_callback_url", "call_relay_topic_status_callback_url", required=True),
        ),
        value_key="topic",
    ),
    CallHandler.RELAY_CONTEXT: HandlerKeys(
        (
            HandlerKey("context", "call_relay_context", required=True),
            HandlerKey("status_callback_url", "call_relay_context_status_callback_url", required=True),
        ),
        value_key="context",
    ),
    CallHandler.RELAY_APPLICATION: HandlerKeys(
        (HandlerKey("application", "call_relay_application", required=True),), value_key="application"
    ),
    CallHandler.RELAY_CONNECTOR: HandlerKeys((), value_key=None),
    CallHandler.VIDEO_ROOM: HandlerKeys(
        (HandlerKey("room_id", "call_video_room_id", required=True),), value_key="room_id"
    ),
    CallHandler.CALL_FLOW: HandlerKeys(
        (HandlerKey("flow_id", "call_flow_id", required=True), HandlerKey("version", "call_flow_version")),
        value_key="flow_id",
    ),
    CallHandler.AI_AGENT: HandlerKeys(
        (HandlerKey("agent_id", "call_ai_agent_id", required=True),), value_key="agent_id"
    ),
    CallHandler.RELAY_SCRIPT: HandlerKeys(
        (HandlerKey("url", "call_relay_script_url", required=True),), value_key="url"
    ),
}

# The table read by SignalWire field: the call_* fields each handler owns, and those it requires.
HANDLER_FIELDS: dict[CallHandler, tuple[str, ...]] = {
    handler: tuple(key.field for key in keys.keys) for handler, keys in HANDLERS.items()
}
REQUIRED_HANDLER_FIELDS: dict[CallHandler, tuple[str, ...]] = {
    handler: tuple(key.field for key in keys.keys if key.required) for handler, keys in HANDLERS.items()
}
ALL_HANDLER_FIELDS: frozenset[str] = frozenset(f for fields in HANDLER_FIELDS.values() for f in fields)


def missing_handler_fields(call_handler: CallHandler | None, fields: dict[str, Any]) -> list[str]:
    """The fields `call_handler` requires that `fields` leaves unset, in the table's order."""
    if call_handler is None:
        return []
    return [name for name in REQUIRED_HANDLER_FIELDS[call_handler] if fields.get(name) is None]


# Characters that cannot appear in a SIP username: every Unicode separator (whitespace of any
# kind), every control, format, surrogate, private-use and unassigned code point, and "@".
_FORBIDDEN_USERNAME_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"})


def _check_username(value: str) -> str:
    for char in value:
        if char == "@":
            raise ValueError("must not contain '@'")
        if char.isspace() or unicodedata.category(char) in _FORBIDDEN_USERNAME_CATEGORIES:
            raise ValueError(f"must not contain whitespace or control characters (found U+{ord(char):04X})")
    return value


def refuse_control_characters(value: str) -> str:
    for char in value:
        if unicodedata.category(char) in {"Cc", "Cs"}:
            raise ValueError(f"must not contain control characters (found U+{ord(char):04X})")
    return value


# A port, when a URL gives one: 1 to 65535 in ASCII decimal digits, with no sign and no leading
# zero (`00080` reads as 80 to some clients and as nothing to others, so it is refused).
_PORT = re.compile(r"[1-9][0-9]{0,4}")
MAX_PORT = 65535


def _url_port(netloc: str) -> str | None:
    """The port as the authority `netloc` writes it (after the host's colon), or None when it gives none."""
    host_and_port = netloc.rpartition("@")[2]
    if host_and_port.startswith("["):  # an IPv6 literal: its colons are the address's
        host_and_port = host_and_port.partition("]")[2]
    _, colon, port = host_and_port.partition(":")
    return port if colon else None


def _check_absolute_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an absolute http or https URL")
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("must not contain whitespace or control characters")
    port = _url_port(parts.netloc)
    if port is not None and not (_PORT.fullmatch(port) and int(port) <= MAX_PORT):
        raise ValueError(f"must give its port, if any, as a decimal number from 1 to {MAX_PORT} (no leading zeros)")
    return value


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID") from None


Username = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_check_username)]
CallerId = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(refuse_control_characters)]
# E.164: "+", then 2 to 15 digits, the first 1-9; or "random" (any number of the project).
SendAs = Annotated[str, Field(pattern=re.compile(r"^(\+[1-9][0-9]{1,14}|random)$").pattern)]
AbsoluteUrl = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_check_absolute_http_url)]
UuidString = Annotated[str, Field(json_schema_extra={"format": "uuid"}), AfterValidator(_canonical_uuid)]
HttpMethod = Literal["GET", "POST"]
Encryption = Literal["default", "required", "optional"]
CallFlowVersion = Literal["working_copy", "current_deployed"]
Cipher = Literal[
    "AEAD_AES_256_GCM_8",
    "AES_256_CM_HMAC_SHA1_80",
    "AES_CM_128_HMAC_SHA1_80",
    "AES_256_CM_HMAC_SHA1_32",
    "AES_CM_128_HMAC_SHA1_32",
]
Codec = Literal[
    "OPUS",
    "G722",
    "PCMU",
    "PCMA",
    "G729",
    "VP8",
    "H264",
    "OPUS@48000H@20I",
    "OPUS@24000H@20I",
    "OPUS@16000H@20I",
    "OPUS@8000H@20I",
]
NonEmptyText = Annotated[str, Field(min_length=1, max_length=512), AfterValidator(refuse_control_characters)]


class SipEndpointSettings(BaseModel):
    """Every create field but `username` and `password`: what a profile may preset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    caller_id: CallerId | None = None
    send_as: SendAs | None = None
    ciphers: list[Cipher] | None = None
    codecs: list[Codec] | None = None
    encryption: Encryption | None = None
    call_handler: CallHandler | None = None
    call_request_url: AbsoluteUrl | None = None
    call_request_method: HttpMethod | None = None
    call_fallback_url: AbsoluteUrl | None = None
    call_fallback_method: HttpMethod | None = None
    call_status_callback_url: AbsoluteUrl | None = None
    call_status_callback_method: HttpMethod | None = None
    call_laml_application_id: NonEmptyText | None = None
    call_dialogflow_agent_id: NonEmptyText | None = None
    call_relay_topic: NonEmptyText | None = None
    call_relay_topic_status_callback_url: AbsoluteUrl | None = None
    call_relay_context: NonEmptyText | None = None
    call_relay_context_status_callback_url: AbsoluteUrl | None = None
    call_relay_application: NonEmptyText | None = None
    call_video_room_id: UuidString | None = None
    call_flow_id: UuidString | None = None
    call_flow_version: CallFlowVersion | None = None
    call_ai_agent_id: UuidString | None = None
    call_relay_script_url: AbsoluteUrl | None = None


class CreateSipEndpointPayload(SipEndpointSettings):
    """The exact body of `POST /api/relay/rest/endpoints/sip`."""

    username: Username
    password: SecretStr = Field(min_length=1)

    @model_validator(mode="after")
    def _handler_requirements_are_met(self) -> "CreateSipEndpointPayload":
        missing = missing_handler_fields(self.call_handler, self.model_dump())
        if missing:
            raise ValueError(f"call_handler {self.call_handler} requires {', '.join(missing)}")
        return self

    def to_request_body(self) -> dict[str, Any]:
        """The JSON body to send: only the fields that are set, the password revealed."""
        body = self.model_dump(mode="json", exclude_none=True)
        body["password"] = self.password.get_secret_value()
        return body

    def to_masked_body(self) -> dict[str, Any]:
        """The body as a dry run shows it: the password replaced by asterisks."""
        body = self.model_dump(mode="json", exclude_none=True)
        body["password"] = "********"  # noqa: S105 - a mask, not a password
        return body


class SipEndpoint(BaseModel):
    """SignalWire's flat endpoint object. Unknown members pass through; a password never does."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = "sip_endpoint"
    id: str
    username: str
    caller_id: str | None = None
    send_as: str | None = None
    ciphers: list[str] = Field(default_factory=list)
    codecs: list[str] = Field(default_factory=list)
    encryption: str | None = None
    call_handler: str | None = None
    calling_handler_resource_id: str | None = None
    call_request_url: str | None = None
    call_request_method: str | None = None
    call_fallback_url: str | None = None
    call_fallback_method: str | None = None
    call_status_callback_url: str | None = None
    call_status_callback_method: str | None = None
    call_laml_application_id: str | None = None
    call_dialogflow_agent_id: str | None = None
    call_relay_topic: str | None = None
    call_relay_topic_status_callback_url: str | None = None
    call_relay_context: str | None = None
    call_relay_context_status_callback_url: str | None = None
    call_relay_application: str | None = None
    call_video_room_id: str | None = None
    call_flow_id: str | None = None
    call_flow_version: str | None = None
    call_ai_agent_id: str | None = None
    call_relay_script_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _never_keep_a_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            return {key: value for key, value in data.items() if key != "password"}
        return data


class SipEndpointPage(BaseModel):
    """One page of `GET /api/relay/rest/endpoints/sip`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    data: list[SipEndpoint]
    links: dict[str, str | None] = Field(default_factory=dict)


def matches_payload(endpoint: SipEndpoint, payload: CreateSipEndpointPayload) -> bool:
    """Whether SignalWire's endpoint holds every setting of `payload` but the password."""
    sent = payload.model_dump(mode="json", exclude_none=True, exclude={"password"})
    held = endpoint.model_dump(mode="json")
    return all(held.get(field) == value for field, value in sent.items())
