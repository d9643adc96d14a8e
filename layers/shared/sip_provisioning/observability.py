"""The one place that owns Powertools' Logger, Metrics and Tracer.

Every module logs, counts and traces through these instances so that keys appended at the edge
(request id, caller identity) appear on every line, whatever module writes it.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

# Service name and namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE.
logger = Logger()
metrics = Metrics()
tracer = Tracer()
