"""Wires the use case to its real collaborators: SSM through Powertools, DynamoDB for
idempotency, SignalWire over HTTPS."""

from dataclasses import dataclass

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
# backoff): at most two attempts of at most 3 s each, so a stuck SSM or DynamoDB call cannot eat
# the function's timeout and every caller still gets our own answer.
_AWS_CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 2})


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
    dynamodb = boto3.client("dynamodb", config=_AWS_CLIENT_CONFIG)
    provisioner = Provisioner(
        parameters,
        Timeouts(connect=settings.signalwire_connect_timeout, read=settings.signalwire_read_timeout),
        CreateAttempts(dynamodb, settings.idempotency_table),
    )
    config = idempotency_config()
    store = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=dynamodb)
    return Service(parameters, provisioner, IdempotentProvisioner(provisioner, store, config), config)
