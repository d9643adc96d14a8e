"""Wires the use case to its real collaborators: SSM through Powertools, DynamoDB for
idempotency, SignalWire over HTTPS."""

from functools import cached_property
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.parameters import SSMProvider
from botocore.config import Config

from sip_provisioning.attempts import CreateAttempts
from sip_provisioning.configuration import ParameterStoreConfig
from sip_provisioning.idempotency import IdempotentProvisioner, idempotency_config
from sip_provisioning.provisioning import Provisioner
from sip_provisioning.settings import RuntimeSettings
from sip_provisioning.signalwire.client import Timeouts

# Bounded AWS waits with the SDK's standard retries (throttling and transient errors, with
# backoff). SSM is read first and throttles under bursts of cold starts: three attempts.
# DynamoDB calls sit around the SignalWire create, whose waits are bounded by the deadline: two
# attempts, so a stuck table cannot push the answer past the function's timeout.
_SSM_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 3})
_DYNAMODB_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 2})


class Service:
    """The composed service of one Lambda container. The DynamoDB side is built on the first
    request with an idempotency key: requests without one never pay for its client."""

    def __init__(self, settings: RuntimeSettings) -> None:
        self._settings = settings
        # One session: its SDK clients share the endpoint and model data it loads once.
        self._session = boto3.session.Session()
        self.config = ParameterStoreConfig(
            SSMProvider(boto3_session=self._session, boto_config=_SSM_CONFIG),
            settings.parameters_path,
            max_age=settings.parameters_max_age,
            grace=settings.parameters_grace_period,
        )
        self.provisioner = Provisioner(
            self.config,
            Timeouts(connect=settings.signalwire_connect_timeout, read=settings.signalwire_read_timeout),
            CreateAttempts(lambda: self._dynamodb, settings.idempotency_table),
        )
        self.idempotency_config: IdempotencyConfig = idempotency_config()

    @cached_property
    def _dynamodb(self) -> Any:
        return self._session.client("dynamodb", config=_DYNAMODB_CONFIG)

    @cached_property
    def idempotent(self) -> IdempotentProvisioner:
        store = DynamoDBPersistenceLayer(table_name=self._settings.idempotency_table, boto3_client=self._dynamodb)
        return IdempotentProvisioner(self.provisioner, store, self.idempotency_config)


def build_service(settings: RuntimeSettings) -> Service:
    return Service(settings)
