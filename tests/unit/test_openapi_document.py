"""docs/openapi.json is what the code generates: callers read the committed file."""

import json

from local.export_openapi import OPENAPI_PATH, render_openapi


def test_the_committed_openapi_document_matches_the_generated_one() -> None:
    # Given the document generated from the routes and models
    generated = render_openapi()
    # When compared with the committed file
    committed = OPENAPI_PATH.read_text(encoding="utf-8")
    # Then they are identical (regenerate with: make openapi)
    assert committed == generated, "docs/openapi.json is stale: run `make openapi` and commit it"


def test_the_document_describes_both_routes_with_problem_answers() -> None:
    # Given the generated document
    document = json.loads(render_openapi())
    # When its routes are read
    create = document["paths"]["/endpoints"]["post"]
    # Then the create route documents its body, its 201 and its problem+json errors
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/EndpointRequest")
    assert "201" in create["responses"]
    assert "application/problem+json" in create["responses"]["422"]["content"]
    assert "get" in document["paths"]["/profiles"]


def test_each_dry_run_answer_is_described_by_its_routes_200() -> None:
    # Given the generated document
    document = json.loads(render_openapi())
    schemas = document["components"]["schemas"]
    # When the 200 answers of the routes that take dry_run are read
    answers = {
        (method, path): json.dumps(document["paths"][path][method]["responses"]["200"])
        for method, path in [
            ("post", "/endpoints"),
            ("patch", "/endpoints/{username}"),
            ("delete", "/endpoints/{username}"),
            ("post", "/endpoints/{username}/adopt"),
        ]
    }
    # Then each names its dry run's answer: PATCH's {"dry_run", "changes"} among them
    patch = schemas["ChangeAnswer"]
    assert '"#/components/schemas/ChangeAnswer"' in answers["patch", "/endpoints/{username}"]
    assert {"$ref": "#/components/schemas/ChangePreview"} in patch["anyOf"]
    assert set(schemas["ChangePreview"]["properties"]) == {"dry_run", "changes"}
    assert "DryRunResult" in answers["post", "/endpoints"]
    assert "DeletePreview" in answers["delete", "/endpoints/{username}"]
    assert "AdoptAnswer" in answers["post", "/endpoints/{username}/adopt"]


def test_the_iam_routes_name_the_sigv4_scheme_and_the_slack_and_scim_routes_none() -> None:
    # Given the generated document
    document = json.loads(render_openapi())
    # When its security is read
    scheme = document["components"]["securitySchemes"]["sigv4"]
    # Then SigV4 is API Gateway's apiKey-style scheme on Authorization, the default for every operation
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert document["security"] == [{"sigv4": []}]
    assert document["paths"]["/chatops/slack"]["post"]["security"] == []
    assert document["paths"]["/scim/v2/{proxy+}"]["get"]["security"] == []
    assert {tag["name"] for tag in document["tags"]} >= {"endpoints", "profiles", "fleet"}
