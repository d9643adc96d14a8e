"""Wires the use case to its real collaborators: SSM through Powertools, SignalWire over HTTPS."""

from aws_lambda_powertools.utilities.parameters import SSMProvider
from botocore.config import Config

from sip_provisioning.configuration import ParameterStoreConfig
from sip_provisioning.provisioning import Provisioner
from sip_provisioning.settings import RuntimeSettings
from sip_provisioning.signalwire.client import Timeouts

# Bounded SSM waits: a stuck SSM call must not eat the function's whole timeout.
_SSM_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 3})


def build_provisioner(settings: RuntimeSettings) -> Provisioner:
    provider = SSMProvider(boto_config=_SSM_CLIENT_CONFIG)
    return Provisioner(
        ParameterStoreConfig(provider, settings.parameters_path, settings.parameters_max_age),
        Timeouts(connect=settings.signalwire_connect_timeout, read=settings.signalwire_read_timeout),
    )
