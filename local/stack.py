"""template.yaml as `sam deploy` reads it: translated offline by `aws-sam-translator`, then resolved.

`make run` builds its whole local world from what this module reads, so nothing under `local/`
repeats a name or a setting of the template: the tables (keys, indexes, TTL), the bucket, the
queues and topics, the state machines (their DefinitionSubstitutions applied), and per function
its handler, code, layers, environment, timeout, memory size, reserved concurrency, role
statements, routes with their auth, and asynchronous settings (EventInvokeConfig).

How it is read:
- The SAM template is translated with `aws-sam-translator`, the library `sam deploy` runs. It
  wants deployable artifacts, so each local `CodeUri`/`ContentUri` folder becomes the placeholder
  `s3://local-code/<folder>` (the key keeps the folder) and each `DefinitionUri` file is inlined.
- The translated template's intrinsics (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::If`,
  `Fn::Select`, `Fn::Split`, conditions) are resolved as CloudFormation does for a stack named
  `stack_name` in us-east-1, account 123456789012; a resource whose condition is false does not
  exist. Physical names: the resource's own name property when it has one, else
  `<stack_name>-<LogicalId>` (CloudFormation adds a random suffix; a local run needs none).
"""

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = REPOSITORY_ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"
LOCAL_STACK_NAME = "sip-provisioner-local"
LOCAL_PARAMETERS = {"Stage": "local"}
CODE_BUCKET = "local-code"
# Lambda's defaults where the template leaves a setting out.
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_SIZE = 128
DEFAULT_ASYNC_RETRIES = 2
DEFAULT_ASYNC_MAX_AGE_SECONDS = 21600

# The property that names a resource of each type, when the template gives a name.
_NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::CloudWatch::Alarm": "AlarmName",
}
_NO_VALUE = object()  # AWS::NoValue: the property or list item is left out
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class _CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc]
    """Safe YAML that reads short-form intrinsics (`!GetAtt X.Arn`) in long form (`{"Fn::GetAtt": [X, Arn]}`)."""


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


_CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(template_path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """template.yaml as written, its short-form intrinsics in long form: before SAM translates it."""
    loaded: dict[str, Any] = _CloudFormationLoader(template_path.read_text(encoding="utf-8")).get_single_data()
    return loaded


class TemplateError(ValueError):
    """The template holds something a local run cannot stand up; the message names it."""


@dataclass(frozen=True)
class AsyncSettings:
    """What Lambda does with a failed asynchronous invocation (EventInvokeConfig)."""

    maximum_retry_attempts: int = DEFAULT_ASYNC_RETRIES
    maximum_event_age_seconds: int = DEFAULT_ASYNC_MAX_AGE_SECONDS
    on_failure_queue_arn: str | None = None


@dataclass(frozen=True)
class FunctionSettings:
    """A function as the template deploys it: what its execution environments run (local/environments.py)
    and the role whose statements `make run` enforces."""

    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: Mapping[str, str]
    timeout_seconds: int
    memory_size: int
    reserved_concurrency: int | None
    role_arn: str
    # Every statement of its role: inline policies and the stack's own managed policies.
    statements: tuple[Mapping[str, Any], ...]
    async_settings: AsyncSettings = field(default_factory=AsyncSettings)


@dataclass(frozen=True)
class RouteSettings:
    """One route of the HTTP API: `method` (or ANY) and `path` as API Gateway keys it."""

    method: str
    path: str
    function_logical_id: str
    iam_authorizer: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class StateMachineSettings:
    logical_id: str
    name: str
    arn: str
    definition: str
    type: str
    role_arn: str


@dataclass(frozen=True)
class Stack:
    """The resolved, translated template: what a deploy of it would create."""

    name: str
    resources: Mapping[str, Mapping[str, Any]]  # logical id -> resolved resource (its Properties)
    physical_ids: Mapping[str, str]  # logical id -> Ref value
    functions: Mapping[str, FunctionSettings]
    routes: tuple[RouteSettings, ...]
    state_machines: Mapping[str, StateMachineSettings]
    roles: Mapping[str, Mapping[str, Any]]  # role name -> its assume-role policy document

    def of_type(self, resource_type: str) -> dict[str, Mapping[str, Any]]:
        return {logical_id: r for logical_id, r in self.resources.items() if r["Type"] == resource_type}

    def table_definition(self, logical_id: str, table_name: str | None = None) -> dict[str, Any]:
        """`CreateTable`'s arguments for the table `logical_id`, named `table_name` or as deployed."""
        properties = self.resources[logical_id]["Properties"]
        arguments: dict[str, Any] = {
            "TableName": table_name or self.physical_ids[logical_id],
            "KeySchema": properties["KeySchema"],
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "BillingMode": properties.get("BillingMode", "PROVISIONED"),
        }
        for optional in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
            if optional in properties:
                arguments[optional] = properties[optional]
        return arguments


def create_table(dynamodb_client: Any, stack: Stack, logical_id: str, table_name: str | None = None) -> str:
    """Create the table `logical_id` as the template declares it (keys, indexes, TTL); its name."""
    arguments = stack.table_definition(logical_id, table_name)
    dynamodb_client.create_table(**arguments)
    ttl = stack.resources[logical_id]["Properties"].get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb_client.update_time_to_live(
            TableName=arguments["TableName"],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    name: str = arguments["TableName"]
    return name


# -- translation --------------------------------------------------------------------------------


def translate(template_path: Path = TEMPLATE_PATH, parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would send for `template_path`, offline."""
    template = load_template(template_path)
    base = template_path.parent
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for uri in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(uri), str):
                properties[uri] = f"s3://{CODE_BUCKET}/{properties[uri].rstrip('/')}"
        if isinstance(properties.get("DefinitionUri"), str):
            properties["Definition"] = json.loads((base / properties.pop("DefinitionUri")).read_text(encoding="utf-8"))
    values = {
        **dict(parameters or {}),
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": PARTITION,
    }
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    # No AWS managed policy is named by its short name in the template: no map to download.
    translated: dict[str, Any] = translator.translate(template, parameter_values=values, get_managed_policy_map=dict)
    return translated


@functools.cache
def load_stack(
    template_path: Path = TEMPLATE_PATH,
    stack_name: str = LOCAL_STACK_NAME,
    parameters: tuple[tuple[str, str], ...] = tuple(LOCAL_PARAMETERS.items()),
) -> Stack:
    """The stack a deploy of `template_path` as `stack_name` with `parameters` would create."""
    translated = translate(template_path, dict(parameters))
    return _Resolver(translated, stack_name, dict(parameters), template_path.parent).stack()


class _Resolver:
    def __init__(self, template: dict[str, Any], stack_name: str, parameters: dict[str, str], base: Path) -> None:
        self._template = template
        self._stack_name = stack_name
        self._base = base
        self._parameters: dict[str, Any] = {}
        for name, declared in template.get("Parameters", {}).items():
            if name in parameters:
                self._parameters[name] = parameters[name]
            elif "Default" in declared:
                self._parameters[name] = declared["Default"]
            else:
                raise TemplateError(f"parameter {name} has no default: give it a local value")
        self._parameters.update(
            {
                "AWS::Region": REGION,
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::Partition": PARTITION,
                "AWS::StackName": stack_name,
                "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/local",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::NoValue": _NO_VALUE,
            }
        )
        self._conditions: dict[str, bool] = {}
        self._resources = {
            logical_id: resource
            for logical_id, resource in template["Resources"].items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }
        self._names: dict[str, str] = {}

    # -- intrinsics --

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self._template["Conditions"][name]))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if key.startswith("Fn::"):
                return self._function(key, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _function(self, key: str, argument: Any) -> Any:
        if key == "Fn::GetAtt":
            logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return self.get_att(logical_id, attribute)
        if key == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            return self._sub(text, {name: self.resolve(item) for name, item in variables.items()})
        if key == "Fn::Join":
            separator, items = argument
            return separator.join(str(item) for item in self.resolve(items))
        if key == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = self.resolve(argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.resolve(argument)[0]
        if key == "Fn::And":
            return all(self.resolve(argument))
        if key == "Fn::Or":
            return any(self.resolve(argument))
        if key == "Fn::Select":
            index, items = self.resolve(argument)
            return items[int(index)]
        if key == "Fn::Split":
            separator, text = self.resolve(argument)
            return text.split(separator)
        raise TemplateError(f"{key} is not read locally")

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def value_of(match: re.Match[str]) -> str:
            name = match[1]
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self._resources:
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(value_of, text)

    def ref(self, name: str) -> Any:
        if name in self._parameters:
            return self._parameters[name]
        resource = self._resource(name)
        resource_type = resource["Type"]
        physical = self.physical_name(name)
        if resource_type in {"AWS::SNS::Topic", "AWS::IAM::ManagedPolicy", "AWS::StepFunctions::StateMachine"}:
            return self.get_att(name, "Arn")
        if resource_type == "AWS::Lambda::LayerVersion":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{physical}:1"
        if resource_type == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{physical}"
        return physical

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource_type = self._resource(logical_id)["Type"]
        name = self.physical_name(logical_id)
        arns = {
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
            "AWS::IAM::ManagedPolicy": f"arn:aws:iam::{ACCOUNT_ID}:policy/{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*",
            "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}",
        }
        if attribute == "Arn" and resource_type in arns:
            return arns[resource_type]
        if attribute in {"QueueName", "Name", "TopicName"}:
            return name
        if attribute == "QueueUrl":
            return str(self.ref(logical_id))
        # Attributes nothing local reads (a table's StreamArn, a bucket's DomainName): a stable stand-in.
        return f"{name}.{attribute}"

    def physical_name(self, logical_id: str) -> str:
        if logical_id not in self._names:
            resource = self._resource(logical_id)
            name_property = _NAME_PROPERTIES.get(resource["Type"])
            given = resource.get("Properties", {}).get(name_property) if name_property else None
            if given is not None:
                name = str(self.resolve(given))
            elif resource["Type"] == "AWS::S3::Bucket":
                name = f"{self._stack_name}-{logical_id}".lower()
            else:
                name = f"{self._stack_name}-{logical_id}"
            self._names[logical_id] = name
        return self._names[logical_id]

    def _resource(self, logical_id: str) -> Mapping[str, Any]:
        try:
            return self._resources[logical_id]  # type: ignore[no-any-return]
        except KeyError:
            raise TemplateError(f"no resource or parameter {logical_id} (or its condition is false)") from None

    # -- the stack --

    def stack(self) -> Stack:
        resources = {
            logical_id: {"Type": resource["Type"], "Properties": self.resolve(resource.get("Properties", {}))}
            for logical_id, resource in self._resources.items()
        }
        physical_ids = {logical_id: str(self.ref(logical_id)) for logical_id in resources}
        managed_policies = {
            physical_ids[logical_id]: resource["Properties"]["PolicyDocument"]
            for logical_id, resource in resources.items()
            if resource["Type"] == "AWS::IAM::ManagedPolicy"
        }
        roles = {
            physical_ids[logical_id]: resource["Properties"]
            for logical_id, resource in resources.items()
            if resource["Type"] == "AWS::IAM::Role"
        }
        async_settings = {
            resource["Properties"]["FunctionName"]: _async_settings(resource["Properties"])
            for resource in resources.values()
            if resource["Type"] == "AWS::Lambda::EventInvokeConfig"
        }
        layer_dirs = {
            physical_ids[logical_id]: self._code_dir(logical_id, resource["Properties"]["Content"])
            for logical_id, resource in resources.items()
            if resource["Type"] == "AWS::Lambda::LayerVersion"
        }
        functions: dict[str, FunctionSettings] = {}
        for logical_id, resource in resources.items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            properties = resource["Properties"]
            name = physical_ids[logical_id]
            role_name = properties["Role"].rsplit("/", 1)[-1]
            role = roles.get(role_name, {})
            statements: list[Mapping[str, Any]] = []
            for policy in role.get("Policies", []):
                statements.extend(_statements(policy["PolicyDocument"]))
            # AWS managed policies (arn:aws:iam::aws:policy/...) cannot be read offline: see local/permissions.py.
            for arn in role.get("ManagedPolicyArns", []):
                if arn in managed_policies:
                    statements.extend(_statements(managed_policies[arn]))
            functions[logical_id] = FunctionSettings(
                logical_id=logical_id,
                name=name,
                arn=self.get_att(logical_id, "Arn"),
                handler=properties["Handler"],
                code_dir=self._code_dir(logical_id, properties["Code"]),
                layer_dirs=tuple(layer_dirs[arn] for arn in properties.get("Layers", [])),
                environment={
                    key: str(value) for key, value in properties.get("Environment", {}).get("Variables", {}).items()
                },
                timeout_seconds=int(properties.get("Timeout", DEFAULT_TIMEOUT_SECONDS)),
                memory_size=int(properties.get("MemorySize", DEFAULT_MEMORY_SIZE)),
                reserved_concurrency=(
                    int(properties["ReservedConcurrentExecutions"])
                    if "ReservedConcurrentExecutions" in properties
                    else None
                ),
                role_arn=properties["Role"],
                statements=tuple(statements),
                async_settings=async_settings.get(name, AsyncSettings()),
            )
        state_machines = {
            logical_id: StateMachineSettings(
                logical_id=logical_id,
                name=self.physical_name(logical_id),
                arn=physical_ids[logical_id],
                definition=_definition(logical_id, resource["Properties"]),
                type=resource["Properties"].get("StateMachineType", "STANDARD"),
                role_arn=resource["Properties"]["RoleArn"],
            )
            for logical_id, resource in resources.items()
            if resource["Type"] == "AWS::StepFunctions::StateMachine"
        }
        return Stack(
            name=self._stack_name,
            resources=resources,
            physical_ids=physical_ids,
            functions=functions,
            routes=self._routes(resources, functions),
            state_machines=state_machines,
            roles={name: role["AssumeRolePolicyDocument"] for name, role in roles.items()},
        )

    def _code_dir(self, logical_id: str, code: Mapping[str, Any]) -> Path:
        if code.get("S3Bucket") != CODE_BUCKET:
            raise TemplateError(f"{logical_id}: its code must be a local folder (CodeUri/ContentUri)")
        return self._base / str(code["S3Key"])

    @staticmethod
    def _routes(
        resources: Mapping[str, Mapping[str, Any]], functions: Mapping[str, FunctionSettings]
    ) -> tuple[RouteSettings, ...]:
        by_arn = {function.arn: logical_id for logical_id, function in functions.items()}
        routes = []
        for resource in resources.values():
            if resource["Type"] != "AWS::ApiGatewayV2::Api":
                continue
            for path, methods in resource["Properties"].get("Body", {}).get("paths", {}).items():
                for method, operation in methods.items():
                    uri = operation["x-amazon-apigateway-integration"]["uri"]
                    function_arn = uri.split("/functions/", 1)[1].removesuffix("/invocations")
                    schemes = {name for requirement in operation.get("security", []) for name in requirement}
                    routes.append(
                        RouteSettings(
                            method="ANY" if method == "x-amazon-apigateway-any-method" else method.upper(),
                            path=path,
                            function_logical_id=by_arn[function_arn],
                            iam_authorizer="AWS_IAM" in schemes,
                        )
                    )
        return tuple(routes)


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _async_settings(properties: Mapping[str, Any]) -> AsyncSettings:
    on_failure = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    if on_failure is not None and ":sqs:" not in on_failure:
        raise TemplateError(f"an on-failure destination locally must be an SQS queue, not {on_failure}")
    return AsyncSettings(
        maximum_retry_attempts=int(properties.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES)),
        maximum_event_age_seconds=int(properties.get("MaximumEventAgeInSeconds", DEFAULT_ASYNC_MAX_AGE_SECONDS)),
        on_failure_queue_arn=on_failure,
    )


def _definition(logical_id: str, properties: Mapping[str, Any]) -> str:
    """The definition with its DefinitionSubstitutions applied, as Step Functions receives it."""
    definition = properties.get("DefinitionString")
    if not isinstance(definition, str):
        definition = json.dumps(properties.get("Definition", {}))
    for name, value in properties.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + name + "}", str(value))
    if leftover := sorted(set(_SUB_VARIABLE.findall(definition))):
        raise TemplateError(f"{logical_id}: no DefinitionSubstitutions for {', '.join(leftover)}")
    return definition
