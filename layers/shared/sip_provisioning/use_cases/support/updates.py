"""A PUT whose answer may be lost: confirmed before anything is answered.

A lost answer to a settings change is confirmed by retrieving the endpoint and comparing. A
password never comes back from SignalWire, so a lost password change is confirmed the only way
it can be: by sending the very same PUT again (setting the same password twice is harmless).
"""

from collections.abc import Callable
from typing import Any

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.errors import EndpointNotFound, FieldError, RequestInvalid, UpstreamError, UpstreamTimeout
from sip_provisioning.domain.signalwire import SipEndpoint
from sip_provisioning.observability import logger
from sip_provisioning.use_cases.ports import (
    AnswerLost,
    EndpointMissing,
    PayloadRejected,
    ServerFailed,
    SignalWire,
    SignalWireFault,
    UnreadableAnswer,
)
from sip_provisioning.use_cases.support.upstream import problem_for_fault

MIN_CALL_SECONDS = 1.0


def put_confirmed(
    client: SignalWire,
    username: str,
    endpoint_id: str,
    changes: dict[str, Any],
    deadline: Deadline,
    *,
    holds_changes: Callable[[SipEndpoint], bool] | None,
) -> SipEndpoint:
    """PUT `changes`; `holds_changes` tells from a retrieved endpoint whether they were applied
    (None: they cannot be seen, as for a password, so the PUT is sent once more instead)."""
    try:
        return client.update_endpoint(endpoint_id, changes, deadline)
    except PayloadRejected as rejection:
        raise RequestInvalid(
            [FieldError(field="payload", message=detail) for detail in rejection.details],
            detail="SignalWire rejected the change.",
        ) from None
    except EndpointMissing:
        raise EndpointNotFound(username) from None
    except (AnswerLost, ServerFailed, UnreadableAnswer) as lost:
        logger.warning("Update outcome unknown; confirming", extra={"fault": type(lost).__name__})
        return _confirm(client, username, endpoint_id, changes, deadline, lost, holds_changes)
    except SignalWireFault as fault:
        raise problem_for_fault(fault) from None


def _confirm(
    client: SignalWire,
    username: str,
    endpoint_id: str,
    changes: dict[str, Any],
    deadline: Deadline,
    lost: SignalWireFault,
    holds_changes: Callable[[SipEndpoint], bool] | None,
) -> SipEndpoint:
    unconfirmed = (
        UpstreamTimeout("SignalWire did not confirm the change.")
        if isinstance(lost, AnswerLost)
        else UpstreamError(f"SignalWire failed the change: {lost}.")
    )
    if not deadline.allows(MIN_CALL_SECONDS):
        raise unconfirmed
    try:
        if holds_changes is None:
            return client.update_endpoint(endpoint_id, changes, deadline)
        endpoint = client.retrieve_endpoint(endpoint_id, deadline)
    except EndpointMissing:
        raise EndpointNotFound(username) from None
    except SignalWireFault:
        raise unconfirmed from None
    if not holds_changes(endpoint):
        raise unconfirmed
    return endpoint
