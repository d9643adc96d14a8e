"""SSM Parameter Store failing: throttling is retried, and an SSM outage after the cache expired
serves the last good settings for a bounded grace period instead of failing every request.

SSM's failures are made where botocore would meet them (`reliability.aws_faults`): a
GetParameters call (the settings) is answered with SSM's error response before it reaches moto.
"""

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from reliability.aws_faults import SSM_GET_PARAMETERS, FailingCalls, in_every_new_session
from sip_provisioning.adapters.parameter_store import ParameterStoreConfig
from sip_provisioning.domain.errors import ConfigurationError
from sip_provisioning.observability import metrics
from tests.integration.conftest import ProvisionerApi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

PREFIX = "/sip-provisioning/grace"
STALE_WARNING = "SSM Parameter Store failed; serving the last good parameters"
MAX_AGE = 60
GRACE = 300
# The service's SSM client runs botocore's standard retry mode with max_attempts 3: three retries.
SDK_ATTEMPTS = 3


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def emitted_metrics(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Names of the metrics flushed to stdout as CloudWatch EMF since the last call."""
    metrics.flush_metrics()
    names: list[str] = []
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line)
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            names.extend(metric["Name"] for metric in directive["Metrics"])
    return names


# -- through the handler: the service's own SSM client, with the SDK retries it is built with --


@pytest.fixture
def throttled_ssm(api: ProvisionerApi) -> Iterator[FailingCalls]:
    """Throttling for the service's own SSM client, built after the switch is in place."""
    throttling = FailingCalls("ThrottlingException", 400)
    with in_every_new_session(SSM_GET_PARAMETERS, throttling):
        api.module.wiring.cache_clear()
        yield throttling


def test_throttled_parameter_reads_are_retried_and_the_request_succeeds(
    api: ProvisionerApi, throttled_ssm: FailingCalls
) -> None:
    # Given SSM throttles the first two reads
    throttled_ssm.fail_next(2)
    # When an endpoint is requested
    answer = api.create({"username": "ida"})
    # Then the SDK retried the read, and the third call's settings created the endpoint
    assert answer.status == 201
    assert throttled_ssm.calls == 3


def test_ssm_throttling_past_the_retries_after_the_cache_expired_still_serves_the_request(
    api: ProvisionerApi,
    throttled_ssm: FailingCalls,
    service_log: Callable[[], list[dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given settings read once, a cache that has expired (max age 0), and SSM throttling every read
    api.create({"username": "first"})
    capsys.readouterr()
    throttled_ssm.fail_always()
    calls_before = throttled_ssm.calls
    # When an endpoint is requested
    answer = api.create({"username": "ida"})
    # Then after the SDK's bounded attempts the last good settings serve it, with a warning and a metric
    assert answer.status == 201
    assert throttled_ssm.calls - calls_before == SDK_ATTEMPTS
    assert STALE_WARNING in [line["message"] for line in service_log()]
    assert "StaleConfigurationServed" in emitted_metrics(capsys)


# -- ParameterStoreConfig on its own, with a clock the test moves --


@pytest.fixture
def failing_ssm() -> Iterator[tuple[Any, FailingCalls]]:
    """moto SSM with the settings, a client that does not retry, and a switch that fails its reads."""
    with mock_aws():
        client = boto3.client("ssm", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
        for name, value in {
            "signalwire/space_url": "https://example.signalwire.com",
            "signalwire/project_id": "project-1",
            "profiles/default": json.dumps({"encryption": "optional"}),
        }.items():
            client.put_parameter(Name=f"{PREFIX}/{name}", Value=value, Type="String")
        client.put_parameter(Name=f"{PREFIX}/signalwire/api_token", Value="PTgrace-token", Type="SecureString")
        outage = FailingCalls("InternalServerError", 500)
        client.meta.events.register(SSM_GET_PARAMETERS, outage)
        yield client, outage


def parameter_store(client: Any, clock: FakeClock) -> ParameterStoreConfig:
    # max_age 0: every load asks SSM, so the grace alone decides what a failure serves.
    return ParameterStoreConfig(client, PREFIX, max_age=0, grace=GRACE, clock=clock)


def test_within_the_grace_period_the_last_good_settings_are_served_with_a_warning_and_a_metric(
    failing_ssm: tuple[Any, FailingCalls],
    service_log: Callable[[], list[dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given settings read once, then SSM failing
    client, outage = failing_ssm
    clock = FakeClock()
    config = parameter_store(client, clock)
    good = config.load()
    outage.fail_always()
    # When the settings are needed again just inside the grace period
    clock.advance(GRACE)
    served = config.load()
    # Then the last good settings are served, and operators are told
    assert served is good
    assert [line["level"] for line in service_log() if line["message"] == STALE_WARNING] == ["WARNING"]
    assert "StaleConfigurationServed" in emitted_metrics(capsys)


def test_past_the_grace_period_a_failing_ssm_is_a_configuration_error(failing_ssm: tuple[Any, FailingCalls]) -> None:
    # Given settings read once, then SSM failing
    client, outage = failing_ssm
    clock = FakeClock()
    config = parameter_store(client, clock)
    config.load()
    outage.fail_always()
    # When the settings are needed after the grace period
    clock.advance(GRACE + 1)
    # Then the service stops serving stale settings: a configuration error naming the prefix
    with pytest.raises(ConfigurationError) as raised:
        config.load()
    assert raised.value.parameter == PREFIX


def test_a_failing_ssm_with_no_settings_read_yet_is_a_configuration_error(
    failing_ssm: tuple[Any, FailingCalls],
) -> None:
    # Given SSM failing from the start
    client, outage = failing_ssm
    outage.fail_always()
    # When the settings are needed
    # Then there is nothing to fall back on
    with pytest.raises(ConfigurationError):
        parameter_store(client, FakeClock()).load()


def test_while_stale_ssm_is_asked_again_only_after_the_retry_interval(failing_ssm: tuple[Any, FailingCalls]) -> None:
    # Given stale settings just served because SSM failed
    client, outage = failing_ssm
    clock = FakeClock()
    config = parameter_store(client, clock)
    config.load()
    outage.fail_always()
    config.load()
    calls_when_stale = outage.calls
    # When requests keep coming within the retry interval, and then one after it
    for _ in range(5):
        clock.advance(ParameterStoreConfig.STALE_RETRY_INTERVAL / 6)
        config.load()
    calls_within_interval = outage.calls - calls_when_stale
    clock.advance(ParameterStoreConfig.STALE_RETRY_INTERVAL / 6 + 1)
    config.load()
    # Then none of those within the interval waited on SSM, and the first after it asked again
    assert calls_within_interval == 0
    assert outage.calls - calls_when_stale == 1


def test_settings_changed_during_an_outage_are_seen_once_ssm_recovers(failing_ssm: tuple[Any, FailingCalls]) -> None:
    # Given stale settings served during an outage, and a profile changed meanwhile
    client, outage = failing_ssm
    clock = FakeClock()
    config = parameter_store(client, clock)
    config.load()
    outage.fail_always()
    config.load()
    client.put_parameter(
        Name=f"{PREFIX}/profiles/default", Value=json.dumps({"encryption": "required"}), Type="String", Overwrite=True
    )
    # When SSM recovers and the retry interval has passed
    outage.recover()
    clock.advance(ParameterStoreConfig.STALE_RETRY_INTERVAL + 1)
    loaded = config.load()
    # Then the fresh settings are served
    assert loaded.profiles["default"].encryption == "required"


def test_stale_settings_are_never_served_past_the_grace_period(failing_ssm: tuple[Any, FailingCalls]) -> None:
    # Given settings read once, SSM failing, and stale settings served just before the grace ends
    client, outage = failing_ssm
    clock = FakeClock()
    config = parameter_store(client, clock)
    config.load()
    outage.fail_always()
    clock.advance(GRACE - 1)
    config.load()
    # When the settings are needed again just after the grace period, within the retry interval
    clock.advance(2)
    # Then they are refused as they would be on any other request past the grace period
    with pytest.raises(ConfigurationError):
        config.load()
