"""What a SignalWire fault means to a caller, where the use case has nothing better to say."""

from collections.abc import Iterator
from contextlib import contextmanager

from sip_provisioning.domain.errors import ProvisioningError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from sip_provisioning.use_cases.ports import AnswerLost, CredentialsRejected, NotSent, RateLimited, SignalWireFault


def problem_for_fault(fault: SignalWireFault) -> ProvisioningError:
    if isinstance(fault, RateLimited):
        return UpstreamUnavailable("SignalWire asked us to slow down.", retry_after=fault.retry_after)
    if isinstance(fault, NotSent):
        return UpstreamUnavailable("SignalWire could not be reached.", retry_after=1)
    if isinstance(fault, AnswerLost):
        return UpstreamTimeout("SignalWire did not answer in time.")
    if isinstance(fault, CredentialsRejected):
        return UpstreamError("SignalWire rejected the service's credentials.")
    return UpstreamError(f"SignalWire failed: {fault}.")


@contextmanager
def signalwire_faults_as_problems() -> Iterator[None]:
    try:
        yield
    except SignalWireFault as fault:
        raise problem_for_fault(fault) from None
