"""The reference for option (c): Powertools imported and its Logger used, no Tracer.

The service imports Powertools whatever it traces with, so the Tracer's own cost in the service
is option (c) minus this handler; option (a)'s is this handler minus the no-SDK one.
"""

import importlib
from typing import Any

from aws_lambda_powertools import Logger

logger = Logger()
baseline: Any = importlib.import_module("baseline_handler")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = baseline.lambda_handler(event, context)
    logger.info("created", extra={"status": result["statusCode"]})
    return result
