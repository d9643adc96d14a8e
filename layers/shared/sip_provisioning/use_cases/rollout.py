"""Roll a profile change out (CONTRACT.md section 9): every active or disabled endpoint of a profile
brought in line with the profile as it is now, as `PATCH {}` brings one, at most once per key.

The state machine (statemachine/profile_rollout.asl.json) runs it in three steps:
- `plan_rollout`: the profile checked against the configuration, its endpoints read from the
  inventory's profile index, their usernames written to the imports bucket as the Distributed
  Map's manifest (a JSON array its ItemReader reads: no state's payload grows with the fleet).
- `roll_out_endpoint`, per endpoint: its drift as `PATCH {}`'s dry run sees it (one retrieve),
  and unless `dry_run`, under the key `<execution name>:<username>`, the `PATCH {}` itself (a
  retrieve and, for a drifted endpoint, its one PUT; an unchanged one gets no write). The
  outcome goes to the bucket by the item's index, so the Map's output stays tiny.
- `write_report`: every endpoint's outcome, in the manifest's order, as
  `rollouts/<profile>/<execution name>.report.json`; its counts are the execution's output.

A disabled endpoint stays disabled: `PATCH {}` never sends a password, so it keeps the unknown
one its disable set. No password is in any outcome, the manifest or the report.
"""

from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.drift import Change
from sip_provisioning.domain.errors import ProblemType, UnknownProfile
from sip_provisioning.domain.records import EndpointStatus
from sip_provisioning.domain.request import EndpointChanges
from sip_provisioning.use_cases.change import change_endpoint, preview_change
from sip_provisioning.use_cases.list_endpoints import every_record
from sip_provisioning.use_cases.ports import Caller, Ports, ReportBucket
from sip_provisioning.use_cases.support.once import run_keyed

# The endpoints a rollout brings in line; a deleted one is gone, a pending one not yet made.
ROLLED_OUT_STATUSES: Final = frozenset({EndpointStatus.ACTIVE, EndpointStatus.DISABLED})
RESULTS_PREFIX: Final = "rollout-results/"
# Reading the outcomes back: S3 GETs are network-bound, a few at a time.
REPORT_READERS: Final = 16
# What a `PATCH {}` is: no field given, so the stored request is rebuilt over the profile as it is now.
REAPPLY: Final = EndpointChanges()


