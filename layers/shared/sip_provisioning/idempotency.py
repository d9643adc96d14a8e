"""At most one create per (caller, Idempotency-Key) for 24 hours, with Powertools' idempotency.

The record is keyed by a hash of the caller's IAM identity and the key, so two callers never
read each other's results; the body is compared through a hash of its parsed form, so the same
key with another body is refused. A repeat gets the first answer again, generated password
included: losing it would leave a caller with an endpoint it cannot register.
"""

import hashlib
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer

from sip_provisioning.deadline import Deadline
from sip_provisioning.errors import IdempotencyInProgress, IdempotencyKeyReused
from sip_provisioning.provisioning import Provisioner
from sip_provisioning.responses import EndpointCreated
from sip_provisioning.self_service import EndpointRequest

IDEMPOTENCY_WINDOW_SECONDS = 24 * 60 * 60


def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="scope",
        payload_validation_jmespath="request",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
        hash_function="sha256",
    )


def request_fingerprint(request: EndpointRequest) -> dict[str, Any]:
    """The parsed body, with a caller's password reduced to a hash: what "same body" compares."""
    body = request.model_dump(mode="json")
    if request.password is not None:
        body["password"] = hashlib.sha256(request.password.get_secret_value().encode()).hexdigest()
    return body


class IdempotentProvisioner:
    """Runs `Provisioner.create_endpoint` at most once per caller and Idempotency-Key."""

    def __init__(self, provisioner: Provisioner, store: BasePersistenceLayer, config: IdempotencyConfig) -> None:
        self._provisioner = provisioner
        self._create_once = idempotent_function(
            data_keyword_argument="scoped",
            persistence_store=store,
            config=config,
            output_serializer=PydanticSerializer(EndpointCreated),
        )(self._create)

    def create_endpoint(
        self, request: EndpointRequest, deadline: Deadline, *, caller: str, idempotency_key: str
    ) -> EndpointCreated:
        scoped = {"scope": f"{caller}\n{idempotency_key}", "request": request_fingerprint(request)}
        try:
            created: EndpointCreated = self._create_once(scoped=scoped, request=request, deadline=deadline)
        except IdempotencyValidationError:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used before with a different body; use a new key for a new request."
            ) from None
        except IdempotencyAlreadyInProgressError:
            raise IdempotencyInProgress(
                "A request with this Idempotency-Key is still running; retry shortly to get its answer."
            ) from None
        return created

    def _create(self, *, scoped: dict[str, Any], request: EndpointRequest, deadline: Deadline) -> EndpointCreated:
        return self._provisioner.create_endpoint(request, deadline, retry_scope=scoped["scope"])
