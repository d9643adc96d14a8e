"""Every fault scenario of `reliability/scenarios.py` keeps the service's promises.

The same scenarios make the table `make reliability` prints; here each one is a test.
"""

import pytest

from reliability.runner import Scenario, run_scenario
from reliability.scenarios import SCENARIOS

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
def test_every_answer_is_allowed_and_no_endpoint_is_duplicated_lost_or_claimed_and_no_mistake_gets_a_5xx(
    scenario: Scenario,
) -> None:
    # Given the scenario's faults, on a fresh stack
    # When its requests are sent, and retried as the answers invite
    result = run_scenario(scenario)
    # Then every answer is one the contract allows, and what SignalWire holds is what was promised
    assert result.mismatches == ()
    assert (result.duplicates, result.lost, result.foreign_claimed, result.server_errors_for_mistakes) == (0, 0, 0, 0)