class RolloutStatus(StrEnum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    WOULD_CHANGE = "would_change"


class EndpointRollout(BaseModel):
    """One endpoint's outcome as the report lists it: never a password."""

    model_config = ConfigDict(frozen=True)

    username: str
    # A `RolloutStatus`, or the problem type the endpoint ended with.
    status: str
    changes: list[Change] = Field(default_factory=list)
    detail: str | None = None


class Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str


class RolloutPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    profile: str
    dry_run: bool
    max_concurrency: int
    endpoints: int
    manifest: Location


class RolloutSummary(BaseModel):
    """The execution's output."""

    model_config = ConfigDict(frozen=True)

    endpoints: int
    changed: int
    unchanged: int
    failed: int
    report: Location


def manifest_key(profile: str, execution_name: str) -> str:
    return f"rollouts/{profile}/{execution_name}.manifest.json"


def report_key(profile: str, execution_name: str) -> str:
    return f"rollouts/{profile}/{execution_name}.report.json"


def outcome_key(execution_name: str, index: int) -> str:
    return f"{RESULTS_PREFIX}{execution_name}/{index:09d}.json"


def plan_rollout(
    ports: Ports, bucket: ReportBucket, *, profile: str, dry_run: bool, max_concurrency: int, execution_name: str
) -> RolloutPlan:
    """The profile's endpoints as the Map's manifest; `UnknownProfile` (nothing written) for a
    profile the configuration does not hold, `ConfigurationError` for one it holds broken."""
    config = ports.config.load()
    if profile not in config.profiles:
        raise UnknownProfile(profile, sorted(config.profiles))
    config.profiles_for(profile)
    usernames = [
        record.username for record in every_record(ports.inventory, profile=profile, statuses=ROLLED_OUT_STATUSES)
    ]
    manifest = Location(bucket=bucket.name, key=manifest_key(profile, execution_name))
    bucket.objects.put_json(manifest.bucket, manifest.key, usernames)
    return RolloutPlan(
        profile=profile, dry_run=dry_run, max_concurrency=max_concurrency, endpoints=len(usernames), manifest=manifest
    )


def roll_out_endpoint(
    ports: Ports,
    caller: Caller,
    username: str,
    deadline: Deadline,
    *,
    dry_run: bool,
    key: str,
    busy_seconds: float,
) -> EndpointRollout:
    """One endpoint brought in line (or, with `dry_run`, only measured); a repeat under `key`
    answers the first outcome and sends nothing."""
    if dry_run:
        changes = _drift(ports, caller, username, deadline)
        status = RolloutStatus.WOULD_CHANGE if changes else RolloutStatus.UNCHANGED
        return EndpointRollout(username=username, status=status, changes=changes)
    return run_keyed(
        ports.once,
        caller_identity=caller.identity,
        key=key,
        operation="rollout",
        username=username,
        body=None,
        busy_seconds=busy_seconds,
        answer_model=EndpointRollout,
        work=lambda _attempt: _reapply(ports, caller, username, deadline),
    )


def _reapply(ports: Ports, caller: Caller, username: str, deadline: Deadline) -> EndpointRollout:
    changes = _drift(ports, caller, username, deadline)
    if not changes:
        return EndpointRollout(username=username, status=RolloutStatus.UNCHANGED)
    change_endpoint(ports, caller, username, REAPPLY, deadline)
    return EndpointRollout(username=username, status=RolloutStatus.CHANGED, changes=changes)


def _drift(ports: Ports, caller: Caller, username: str, deadline: Deadline) -> list[Change]:
    return preview_change(ports, caller, username, REAPPLY, deadline).changes


def record_outcome(bucket: ReportBucket, execution_name: str, index: int, outcome: EndpointRollout) -> None:
    bucket.objects.put_json(bucket.name, outcome_key(execution_name, index), outcome.model_dump(mode="json"))


def write_report(bucket: ReportBucket, *, profile: str, dry_run: bool, execution_name: str) -> RolloutSummary:
    """`rollouts/<profile>/<execution name>.report.json`: every endpoint of the manifest with its
    outcome. With `dry_run`, `changed` counts the endpoints that would change."""
    usernames: list[str] = bucket.objects.get_json(bucket.name, manifest_key(profile, execution_name)) or []

    def outcome(item: tuple[int, str]) -> dict[str, Any]:
        index, username = item
        found: dict[str, Any] | None = bucket.objects.get_json(bucket.name, outcome_key(execution_name, index))
        if found is None:  # the endpoint's iteration failed beyond its Catch: nothing recorded
            return EndpointRollout(username=username, status=ProblemType.INTERNAL_ERROR.value).model_dump(mode="json")
        return found

    with ThreadPoolExecutor(max_workers=REPORT_READERS) as pool:
        results = list(pool.map(outcome, enumerate(usernames)))
    changed_statuses = {RolloutStatus.CHANGED.value, RolloutStatus.WOULD_CHANGE.value}
    changed = sum(1 for result in results if result["status"] in changed_statuses)
    unchanged = sum(1 for result in results if result["status"] == RolloutStatus.UNCHANGED.value)
    summary = RolloutSummary(
        endpoints=len(results),
        changed=changed,
        unchanged=unchanged,
        failed=len(results) - changed - unchanged,
        report=Location(bucket=bucket.name, key=report_key(profile, execution_name)),
    )
    document = {
        "profile": profile,
        "execution": execution_name,
        "dry_run": dry_run,
        **summary.model_dump(mode="json", exclude={"report"}),
        "results": results,
    }
    bucket.objects.put_json(summary.report.bucket, summary.report.key, document)
    return summary
