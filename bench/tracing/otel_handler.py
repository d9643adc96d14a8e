"""Option (b): the OpenTelemetry SDK in the function, no ADOT layer.

A tracer provider with X-Ray trace ids, spans for botocore and requests (what the X-Ray SDK's
patches record), the invocation's span parented on Lambda's `_X_AMZN_TRACE_ID`, exported as
OTLP/HTTP to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (a collector on localhost, as the ADOT collector
extension would be) and flushed before the handler returns: a frozen environment sends nothing.
"""

import importlib
import json
import os
from typing import Any

from opentelemetry import trace  # type: ignore[import-not-found, unused-ignore]
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found, unused-ignore]
    OTLPSpanExporter,
)
from opentelemetry.instrumentation.botocore import (  # type: ignore[import-not-found, unused-ignore]
    BotocoreInstrumentor,
)
from opentelemetry.instrumentation.requests import (  # type: ignore[import-not-found, unused-ignore]
    RequestsInstrumentor,
)
from opentelemetry.propagators.aws import AwsXRayLambdaPropagator  # type: ignore[import-not-found, unused-ignore]
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator  # type: ignore[import-not-found, unused-ignore]
from opentelemetry.sdk.resources import Resource  # type: ignore[import-not-found, unused-ignore]
from opentelemetry.sdk.trace import TracerProvider  # type: ignore[import-not-found, unused-ignore]
from opentelemetry.sdk.trace.export import BatchSpanProcessor  # type: ignore[import-not-found, unused-ignore]

provider = TracerProvider(
    id_generator=AwsXRayIdGenerator(),
    resource=Resource.create(
        {"service.name": os.environ.get("POWERTOOLS_SERVICE_NAME", "bench"), "cloud.provider": "aws"}
    ),
)
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
BotocoreInstrumentor().instrument()
RequestsInstrumentor().instrument()
tracer = trace.get_tracer("bench.tracing")
propagator = AwsXRayLambdaPropagator()
baseline: Any = importlib.import_module("baseline_handler")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    parent = propagator.extract({})  # no header in the carrier: Lambda's _X_AMZN_TRACE_ID
    with tracer.start_as_current_span(
        "lambda_handler",
        context=parent,
        kind=trace.SpanKind.SERVER,
        attributes={"faas.invocation_id": context.aws_request_id},
    ) as span:
        result: dict[str, Any] = baseline.lambda_handler(event, context)
        span.set_attribute("http.response.status_code", result["statusCode"])
        trace_id = format(span.get_span_context().trace_id, "032x")
    print(json.dumps({"message": "created", "status": result["statusCode"], "trace_id": trace_id}))
    provider.force_flush()
    return result
