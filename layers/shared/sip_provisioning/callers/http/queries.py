"""The query rules: a parameter a route does not take is refused by name, and the inventory's
filters mean nothing beside `managed=false`."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from sip_provisioning.callers.http.answers import problem_response
from sip_provisioning.domain.errors import FieldError, RequestInvalid


def refuse_unknown_query_parameters(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[str]:
    """Any query parameter a route does not take is a 422 naming it: a misspelled `dryRun` must
    never create."""
    route = app.context.get("_route")
    if route is not None and not route.include_in_schema:  # Powertools' own Swagger UI (make run only)
        return next_middleware(app)
    known = {field.alias for field in route.dependant.query_params} if route is not None else set()
    unknown = sorted(set(app.current_event.query_string_parameters or {}) - known)
    if unknown:
        return problem_response(
            RequestInvalid(
                [FieldError(field=name[:64], message="unknown query parameter") for name in unknown],
                detail="The request names query parameters this route does not take.",
            ),
            app.current_event,
        )
    return next_middleware(app)


def refuse_inventory_filters(**filters: str | None) -> None:
    """The inventory's filters mean nothing for endpoints it does not hold: given, they are a 422."""
    given = [name for name, value in filters.items() if value is not None]
    if given:
        raise RequestInvalid(
            [FieldError(field=name, message="not combinable with managed=false") for name in given],
            detail="The inventory's filters do not apply to endpoints it does not hold.",
        )
