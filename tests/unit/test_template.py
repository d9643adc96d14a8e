"""What the deployed stack guarantees, read from template.yaml: who may call it, what it may touch."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 30
STAGE_PARAMETERS_ARN = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/sip-provisioning/${Stage}"


class CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc]
    """Safe YAML loading that reads short-form intrinsics (`!Sub x`) in long form (`{"Fn::Sub": x}`)."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    function_name = tag_suffix if tag_suffix in {"Ref", "Condition"} else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        scalar = loader.construct_scalar(node)
        # `!GetAtt Resource.Attribute` is the one short form whose scalar stands for a list.
        value = scalar.split(".", 1) if function_name == "Fn::GetAtt" else scalar
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {function_name: value}


CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = CloudFormationLoader(TEMPLATE_PATH.read_text(encoding="utf-8")).get_single_data()
    return loaded


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == resource_type}


def only_resource_of_type(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    (resource,) = resources_of_type(template, resource_type).values()
    return resource


def function_properties(template: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = only_resource_of_type(template, "AWS::Serverless::Function")["Properties"]
    return properties


def http_api_events(template: dict[str, Any]) -> list[dict[str, Any]]:
    events = function_properties(template)["Events"].values()
    return [event["Properties"] for event in events if event["Type"] == "HttpApi"]


def policy_statements(template: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in function_properties(template)["Policies"]:
        yield from policy["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_granting(template: dict[str, Any], service_prefix: str) -> list[dict[str, Any]]:
    return [
        statement
        for statement in policy_statements(template)
        if any(action.startswith(f"{service_prefix}:") for action in as_list(statement["Action"]))
    ]


def test_the_http_api_requires_iam_signed_requests_by_default(template: dict[str, Any]) -> None:
    # Given
    http_api = only_resource_of_type(template, "AWS::Serverless::HttpApi")

    # When
    auth = http_api["Properties"]["Auth"]

    # Then
    assert auth["EnableIamAuthorizer"] is True
    assert auth["DefaultAuthorizer"] == "AWS_IAM"


def test_every_route_is_served_by_the_iam_protected_http_api(template: dict[str, Any]) -> None:
    # Given: a route without ApiId would land on SAM's implicit API, which has no authorizer
    (http_api_name,) = resources_of_type(template, "AWS::Serverless::HttpApi")

    # When
    routes = http_api_events(template)

    # Then
    assert routes
    assert all(route.get("ApiId") == {"Ref": http_api_name} for route in routes)


def test_no_route_opts_out_of_the_default_iam_authorizer(template: dict[str, Any]) -> None:
    # Given
    routes = http_api_events(template)

    # When
    route_authorizers = [route.get("Auth", {}).get("Authorizer", "AWS_IAM") for route in routes]

    # Then
    assert set(route_authorizers) == {"AWS_IAM"}


def test_the_api_exposes_exactly_the_contract_routes(template: dict[str, Any]) -> None:
    # Given
    routes = http_api_events(template)

    # When
    route_keys = {f"{route['Method']} {route['Path']}" for route in routes}

    # Then
    assert route_keys == {"POST /endpoints", "GET /profiles"}


def test_the_function_runs_python_3_13_on_arm64(template: dict[str, Any]) -> None:
    # Given
    properties = function_properties(template)

    # When
    runtime_and_architectures = (properties["Runtime"], properties["Architectures"])

    # Then
    assert runtime_and_architectures == ("python3.13", ["arm64"])


def test_the_function_times_out_before_api_gateway_gives_up_on_it(template: dict[str, Any]) -> None:
    # Given
    properties = function_properties(template)

    # When
    timeout_seconds = properties["Timeout"]

    # Then
    assert timeout_seconds < API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS


def test_the_function_reads_its_parameters_under_the_stage_path(template: dict[str, Any]) -> None:
    # Given
    environment = function_properties(template)["Environment"]["Variables"]

    # When
    parameters_path = environment["PARAMETERS_PATH"]

    # Then
    assert parameters_path == {"Fn::Sub": "/sip-provisioning/${Stage}"}


def test_the_function_may_only_read_parameters_by_path(template: dict[str, Any]) -> None:
    # Given
    ssm_statements = statements_granting(template, "ssm")

    # When
    ssm_actions = {action for statement in ssm_statements for action in as_list(statement["Action"])}

    # Then
    assert ssm_actions == {"ssm:GetParametersByPath"}


def test_the_ssm_permission_is_limited_to_the_stage_parameter_path(template: dict[str, Any]) -> None:
    # Given
    ssm_statements = statements_granting(template, "ssm")

    # When
    ssm_resources = [resource for statement in ssm_statements for resource in as_list(statement["Resource"])]

    # Then
    assert sorted(ssm_resources, key=str) == [
        {"Fn::Sub": STAGE_PARAMETERS_ARN},
        {"Fn::Sub": f"{STAGE_PARAMETERS_ARN}/*"},
    ]


def test_no_permission_is_granted_on_every_resource(template: dict[str, Any]) -> None:
    # Given
    statements = list(policy_statements(template))

    # When
    resources = [resource for statement in statements for resource in as_list(statement["Resource"])]

    # Then
    assert statements
    assert "*" not in resources


def test_kms_decrypt_is_allowed_only_through_ssm_for_the_stage_parameters(template: dict[str, Any]) -> None:
    # Given
    (kms_statement,) = statements_granting(template, "kms")

    # When
    condition = kms_statement["Condition"]

    # Then
    assert as_list(kms_statement["Action"]) == ["kms:Decrypt"]
    assert condition["StringEquals"]["kms:ViaService"] == {"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"}
    assert condition["StringLike"]["kms:EncryptionContext:PARAMETER_ARN"] == {"Fn::Sub": f"{STAGE_PARAMETERS_ARN}/*"}


def test_the_shared_layer_is_built_with_python_3_13_for_arm64(template: dict[str, Any]) -> None:
    # Given
    layer = only_resource_of_type(template, "AWS::Serverless::LayerVersion")

    # When
    build_settings = (layer["Metadata"]["BuildMethod"], layer["Metadata"]["BuildArchitecture"])

    # Then
    assert build_settings == ("python3.13", "arm64")
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


def test_the_function_imports_its_dependencies_from_the_shared_layer(template: dict[str, Any]) -> None:
    # Given
    (layer_name,) = resources_of_type(template, "AWS::Serverless::LayerVersion")

    # When
    layers = function_properties(template)["Layers"]

    # Then
    assert layers == [{"Ref": layer_name}]


def test_every_log_group_has_a_retention(template: dict[str, Any]) -> None:
    # Given
    log_groups = resources_of_type(template, "AWS::Logs::LogGroup")

    # When
    retentions = [log_group["Properties"].get("RetentionInDays") for log_group in log_groups.values()]

    # Then
    assert log_groups
    assert None not in retentions


def test_the_function_logs_to_a_log_group_the_stack_owns(template: dict[str, Any]) -> None:
    # Given: without an explicit group, Lambda creates one that is never deleted and never expires
    log_group_names = resources_of_type(template, "AWS::Logs::LogGroup")

    # When
    function_log_group = function_properties(template)["LoggingConfig"]["LogGroup"]

    # Then
    assert function_log_group in [{"Ref": name} for name in log_group_names]


def test_api_access_logs_go_to_a_log_group_the_stack_owns(template: dict[str, Any]) -> None:
    # Given
    log_group_names = resources_of_type(template, "AWS::Logs::LogGroup")
    http_api = only_resource_of_type(template, "AWS::Serverless::HttpApi")

    # When
    destination = http_api["Properties"]["AccessLogSettings"]["DestinationArn"]

    # Then
    assert destination in [{"Fn::GetAtt": [name, "Arn"]} for name in log_group_names]


def test_api_access_logs_record_who_called_which_route_and_the_outcome(template: dict[str, Any]) -> None:
    # Given
    http_api = only_resource_of_type(template, "AWS::Serverless::HttpApi")

    # When
    access_log_fields = json.loads(http_api["Properties"]["AccessLogSettings"]["Format"])

    # Then
    assert access_log_fields["requestId"] == "$context.requestId"
    assert access_log_fields["caller"] == "$context.identity.caller"
    assert access_log_fields["userArn"] == "$context.identity.userArn"
    assert access_log_fields["routeKey"] == "$context.routeKey"
    assert access_log_fields["status"] == "$context.status"
    assert access_log_fields["latency"] == "$context.responseLatency"
    assert access_log_fields["integrationLatency"] == "$context.integrationLatency"


def test_the_idempotency_table_is_on_demand_expiring_recoverable_and_encrypted(template: dict[str, Any]) -> None:
    # Given the idempotency table
    table = only_resource_of_type(template, "AWS::DynamoDB::Table")["Properties"]
    # When its settings are read
    # Then it bills on demand, expires records by TTL, has PITR and encryption at rest
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]


def test_the_function_may_touch_only_the_idempotency_table_and_only_item_by_item(template: dict[str, Any]) -> None:
    # Given the function's DynamoDB permissions
    statements = statements_granting(template, "dynamodb")
    # When their actions and resources are read
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    resources = [resource for statement in statements for resource in as_list(statement["Resource"])]
    # Then they are single-item operations on that one table
    assert actions == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    assert resources == [{"Fn::GetAtt": ["IdempotencyTable", "Arn"]}]


def test_the_function_is_told_its_idempotency_table(template: dict[str, Any]) -> None:
    # Given / When the function's environment is read
    variables = function_properties(template)["Environment"]["Variables"]
    # Then it names the table the template creates
    assert variables["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
