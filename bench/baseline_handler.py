"""The floor the provisioner is measured against: its create call written with no framework.

What a competent engineer writes with only `json`, `boto3` and `requests`: one recursive
`get_parameters_by_path` (paged, and kept for PARAMETERS_MAX_AGE seconds as the service keeps
its parameters), the profile's fields plus the username and a generated password, one
`requests.post`, and the created endpoint back in the service's answer shape. No validation,
no logging framework, no metrics, no tracing: whatever the service spends on those shows up as
the gap. It reads only the fields the bench sends (`username`, `profile`, `password`).
"""

import json
import os
import secrets
import time
from typing import Any

import boto3
import requests

ENDPOINTS_PATH = "/api/relay/rest/endpoints/sip"
GENERATED_PASSWORD_BYTES = 24
SIGNALWIRE_TIMEOUTS = (3.05, 10.0)

# The SDK client is made at INIT, as AWS advises; the parameters are read at the first invocation.
ssm = boto3.client("ssm")
parameters_path = os.environ["PARAMETERS_PATH"].rstrip("/")
parameters_max_age = float(os.environ.get("PARAMETERS_MAX_AGE", "300"))
cached_parameters: dict[str, str] = {}
cached_at = float("-inf")


def read_parameters() -> dict[str, str]:
    """Every parameter under the path, names relative to it; SSM is asked again after max age."""
    global cached_parameters, cached_at
    if time.monotonic() - cached_at < parameters_max_age:
        return cached_parameters
    values: dict[str, str] = {}
    request: dict[str, Any] = {"Path": parameters_path, "Recursive": True, "WithDecryption": True, "MaxResults": 10}
    while True:
        page = ssm.get_parameters_by_path(**request)
        for parameter in page["Parameters"]:
            values[parameter["Name"].removeprefix(parameters_path + "/")] = parameter["Value"]
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    cached_parameters, cached_at = values, time.monotonic()
    return values


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    request = json.loads(event["body"])
    parameters = read_parameters()
    profile = request.get("profile", "default")
    fields = json.loads(parameters[f"profiles/{profile}"])
    fields.pop("description", None)
    password = request.get("password") or secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    answer = requests.post(
        parameters["signalwire/space_url"] + ENDPOINTS_PATH,
        json={**fields, "username": request["username"], "password": password},
        auth=(parameters["signalwire/project_id"], parameters["signalwire/api_token"]),
        timeout=SIGNALWIRE_TIMEOUTS,
    )
    if answer.status_code != 201:
        return {"statusCode": 502, "body": json.dumps({"upstream_status": answer.status_code})}
    created = {
        "endpoint": answer.json(),
        "sip_uri": f"sip:{request['username']}@{parameters['signalwire/sip_domain']}",
        "profile": profile,
    }
    if "password" not in request:
        created["password"] = password
    return {"statusCode": 201, "headers": {"Content-Type": "application/json"}, "body": json.dumps(created)}
