"""What the deployed stack guarantees, read from template.yaml: who may call it, what it may touch."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPOSITORY_ROOT / "template.yaml"
API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 30
STAGE_PARAMETERS_ARN = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/sip-provisioning/${Stage}"
SLACK_FUNCTION = "SlackCommandFunction"
SLACK_ROUTE = "POST /chatops/slack"
FUNCTION_ARN_PREFIX = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"


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


def load_template() -> dict[str, Any]:
    loaded: dict[str, Any] = CloudFormationLoader(TEMPLATE_PATH.read_text(encoding="utf-8")).get_single_data()
    return loaded


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == resource_type}


def only_resource_of_type(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    (resource,) = resources_of_type(template, resource_type).values()
    return resource


def function_properties(template: dict[str, Any], function_name: str) -> dict[str, Any]:
    properties: dict[str, Any] = resources_of_type(template, "AWS::Serverless::Function")[function_name]["Properties"]
    return properties


def http_api_events_of(function: dict[str, Any]) -> list[dict[str, Any]]:
    events = function["Properties"].get("Events", {}).values()
    return [event["Properties"] for event in events if event["Type"] == "HttpApi"]


def http_api_events(template: dict[str, Any]) -> list[dict[str, Any]]:
    functions = resources_of_type(template, "AWS::Serverless::Function").values()
    return [route for function in functions for route in http_api_events_of(function)]


# The guarantees every function of the stack keeps are checked for each function by name.
FUNCTION_NAMES = sorted(resources_of_type(load_template(), "AWS::Serverless::Function"))
HTTP_FUNCTION_NAMES = [
    name
    for name, function in resources_of_type(load_template(), "AWS::Serverless::Function").items()
    if http_api_events_of(function)
]
every_function = pytest.mark.parametrize("function_name", FUNCTION_NAMES)


def policy_statements(template: dict[str, Any], function_name: str) -> Iterator[dict[str, Any]]:
    for policy in function_properties(template, function_name)["Policies"]:
        yield from policy["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granting(statements: Iterator[dict[str, Any]], service_prefix: str) -> list[dict[str, Any]]:
    return [
        statement
        for statement in statements
        if any(action.startswith(f"{service_prefix}:") for action in as_list(statement["Action"]))
    ]


def statements_granting(template: dict[str, Any], function_name: str, service_prefix: str) -> list[dict[str, Any]]:
    return granting(policy_statements(template, function_name), service_prefix)


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


def test_no_route_but_the_slack_command_opts_out_of_the_default_iam_authorizer(template: dict[str, Any]) -> None:
    # Given every route and the authorizer it uses
    routes = http_api_events(template)
    authorizers = {
        f"{route['Method']} {route['Path']}": route.get("Auth", {}).get("Authorizer", "AWS_IAM") for route in routes
    }

    # When the routes without IAM are picked out
    without_iam = {route_key: authorizer for route_key, authorizer in authorizers.items() if authorizer != "AWS_IAM"}

    # Then the Slack command's is the single one, deliberately: Slack cannot SigV4-sign its calls,
    # so its function verifies Slack's own signature instead
    assert without_iam == {SLACK_ROUTE: "NONE"}


def test_the_api_exposes_exactly_the_contract_routes(template: dict[str, Any]) -> None:
    # Given
    routes = http_api_events(template)

    # When
    route_keys = {f"{route['Method']} {route['Path']}" for route in routes}

    # Then
    assert route_keys == {"POST /endpoints", "GET /profiles", SLACK_ROUTE}


@every_function
def test_the_function_runs_python_3_13_on_arm64(template: dict[str, Any], function_name: str) -> None:
    # Given
    properties = function_properties(template, function_name)

    # When
    runtime_and_architectures = (properties["Runtime"], properties["Architectures"])

    # Then
    assert runtime_and_architectures == ("python3.13", ["arm64"])


@pytest.mark.parametrize("function_name", HTTP_FUNCTION_NAMES)
def test_the_function_times_out_before_api_gateway_gives_up_on_it(template: dict[str, Any], function_name: str) -> None:
    # Given
    properties = function_properties(template, function_name)

    # When
    timeout_seconds = properties["Timeout"]

    # Then
    assert timeout_seconds < API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS


@every_function
def test_the_function_reads_its_parameters_under_the_stage_path(template: dict[str, Any], function_name: str) -> None:
    # Given
    environment = function_properties(template, function_name)["Environment"]["Variables"]

    # When
    parameters_path = environment["PARAMETERS_PATH"]

    # Then
    assert parameters_path == {"Fn::Sub": "/sip-provisioning/${Stage}"}


@every_function
def test_the_function_may_only_read_parameters_by_path(template: dict[str, Any], function_name: str) -> None:
    # Given
    ssm_statements = statements_granting(template, function_name, "ssm")

    # When
    ssm_actions = {action for statement in ssm_statements for action in as_list(statement["Action"])}

    # Then
    assert ssm_actions == {"ssm:GetParametersByPath"}


@every_function
def test_the_ssm_permission_is_limited_to_the_stage_parameter_path(
    template: dict[str, Any], function_name: str
) -> None:
    # Given
    ssm_statements = statements_granting(template, function_name, "ssm")

    # When
    ssm_resources = [resource for statement in ssm_statements for resource in as_list(statement["Resource"])]

    # Then
    assert sorted(ssm_resources, key=str) == [
        {"Fn::Sub": STAGE_PARAMETERS_ARN},
        {"Fn::Sub": f"{STAGE_PARAMETERS_ARN}/*"},
    ]


@every_function
def test_no_permission_is_granted_on_every_resource(template: dict[str, Any], function_name: str) -> None:
    # Given
    statements = list(policy_statements(template, function_name))

    # When
    resources = [resource for statement in statements for resource in as_list(statement["Resource"])]

    # Then
    assert statements
    assert "*" not in resources


@every_function
def test_kms_decrypt_is_allowed_only_through_ssm_for_the_stage_parameters(
    template: dict[str, Any], function_name: str
) -> None:
    # Given
    (kms_statement,) = statements_granting(template, function_name, "kms")

    # When
    condition = kms_statement["Condition"]

    # Then
    assert as_list(kms_statement["Action"]) == ["kms:Decrypt"]
    assert condition["StringEquals"]["kms:ViaService"] == {"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"}
    assert condition["StringLike"]["kms:EncryptionContext:PARAMETER_ARN"] == {"Fn::Sub": f"{STAGE_PARAMETERS_ARN}/*"}


def test_the_shared_layer_is_built_by_its_makefile_for_python_3_13_on_arm64(template: dict[str, Any]) -> None:
    # Given the layer and its Makefile (see there why not BuildMethod python3.13)
    layer = only_resource_of_type(template, "AWS::Serverless::LayerVersion")
    makefile = (TEMPLATE_PATH.parent / "layers" / "shared" / "Makefile").read_text(encoding="utf-8")

    # When its build settings are read
    build_settings = (layer["Metadata"]["BuildMethod"], layer["Metadata"]["BuildArchitecture"])

    # Then it is built for arm64 and python3.13, and the Makefile installs for exactly that
    assert build_settings == ("makefile", "arm64")
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert "build-SharedLayer:" in makefile
    assert "--platform manylinux2014_aarch64" in makefile
    assert "--python-version 3.13" in makefile


@every_function
def test_the_function_imports_its_dependencies_from_the_shared_layer(
    template: dict[str, Any], function_name: str
) -> None:
    # Given
    (layer_name,) = resources_of_type(template, "AWS::Serverless::LayerVersion")

    # When
    layers = function_properties(template, function_name)["Layers"]

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


@every_function
def test_the_function_logs_to_a_log_group_the_stack_owns(template: dict[str, Any], function_name: str) -> None:
    # Given: without an explicit group, Lambda creates one that is never deleted and never expires
    log_group_names = resources_of_type(template, "AWS::Logs::LogGroup")

    # When
    function_log_group = function_properties(template, function_name)["LoggingConfig"]["LogGroup"]

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


@every_function
def test_the_function_may_touch_only_the_idempotency_table_and_only_item_by_item(
    template: dict[str, Any], function_name: str
) -> None:
    # Given the function's DynamoDB permissions
    statements = statements_granting(template, function_name, "dynamodb")
    # When their actions and resources are read
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    resources = [resource for statement in statements for resource in as_list(statement["Resource"])]
    # Then they are single-item operations on that one table
    assert actions == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    assert resources == [{"Fn::GetAtt": ["IdempotencyTable", "Arn"]}]


@every_function
def test_the_function_is_told_its_idempotency_table(template: dict[str, Any], function_name: str) -> None:
    # Given / When the function's environment is read
    variables = function_properties(template, function_name)["Environment"]["Variables"]
    # Then it names the table the template creates
    assert variables["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}


# The workflow entry and the example state machine: the state machine's role alone may invoke it.

STATE_MACHINE_LOG_DELIVERY_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def state_machine_statements(template: dict[str, Any]) -> Iterator[dict[str, Any]]:
    state_machine = only_resource_of_type(template, "AWS::Serverless::StateMachine")
    for policy in state_machine["Properties"]["Policies"]:
        yield from policy["Statement"]


def test_the_workflow_function_has_no_event_source_that_would_let_another_service_invoke_it(
    template: dict[str, Any],
) -> None:
    # Given / When the workflow function's event sources are read
    events = function_properties(template, "WorkflowFunction").get("Events")
    # Then there are none: SAM would add a resource policy for each
    assert events is None


def test_no_resource_policy_lets_anyone_invoke_a_function(template: dict[str, Any]) -> None:
    # Given / When the template's Lambda permissions are read
    permissions = resources_of_type(template, "AWS::Lambda::Permission")
    # Then there are none: only IAM policies of the stack's own roles grant invocation
    assert permissions == {}


def test_the_state_machine_may_invoke_the_workflow_function_and_nothing_else(template: dict[str, Any]) -> None:
    # Given / When the state machine's Lambda permissions are read
    (lambda_statement,) = granting(state_machine_statements(template), "lambda")
    # Then it is invocation of that one function, by its exact ARN
    assert as_list(lambda_statement["Action"]) == ["lambda:InvokeFunction"]
    assert as_list(lambda_statement["Resource"]) == [{"Fn::GetAtt": ["WorkflowFunction", "Arn"]}]


def test_the_state_machine_uses_no_sam_policy_template_whose_resource_ends_in_a_wildcard(
    template: dict[str, Any],
) -> None:
    # Given the state machine's policies
    policies = only_resource_of_type(template, "AWS::Serverless::StateMachine")["Properties"]["Policies"]
    # When those that are not plain policy documents are picked out
    templated = [policy for policy in policies if set(policy) != {"Version", "Statement"}]
    # Then there are none (LambdaInvokePolicy allows "function:<name>*")
    assert templated == []


@every_function
def test_no_function_may_invoke_another(template: dict[str, Any], function_name: str) -> None:
    # Given the function's own ARN, when the template names it
    function_name_property = function_properties(template, function_name).get("FunctionName")
    own_arns = [{"Fn::Sub": FUNCTION_ARN_PREFIX + function_name_property["Fn::Sub"]}] if function_name_property else []
    # When the resources of its Lambda permissions are read
    resources = [
        resource
        for statement in statements_granting(template, function_name, "lambda")
        for resource in as_list(statement["Resource"])
    ]
    # Then each is the function itself
    assert all(resource in own_arns for resource in resources)


def test_the_slack_function_may_invoke_itself_and_nothing_else(template: dict[str, Any]) -> None:
    # Given the Slack function's name, and its Lambda permissions
    properties = function_properties(template, SLACK_FUNCTION)
    (lambda_statement,) = statements_granting(template, SLACK_FUNCTION, "lambda")
    # When they are read
    actions = as_list(lambda_statement["Action"])
    resources = as_list(lambda_statement["Resource"])
    # Then it may invoke (for its create job) the one function of its own name, by exact ARN
    assert properties["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-slack-command"}
    assert actions == ["lambda:InvokeFunction"]
    assert resources == [{"Fn::Sub": f"{FUNCTION_ARN_PREFIX}${{AWS::StackName}}-slack-command"}]


def test_the_slack_function_posts_answers_only_to_slacks_own_response_urls(template: dict[str, Any]) -> None:
    # Given / When the Slack function's environment is read
    variables = function_properties(template, SLACK_FUNCTION)["Environment"]["Variables"]
    # Then its response_url allowlist is Slack's hooks host alone
    assert variables["SLACK_RESPONSE_URL_PREFIXES"] == "https://hooks.slack.com/"


def test_a_failed_create_job_is_retried_a_few_times_while_slacks_response_url_lives(template: dict[str, Any]) -> None:
    # Given / When the Slack function's asynchronous invocation settings are read
    config = function_properties(template, SLACK_FUNCTION)["EventInvokeConfig"]
    # Then a failed job is retried at most twice, within the 30 minutes Slack keeps a response_url
    assert 0 < config["MaximumRetryAttempts"] <= 2
    assert config["MaximumEventAgeInSeconds"] <= 30 * 60


def test_the_stack_outputs_the_slack_commands_request_url(template: dict[str, Any]) -> None:
    # Given / When the stack's outputs are read
    url = template["Outputs"]["SlackCommandUrl"]["Value"]
    # Then the Slack app's Request URL is the HTTP API's Slack route on the stage
    assert url == {"Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}/chatops/slack"}


def test_the_state_machine_is_granted_every_resource_only_for_log_delivery(template: dict[str, Any]) -> None:
    # Given the state machine's statements on every resource
    unrestricted = [statement for statement in state_machine_statements(template) if statement["Resource"] == "*"]
    # When their actions are read
    actions = {action for statement in unrestricted for action in as_list(statement["Action"])}
    # Then they are CloudWatch Logs' log delivery actions, which take no resource-level permission
    assert actions == STATE_MACHINE_LOG_DELIVERY_ACTIONS


def test_the_state_machine_definition_is_its_own_file_with_every_placeholder_substituted(
    template: dict[str, Any],
) -> None:
    # Given the state machine and the definition file it names
    properties = only_resource_of_type(template, "AWS::Serverless::StateMachine")["Properties"]
    definition = (REPOSITORY_ROOT / properties["DefinitionUri"]).read_text(encoding="utf-8")
    # When the placeholders in the definition are read
    placeholders = set(re.findall(r"\$\{(\w+)\}", definition))
    # Then the template substitutes each, the function ARN from the workflow function
    assert properties["DefinitionUri"] == "statemachine/onboarding.asl.json"
    assert placeholders == set(properties["DefinitionSubstitutions"])
    assert properties["DefinitionSubstitutions"]["WorkflowFunctionArn"] == {"Fn::GetAtt": ["WorkflowFunction", "Arn"]}


def test_the_state_machine_is_standard_so_a_failed_execution_can_be_redriven(template: dict[str, Any]) -> None:
    # Given / When the state machine's type is read
    properties = only_resource_of_type(template, "AWS::Serverless::StateMachine")["Properties"]
    # Then it is STANDARD: Express executions cannot be redriven and keep no history
    assert properties["Type"] == "STANDARD"


def test_the_state_machine_is_traced_and_logs_errors_without_execution_data(template: dict[str, Any]) -> None:
    # Given the state machine and the stack's log groups
    properties = only_resource_of_type(template, "AWS::Serverless::StateMachine")["Properties"]
    log_group_names = resources_of_type(template, "AWS::Logs::LogGroup")
    # When its tracing and logging are read
    logging = properties["Logging"]
    (destination,) = logging["Destinations"]
    # Then it traces, logs errors to a log group of the stack, and never logs the data (passwords)
    assert properties["Tracing"] == {"Enabled": True}
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ERROR", False)
    assert destination["CloudWatchLogsLogGroup"]["LogGroupArn"] in [
        {"Fn::GetAtt": [name, "Arn"]} for name in log_group_names
    ]


def test_the_stack_outputs_the_workflow_function_and_the_state_machine(template: dict[str, Any]) -> None:
    # Given / When the stack's outputs are read
    outputs = template["Outputs"]
    # Then a workflow author finds both ARNs
    assert outputs["WorkflowFunctionArn"]["Value"] == {"Fn::GetAtt": ["WorkflowFunction", "Arn"]}
    assert outputs["StateMachineArn"]["Value"] == {"Ref": "OnboardingStateMachine"}
