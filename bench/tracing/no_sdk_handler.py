"""Option (a): Lambda's own active tracing, no tracing SDK in the function.

Lambda records the invocation in X-Ray and sets `_X_AMZN_TRACE_ID`; the handler only passes the
trace id on to its log line, as Powertools' Logger does on every line (`xray_trace_id`).
"""

import importlib
import json
import os
from typing import Any

# The baseline is a top-level module in the packaged tree, as this one is.
baseline: Any = importlib.import_module("baseline_handler")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = baseline.lambda_handler(event, context)
    trace_header = os.environ.get("_X_AMZN_TRACE_ID", "")
    trace_id = next((part[5:] for part in trace_header.split(";") if part.startswith("Root=")), None)
    print(json.dumps({"message": "created", "status": result["statusCode"], "xray_trace_id": trace_id}))
    return result
