"""A state machine execution as moto ran it, read the way the tests read Step Functions' own."""

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Execution:
    arn: str
    description: dict[str, Any]
    history: list[dict[str, Any]]

    @property
    def status(self) -> str:
        status: str = self.description["status"]
        return status

    @property
    def output(self) -> dict[str, Any]:
        output: dict[str, Any] = json.loads(self.description["output"])
        return output

    def events(self, event_type: str) -> list[dict[str, Any]]:
        return [event for event in self.history if event["type"] == event_type]

    def failure(self) -> tuple[str, str]:
        """The execution's error and cause."""
        [failed] = self.events("ExecutionFailed")
        details = failed["executionFailedEventDetails"]
        return details["error"], details["cause"]
