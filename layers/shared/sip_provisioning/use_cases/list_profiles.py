"""The profiles a self-service request can name."""

from sip_provisioning.domain.answers import ProfileList, ProfileSummary
from sip_provisioning.use_cases.ports import Caller, Ports
from sip_provisioning.use_cases.support.guard import usable_profiles


def list_profiles(ports: Ports, caller: Caller) -> ProfileList:
    config = ports.config.load()
    profiles = {name: config.profiles[name] for name in usable_profiles(config, caller)}
    return ProfileList(
        profiles=[
            ProfileSummary(
                name=name,
                description=profile.description,
                call_handler=profile.call_handler.value if profile.call_handler else None,
            )
            for name, profile in sorted(profiles.items())
        ]
    )
