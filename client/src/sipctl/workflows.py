"""The stack's state machines (bulk onboarding, profile rollout, fleet audit, offboarding) through
Step Functions: started, watched while they run, read when they end.

Progress is the Distributed Map's own counts (`ListMapRuns`, `DescribeMapRun`) while one runs, and
otherwise the state the execution is in (its history's latest `StateEntered` event).
"""

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session

from sipctl.client import ConfigurationMissing

# The stack's outputs (template.yaml) that name each state machine and the imports bucket.
STATE_MACHINE_OUTPUTS = {
    "bulk": "BulkOnboardingStateMachineArn",
    "rollout": "ProfileRolloutStateMachineArn",
    "audit": "FleetAuditStateMachineArn",
    "offboard": "OffboardingStateMachineArn",
}
IMPORTS_BUCKET_OUTPUT = "ImportsBucketName"
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Progress:
    """Where a running execution is: its current state, and a Distributed Map's item counts."""

    state: str | None
    items: Mapping[str, int] | None = None

    def describe(self) -> str:
        where = self.state or "starting"
        if self.items is None:
            return f"running: {where}"
        counts = self.items
        done = (
            counts.get("succeeded", 0) + counts.get("failed", 0) + counts.get("timedOut", 0) + counts.get("aborted", 0)
        )
        failed = done - counts.get("succeeded", 0)
        return (
            f"running: {where}: {done} of {counts.get('total', 0)} items done "
            f"({counts.get('succeeded', 0)} succeeded, {failed} failed, {counts.get('running', 0)} running)"
        )


@dataclass(frozen=True)
class Ended:
    """An execution that ended: its status, its output (when it succeeded), or its error and cause."""

    execution_arn: str
    status: str
    output: dict[str, Any] | None
    error: str | None = None
    cause: str | None = None


class Workflows:
    """Step Functions, S3 and CloudFormation with the standard credential chain; `endpoint_url`
    sends them all elsewhere (`make run`'s moto)."""

    def __init__(
        self,
        *,
        session: botocore.session.Session | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._session = session or botocore.session.get_session()
        self._region = region or self._session.get_config_variable("region")
        if not self._region:
            raise ConfigurationMissing("no AWS region: give --region, or set AWS_REGION or a profile's region")
        self._endpoint_url = endpoint_url
        self._sleep = sleep
        self._sfn = self._client("stepfunctions")

    def _client(self, service: str) -> Any:
        return self._session.create_client(service, region_name=self._region, endpoint_url=self._endpoint_url)

    def stack_outputs(self, stack: str) -> dict[str, str]:
        [described] = self._client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
        return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}

    def upload(self, path: Path, bucket: str, key: str) -> None:
        self._client("s3").put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType="text/csv")

    def start(self, state_machine_arn: str, name: str, execution_input: Mapping[str, Any]) -> str:
        started = self._sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
        )
        execution_arn: str = started["executionArn"]
        return execution_arn

    def progress(self, execution_arn: str) -> Progress:
        map_runs = self._sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
        if not map_runs:
            return Progress(self._current_state(execution_arn))
        latest = max(map_runs, key=lambda run: run["startDate"])
        counts = self._sfn.describe_map_run(mapRunArn=latest["mapRunArn"])["itemCounts"]
        return Progress(self._current_state(execution_arn), {name: int(value) for name, value in counts.items()})

    def _current_state(self, execution_arn: str) -> str | None:
        """The state entered last: the newest `StateEntered` event by id (the history is asked for
        newest first, but read whole where that order is not kept, as moto does not keep it)."""
        latest: tuple[int, str] | None = None
        pages = self._sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn, reverseOrder=True)
        for page in pages:
            events = page["events"]
            entered = [
                (event["id"], event["stateEnteredEventDetails"]["name"])
                for event in events
                if "stateEnteredEventDetails" in event
            ]
            latest = max([*entered, *([latest] if latest else [])], default=None)
            if entered and events[0]["id"] > events[-1]["id"]:  # newest first: nothing later on the next pages
                break
        return latest[1] if latest else None

    def wait(self, execution_arn: str, on_progress: Callable[[Progress], None]) -> Ended:
        """Polls until the execution ends, telling `on_progress` where it is each time."""
        while True:
            description = self._sfn.describe_execution(executionArn=execution_arn)
            if description["status"] != "RUNNING":
                return self._ended(execution_arn, description)
            on_progress(self.progress(execution_arn))
            self._sleep(POLL_SECONDS)

    def _ended(self, execution_arn: str, description: Mapping[str, Any]) -> Ended:
        status = description["status"]
        if status == "SUCCEEDED":
            return Ended(execution_arn, status, json.loads(description.get("output") or "null"))
        # DescribeExecution names a failed execution's error and cause (none for ABORTED or TIMED_OUT).
        return Ended(execution_arn, status, None, description.get("error"), description.get("cause"))
