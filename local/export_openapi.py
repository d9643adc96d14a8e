"""Write the OpenAPI document Powertools generates from the routes and models.

python -m local.export_openapi            # rewrites docs/openapi.json

Powertools' document is completed with what API Gateway and the error handlers, not the route
functions, decide: every route sits behind IAM auth (SigV4, API Gateway's `x-amazon-apigateway-authtype`
extension); a problem's `type` is one of the service's problem types; every 422 is a problem
document (Powertools would describe its own `HTTPValidationError`, which the handler never
answers); and a 204 has no body.
"""

import json
from pathlib import Path
from typing import Any

OPENAPI_PATH = Path(__file__).parents[1] / "docs" / "openapi.json"

SIGV4_SCHEME = {
    "type": "apiKey",
    "name": "Authorization",
    "in": "header",
    "x-amazon-apigateway-authtype": "awsSigv4",
    "description": "AWS Signature Version 4 for service `execute-api`; the caller needs `execute-api:Invoke`.",
}
PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
POWERTOOLS_VALIDATION_ERROR = "HTTPValidationError"  # the 422 body Powertools would describe


def render_openapi() -> str:
    from http_api import app

    document = completed(json.loads(app.get_openapi_json_schema()))
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def completed(document: dict[str, Any]) -> dict[str, Any]:
    from sip_provisioning.domain.errors import ProblemType

    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["sigv4"] = SIGV4_SCHEME
    document["security"] = [{"sigv4": []}]
    problem_type = components["schemas"]["Problem"]["properties"]["type"]
    problem_type["enum"] = sorted(problem.value for problem in ProblemType)
    problem_type["description"] = "The problem type: its status and meaning are listed in the README's table."
    for operation in (op for path in document["paths"].values() for op in path.values()):
        responses = operation["responses"]
        if "422" in responses and PROBLEM_CONTENT_TYPE not in responses["422"].get("content", {}):
            responses["422"] = {
                "description": "Validation error (a parameter or header breaks a rule), or idempotency key reused",
                "content": {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_SCHEMA}},
            }
        if "204" in responses:
            responses["204"].pop("content", None)
    if POWERTOOLS_VALIDATION_ERROR not in json.dumps(document["paths"]):
        components["schemas"].pop(POWERTOOLS_VALIDATION_ERROR, None)
    return document


def main() -> None:
    OPENAPI_PATH.write_text(render_openapi(), encoding="utf-8")
    print(f"wrote {OPENAPI_PATH}")


if __name__ == "__main__":
    main()
