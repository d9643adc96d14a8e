"""Push config/profiles/*.json to SSM Parameter Store as <prefix>/profiles/<name>, and optionally
a deployment policy as <prefix>/policy.

    python config/push_profiles.py --stage dev            # prefix /sip-provisioning/dev
    python config/push_profiles.py --prefix /my/prefix --dir config/profiles
    python config/push_profiles.py --stage dev --policy config/policy.example.json

Each file is validated with the same model the function uses before anything is written, so a
broken profile never reaches SSM. Uses the standard AWS credential chain (AWS_PROFILE, ...).
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

PROFILE_TIER_LIMIT = 4096  # Standard-tier parameters hold at most 4 KB


def load_profiles(directory: Path) -> dict[str, str]:
    """Profile name -> compact JSON, validated; raises ValueError naming the broken file."""
    from sip_provisioning.domain.profile import Profile

    profiles: dict[str, str] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            Profile.model_validate(document)
        except ValueError as error:  # bad JSON, or pydantic's ValidationError (a ValueError)
            raise ValueError(f"{path.name}: {error}") from None
        profiles[path.stem] = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    if "default" not in profiles:
        raise ValueError(f"{directory} has no default.json; the service needs a 'default' profile")
    return profiles


def load_policy(path: Path) -> str:
    """The deployment policy as compact JSON, validated; raises ValueError naming the file."""
    from sip_provisioning.domain.policy import DeploymentPolicy

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        DeploymentPolicy.model_validate(document)
    except ValueError as error:
        raise ValueError(f"{path.name}: {error}") from None
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def put_profiles(ssm_client: Any, prefix: str, profiles: dict[str, str]) -> list[str]:
    """Write every profile (overwriting), return the parameter names written."""
    from sip_provisioning.domain.profile import PROFILES

    names = []
    for name, value in profiles.items():
        parameter = f"{prefix.rstrip('/')}/{PROFILES}{name}"
        tier = "Standard" if len(value.encode()) <= PROFILE_TIER_LIMIT else "Advanced"
        ssm_client.put_parameter(Name=parameter, Value=value, Type="String", Overwrite=True, Tier=tier)
        names.append(parameter)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stage", help="deployment stage; prefix /sip-provisioning/<stage>")
    target.add_argument("--prefix", help="explicit parameter prefix")
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent / "profiles")
    parser.add_argument("--policy", type=Path, help="a deployment policy file to push as <prefix>/policy")
    parser.add_argument("--region", default=None)
    args = parser.parse_args(argv)

    import boto3

    prefix = args.prefix or f"/sip-provisioning/{args.stage}"
    profiles = load_profiles(args.dir)
    policy = load_policy(args.policy) if args.policy else None  # both validated before anything is written
    ssm = boto3.client("ssm", region_name=args.region)
    for name in put_profiles(ssm, prefix, profiles):
        print(f"put {name}")
    if policy is not None:
        from sip_provisioning.domain.profile import DEPLOYMENT_POLICY

        name = f"{prefix.rstrip('/')}/{DEPLOYMENT_POLICY}"
        ssm.put_parameter(Name=name, Value=policy, Type="String", Overwrite=True)
        print(f"put {name}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "shared"))
    sys.exit(main())
