"""The HTTP API's words: body and media-type rules, the query rule, answers and problems, and the
OpenAPI declarations the routes in `functions/http_api/http_api.py` are made of."""
