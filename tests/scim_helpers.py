"""Sending SCIM requests to the real SCIM `lambda_handler` through API Gateway's event format."""

import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from local.gateway import LambdaFunction, LocalLambdaContext, build_event

SCIM_ROUTE_KEY = "ANY /scim/v2/{proxy+}"
SCIM_FUNCTION = LambdaFunction(name="sip-provisioner-scim", timeout_seconds=25)
SCIM_TOKEN = "scim-test-bearer-token-9f8e7d6c5b4a"
SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SIP_SCHEMA = "urn:sip-provisioning:scim:schemas:extension:sip:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass(frozen=True)
class ScimAnswer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class ScimClient:
    """An identity provider's requests, as API Gateway hands them to the SCIM function."""

    module: ModuleType
    token: str = SCIM_TOKEN
    host: str = "scim.example.test"

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        query: str = "",
        headers: dict[str, str] | None = None,
        raw_body: bytes | None = None,
    ) -> ScimAnswer:
        given = {"Host": self.host, "Authorization": f"Bearer {self.token}", "Content-Type": SCIM_JSON}
        data = raw_body if raw_body is not None else (b"" if body is None else json.dumps(body).encode())
        event = build_event(
            method,
            f"/scim/v2{path}",
            query,
            list({**given, **(headers or {})}.items()),
            data,
            iam_authorizer=False,
            route_key=SCIM_ROUTE_KEY,
            path_parameters={"proxy": path.lstrip("/")},
        )
        result = self.module.lambda_handler(event, LocalLambdaContext(SCIM_FUNCTION))
        text = result.get("body") or ""
        return ScimAnswer(result["statusCode"], result.get("headers") or {}, json.loads(text) if text else None)

    def post_user(self, body: dict[str, Any]) -> ScimAnswer:
        return self.request("POST", "/Users", body)

    def patch_user(self, user_id: str, *operations: dict[str, Any]) -> ScimAnswer:
        return self.request("PATCH", f"/Users/{user_id}", {"schemas": [PATCH_SCHEMA], "Operations": list(operations)})


def user_body(user_name: str, *, external_id: str | None = None, active: bool = True, **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [USER_SCHEMA], "userName": user_name, "active": active, **more}
    if external_id is not None:
        body["externalId"] = external_id
    return body
