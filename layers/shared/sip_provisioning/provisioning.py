"""The use case: build the payload from profiles, create the endpoint at most once, answer.

A create is a POST and SignalWire takes no idempotency key, so a blind retry can create a
duplicate. It is retried only where it cannot have happened (the connection never opened) or
where SignalWire said to come back; when the answer is lost after the request left, the
endpoint is looked up by username before anything is answered.
"""

import base64
import hashlib
import hmac
import random
import secrets
import time
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import SecretStr

from sip_provisioning.attempts import CreateAttempts
from sip_provisioning.configuration import ServiceConfig, SignalWireSettings
from sip_provisioning.deadline import Deadline
from sip_provisioning.errors import (
    FieldError,
    RequestInvalid,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    UsernameTaken,
)
from sip_provisioning.observability import logger, metrics
from sip_provisioning.payload_builder import build_create_payload
from sip_provisioning.responses import DryRunResult, EndpointCreated, ProfileList, ProfileSummary
from sip_provisioning.self_service import EndpointRequest
from sip_provisioning.signalwire.client import (
    AnswerLost,
    CredentialsRejected,
    NotSent,
    PayloadRejected,
    RateLimited,
    ServerFailed,
    SignalWireClient,
    SignalWireFault,
    Timeouts,
    UnreadableAnswer,
)
from sip_provisioning.signalwire.models import CreateSipEndpointPayload, SipEndpoint

GENERATED_PASSWORD_BYTES = 24  # 32 URL-safe characters from the OS CSPRNG
MAX_CREATE_ATTEMPTS = 3
FIRST_BACKOFF_SECONDS = 0.2
# What one more SignalWire call needs at least, so a retry never starts just to time out.
MIN_CALL_SECONDS = 1.0


def generate_password() -> SecretStr:
    return SecretStr(secrets.token_urlsafe(GENERATED_PASSWORD_BYTES))


def derive_password(api_token: SecretStr, retry_scope: str) -> SecretStr:
    """The generated password of a keyed request: the same for every retry of that key, so a
    retry that finds the endpoint an earlier attempt created still answers its real password.
    HMAC-SHA256 under the API token: unpredictable to anyone who does not hold the token (who
    could reset any endpoint's password anyway). 43 URL-safe characters."""
    digest = hmac.new(
        api_token.get_secret_value().encode(), b"sip-endpoint-password\0" + retry_scope.encode(), hashlib.sha256
    ).digest()
    return SecretStr(base64.urlsafe_b64encode(digest).decode().rstrip("="))


class ConfigSource(Protocol):
    def load(self) -> ServiceConfig: ...


