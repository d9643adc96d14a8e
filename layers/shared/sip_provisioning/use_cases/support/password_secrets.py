"""A password secret as the use cases see it: checked against Secrets Manager's limits before
anything is created or changed, so no endpoint is ever left with a password it cannot store."""

from sip_provisioning.domain.errors import RequestInvalid
from sip_provisioning.domain.records import SecretLabels
from sip_provisioning.use_cases.ports import Ports


def check_secret_fits(ports: Ports, labels: SecretLabels) -> None:
    refusals = ports.secrets.unfit(labels)
    if refusals:
        raise RequestInvalid(
            refusals, detail="Secrets Manager could not hold the endpoint's password secret, named and tagged for it."
        )
