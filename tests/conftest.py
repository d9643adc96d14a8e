"""Fixtures shared by every tier: the SignalWire emulator on real HTTP, reset between tests."""

import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# The function's environment as template.yaml sets it. Powertools reads these when the one
# Logger/Metrics/Tracer module is first imported, which test collection does.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "sip-provisioner")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SipProvisioning")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

from local.signalwire_emulator import SignalWireEmulator
from sip_provisioning.observability import logger

# These machines are shared and noisy: no per-example deadline or too-slow health check, as speed
# is measured by `make bench`, never by a test.
settings.register_profile("repository", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("repository")


@pytest.fixture(scope="session")
def running_emulator() -> Iterator[SignalWireEmulator]:
    with SignalWireEmulator(project_id="test-project", api_token="PTtest-api-token-0123456789") as emulator:
        yield emulator


@pytest.fixture
def emulator(running_emulator: SignalWireEmulator) -> Iterator[SignalWireEmulator]:
    running_emulator.reset()
    yield running_emulator
    running_emulator.reset()


@pytest.fixture
def service_log() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every line the service's Powertools logger writes during the test, parsed.

    The logger's own handler is pointed at a buffer: what is captured is exactly what Lambda
    would ship to CloudWatch, formatter and appended keys included.
    """
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    finally:
        handler.setStream(previous)
