"""The one place that owns Powertools' Logger and Metrics.

Every module logs and counts through these instances so that keys appended at the edge
(request id, caller identity) appear on every line, whatever module writes it.

Tracing is Lambda's own (`Tracing: Active` in template.yaml), with no tracing SDK in the
function: Lambda records every invocation (its Init, Invocation and Overhead) in X-Ray and
passes the trace on in `_X_AMZN_TRACE_ID`, which the Logger writes on every line as
`xray_trace_id`, so a trace and its log lines find each other. No AWS X-Ray SDK, which reaches
end of support on 2027-02-25 (Powertools' Tracer is built on it), and so no trace document that
records a request's full URL: a Slack `response_url`, whose path is a credential, would be one.
`make bench` measured the choice (bench/tracing_options.py).
"""

import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

# Service name and namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE.
logger = Logger()
metrics = Metrics()

INTERNAL_ERROR = "internal-error"

# Many requests (a profile list, most failures) record no metric of their own; expected, not a warning.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)


def count_by(name: str, dimension: str, value: str) -> None:
    """Count one `name` under a dimension of its own. Flushed at once: a per-request dimension
    cannot join the invocation's shared metric set."""
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name=dimension, value=value)


def record_failure(problem_type: str, detail: str, **extra: Any) -> None:
    """Every failed request, whatever its entry point: one metric and one log line."""
    count_by("RequestsFailed", "problem_type", problem_type)
    if problem_type == INTERNAL_ERROR:
        logger.exception("Request failed unexpectedly", extra={"problem_type": problem_type, **extra})
    else:
        logger.warning(
            "Request answered with a problem", extra={"problem_type": problem_type, "detail": detail, **extra}
        )
