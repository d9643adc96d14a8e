"""Proof, under faults, of what the service promises: each endpoint created at most once, no
generated password lost, every request answered with the contract's problem type.

`scenarios.py` defines each fault scenario once; `tests/integration/test_reliability_scenarios.py`
asserts them and `python -m reliability.report` (`make reliability`) prints them as a table.
"""

import os

# The function's environment as template.yaml sets it. Powertools reads these when the one
# Logger/Metrics/Tracer module is first imported, which importing the scenarios does.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "sip-provisioner")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SipProvisioning")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
