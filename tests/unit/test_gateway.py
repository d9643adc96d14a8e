"""What the functions read from API Gateway's HTTP API events and give back (`callers/gateway.py`)."""

from dataclasses import dataclass

from sip_provisioning.callers.gateway import GatewayAnswer, GatewayRequest, RouteTable


@dataclass(frozen=True)
class Route:
    method: str
    path: str


ROUTES = RouteTable((Route("GET", "/endpoints/{username}"), Route("POST", "/endpoints/{username}/disable")))


def event(**fields: object) -> dict[str, object]:
    return {"rawPath": "/endpoints", "requestContext": {"stage": "$default", "http": {"method": "get"}}, **fields}


def test_header_names_are_read_whatever_their_case() -> None:
    # Given a request whose client sent `Content-Type` in mixed case (the local gateway passes it so)
    request = GatewayRequest.of(event(headers={"Content-Type": "application/json"}))
    # When its headers are read / Then the name is found in lower case, as API Gateway sends it
    assert request.headers["content-type"] == "application/json"


def test_a_named_stage_is_not_part_of_the_path_the_routes_see() -> None:
    # Given a request to the `dev` stage
    request = GatewayRequest.of(event(rawPath="/dev/endpoints/ada", requestContext={"stage": "dev", "http": {}}))
    # When / Then the routes see the path below the stage, and the raw path keeps it
    assert (request.path, request.raw_path) == ("/endpoints/ada", "/dev/endpoints/ada")


def test_a_path_parameter_is_one_segment_with_an_encoded_slash_inside_it() -> None:
    # Given a username holding `/`, percent-encoded, and the same name left unencoded
    # When each is matched
    encoded = ROUTES.match("GET", "/endpoints/team%2Fada")
    unencoded = ROUTES.match("GET", "/endpoints/team/ada")
    # Then the encoded one is the username's one segment, and the unencoded one matches no route
    assert encoded is not None
    assert encoded[1] == {"username": "team%2Fada"}
    assert unencoded is None


def test_a_route_answers_its_own_method_alone() -> None:
    # Given / When a path that exists asked with another method
    found = ROUTES.match("DELETE", "/endpoints/ada/disable")
    # Then no route answers it
    assert found is None


def test_a_prefix_is_stripped_only_where_a_segment_ends() -> None:
    # Given requests below `/scim/v2`, at it, and beside it
    below = GatewayRequest.of(event(rawPath="/scim/v2/Users")).without_prefix("/scim/v2")
    at = GatewayRequest.of(event(rawPath="/scim/v2")).without_prefix("/scim/v2")
    beside = GatewayRequest.of(event(rawPath="/scim/v2Users")).without_prefix("/scim/v2")
    # When / Then only the first two lose it
    assert (below.path, at.path, beside.path) == ("/Users", "/", "/scim/v2Users")


def test_an_answer_carries_its_media_type_beside_its_own_headers() -> None:
    # Given an answer with a media type and a header of its own
    answer = GatewayAnswer(503, "{}", "application/problem+json", {"Retry-After": "5"})
    # When it is handed back to API Gateway
    result = answer.as_result()
    # Then both headers are there, and the body is text
    assert result == {
        "statusCode": 503,
        "body": "{}",
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/problem+json", "Retry-After": "5"},
    }


def test_the_media_type_is_read_without_its_parameters_and_in_lower_case() -> None:
    # Given a request naming its media type in mixed case, with a charset
    request = GatewayRequest.of(event(headers={"content-type": "Application/JSON; charset=utf-8"}))
    # When / Then its media type is the type alone, in lower case
    assert request.media_type == "application/json"
