"""How long the current invocation may still spend: every wait is bounded by it."""

import time
from dataclasses import dataclass

# Time kept back from the Lambda timeout to answer: a caller must get the service's own answer
# (a problem document, a named error, a Slack message), never the platform's after a cut-off.
ANSWER_MARGIN_SECONDS = 1.5


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock by which the caller must have its answer."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> "Deadline":
        return cls(time.monotonic() + seconds)

    @classmethod
    def before_timeout(cls, remaining_ms: int) -> "Deadline":
        """The deadline of an invocation with `remaining_ms` left, the answer margin kept back."""
        return cls.after(remaining_ms / 1000 - ANSWER_MARGIN_SECONDS)

    def earlier_by(self, seconds: float) -> "Deadline":
        return Deadline(self.at - seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def allows(self, seconds: float) -> bool:
        """Whether `seconds` more can be spent and still leave time to answer."""
        return self.remaining() > seconds
