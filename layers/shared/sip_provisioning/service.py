"""Wires the use case to its real collaborators: SSM through Powertools, DynamoDB for
idempotency, SignalWire over HTTPS."""

from dataclasses import dataclass

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.parameters import SSMProvider
from botocore.config import Config

from sip_provisioning.configuration import ParameterStoreConfig
from sip_provisioning.idempotency import IdempotentProvisioner, idempotency_config
from sip_provisioning.provisioning import Provisioner
from sip_provisioning.settings import RuntimeSettings
from sip_provisioning.signalwire.client import Timeouts

# Bounded AWS waits with the SDK's standard retries (throttling and transient errors, with
# backoff): a stuck call must not eat the function's whole timeout.
_AWS_CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 3})


@dataclass(frozen=True)
class Service:
    config: ParameterStoreConfig
    provisioner: Provisioner
    idempotent: IdempotentProvisioner
    idempotency_config: IdempotencyConfig


def build_service(settings: RuntimeSettings) -> Service:
    parameters = ParameterStoreConfig(
        SSMProvider(boto_config=_AWS_CLIENT_CONFIG),
        settings.parameters_path,
        max_age=settings.parameters_max_age,
        grace=settings.parameters_grace_period,
    )
    provisioner = Provisioner(
        parameters, Timeouts(connect=settings.signalwire_connect_timeout, read=settings.signalwire_read_timeout)
    )
    config = idempotency_config()
    store = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto_config=_AWS_CLIENT_CONFIG)
    return Service(parameters, provisioner, IdempotentProvisioner(provisioner, store, config), config)
