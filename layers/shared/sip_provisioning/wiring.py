"""Composes the real adapters once per container: SSM, DynamoDB for the idempotency records and
the inventory, Secrets Manager, S3 for the imports bucket, SignalWire over HTTPS, and the Lambda
client the Slack command hands its jobs to. Every client is built here and nowhere else."""

import gc
import os
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from sip_provisioning import IN_LAMBDA
from sip_provisioning.adapters.inventory import DynamoDBInventory
from sip_provisioning.adapters.objects import S3Objects
from sip_provisioning.adapters.once_store import DynamoDBOnceStore
from sip_provisioning.adapters.parameter_store import ParameterStoreConfig
from sip_provisioning.adapters.scim_users import DynamoDBScimUsers
from sip_provisioning.adapters.secrets import SecretsManagerStore
from sip_provisioning.adapters.signalwire_client import SignalWireClient, Timeouts
from sip_provisioning.domain.errors import ConfigurationError
from sip_provisioning.domain.profile import SignalWireSettings
from sip_provisioning.observability import logger
from sip_provisioning.settings import RuntimeSettings
from sip_provisioning.use_cases.ports import Ports, ReportBucket

# Bounded AWS waits with the SDK's standard retries (throttling and transient errors, with
# backoff). SSM is read first and throttles under bursts of cold starts: three attempts.
# DynamoDB calls sit around the SignalWire create, whose waits are bounded by the deadline: two
# attempts, so a stuck table cannot push the answer past the function's timeout.
_SSM_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 3})
_SECRETS_MANAGER_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 2}
)
_DYNAMODB_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 2})
_S3_CONFIG = Config(connect_timeout=1, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3})
# Bounded waits for the Slack command's asynchronous invoke: its whole answer must reach Slack
# within 3 seconds.
_LAMBDA_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "max_attempts": 2})


# Never a username (usernames hold no space): the inventory read that warms DynamoDB finds nothing.
_NO_USERNAME = " warm-up "


class Wiring:
    """The composed service of one Lambda container."""

    def __init__(self, settings: RuntimeSettings) -> None:
        self.settings = settings
        # One session: its SDK clients share the endpoint and model data it loads once.
        self._session = boto3.session.Session()
        self._timeouts = Timeouts(connect=settings.signalwire_connect_timeout, read=settings.signalwire_read_timeout)
        self._client_settings: SignalWireSettings | None = None
        self._client: SignalWireClient | None = None
        config = ParameterStoreConfig(
            self._session.client("ssm", config=_SSM_CONFIG),
            settings.parameters_path,
            max_age=settings.parameters_max_age,
            grace=settings.parameters_grace_period,
        )
        self.ports = Ports(
            config=config,
            signalwire=self._signalwire_for,
            inventory=DynamoDBInventory(lambda: self._dynamodb, settings.inventory_table),
            once=DynamoDBOnceStore(lambda: self._dynamodb, settings.idempotency_table),
            secrets=SecretsManagerStore(lambda: self._secretsmanager, settings.secrets_prefix),
            scim_users=DynamoDBScimUsers(lambda: self._dynamodb, settings.inventory_table),
        )
        # The imports bucket's objects: bulk files, row results, the fleet's manifests and reports.
        self.objects = S3Objects(lambda: self._s3)

    def reports(self) -> ReportBucket:
        """The imports bucket, where the fleet's state machines keep manifests and write reports."""
        if not self.settings.imports_bucket:
            raise ConfigurationError("environment variable IMPORTS_BUCKET", "missing")
        return ReportBucket(objects=self.objects, name=self.settings.imports_bucket)

    def warm_up(self) -> None:
        """Do in INIT what the first request would otherwise pay for at its slower share of CPU:
        read SSM, build the SDK clients and the SignalWire session, and read the inventory once
        (a record no username has), so that DynamoDB's connection and the SDK's first-call work
        are done too. Raises what a request would answer as a problem; the caller lets the first
        request meet it again."""
        config = self.ports.config.load()
        self.ports.signalwire(config.signalwire)
        self.ports.inventory.current(_NO_USERNAME)

    @cached_property
    def _dynamodb(self) -> Any:
        return self._session.client("dynamodb", config=_DYNAMODB_CONFIG)

    @cached_property
    def _secretsmanager(self) -> Any:
        return self._session.client("secretsmanager", config=_SECRETS_MANAGER_CONFIG)

    @cached_property
    def _s3(self) -> Any:
        return self._session.client("s3", config=_S3_CONFIG)

    @cached_property
    def lambda_client(self) -> Any:
        return self._session.client("lambda", config=_LAMBDA_CONFIG)

    def _signalwire_for(self, settings: SignalWireSettings) -> SignalWireClient:
        # One client per set of credentials, so a rotated token takes effect at the next SSM read
        # and connections stay open across warm invocations otherwise.
        if self._client is None or settings != self._client_settings:
            self._client = SignalWireClient(settings.space_url, settings.project_id, settings.api_token, self._timeouts)
            self._client_settings = settings
        return self._client


def compose() -> Wiring:
    """The service composed from the function's environment. Each entry keeps one per container
    (`wiring = cache(compose)`): built on first use, reused by every warm invocation."""
    return Wiring(RuntimeSettings.from_environ(os.environ))


def warm_up_during_init(compose: Callable[[], Wiring], environ: Mapping[str, str]) -> None:
    """In Lambda's INIT (which runs at a full vCPU), compose and warm the service, then freeze
    the garbage collector's view of everything INIT made and start it again (importing the
    package paused it). Only where Lambda says it is initialising (`IN_LAMBDA`),
    so an import in a test or a tool never reaches out. A failure never crashes INIT: the first
    request meets it again and answers it as a problem document. Each entry calls this last."""
    if IN_LAMBDA not in environ:
        return
    try:
        compose().warm_up()
    except Exception as error:
        logger.warning(
            "Warm-up during INIT failed; the first request tries again", extra={"error": type(error).__name__}
        )
    # What INIT made (modules, models, clients) lives as long as the container: without this the
    # collector scans it all again, and its first full pass lands in the first invocation, at the
    # invocation's share of a vCPU (about 8 ms of CPU there, measured by `make bench`).
    gc.freeze()
    gc.enable()
