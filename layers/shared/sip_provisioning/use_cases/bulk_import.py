"""Bulk onboarding's own step: every row checked as a create by the bulk caller would check it,
under one snapshot of the configuration. The CSV, the row results and the report are the bulk
caller's words (`callers/bulk.py`); each row is then created by `create`."""

from collections.abc import Callable
from dataclasses import replace
from typing import Final

from sip_provisioning.domain.profile import ServiceConfig
from sip_provisioning.domain.records import CreatedVia
from sip_provisioning.domain.request import EndpointRequest
from sip_provisioning.use_cases.create import preview_endpoint
from sip_provisioning.use_cases.ports import Caller, Ports

# Who a bulk import creates as: the policies' `workflow` caller, recorded as created in bulk.
BULK_CALLER: Final = Caller(identity="workflow", via=CreatedVia.BULK)


class _ConfigSnapshot:
    """One configuration for the whole file: read once, not once per row."""

    def __init__(self, config: ServiceConfig) -> None:
        self._config = config

    def load(self) -> ServiceConfig:
        return self._config


def preview_for(ports: Ports) -> Callable[[EndpointRequest], None]:
    """The dry run every row meets: the same rules, profiles and policies as a create by the
    bulk caller, against one snapshot of the configuration (a `ConfigurationError` is the whole
    file's problem, and propagates)."""
    snapshot = replace(ports, config=_ConfigSnapshot(ports.config.load()))

    def preview(request: EndpointRequest) -> None:
        preview_endpoint(snapshot, BULK_CALLER, request)

    return preview
