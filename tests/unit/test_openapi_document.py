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