class Provisioner:
    """Creates SIP endpoints from self-service requests. Holds no per-request state."""

    def __init__(self, config: ConfigSource, timeouts: Timeouts, attempts: CreateAttempts) -> None:
        self._config = config
        self._timeouts = timeouts
        self._attempts = attempts
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

    # No subsegment of its own: the handler's segment and the patched SDK and requests calls show
    # where a create spends its time, and each extra subsegment costs every traced request.
    def create_endpoint(
        self, request: EndpointRequest, deadline: Deadline, *, retry_scope: str | None = None
    ) -> EndpointCreated:
        """Create the endpoint. `retry_scope` names the (caller, Idempotency-Key) whose retries
        these are: the generated password is then the same on every retry, and an endpoint that
        an earlier attempt of the same scope created (same settings) is answered as created
        rather than as taken."""
        config = self._config.load()
        if request.password is not None:
            password = request.password
        elif retry_scope is not None:
            password = derive_password(config.signalwire.api_token, retry_scope)
        else:
            password = generate_password()
        payload = build_create_payload(request, config.profiles, password)
        client = self._client_for(config.signalwire)
        earlier_attempt = retry_scope is not None and self._attempts.record(retry_scope, request.username)
        endpoint = self._create_at_most_once(client, payload, deadline, earlier_attempt=earlier_attempt)
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

    def _create_at_most_once(
        self, client: SignalWireClient, payload: CreateSipEndpointPayload, deadline: Deadline, *, earlier_attempt: bool
    ) -> SipEndpoint:
        for attempt in range(1, MAX_CREATE_ATTEMPTS + 1):
            try:
                return client.create_endpoint(payload, deadline)
            except NotSent:
                wait = _backoff(attempt)
                if attempt == MAX_CREATE_ATTEMPTS or not deadline.allows(wait + MIN_CALL_SECONDS):
                    raise UpstreamUnavailable("SignalWire could not be reached.", retry_after=1) from None
            except RateLimited as limited:
                wait = limited.retry_after
                if attempt == MAX_CREATE_ATTEMPTS or not deadline.allows(wait + MIN_CALL_SECONDS):
                    raise UpstreamUnavailable(
                        "SignalWire asked us to slow down.", retry_after=limited.retry_after
                    ) from None
            except PayloadRejected as rejection:
                return self._earlier_attempts_endpoint(
                    client, payload, rejection, deadline, earlier_attempt=earlier_attempt
                )
            except CredentialsRejected:
                raise UpstreamError("SignalWire rejected the service's credentials.") from None
            except (AnswerLost, ServerFailed, UnreadableAnswer) as lost:
                return self._recover(client, payload, lost, deadline)
            metrics.add_metric(name="UpstreamRetries", unit=MetricUnit.Count, value=1)
            logger.warning("Retrying the create: SignalWire cannot have acted on it", extra={"wait_s": wait})
            time.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _earlier_attempts_endpoint(
        self,
        client: SignalWireClient,
        payload: CreateSipEndpointPayload,
        rejection: PayloadRejected,
        deadline: Deadline,
        *,
        earlier_attempt: bool,
    ) -> SipEndpoint:
        """SignalWire refused the payload: a taken username, perhaps taken by an earlier attempt of
        this very request (committed after its answer was lost). A filtered list tells which, as
        SignalWire words a taken username as just another 422."""
        try:
            found = client.find_endpoints_by_username(payload.username, deadline)
        except SignalWireFault:
            found = []
        if not found:
            raise RequestInvalid(
                [FieldError(field="payload", message=detail) for detail in rejection.details],
                detail="SignalWire rejected the endpoint settings.",
            )
        if earlier_attempt and _matches(found[0], payload):
            # An earlier attempt of this key sent this create, with these settings and the password
            # derived for the key: its answer was lost, its create committed late.
            return self._recovered(found[0])
        raise UsernameTaken(payload.username)

    def _recover(
        self, client: SignalWireClient, payload: CreateSipEndpointPayload, lost: SignalWireFault, deadline: Deadline
    ) -> SipEndpoint:
        """The create may or may not have happened: the username says which, before we answer."""
        logger.warning("Create outcome unknown; looking the username up", extra={"fault": type(lost).__name__})
        try:
            found = client.find_endpoints_by_username(payload.username, deadline)
        except SignalWireFault:
            raise UpstreamTimeout(
                "SignalWire did not confirm the create and the endpoint could not be looked up."
            ) from None
        if not found:
            if isinstance(lost, AnswerLost):
                raise UpstreamTimeout("SignalWire did not answer in time and has no such endpoint.")
            raise UpstreamError(f"SignalWire failed the create: {lost}.")
        if not _matches(found[0], payload):
            raise UsernameTaken(payload.username)
        return self._recovered(found[0])

    def _recovered(self, endpoint: SipEndpoint) -> SipEndpoint:
        metrics.add_metric(name="CreatesRecovered", unit=MetricUnit.Count, value=1)
        logger.info("The create had happened: the endpoint matches what was sent", extra={"endpoint_id": endpoint.id})
        return endpoint

    def _client_for(self, settings: SignalWireSettings) -> SignalWireClient:
        # One client per set of credentials, so a rotated token takes effect at the next SSM read
        # and connections stay open across warm invocations otherwise.
        if self._client is None or settings != self._client_settings:
            self._client = SignalWireClient(settings.space_url, settings.project_id, settings.api_token, self._timeouts)
            self._client_settings = settings
        return self._client


def _backoff(attempt: int) -> float:
    """Exponential with full jitter: 0-0.2 s, 0-0.4 s, ..."""
    return random.uniform(0, FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1))  # noqa: S311 - jitter, not crypto


def _matches(endpoint: SipEndpoint, payload: CreateSipEndpointPayload) -> bool:
    """Whether SignalWire's endpoint holds every setting we sent (so it is the one we created)."""
    sent: dict[str, Any] = payload.to_masked_body()
    sent.pop("password")
    held = endpoint.model_dump()
    return all(held.get(field) == value for field, value in sent.items())


def _sip_uri(username: str, settings: SignalWireSettings) -> str:
    return f"sip:{username}@{settings.sip_domain}"
