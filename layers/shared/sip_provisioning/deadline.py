"""How long the current invocation may still spend: every wait is bounded by it."""

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock by which the caller must have its answer."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> "Deadline":
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def allows(self, seconds: float) -> bool:
        """Whether `seconds` more can be spent and still leave time to answer."""
        return self.remaining() > seconds
