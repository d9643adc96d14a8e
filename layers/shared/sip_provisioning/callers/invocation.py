"""What every invocation carries to a use case, built from the Lambda context in one place: the
ports, who asks, the time left, the idempotency key, and how long the key may be held."""

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from sip_provisioning.deadline import Deadline
from sip_provisioning.use_cases.ports import Caller, Ports


class LambdaClock(Protocol):
    """The one thing an invocation reads from Lambda's context: the time it has left."""

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True)
class Invocation:
    ports: Ports
    caller: Caller
    deadline: Deadline
    # How long this invocation may hold its key: a record left by a function that dies mid-request
    # is taken over once the invocation's time is up.
    busy_seconds: float
    key: str | None = None

    @classmethod
    def of(cls, context: LambdaClock, ports: Ports, caller: Caller, key: str | None = None) -> "Invocation":
        remaining_ms = context.get_remaining_time_in_millis()
        return cls(ports, caller, Deadline.before_timeout(remaining_ms), remaining_ms / 1000, key)

    def keyed(self, key: str | None) -> "Invocation":
        return replace(self, key=key)

    def run[T](self, verb: Callable[..., T], *arguments: object) -> T:
        """Run a verb that changes nothing and waits on SignalWire: `verb(ports, caller, *arguments, deadline)`."""
        return verb(self.ports, self.caller, *arguments, self.deadline)

    def once[T](self, verb: Callable[..., T], *arguments: object) -> T:
        """Run a state-changing verb (a use case's `*_once`) at most once under this invocation's
        key: `verb(ports, caller, *arguments, deadline, key=..., busy_seconds=...)`."""
        return verb(self.ports, self.caller, *arguments, self.deadline, key=self.key, busy_seconds=self.busy_seconds)
