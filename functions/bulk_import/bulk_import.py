"""Lambda entry of the bulk onboarding state machine (statemachine/bulk_onboarding.asl.json).

Step Functions invokes it directly (`lambda:invoke`) with one of four actions:

- `validate` `{"source": {"bucket", "key"}, "max_concurrency", "execution_name"}`: the whole file
  checked as it streams in (`sip_provisioning.callers.bulk`); answers
  `{"valid", "rows", "max_concurrency"}`, and for a bad file writes `<key>.report.json` first and
  adds `"bad_rows"`, `"report"` and `"summary"` (the Fail state's cause). A source that cannot be
  read at all (no such object or bucket, access denied) is a bad file too: `"summary"` names it,
  and there is no report (there may be no bucket to write it to).
- `create_row` `{"source", "execution_name", "index", "row"}`: one row of the Distributed Map
  created under the bulk caller at most once per key `<execution name>:<username>`, its outcome
  written under `bulk-results/`; answers only `{"line", "status"}` so the Map's output stays tiny.
  A failure is raised by its problem type's name (`sip_provisioning.callers.workflow`) for the state
  machine's Retry and Catch, as the workflow entry raises it.
- `row_failed` `{"source", "execution_name", "index", "row", "failure": {"Error", "Cause"}}`: the
  Catch of a row that failed for good; records its problem type.
- `report` `{"source", "execution_name"}`: every row's outcome, in file order, as
  `<key>.report.json`; answers the execution's output `{"rows", "created", "failed", "report"}`.
"""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sip_provisioning.callers import workflow
from sip_provisioning.callers.bulk_steps import RowResultNotRecorded, Run, run_step
from sip_provisioning.callers.invocation import Invocation
from sip_provisioning.observability import logger, metrics
from sip_provisioning.use_cases.bulk_import import BULK_CALLER
from sip_provisioning.wiring import compose, warm_up_during_init

wiring = cache(compose)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: object, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(caller=BULK_CALLER.identity)
    try:
        return run_step(event, lambda: Run(Invocation.of(context, wiring().ports, BULK_CALLER), wiring().objects))
    except RowResultNotRecorded:
        raise  # by its own name: a Retry replays the create under its key
    except Exception as error:
        raise workflow.named_failure(error) from None


warm_up_during_init(wiring, os.environ)
