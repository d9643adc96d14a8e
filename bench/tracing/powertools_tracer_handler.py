"""Option (c): Powertools' Tracer (the AWS X-Ray SDK), as the service used it.

`Tracer()` patches every module the X-Ray SDK supports (botocore and requests among them), and
the handler's subsegment is captured without its response, as the service's was.
"""

import importlib
from typing import Any

from aws_lambda_powertools import Logger, Tracer

logger = Logger()
tracer = Tracer()
baseline: Any = importlib.import_module("baseline_handler")


@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = baseline.lambda_handler(event, context)
    logger.info("created", extra={"status": result["statusCode"]})
    return result
