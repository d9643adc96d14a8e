"""What the deployed stack guarantees, read from template.yaml: who may call it, what it may touch."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local import stack

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPOSITORY_ROOT / "template.yaml"
API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 30
STAGE_PARAMETERS_ARN = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/sip-provisioning/${Stage}"
SLACK_FUNCTION = "SlackCommandFunction"
SLACK_ROUTE = "POST /chatops/slack"
SCIM_FUNCTION = "ScimFunction"
SCIM_ROUTE = "ANY /scim/v2/{proxy+}"
# The inventory's indexes and their partition keys (each sorts by username): every function may
# query the first ones, the SCIM function alone the SCIM ones.
INVENTORY_INDEXES = {"by_profile": "profile", "by_owner": "owner", "by_username": "listing", "by_status": "status"}
FUNCTION_ARN_PREFIX = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"


def load_template() -> dict[str, Any]:
    return stack.load_template(TEMPLATE_PATH)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == resource_type}


def only_resource_of_type(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    (resource,) = resources_of_type(template, resource_type).values()
    return resource


def merged_with_globals(shared: Any, own: Any) -> Any:
    """What SAM does with Globals: a function's own map is merged into the shared one key by key,
    its own list follows the shared one, and its own scalar replaces the shared one."""
    if isinstance(shared, dict) and isinstance(own, dict):
        merged = dict(shared)
        for key, value in own.items():
            merged[key] = merged_with_globals(shared[key], value) if key in shared else value
        return merged
    if isinstance(shared, list) and isinstance(own, list):
        return shared + own
    return own


def own_function_properties(template: dict[str, Any], function_name: str) -> dict[str, Any]:
    """The properties the function itself states, without Globals."""
    properties: dict[str, Any] = resources_of_type(template, "AWS::Serverless::Function")[function_name]["Properties"]
    return properties


def function_properties(template: dict[str, Any], function_name: str) -> dict[str, Any]:
    """The properties the function is deployed with: Globals.Function merged with its own."""
    shared = template.get("Globals", {}).get("Function", {})
    properties: dict[str, Any] = merged_with_globals(shared, own_function_properties(template, function_name))
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


SHARED_POLICY = "SharedFunctionPolicy"


def managed_policy_statements(template: dict[str, Any], policy: Any) -> list[dict[str, Any]]:
    """The statements of a customer-managed policy of the stack that a `Policies` entry refers to."""
    resource = template["Resources"].get(policy["Ref"], {}) if isinstance(policy, dict) and "Ref" in policy else {}
    if resource.get("Type") != "AWS::IAM::ManagedPolicy":
        return []
    statements: list[dict[str, Any]] = resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def inline_statements(template: dict[str, Any], function_name: str) -> list[dict[str, Any]]:
    """The statements the function states itself, in its own inline policy documents."""
    policies = function_properties(template, function_name)["Policies"]
    return [
        statement
        for policy in policies
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
    ]


def policy_statements(template: dict[str, Any], function_name: str) -> Iterator[dict[str, Any]]:
    """Every statement the function's role gets: its inline ones and those of the stack's managed policies."""
    for policy in function_properties(template, function_name)["Policies"]:
        yield from managed_policy_statements(template, policy)
    yield from inline_statements(template, function_name)


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


def test_no_route_but_slacks_and_scims_opts_out_of_the_default_iam_authorizer(template: dict[str, Any]) -> None:
    # Given every route and the authorizer it uses
    routes = http_api_events(template)
    authorizers = {
        f"{route['Method']} {route['Path']}": route.get("Auth", {}).get("Authorizer", "AWS_IAM") for route in routes
    }

    # When the routes without IAM are picked out
    without_iam = {route_key: authorizer for route_key, authorizer in authorizers.items() if authorizer != "AWS_IAM"}

    # Then the Slack command's and SCIM's are the only ones, deliberately: neither Slack nor an
    # identity provider can SigV4-sign its calls, so their functions verify Slack's own signature
    # and the SCIM bearer token instead
    assert without_iam == {SLACK_ROUTE: "NONE", SCIM_ROUTE: "NONE"}


def test_the_api_exposes_exactly_the_contract_routes(template: dict[str, Any]) -> None:
    # Given
    routes = http_api_events(template)

    # When
    route_keys = {f"{route['Method']} {route['Path']}" for route in routes}

    # Then
    assert route_keys == {
        "POST /endpoints",
        "GET /profiles",
        "GET /endpoints",
        "GET /endpoints/{username}",
        "PATCH /endpoints/{username}",
        "DELETE /endpoints/{username}",
        "POST /endpoints/{username}/password",
        "POST /endpoints/{username}/disable",
        "POST /endpoints/{username}/adopt",
        SLACK_ROUTE,
        SCIM_ROUTE,
    }


def test_the_scim_route_is_served_by_the_scim_function_alone(template: dict[str, Any]) -> None:
    # Given / When the SCIM function's routes are read
    routes = http_api_events_of(template["Resources"][SCIM_FUNCTION])
    # Then it serves every method and path under /scim/v2 (CONTRACT.md section 8), and nothing else
    assert [f"{route['Method']} {route['Path']}" for route in routes] == [SCIM_ROUTE]
    assert own_function_properties(template, SCIM_FUNCTION)["CodeUri"] == "functions/scim/"
    assert own_function_properties(template, SCIM_FUNCTION)["Handler"] == "scim_api.lambda_handler"


def test_the_stack_outputs_the_scim_base_url_and_function(template: dict[str, Any]) -> None:
    # Given / When the stack's outputs are read
    outputs = template["Outputs"]
    # Then an identity provider's admin finds the base URL on the stage, and an operator the function
    assert outputs["ScimBaseUrl"]["Value"] == {
        "Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}/scim/v2"
    }
    assert outputs["ScimFunctionName"]["Value"] == {"Ref": SCIM_FUNCTION}


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
def test_the_function_may_only_read_parameters_by_name_and_by_path(
    template: dict[str, Any], function_name: str
) -> None:
    # Given
    ssm_statements = statements_granting(template, function_name, "ssm")

    # When
    ssm_actions = {action for statement in ssm_statements for action in as_list(statement["Action"])}

    # Then
    assert ssm_actions == {"ssm:GetParameters", "ssm:GetParametersByPath"}


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


# The stack's layers and their directories; a function's own layers follow the shared one.
SHARED_LAYER = "SharedLayer"
LAYER_DIRECTORIES = {SHARED_LAYER: "layers/shared/", "ScimLayer": "layers/scim/"}
FUNCTION_OWN_LAYERS = {SCIM_FUNCTION: ["ScimLayer"]}


def pinned_requirements(path: Path) -> dict[str, str]:
    """The `name==version` lines of a requirements file, by normalized name (an included file and
    this repository's own client, installed editable from ./client, are not pins)."""
    lines = [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
    pins = [line.split("==", 1) for line in lines if line and not line.startswith(("-r", "-e ./"))]
    assert all(len(pin) == 2 for pin in pins), f"{path} has an unpinned requirement"
    return {re.sub(r"[-_.]+", "-", name.split("[", 1)[0]).lower(): version for name, version in pins}


def test_the_stack_has_exactly_the_known_layers(template: dict[str, Any]) -> None:
    # Given / When the stack's layers are read
    layers = resources_of_type(template, "AWS::Serverless::LayerVersion")
    # Then they are the shared one and those functions add
    assert sorted(layers) == sorted(LAYER_DIRECTORIES)


@pytest.mark.parametrize("layer_name", sorted(LAYER_DIRECTORIES))
def test_the_layer_is_built_by_its_makefile_for_python_3_13_on_arm64(template: dict[str, Any], layer_name: str) -> None:
    # Given the layer and its Makefile (see layers/shared/Makefile why not BuildMethod python3.13)
    layer = template["Resources"][layer_name]
    makefile = (REPOSITORY_ROOT / LAYER_DIRECTORIES[layer_name] / "Makefile").read_text(encoding="utf-8")

    # When its build settings are read
    build_settings = (layer["Metadata"]["BuildMethod"], layer["Metadata"]["BuildArchitecture"])

    # Then it is built for arm64 and python3.13, and the Makefile installs exactly the pins for that
    assert layer["Properties"]["ContentUri"] == LAYER_DIRECTORIES[layer_name]
    assert build_settings == ("makefile", "arm64")
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert f"build-{layer_name}:" in makefile
    assert "--platform manylinux2014_aarch64" in makefile
    assert "--python-version 3.13" in makefile
    assert "--no-deps" in makefile
    assert "--invalidation-mode unchecked-hash" in makefile


def test_the_layers_ship_disjoint_pins_that_the_tests_run_against() -> None:
    # Given each layer's pinned requirements, and what the development environment installs
    layer_pins = [
        pinned_requirements(REPOSITORY_ROOT / path / "requirements.txt") for path in LAYER_DIRECTORIES.values()
    ]
    development = (REPOSITORY_ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    # When the packages they name are compared
    names = [name for pins in layer_pins for name in pins]
    # Then no package ships in two layers, and the tests run against every layer's very pins
    assert len(names) == len(set(names))
    assert all(f"-r {path}requirements.txt" in development for path in LAYER_DIRECTORIES.values())
    assert set(pinned_requirements(REPOSITORY_ROOT / "requirements-dev.txt")).isdisjoint(names)


@every_function
def test_the_function_imports_its_dependencies_from_the_shared_layer_and_its_own(
    template: dict[str, Any], function_name: str
) -> None:
    # Given the layers the function should have: the shared one, then its own
    expected = [{"Ref": name} for name in [SHARED_LAYER, *FUNCTION_OWN_LAYERS.get(function_name, [])]]

    # When
    layers = function_properties(template, function_name)["Layers"]

    # Then
    assert layers == expected


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
    table = template["Resources"]["IdempotencyTable"]["Properties"]
    # When its settings are read
    # Then it bills on demand, expires records by TTL, has PITR and encryption at rest
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]


ITEM_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
}


@every_function
def test_the_function_may_touch_only_the_stacks_own_tables_and_only_item_by_item(
    template: dict[str, Any], function_name: str
) -> None:
    # Given the function's DynamoDB permissions, and the stack's tables
    statements = statements_granting(template, function_name, "dynamodb")
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    # When the item-level statements are read
    item_statements = [s for s in statements if set(as_list(s["Action"])) & ITEM_ACTIONS]
    actions = {action for statement in item_statements for action in as_list(statement["Action"])}
    resources = [resource for statement in item_statements for resource in as_list(statement["Resource"])]
    # Then they are single-item operations on those tables, each by its exact ARN
    assert actions == ITEM_ACTIONS
    assert sorted(resources, key=str) == sorted(({"Fn::GetAtt": [name, "Arn"]} for name in tables), key=str)


def index_query(index: str) -> tuple[str, str]:
    return ("dynamodb:Query", str({"Fn::Sub": f"${{InventoryTable.Arn}}/index/{index}"}))


# What a function may do in DynamoDB beyond what every function may (its own inline statements).
FUNCTION_OWN_DYNAMODB_GRANTS = {
    SCIM_FUNCTION: {
        ("dynamodb:BatchGetItem", str({"Fn::GetAtt": ["InventoryTable", "Arn"]})),
        ("dynamodb:Query", str({"Fn::GetAtt": ["InventoryTable", "Arn"]})),
    },
    # GET /endpoints?managed=false: a page of SignalWire's endpoints joined with their records.
    "ProvisionerFunction": {("dynamodb:BatchGetItem", str({"Fn::GetAtt": ["InventoryTable", "Arn"]}))},
}


@every_function
def test_the_function_queries_only_the_inventory_indexes_and_never_scans(
    template: dict[str, Any], function_name: str
) -> None:
    # Given the function's DynamoDB permissions
    statements = statements_granting(template, function_name, "dynamodb")
    # When the statements beyond single items are read
    others = [s for s in statements if not set(as_list(s["Action"])) & ITEM_ACTIONS]
    # Then they are a transaction on the inventory table and queries of its indexes, and for
    # the SCIM function queries of the table by key and batches of reads, for the HTTP API's
    # batches of reads; nothing else
    granted = {
        (action, str(resource))
        for s in others
        for action in as_list(s["Action"])
        for resource in as_list(s["Resource"])
    }
    assert granted == {
        ("dynamodb:TransactWriteItems", str({"Fn::GetAtt": ["InventoryTable", "Arn"]})),
        *(index_query(index) for index in INVENTORY_INDEXES),
        *FUNCTION_OWN_DYNAMODB_GRANTS.get(function_name, set()),
    }


def test_the_inventory_is_kept_for_good_and_listed_through_indexes(template: dict[str, Any]) -> None:
    # Given / When the inventory table is read
    table = template["Resources"]["InventoryTable"]
    properties = table["Properties"]
    # Then it never expires, resists deletion, can be restored, is encrypted, and has its indexes
    assert "TimeToLiveSpecification" not in properties
    assert (table["DeletionPolicy"], properties["DeletionProtectionEnabled"]) == ("Retain", True)
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert {index["IndexName"] for index in properties["GlobalSecondaryIndexes"]} == set(INVENTORY_INDEXES)


def test_every_inventory_index_sorts_by_username_and_projects_every_attribute(template: dict[str, Any]) -> None:
    # Given / When the inventory table's indexes are read
    properties = template["Resources"]["InventoryTable"]["Properties"]
    indexes = {index["IndexName"]: index for index in properties["GlobalSecondaryIndexes"]}
    # Then each is keyed by its own string attribute, sorted by username, with whole records
    assert {name: index["KeySchema"] for name, index in indexes.items()} == {
        name: [
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": "username", "KeyType": "RANGE"},
        ]
        for name, partition in INVENTORY_INDEXES.items()
    }
    assert all(index["Projection"] == {"ProjectionType": "ALL"} for index in indexes.values())
    assert {(a["AttributeName"], a["AttributeType"]) for a in properties["AttributeDefinitions"]} == {
        (name, "S") for name in {"username", "record", *INVENTORY_INDEXES.values()}
    }


@every_function
def test_the_function_is_told_its_idempotency_table(template: dict[str, Any], function_name: str) -> None:
    # Given / When the function's environment is read
    variables = function_properties(template, function_name)["Environment"]["Variables"]
    # Then it names the tables the template creates
    assert variables["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    assert variables["INVENTORY_TABLE"] == {"Ref": "InventoryTable"}


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


# The state machines that drive the workflow function, and their definition files.
WORKFLOW_STATE_MACHINES = {
    "OnboardingStateMachine": "statemachine/onboarding.asl.json",
    "OffboardingStateMachine": "statemachine/offboarding.asl.json",
    "ProfileRolloutStateMachine": "statemachine/profile_rollout.asl.json",
    "FleetAuditStateMachine": "statemachine/fleet_audit.asl.json",
}
every_workflow_state_machine = pytest.mark.parametrize("state_machine", sorted(WORKFLOW_STATE_MACHINES))


def state_machine_properties(template: dict[str, Any], state_machine: str) -> dict[str, Any]:
    resource = template["Resources"][state_machine]
    assert resource["Type"] == "AWS::Serverless::StateMachine"
    properties: dict[str, Any] = resource["Properties"]
    return properties


def state_machine_statements(template: dict[str, Any], state_machine: str) -> Iterator[dict[str, Any]]:
    """Every statement the state machine's role gets: those of the stack's managed policies and its own."""
    for policy in state_machine_properties(template, state_machine)["Policies"]:
        yield from managed_policy_statements(template, policy)
        yield from policy.get("Statement", [])


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


@every_workflow_state_machine
def test_the_state_machine_may_invoke_the_workflow_function_and_nothing_else(
    template: dict[str, Any], state_machine: str
) -> None:
    # Given / When the state machine's Lambda permissions are read
    (lambda_statement,) = granting(state_machine_statements(template, state_machine), "lambda")
    # Then it is invocation of that one function, by its exact ARN
    assert as_list(lambda_statement["Action"]) == ["lambda:InvokeFunction"]
    assert as_list(lambda_statement["Resource"]) == [{"Fn::GetAtt": ["WorkflowFunction", "Arn"]}]


@every_workflow_state_machine
def test_the_state_machine_uses_no_sam_policy_template_whose_resource_ends_in_a_wildcard(
    template: dict[str, Any], state_machine: str
) -> None:
    # Given the state machine's policies
    policies = state_machine_properties(template, state_machine)["Policies"]
    # When those that are neither plain policy documents nor the stack's own managed policies are picked out
    templated = [
        policy
        for policy in policies
        if set(policy) != {"Version", "Statement"} and not managed_policy_statements(template, policy)
    ]
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


@every_workflow_state_machine
def test_the_state_machine_is_granted_every_resource_only_for_log_delivery(
    template: dict[str, Any], state_machine: str
) -> None:
    # Given the state machine's statements on every resource
    statements = state_machine_statements(template, state_machine)
    unrestricted = [statement for statement in statements if statement["Resource"] == "*"]
    # When their actions are read
    actions = {action for statement in unrestricted for action in as_list(statement["Action"])}
    # Then they are CloudWatch Logs' log delivery actions, which take no resource-level permission
    assert actions == STATE_MACHINE_LOG_DELIVERY_ACTIONS


@every_workflow_state_machine
def test_the_state_machine_definition_is_its_own_file_with_every_placeholder_substituted(
    template: dict[str, Any], state_machine: str
) -> None:
    # Given the state machine and the definition file it names
    properties = state_machine_properties(template, state_machine)
    definition = (REPOSITORY_ROOT / properties["DefinitionUri"]).read_text(encoding="utf-8")
    # When the placeholders in the definition are read
    placeholders = set(re.findall(r"\$\{(\w+)\}", definition))
    # Then the template substitutes each, the function ARN from the workflow function
    assert properties["DefinitionUri"] == WORKFLOW_STATE_MACHINES[state_machine]
    assert placeholders == set(properties["DefinitionSubstitutions"])
    assert properties["DefinitionSubstitutions"]["WorkflowFunctionArn"] == {"Fn::GetAtt": ["WorkflowFunction", "Arn"]}


@every_workflow_state_machine
def test_the_state_machine_is_standard_so_a_failed_execution_can_be_redriven(
    template: dict[str, Any], state_machine: str
) -> None:
    # Given / When the state machine's type is read
    properties = state_machine_properties(template, state_machine)
    # Then it is STANDARD: Express executions cannot be redriven and keep no history
    assert properties["Type"] == "STANDARD"


@every_workflow_state_machine
def test_the_state_machine_is_traced_and_logs_errors_without_execution_data(
    template: dict[str, Any], state_machine: str
) -> None:
    # Given the state machine and the stack's log groups
    properties = state_machine_properties(template, state_machine)
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


# A template that reads once: what the functions share is said once.

# What Globals sets for every function; a function adds environment variables of its own (next
# test) and may add layers of its own, which SAM puts after the shared ones (one test below).
SHARED_FUNCTION_SETTINGS = ("Runtime", "Architectures", "MemorySize", "Timeout", "Tracing", "Layers")
ADDED_TO_BY_FUNCTIONS = {"Layers"}


def normalized(statement: dict[str, Any]) -> str:
    """A statement as what it grants: its Sid, a mere label, left out."""
    return json.dumps({key: value for key, value in statement.items() if key != "Sid"}, sort_keys=True)


def test_what_every_function_shares_is_said_once_in_globals(template: dict[str, Any]) -> None:
    # Given the settings every function shares
    shared = template["Globals"]["Function"]
    # When the ones a function states again itself are picked out
    restated = {
        name: sorted(
            (set(SHARED_FUNCTION_SETTINGS) - ADDED_TO_BY_FUNCTIONS) & set(own_function_properties(template, name))
        )
        for name in FUNCTION_NAMES
    }
    # Then Globals holds them all, the shared environment too, and no function states one again
    assert all(setting in shared for setting in SHARED_FUNCTION_SETTINGS)
    assert shared["Environment"]["Variables"]
    assert restated == {name: [] for name in FUNCTION_NAMES}


@every_function
def test_the_function_adds_only_environment_variables_of_its_own(template: dict[str, Any], function_name: str) -> None:
    # Given the variables every function gets from Globals
    shared_variables = template["Globals"]["Function"]["Environment"]["Variables"]
    # When the function's own variables are read
    own_variables = own_function_properties(template, function_name).get("Environment", {}).get("Variables", {})
    # Then none of them restates or overrides a shared one
    assert set(own_variables).isdisjoint(shared_variables)


@every_function
def test_the_function_adds_only_layers_of_its_own(template: dict[str, Any], function_name: str) -> None:
    # Given the layers every function gets from Globals
    shared_layers = template["Globals"]["Function"]["Layers"]
    # When the function's own layers are read
    own_layers = own_function_properties(template, function_name).get("Layers", [])
    # Then none of them is a shared one again
    assert not [layer for layer in own_layers if layer in shared_layers]


@every_function
def test_the_function_is_granted_the_shared_policy(template: dict[str, Any], function_name: str) -> None:
    # Given the stack's one customer-managed policy for what every function may do
    shared_policy = template["Resources"][SHARED_POLICY]
    # When the function's policies are read
    policies = function_properties(template, function_name)["Policies"]
    # Then the function is granted it by reference
    assert shared_policy["Type"] == "AWS::IAM::ManagedPolicy"
    assert {"Ref": SHARED_POLICY} in policies


def test_no_permission_statement_is_repeated_across_functions_or_the_shared_policy(template: dict[str, Any]) -> None:
    # Given the shared policy's statements and each function's own inline statements
    shared = template["Resources"][SHARED_POLICY]["Properties"]["PolicyDocument"]["Statement"]
    statements = [normalized(statement) for statement in shared] + [
        normalized(statement) for name in FUNCTION_NAMES for statement in inline_statements(template, name)
    ]
    # When repeated ones are picked out
    repeated = {statement for statement in statements if statements.count(statement) > 1}
    # Then there are none: a statement two functions need belongs to the shared policy alone
    assert repeated == set()


# Limits: API Gateway's route throttling, and reserved concurrency under SignalWire's rate limit.

SIGNALWIRE_WRITES_PER_10_SECONDS = 13_800
FASTEST_SIGNALWIRE_WRITE_SECONDS = 0.025
# One environment sends its writes one after another, each taking at least the fastest write.
WRITES_PER_ENVIRONMENT_PER_10_SECONDS = round(10 / FASTEST_SIGNALWIRE_WRITE_SECONDS)
ACCOUNT_DEFAULT_CONCURRENCY = 1000
UNRESERVED_CONCURRENCY_LAMBDA_KEEPS = 100


def parameter(template: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    declared: dict[str, Any] = template["Parameters"][reference["Ref"]]
    return declared


def reserved_concurrency_parameters(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        parameter(template, function_properties(template, name)["ReservedConcurrentExecutions"])
        for name in FUNCTION_NAMES
    ]


def test_every_api_route_is_throttled_by_parameters_with_a_burst_above_the_rate(template: dict[str, Any]) -> None:
    # Given the HTTP API's default route settings
    settings = only_resource_of_type(template, "AWS::Serverless::HttpApi")["Properties"]["DefaultRouteSettings"]
    # When the parameters they name are read
    rate = parameter(template, settings["ThrottlingRateLimit"])
    burst = parameter(template, settings["ThrottlingBurstLimit"])
    # Then both are numbers with modest defaults, and a burst holds at least a second's worth
    assert (rate["Type"], burst["Type"]) == ("Number", "Number")
    assert 1 <= rate["Default"] <= burst["Default"] <= 100
    assert rate["MinValue"] >= 1
    assert burst["MinValue"] >= 1


@every_function
def test_the_function_reserves_a_bounded_concurrency_given_by_a_parameter(
    template: dict[str, Any], function_name: str
) -> None:
    # Given / When the parameter of the function's reserved concurrency is read
    reserved = parameter(template, function_properties(template, function_name)["ReservedConcurrentExecutions"])
    # Then it is a number between 1 (0 would stop the function) and its maximum, the default included
    assert reserved["Type"] == "Number"
    assert 1 <= reserved["MinValue"] <= reserved["Default"] <= reserved["MaxValue"]


def test_the_functions_together_cannot_exceed_signalwires_write_limit_at_any_allowed_concurrency(
    template: dict[str, Any],
) -> None:
    # Given the largest reserved concurrency each function's parameter allows
    most_environments = sum(reserved["MaxValue"] for reserved in reserved_concurrency_parameters(template))
    # When each environment sends writes as fast as SignalWire can accept them
    writes_per_10_seconds = most_environments * WRITES_PER_ENVIRONMENT_PER_10_SECONDS
    # Then they stay within SignalWire's 13,800 POST/PUT/PATCH per 10 s
    assert writes_per_10_seconds <= SIGNALWIRE_WRITES_PER_10_SECONDS


def test_the_reservations_leave_lambdas_unreserved_minimum_of_a_default_account(template: dict[str, Any]) -> None:
    # Given the largest reserved concurrency each function's parameter allows
    most_reserved = sum(reserved["MaxValue"] for reserved in reserved_concurrency_parameters(template))
    # When it is taken from a default account's concurrency
    unreserved = ACCOUNT_DEFAULT_CONCURRENCY - most_reserved
    # Then at least the 100 Lambda insists on stay unreserved
    assert unreserved >= UNRESERVED_CONCURRENCY_LAMBDA_KEEPS


def test_the_template_shows_the_reserved_concurrency_arithmetic_for_its_own_parameters(
    template: dict[str, Any],
) -> None:
    # Given the largest reserved concurrency each function's parameter allows
    maxima = [reserved["MaxValue"] for reserved in reserved_concurrency_parameters(template)]
    # When the template's text is read
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    # Then its comment does the sum with today's numbers
    assert "13,800" in text
    assert f"10 s / {FASTEST_SIGNALWIRE_WRITE_SECONDS * 1000:.0f} ms = {WRITES_PER_ENVIRONMENT_PER_10_SECONDS}" in text
    assert f"{sum(maxima)} x {WRITES_PER_ENVIRONMENT_PER_10_SECONDS} = " in text


# No lost Slack answer: a create job that fails for good waits in a queue to be replayed.

FAILURES_QUEUE = "SlackCreateJobFailuresQueue"


def schema_property_names(schema: Any) -> set[str]:
    """Every property name anywhere in a JSON schema, nested definitions included."""
    if isinstance(schema, list):
        return {name for item in schema for name in schema_property_names(item)}
    if not isinstance(schema, dict):
        return set()
    own = set(schema["properties"]) if isinstance(schema.get("properties"), dict) else set()
    return own | {name for value in schema.values() for name in schema_property_names(value)}


def test_a_slack_create_job_that_fails_every_retry_goes_to_the_on_failure_queue(template: dict[str, Any]) -> None:
    # Given / When the Slack function's asynchronous invocation settings are read
    config = function_properties(template, SLACK_FUNCTION)["EventInvokeConfig"]
    # Then after two retries the job goes to the stack's queue (SAM grants sqs:SendMessage on it alone)
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": [FAILURES_QUEUE, "Arn"]},
    }


def test_the_on_failure_queue_is_encrypted_and_keeps_a_job_for_days(template: dict[str, Any]) -> None:
    # Given / When the on-failure queue's settings are read
    queue = template["Resources"][FAILURES_QUEUE]
    properties = queue["Properties"]
    # Then it is encrypted at rest and keeps a job 14 days, time to notice and replay it
    assert queue["Type"] == "AWS::SQS::Queue"
    assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties
    assert properties["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_the_job_the_queue_keeps_has_no_field_that_could_hold_a_password() -> None:
    # Given the create job the Slack function hands itself (Lambda's failure record carries it)
    from sip_provisioning.callers.slack.payloads import CreateJob

    # When its schema's fields are read
    fields = schema_property_names(CreateJob.model_json_schema())
    # Then none is a password: the queue holds the command as typed, never a secret
    assert fields
    assert not any("password" in field.lower() for field in fields)


def test_the_stack_outputs_where_to_find_and_replay_a_failed_job(template: dict[str, Any]) -> None:
    # Given / When the stack's outputs are read
    outputs = template["Outputs"]
    # Then an operator finds the queue and the function to replay to
    assert outputs["SlackCreateJobFailuresQueueUrl"]["Value"] == {"Ref": FAILURES_QUEUE}
    assert outputs["SlackCommandFunctionName"]["Value"] == {"Ref": SLACK_FUNCTION}


# Alarms: each names what to look at (README "Operating it"), and they notify the alarm topic.

ALARM_NAMES = sorted(resources_of_type(load_template(), "AWS::CloudWatch::Alarm"))
every_alarm = pytest.mark.parametrize("alarm_name", ALARM_NAMES)
STATE_MACHINE_NAMES = sorted(resources_of_type(load_template(), "AWS::Serverless::StateMachine"))
ALARM_DESTINATION = [{"Ref": "AlarmTopic"}]
# CloudWatch's hard limit: an alarm on a metric math expression reads at most 10 metrics.
METRICS_PER_ALARM = 10
# How many errors in 5 minutes each function makes by design, before its errors alarm.
ERRORS_TOLERATED = {
    "ProvisionerFunction": 1,  # every failure it knows is a problem answer: an Error is a crash
    "ScimFunction": 1,  # likewise, a SCIM error answer
    "SlackCommandFunction": 3,  # a job whose answer could not be posted fails to be retried
    "WorkflowFunction": 5,  # it raises its named failures for the state machines to catch
    "BulkImportFunction": 10,  # rows are retried by their state machine
}


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: alarm["Properties"] for name, alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").items()}


def alarms_on(template: dict[str, Any], namespace: str, metric_name: str) -> list[dict[str, Any]]:
    """The single-metric alarms on one metric."""
    return [
        alarm
        for alarm in alarms(template).values()
        if alarm.get("Namespace") == namespace and alarm.get("MetricName") == metric_name
    ]


def watched(template: dict[str, Any], namespace: str, metric_name: str) -> list[tuple[str, dict[str, Any], str]]:
    """Each (alarm, dimensions, statistic) that reads the metric, alone or in an alarm's metric math."""
    found = []
    for name, alarm in alarms(template).items():
        if (alarm.get("Namespace"), alarm.get("MetricName")) == (namespace, metric_name):
            found.append((name, dimensions(alarm), alarm["Statistic"]))
        for query in alarm.get("Metrics", []):
            stat = query.get("MetricStat")
            if stat and (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"]) == (namespace, metric_name):
                found.append((name, dimensions(stat["Metric"]), stat["Stat"]))
    return found


def watching(template: dict[str, Any], namespace: str, metric_name: str, dimension: dict[str, Any]) -> tuple[str, str]:
    """The one alarm that reads the metric of `dimension`, and with which statistic."""
    ((alarm_name, _, statistic),) = [
        found for found in watched(template, namespace, metric_name) if found[1] == dimension
    ]
    return alarm_name, statistic


def alarm_expression(alarm: dict[str, Any]) -> str:
    """The metric math expression whose value the alarm compares with its threshold."""
    (expression,) = [query["Expression"] for query in alarm["Metrics"] if query.get("ReturnData")]
    assert isinstance(expression, str)
    return expression


def query_id(alarm: dict[str, Any], dimension: dict[str, Any]) -> str:
    (identifier,) = [
        query["Id"]
        for query in alarm["Metrics"]
        if "MetricStat" in query and dimensions(query["MetricStat"]["Metric"]) == dimension
    ]
    assert isinstance(identifier, str)
    return identifier


def dimensions(alarm_or_metric: dict[str, Any]) -> dict[str, Any]:
    return {dimension["Name"]: dimension["Value"] for dimension in alarm_or_metric.get("Dimensions", [])}


def service_metric_identity(template: dict[str, Any]) -> tuple[str, str]:
    """The namespace and `service` dimension Powertools gives every metric, from the functions' environment."""
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    return variables["POWERTOOLS_METRICS_NAMESPACE"], variables["POWERTOOLS_SERVICE_NAME"]


def what_the_alarm_watches(alarm: dict[str, Any]) -> str:
    """The alarm without what it watches (dimension values, threshold, text): two alarms alike here are copies."""
    kept = {key: value for key, value in alarm.items() if key not in {"AlarmDescription", "Threshold"}}
    return re.sub(r'"Value": [^}]*\}', '"Value": "..."}', json.dumps(kept, sort_keys=True))


def test_no_two_alarms_differ_only_in_what_they_watch_and_their_threshold(template: dict[str, Any]) -> None:
    # Given every alarm, without the dimension values it names, its threshold and its text
    shapes = [what_the_alarm_watches(alarm) for alarm in alarms(template).values()]
    # When those alike are counted
    copies = [shape for shape in set(shapes) if shapes.count(shape) > 1]
    # Then there are none: an alarm over several functions or state machines is one metric math alarm
    assert copies == []


def test_the_template_states_each_condition_once(template: dict[str, Any]) -> None:
    # Given every Fn::If of the template
    text = json.dumps(template, sort_keys=True)
    branches = re.findall(r'\{"Fn::If": \[.*?\]\}', text)
    # When those stated more than once are picked out
    repeated = {branch for branch in branches if branches.count(branch) > 1}
    # Then there are none (the alarms' destination is the one topic the stack always creates)
    assert repeated == set()


@every_alarm
def test_the_alarm_reads_no_more_metrics_than_cloudwatch_allows(template: dict[str, Any], alarm_name: str) -> None:
    # Given / When the metrics the alarm's expression reads are counted
    read = [query for query in alarms(template)[alarm_name].get("Metrics", []) if "MetricStat" in query]
    # Then they are within CloudWatch's limit for an alarm
    assert len(read) <= METRICS_PER_ALARM


def test_an_alarm_email_is_subscribed_to_the_alarm_topic(template: dict[str, Any]) -> None:
    # Given the e-mail subscription and the condition it is created under
    subscription = template["Resources"]["AlarmEmailSubscription"]
    condition = template["Conditions"][subscription["Condition"]]
    # When its properties are read
    properties = subscription["Properties"]
    # Then it exists only when AlarmEmail is given, and mails that address the alarm topic's notifications
    assert subscription["Type"] == "AWS::SNS::Subscription"
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    assert properties == {"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}


def test_the_alarm_topic_always_exists_and_the_stack_outputs_it_for_integrations(template: dict[str, Any]) -> None:
    # Given / When the alarm topic and the stack's outputs are read
    topic = template["Resources"]["AlarmTopic"]
    output = template["Outputs"]["AlarmTopicArn"]
    # Then it is created whatever the parameters, and a pager or chat integration finds it
    assert topic["Type"] == "AWS::SNS::Topic"
    assert "Condition" not in topic
    assert output["Value"] == {"Ref": "AlarmTopic"}


@every_alarm
def test_the_alarm_notifies_the_alarm_topic_when_it_fires_and_when_it_clears(
    template: dict[str, Any], alarm_name: str
) -> None:
    # Given / When the alarm's actions are read
    alarm = alarms(template)[alarm_name]
    # Then it notifies the stack's topic
    assert alarm["AlarmActions"] == ALARM_DESTINATION
    assert alarm["OKActions"] == ALARM_DESTINATION


@every_alarm
def test_the_alarm_fires_on_one_five_minute_period_and_counts_no_data_as_all_clear(
    template: dict[str, Any], alarm_name: str
) -> None:
    # Given / When the alarm's evaluation is read
    alarm = alarms(template)[alarm_name]
    periods = {alarm.get("Period")} | {
        metric["MetricStat"]["Period"] for metric in alarm.get("Metrics", []) if "MetricStat" in metric
    }
    # Then it looks at 5 minutes once, and an idle stack is not in alarm
    assert periods - {None} == {300}
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Threshold"] >= 1


def test_5xx_answers_of_the_http_api_alarm(template: dict[str, Any]) -> None:
    # Given / When the alarms on the HTTP API's 5xx answers are read
    (alarm,) = alarms_on(template, "AWS/ApiGateway", "5xx")
    # Then one counts those of the stack's API on its stage
    assert dimensions(alarm) == {"ApiId": {"Ref": "HttpApi"}, "Stage": {"Ref": "Stage"}}
    assert alarm["Statistic"] == "Sum"


def test_requests_that_fail_because_of_signalwire_alarm_whatever_the_upstream_problem(
    template: dict[str, Any],
) -> None:
    # Given the service's upstream-* problem types and its metric identity
    from sip_provisioning.domain.errors import ProblemType

    upstream_types = {problem.value for problem in ProblemType if problem.value.startswith("upstream-")}
    namespace, service = service_metric_identity(template)
    # When the upstream problems alarm's metrics are read
    metrics = alarms(template)["UpstreamProblemsAlarm"]["Metrics"]
    counted = [metric for metric in metrics if "MetricStat" in metric]
    (total,) = [metric for metric in metrics if metric.get("ReturnData")]
    # Then it sums RequestsFailed of each upstream-* type, under the namespace and service Powertools uses
    assert {dimensions(metric["MetricStat"]["Metric"])["problem_type"] for metric in counted} == upstream_types
    assert all(metric["MetricStat"]["Metric"]["MetricName"] == "RequestsFailed" for metric in counted)
    assert all(metric["MetricStat"]["Metric"]["Namespace"] == namespace for metric in counted)
    assert all(dimensions(metric["MetricStat"]["Metric"])["service"] == service for metric in counted)
    assert all(metric["MetricStat"]["Stat"] == "Sum" for metric in counted)
    assert all(re.search(rf"\b{metric['Id']}\b", total["Expression"]) for metric in counted)


def test_serving_stale_configuration_alarms(template: dict[str, Any]) -> None:
    # Given the metric identity Powertools gives the service's metrics
    namespace, service = service_metric_identity(template)
    # When the alarms on stale configuration are read
    (alarm,) = alarms_on(template, namespace, "StaleConfigurationServed")
    # Then one counts it for the service
    assert dimensions(alarm) == {"service": service}
    assert alarm["Statistic"] == "Sum"


def test_a_slack_create_job_waiting_in_the_on_failure_queue_alarms(template: dict[str, Any]) -> None:
    # Given / When the alarms on a queue's depth are read
    (alarm,) = alarms_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    # Then one fires while the on-failure queue holds a job
    assert dimensions(alarm) == {"QueueName": {"Fn::GetAtt": [FAILURES_QUEUE, "QueueName"]}}
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Maximum", 1)


@pytest.mark.parametrize("state_machine_name", STATE_MACHINE_NAMES)
def test_failed_executions_of_the_state_machine_alarm(template: dict[str, Any], state_machine_name: str) -> None:
    # Given the one alarm that reads the state machine's failed executions
    alarm_name, statistic = watching(
        template, "AWS/States", "ExecutionsFailed", {"StateMachineArn": {"Ref": state_machine_name}}
    )
    alarm = alarms(template)[alarm_name]
    # When its expression is read
    expression = alarm_expression(alarm)
    # Then it counts them, summed with the other state machines', and one failure fires it
    assert statistic == "Sum"
    assert expression == "SUM(METRICS())"
    assert alarm["Threshold"] == 1


@every_function
def test_the_functions_throttles_alarm(template: dict[str, Any], function_name: str) -> None:
    # Given the one alarm that reads the function's throttles
    alarm_name, statistic = watching(template, "AWS/Lambda", "Throttles", {"FunctionName": {"Ref": function_name}})
    alarm = alarms(template)[alarm_name]
    # When its expression is read
    expression = alarm_expression(alarm)
    # Then it counts them, summed with the other functions', and one throttle fires it
    assert statistic == "Sum"
    assert expression == "SUM(METRICS())"
    assert alarm["Threshold"] == 1


@every_function
def test_the_functions_errors_alarm_once_they_exceed_what_it_makes_by_design(
    template: dict[str, Any], function_name: str
) -> None:
    # Given the one alarm that reads the function's errors
    alarm_name, statistic = watching(template, "AWS/Lambda", "Errors", {"FunctionName": {"Ref": function_name}})
    alarm = alarms(template)[alarm_name]
    # When the comparison its expression makes of them is read
    identifier = query_id(alarm, {"FunctionName": {"Ref": function_name}})
    tolerance = re.search(rf"FILL\({identifier}, 0\) >= (\d+)", alarm_expression(alarm))
    # Then the alarm fires once the function's errors in 5 minutes reach its tolerance
    assert statistic == "Sum"
    assert tolerance is not None
    assert int(tolerance[1]) == ERRORS_TOLERATED[function_name]
    assert alarm_expression(alarm).startswith("IF(")
    assert alarm["Threshold"] == 1


@every_function
def test_an_invocation_of_the_function_near_its_timeout_alarms(template: dict[str, Any], function_name: str) -> None:
    # Given the function's timeout, and the one alarm that reads its duration
    timeout_ms = function_properties(template, function_name)["Timeout"] * 1000
    alarm_name, statistic = watching(template, "AWS/Lambda", "Duration", {"FunctionName": {"Ref": function_name}})
    alarm = alarms(template)[alarm_name]
    # When its expression is read
    expression = alarm_expression(alarm)
    # Then the slowest invocation of any function alarms once it takes 80% of the timeout, before it times out
    assert statistic == "Maximum"
    assert expression == "MAX(METRICS())"
    assert alarm["Threshold"] == 0.8 * timeout_ms


# The dashboard: the alarms, and every metric the service emits.

SERVICE_METRICS = {
    "EndpointsCreated",
    "EndpointsChanged",
    "PasswordsReset",
    "EndpointsDisabled",
    "EndpointsDeleted",
    "RequestsFailed",
    "UpstreamLatency",
    "UpstreamRetries",
    "CreatesRecovered",
    "StaleConfigurationServed",
    "DriftedEndpoints",
    "MissingEndpoints",
    "UnmanagedEndpoints",
}


def dashboard_widgets(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's widgets, each `${...}` substitution read as a placeholder string."""
    body = only_resource_of_type(template, "AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets: list[dict[str, Any]] = json.loads(re.sub(r"\$\{([\w:.]+)\}", r"<\1>", body))["widgets"]
    return widgets


def dashboard_metrics(template: dict[str, Any]) -> list[list[Any]]:
    return [metric for widget in dashboard_widgets(template) for metric in widget["properties"].get("metrics", [])]


def test_the_dashboard_shows_every_alarm_of_the_stack(template: dict[str, Any]) -> None:
    # Given / When the dashboard's alarm widgets are read
    shown = [
        alarm
        for widget in dashboard_widgets(template)
        if widget["type"] == "alarm"
        for alarm in widget["properties"]["alarms"]
    ]
    # Then each alarm is there once
    assert sorted(shown) == [f"<{name}.Arn>" for name in ALARM_NAMES]


def test_the_dashboard_shows_every_metric_the_service_emits(template: dict[str, Any]) -> None:
    # Given the metric identity Powertools gives the service's metrics
    namespace, service = service_metric_identity(template)
    # When the dashboard's metrics and search expressions are read
    plain = {metric[1] for metric in dashboard_metrics(template) if metric[0] == namespace}
    searched = {
        name
        for metric in dashboard_metrics(template)
        if isinstance(metric[0], dict)
        for name in re.findall(r'MetricName=\\?"(\w+)\\?"', metric[0]["expression"])
    }
    # Then each service metric is shown, for the service
    assert plain | searched == SERVICE_METRICS
    assert all(metric[2:4] == ["service", service] for metric in dashboard_metrics(template) if metric[0] == namespace)


def test_the_dashboard_shows_failed_requests_by_problem_type(template: dict[str, Any]) -> None:
    # Given the metric identity Powertools gives the service's metrics
    namespace, service = service_metric_identity(template)
    # When the dashboard's search expressions are read
    (expression,) = [metric[0]["expression"] for metric in dashboard_metrics(template) if isinstance(metric[0], dict)]
    # Then RequestsFailed is searched per problem_type, one line for each type that occurred
    assert expression.startswith(f"SEARCH('{{{namespace},problem_type,service}}")
    assert 'MetricName="RequestsFailed"' in expression
    assert f'service="{service}"' in expression


@every_function
def test_the_dashboard_shows_the_functions_concurrency_and_its_reservation(
    template: dict[str, Any], function_name: str
) -> None:
    # Given the parameter of the function's reserved concurrency
    reserved = function_properties(template, function_name)["ReservedConcurrentExecutions"]["Ref"]
    # When the dashboard's concurrency widgets are read
    widgets = [
        widget["properties"]
        for widget in dashboard_widgets(template)
        if any(
            metric[:2] == ["AWS/Lambda", "ConcurrentExecutions"] for metric in widget["properties"].get("metrics", [])
        )
    ]
    # Then one shows the function's concurrent executions, and its title the reservation
    (widget,) = widgets
    assert ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", f"<{function_name}>"] in widget["metrics"]
    assert f"<{reserved}>" in widget["title"]


def test_the_dashboard_shows_signalwire_latency_at_p50_and_p99(template: dict[str, Any]) -> None:
    # Given / When the dashboard's UpstreamLatency lines are read
    statistics = {metric[-1]["stat"] for metric in dashboard_metrics(template) if metric[1:2] == ["UpstreamLatency"]}
    # Then they are the median and the 99th percentile
    assert statistics == {"p50", "p99"}


@every_function
def test_the_function_may_touch_only_the_stages_endpoint_secrets(template: dict[str, Any], function_name: str) -> None:
    # Given the function's Secrets Manager permissions
    statements = statements_granting(template, function_name, "secretsmanager")
    # When their actions and resources are read
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    resources = [resource for statement in statements for resource in as_list(statement["Resource"])]
    # Then they are a secret's life (no listing, no policies) on the stage's prefix, by name pattern, never *
    assert actions == {
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:TagResource",
        "secretsmanager:UntagResource",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DeleteSecret",
        "secretsmanager:RestoreSecret",
    }
    assert resources == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
            "sip-provisioning/${Stage}/endpoints/*-??????"
        }
    ]


def test_the_scim_function_reads_only_the_environment_every_function_reads(template: dict[str, Any]) -> None:
    # Given / When the SCIM function's own settings are read
    properties = own_function_properties(template, SCIM_FUNCTION)
    # Then it adds no variable: its settings are SSM parameters (<prefix>/scim/...)
    assert "Environment" not in properties


@every_function
def test_the_function_is_told_the_secrets_prefix_the_permissions_cover(
    template: dict[str, Any], function_name: str
) -> None:
    # Given / When the function's environment is read
    variables = function_properties(template, function_name)["Environment"]["Variables"]
    # Then the prefix is the one its permissions name
    assert variables["SECRETS_PREFIX"] == {"Fn::Sub": "sip-provisioning/${Stage}/endpoints/"}


# The fleet (CONTRACT.md section 9): the rollout's and the audit's state machines, the daily schedule, the alarm.

ROLLOUT_STATE_MACHINE = "ProfileRolloutStateMachine"
AUDIT_STATE_MACHINE = "FleetAuditStateMachine"
IMPORTS_OBJECTS = "${ImportsBucket.Arn}/"


def test_the_fleet_audit_runs_daily_on_a_schedule_a_parameter_switches_off(template: dict[str, Any]) -> None:
    # Given the audit state machine's events and the parameter they name
    events = state_machine_properties(template, AUDIT_STATE_MACHINE)["Events"]
    [schedule] = events.values()
    switch = parameter(template, schedule["Properties"]["State"])
    # When they are read
    properties = schedule["Properties"]
    # Then EventBridge Scheduler starts it once a day with {}, unless the parameter says DISABLED
    assert schedule["Type"] == "ScheduleV2"
    assert properties["ScheduleExpression"] == "rate(1 day)"
    assert json.loads(properties["Input"]) == {}
    assert (switch["Default"], sorted(switch["AllowedValues"])) == ("ENABLED", ["DISABLED", "ENABLED"])


def test_managed_endpoints_missing_from_signalwire_alarm(template: dict[str, Any]) -> None:
    # Given the metric identity Powertools gives the service's metrics
    namespace, service = service_metric_identity(template)
    # When the alarms on MissingEndpoints are read
    (alarm,) = alarms_on(template, namespace, "MissingEndpoints")
    # Then one fires as soon as an audit finds one (at least 1: more than 0)
    assert dimensions(alarm) == {"service": service}
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Maximum",
        1,
        "GreaterThanOrEqualToThreshold",
    )


def test_the_workflow_function_writes_only_the_fleets_prefixes_of_the_imports_bucket(template: dict[str, Any]) -> None:
    # Given the workflow function's S3 permissions and environment
    statements = statements_granting(template, "WorkflowFunction", "s3")
    variables = function_properties(template, "WorkflowFunction")["Environment"]["Variables"]
    # When the objects each action may touch are read
    resources: dict[str, set[str]] = {}
    for statement in statements:
        for action in as_list(statement["Action"]):
            resources.setdefault(action, set()).update(
                resource["Fn::Sub"] if "Fn::Sub" in resource else json.dumps(resource)
                for resource in as_list(statement["Resource"])
            )
    # Then it writes manifests, outcomes and reports, reads back the first two, lists only the
    # outcomes, and is told the bucket
    assert resources["s3:PutObject"] == {
        f"{IMPORTS_OBJECTS}{prefix}*" for prefix in ("rollouts/", "rollout-results/", "audits/")
    }
    assert resources["s3:GetObject"] == {f"{IMPORTS_OBJECTS}{prefix}*" for prefix in ("rollouts/", "rollout-results/")}
    [listing] = [statement for statement in statements if "s3:ListBucket" in as_list(statement["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "rollout-results/*"}}
    assert set(resources) == {"s3:PutObject", "s3:GetObject", "s3:ListBucket"}
    assert variables["IMPORTS_BUCKET"] == {"Ref": "ImportsBucket"}


def test_the_rollouts_distributed_map_reads_only_manifests_and_starts_only_its_own_children(
    template: dict[str, Any],
) -> None:
    # Given the rollout state machine's name and its S3 and Step Functions permissions
    name = state_machine_properties(template, ROLLOUT_STATE_MACHINE)["Name"]["Fn::Sub"].split()[0]
    statements = list(state_machine_statements(template, ROLLOUT_STATE_MACHINE))
    # When they are read
    s3 = granting(iter(statements), "s3")
    [start] = [
        statement
        for statement in granting(iter(statements), "states")
        if statement["Action"] == "states:StartExecution"
    ]
    # Then the ItemReader reads the manifests alone, and the Map starts executions of this machine alone
    assert [(statement["Action"], statement["Resource"]) for statement in s3] == [
        ("s3:GetObject", {"Fn::Sub": f"{IMPORTS_OBJECTS}rollouts/*"})
    ]
    assert start["Resource"]["Fn::Sub"].endswith(f":stateMachine:{name}")


def test_the_stack_outputs_the_fleets_state_machines(template: dict[str, Any]) -> None:
    # Given / When the stack's outputs are read
    outputs = template["Outputs"]
    # Then an operator finds both ARNs to start them with
    assert outputs["ProfileRolloutStateMachineArn"]["Value"] == {"Ref": ROLLOUT_STATE_MACHINE}
    assert outputs["FleetAuditStateMachineArn"]["Value"] == {"Ref": AUDIT_STATE_MACHINE}
