"""The fair floor: the careful baseline's create doing what the service's create must also do.

What a competent engineer writes with only `json`, `boto3` and `requests` when the create is
recorded and the settings are read before the first request: in INIT, the SSM and DynamoDB clients
built and the parameters the create needs read in one `get_parameters` (kept PARAMETERS_MAX_AGE
seconds, as the service keeps its own); per create, the profile's fields plus the username and a
generated password, one POST on a kept-alive `requests.Session`, and one conditional `put_item`
of the endpoint into the inventory table. No validation, no logging framework, no metrics, no
tracing: whatever the service spends on those shows up as the gap. It reads only the fields the
bench sends (`username`, `profile`, `password`).
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
NEEDED = ("signalwire/space_url", "signalwire/project_id", "signalwire/api_token", "signalwire/sip_domain")

ssm = boto3.client("ssm")
dynamodb = boto3.client("dynamodb")
signalwire = requests.Session()
parameters_path = os.environ["PARAMETERS_PATH"].rstrip("/")
parameters_max_age = float(os.environ.get("PARAMETERS_MAX_AGE", "300"))
inventory_table = os.environ["INVENTORY_TABLE"]
cached_parameters: dict[str, str] = {}
cached_at = float("-inf")


def read_parameters(profile: str) -> dict[str, str]:
    """The settings and the profile (names relative to the path); SSM is asked again after max age."""
    global cached_parameters, cached_at
    if time.monotonic() - cached_at < parameters_max_age and f"profiles/{profile}" in cached_parameters:
        return cached_parameters
    names = [f"{parameters_path}/{name}" for name in (*NEEDED, f"profiles/{profile}")]
    answer = ssm.get_parameters(Names=names, WithDecryption=True)
    cached_parameters = {
        parameter["Name"].removeprefix(parameters_path + "/"): parameter["Value"] for parameter in answer["Parameters"]
    }
    cached_at = time.monotonic()
    return cached_parameters


read_parameters("default")


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    request = json.loads(event["body"])
    profile = request.get("profile", "default")
    parameters = read_parameters(profile)
    fields = json.loads(parameters[f"profiles/{profile}"])
    fields.pop("description", None)
    password = request.get("password") or secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    answer = signalwire.post(
        parameters["signalwire/space_url"] + ENDPOINTS_PATH,
        json={**fields, "username": request["username"], "password": password},
        auth=(parameters["signalwire/project_id"], parameters["signalwire/api_token"]),
        timeout=SIGNALWIRE_TIMEOUTS,
    )
    if answer.status_code != 201:
        return {"statusCode": 502, "body": json.dumps({"upstream_status": answer.status_code})}
    endpoint = answer.json()
    dynamodb.put_item(
        TableName=inventory_table,
        Item={
            "username": {"S": request["username"]},
            "record": {"S": "endpoint"},
            "endpoint_id": {"S": str(endpoint.get("id", ""))},
            "profile": {"S": profile},
        },
        ConditionExpression="attribute_not_exists(username)",
    )
    created = {
        "endpoint": endpoint,
        "sip_uri": f"sip:{request['username']}@{parameters.get('signalwire/sip_domain', '')}",
        "profile": profile,
    }
    if "password" not in request:
        created["password"] = password
    return {"statusCode": 201, "headers": {"Content-Type": "application/json"}, "body": json.dumps(created)}
