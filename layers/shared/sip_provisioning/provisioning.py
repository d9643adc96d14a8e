"""The use case: build the payload from profiles, create the endpoint, answer."""

import secrets
from typing import Protocol

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import SecretStr

from sip_provisioning.configuration import ServiceConfig, SignalWireSettings
from sip_provisioning.errors import FieldError, RequestInvalid, UsernameTaken
from sip_provisioning.observability import logger, metrics, tracer
from sip_provisioning.payload_builder import build_create_payload
from sip_provisioning.responses import DryRunResult, EndpointCreated, ProfileList, ProfileSummary
from sip_provisioning.self_service import EndpointRequest
from sip_provisioning.signalwire.client import PayloadRejected, SignalWireClient, Timeouts

GENERATED_PASSWORD_BYTES = 24  # 32 URL-safe characters from the OS CSPRNG


def generate_password() -> SecretStr:
    return SecretStr(secrets.token_urlsafe(GENERATED_PASSWORD_BYTES))


class ConfigSource(Protocol):
    def load(self) -> ServiceConfig: ...


class Provisioner:
    """Creates SIP endpoints from self-service requests. Holds no per-request state."""

    def __init__(self, config: ConfigSource, timeouts: Timeouts) -> None:
        self._config = config
        self._timeouts = timeouts
        self._client_settings: SignalWireSettings | None = None
        self._client: SignalWireClient | None = None

    def list_profiles(self) -> ProfileList:
        profiles = self._config.load().profiles
        return ProfileList(
            profiles=[
                ProfileSummary(
                    name=name,
                    description=profile.description,
                    call_handler=profile.call_handler.value if profile.call_handler else None,
                )
                for name, profile in sorted(profiles.items())
            ]
        )

    def preview_endpoint(self, request: EndpointRequest) -> DryRunResult:
        config = self._config.load()
        payload = build_create_payload(request, config.profiles, request.password or generate_password())
        return DryRunResult(
            profile=request.profile,
            sip_uri=_sip_uri(request.username, config.signalwire),
            payload=payload.to_masked_body(),
        )

    @tracer.capture_method
    def create_endpoint(self, request: EndpointRequest) -> EndpointCreated:
        config = self._config.load()
        password = request.password or generate_password()
        payload = build_create_payload(request, config.profiles, password)
        client = self._client_for(config.signalwire)
        try:
            endpoint = client.create_endpoint(payload)
        except PayloadRejected as rejection:
            # SignalWire words a taken username as just another 422; a filtered list tells for sure.
            if client.find_endpoints_by_username(request.username):
                raise UsernameTaken(request.username) from None
            raise RequestInvalid(
                [FieldError(field="payload", message=detail) for detail in rejection.details],
                detail="SignalWire rejected the endpoint settings.",
            ) from None
        metrics.add_metric(name="EndpointsCreated", unit=MetricUnit.Count, value=1)
        logger.info(
            "SIP endpoint created",
            extra={
                "audit": "endpoint-created",
                "endpoint_id": endpoint.id,
                "username": endpoint.username,
                "profile": request.profile,
                "call_handler": payload.call_handler,
                "password_generated": request.password is None,
            },
        )
        return EndpointCreated(
            endpoint=endpoint,
            sip_uri=_sip_uri(request.username, config.signalwire),
            profile=request.profile,
            password=password.get_secret_value() if request.password is None else None,
        )

    def _client_for(self, settings: SignalWireSettings) -> SignalWireClient:
        # One client per set of credentials, so a rotated token takes effect at the next SSM read
        # and connections stay open across warm invocations otherwise.
        if self._client is None or settings != self._client_settings:
            self._client = SignalWireClient(settings.space_url, settings.project_id, settings.api_token, self._timeouts)
            self._client_settings = settings
        return self._client


def _sip_uri(username: str, settings: SignalWireSettings) -> str:
    return f"sip:{username}@{settings.sip_domain}"
