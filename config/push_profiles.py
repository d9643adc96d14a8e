"""Push config/profiles/*.json to SSM Parameter Store as <prefix>/profiles/<name>.

    python config/push_profiles.py --stage dev            # prefix /sip-provisioning/dev
    python config/push_profiles.py --prefix /my/prefix --dir config/profiles

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
    from sip_provisioning.configuration import Profile

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


def put_profiles(ssm_client: Any, prefix: str, profiles: dict[str, str]) -> list[str]:
    """Write every profile (overwriting), return the parameter names written."""
    names = []
    for name, value in profiles.items():
        parameter = f"{prefix.rstrip('/')}/profiles/{name}"
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
    parser.add_argument("--region", default=None)
    args = parser.parse_args(argv)

    import boto3

    prefix = args.prefix or f"/sip-provisioning/{args.stage}"
    profiles = load_profiles(args.dir)
    for name in put_profiles(boto3.client("ssm", region_name=args.region), prefix, profiles):
        print(f"put {name}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "shared"))
    sys.exit(main())
