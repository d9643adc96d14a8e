"""Write the OpenAPI document Powertools renders from the HTTP API's routes and models.

python -m local.export_openapi            # rewrites docs/openapi.json

`callers/http/openapi.document` describes the routes (`callers/http/routes.ROUTES`), their SigV4
security scheme and tags. This completes that document with what API Gateway, the error
handlers and the other functions, not those routes, decide: API Gateway's own 403 for a request its
IAM authorizer refuses; a problem's `type` is one of the service's problem types; every 422 is a
problem document (Powertools would describe its own `HTTPValidationError`, which the handler
never answers); a 204 has no body; and the Slack and SCIM routes, outside IAM auth, in a sentence
each. `make run` serves this very file at /swagger.
"""

import json
from pathlib import Path
from typing import Any

OPENAPI_PATH = Path(__file__).parents[1] / "docs" / "openapi.json"

PROBLEM_CONTENT_TYPE = "application/problem+json"
JSON_CONTENT_TYPE = "application/json"
PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
POWERTOOLS_VALIDATION_ERROR = "HTTPValidationError"  # the 422 body Powertools would describe
GATEWAY_MESSAGE = "GatewayMessage"
GATEWAY_MESSAGE_SCHEMA = {
    "type": "object",
    "title": GATEWAY_MESSAGE,
    "description": "API Gateway's own answer, before any function: `Forbidden`, `Not Found`, ...",
    "properties": {"message": {"type": "string"}},
    "required": ["message"],
}
SIGV4_REFUSED = (
    "The IAM authorizer refused the request (unsigned, a signature that does not verify, an unknown key, a "
    "stale date): API Gateway's own answer."
)
POLICY_REFUSED = " Or a policy forbids this caller this request: a problem document."
NO_IAM_AUTH: list[dict[str, list[str]]] = []
# Outside IAM auth, each checks its caller itself; a sentence each, not their whole grammar.
OTHER_ROUTES = {
    "/chatops/slack": {
        "post": {
            "tags": ["slack"],
            "summary": "Slack's slash command (`/sip create`, `show`, `delete` ...), as Slack sends it",
            "description": (
                "Slack's `application/x-www-form-urlencoded` slash command form, signed with the Slack app's "
                "signing secret (`X-Slack-Signature`, `X-Slack-Request-Timestamp`) and from an allowed "
                "workspace; answered at once with an ephemeral message, and a command that calls SignalWire "
                "posts its result to the command's `response_url`. `help` lists the commands."
            ),
            "operationId": "slack_command",
            "security": NO_IAM_AUTH,
            "responses": {
                "200": {"description": "The ephemeral Slack message (empty for Slack's `ssl_check`)"},
                "400": {"description": "Not a slash command form", "content": {PROBLEM_CONTENT_TYPE: {}}},
                "401": {
                    "description": "Not signed by Slack with this app's secret",
                    "content": {PROBLEM_CONTENT_TYPE: {}},
                },
                "403": {"description": "A workspace not allowed", "content": {PROBLEM_CONTENT_TYPE: {}}},
            },
        }
    },
    "/scim/v2/{proxy+}": {
        method: {
            "tags": ["scim"],
            "summary": f"SCIM 2.0 for identity providers (RFC 7644): {method.upper()} of a SCIM resource",
            "description": (
                "`Users` (create, list with `filter`, read, replace, patch, delete), `ServiceProviderConfig`, "
                "`ResourceTypes` and `Schemas`, which is this API's own reference for its resources. Every "
                "request carries `Authorization: Bearer <token>`; media type `application/scim+json`; errors "
                "are SCIM error documents."
            ),
            "operationId": f"scim_{method}",
            "security": NO_IAM_AUTH,
            "parameters": [
                {
                    "name": "proxy+",
                    "in": "path",
                    "required": True,
                    "description": "The SCIM resource path: `Users`, `Users/{id}`, `Schemas` ...",
                    "schema": {"type": "string"},
                }
            ],
            "responses": {"default": {"description": "A SCIM resource, list or error document"}},
        }
        for method in ("get", "post", "put", "patch", "delete")
    },
}
OTHER_TAGS = [
    {"name": "slack", "description": "The Slack slash command (no IAM auth: Slack's request signature)."},
    {"name": "scim", "description": "SCIM 2.0 provisioning for identity providers (no IAM auth: a bearer token)."},
]


def render_openapi() -> str:
    from sip_provisioning.callers.http.openapi import document
    from sip_provisioning.callers.http.routes import ROUTES

    rendered = completed(document(ROUTES))
    return json.dumps(rendered, indent=2, sort_keys=True) + "\n"


def completed(document: dict[str, Any]) -> dict[str, Any]:
    from sip_provisioning.domain.errors import ProblemType

    components = document.setdefault("components", {})
    components["schemas"][GATEWAY_MESSAGE] = GATEWAY_MESSAGE_SCHEMA
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
        refused = responses.setdefault("403", {"content": {}})
        refused["description"] = SIGV4_REFUSED + (POLICY_REFUSED if refused["content"] else "")
        refused["content"][JSON_CONTENT_TYPE] = {"schema": {"$ref": f"#/components/schemas/{GATEWAY_MESSAGE}"}}
    if POWERTOOLS_VALIDATION_ERROR not in json.dumps(document["paths"]):
        components["schemas"].pop(POWERTOOLS_VALIDATION_ERROR, None)
    document["paths"].update(OTHER_ROUTES)
    document["tags"] = [*document.get("tags", []), *OTHER_TAGS]
    return document


def main() -> None:
    OPENAPI_PATH.write_text(render_openapi(), encoding="utf-8")
    print(f"wrote {OPENAPI_PATH}")


if __name__ == "__main__":
    main()
