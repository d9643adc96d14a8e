"""`make run`: the API on loopback, through the very `lambda_handler` that runs in AWS.

    python -m local.run        # from the repository root; PORT (default 3000, 0 picks a free one)

What it starts, in this process and its children, and stops on Ctrl-C or SIGTERM:
- the stack of template.yaml ($TEMPLATE_FILE, when set) as `sam deploy` would create it
  (local/stack.py): its tables, buckets, queues, topics and roles in a moto server standing in
  for AWS (DynamoDB's item operations made atomic, as DynamoDB's are), its state machines run by
  moto with their Lambda tasks bridged to the functions (local/step_functions.py), and its
  functions, each in execution environments of its own (local/environments.py) with its role's
  credentials and checks (local/permissions.py),
- SSM seeded under the functions' PARAMETERS_PATH with the profiles in $PROFILES_DIR
  (default config/profiles) and the SignalWire settings,
- the SignalWire emulator on a free loopback port, unless SIGNALWIRE_SPACE_URL,
  SIGNALWIRE_PROJECT_ID and SIGNALWIRE_API_TOKEN are all set (then those are used),
- the Slack command's SSM parameters from SLACK_SIGNING_SECRET and SLACK_ALLOWED_TEAM_IDS
  (comma-separated), or a generated throwaway secret and the team T0LOCAL,
- a local Lambda Invoke API (local/lambda_invoke.py) for the functions' asynchronous
  invocations, which the AWS SDK reaches through AWS_ENDPOINT_URL_LAMBDA, following each
  function's EventInvokeConfig,
- the deployment's policy `<prefix>/policy` from the JSON file $POLICY_FILE, when it is set
  (it must hold a JSON object; the function validates the rest); unset, the parameter does not
  exist and every caller is an admin,
- the SCIM endpoint's SSM parameters (CONTRACT.md section 8): `<prefix>/scim/bearer_token`
  (SecureString) from SCIM_BEARER_TOKEN, or a generated throwaway token printed at start, and
  `<prefix>/scim/settings` from the JSON file $SCIM_SETTINGS_FILE, when it is set (it must hold
  a JSON object; the function validates the rest); unset, the parameter does not exist and the
  function uses its defaults,
- the local API Gateway (local/gateway.py) on 127.0.0.1:$PORT with the template's routes and
  their auth, and /swagger.

Who a request behind the IAM authorizer runs as:
- LOCAL_CALLERS: a JSON object of access key id -> {"secret_access_key": ..., "arn": ...}
  (optional "session_token" for temporary credentials, which must then be sent and signed as
  X-Amz-Security-Token; optional "user_id" and "principal_org_id" for the authorizer context).
  A request signed with SigV4 (service execute-api, region us-east-1) by one of these keys is
  verified as API Gateway does and runs as its "arn"; a signature that does not verify, a key
  not listed, a date more than 5 minutes off or a tampered body is a 403 that reaches no function.
- LOCAL_CALLER_ARN (default arn:aws:iam::123456789012:user/local-developer): the identity of
  an unsigned request.
- LOCAL_REQUIRE_SIGV4=1: an unsigned request is a 403 `{"message":"Forbidden"}` instead
  (0 or unset: it runs as LOCAL_CALLER_ARN).
The access key ids and ARNs are printed at start, never the secrets.
"""

import contextlib
import dataclasses
import http.client
import io
import json
import logging
import os
import re
import secrets
import signal
import sys
import tempfile
import threading
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from types import FrameType
from typing import Any

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from samtranslator.model.exceptions import InvalidDocumentException

from local.environments import FunctionPool
from local.gateway import (
    LOCAL_DEVELOPER_ARN,
    IamCaller,
    LambdaFunction,
    LocalGateway,
    Route,
    SigningCaller,
)
from local.lambda_invoke import LocalLambdaService
from local.moto_atomic import make_item_operations_atomic
from local.permissions import ROLE_STATEMENTS_VARIABLE as LOCAL_ROLE_STATEMENTS
from local.seed import (
    SignalWireAccount,
    SlackApp,
    seed_policy,
    seed_scim,
    seed_slack,
    seed_ssm,
)
from local.signalwire_emulator import SignalWireEmulator
from local.sigv4 import REGION as SIGV4_REGION
from local.sigv4 import SERVICE as SIGV4_SERVICE
from local.sigv4 import Credentials
from local.stack import TEMPLATE_PATH, FunctionSettings, Stack, TemplateError, create_table, load_stack
from local.step_functions import LambdaBridge, enable_execution, placeholder_code

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
# On every execution environment's PYTHONPATH: its sitecustomize installs the role's checks.
LAMBDA_BOOT_DIR = Path(__file__).resolve().parent / "lambda_boot"
OPENAPI_DOCUMENT = REPOSITORY_ROOT / "docs" / "openapi.json"
SWAGGER_ROUTE_KEY = "GET /swagger"
REGION = "us-east-1"
DEFAULT_PORT = 3000
EMULATOR_PROJECT_ID = "local-project"
EMULATOR_API_TOKEN = "local-token"  # noqa: S105 - the emulator's fixed loopback credential
EMULATOR_SIP_DOMAIN = "local.sip.signalwire.com"
SIGNALWIRE_VARIABLES = ("SIGNALWIRE_SPACE_URL", "SIGNALWIRE_PROJECT_ID", "SIGNALWIRE_API_TOKEN")
LOCAL_SLACK_TEAM_ID = "T0LOCAL"
# An RFC 6750 bearer token, the one shape an identity provider can send in its Authorization header.
BEARER_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# The one template setting a local run replaces, where a function has it: locally the Slack
# function answers loopback stand-ins for Slack's response_url, and nothing else.
LOCAL_ENVIRONMENT_OVERRIDES = {"SLACK_RESPONSE_URL_PREFIXES": "http://127.0.0.1:,http://localhost:"}
IAM_ARN_PATTERN = re.compile(r"arn:aws:(iam|sts)::\d{12}:[\w+=,.@/-]+")
ACCESS_KEY_ID_PATTERN = re.compile(r"[A-Z0-9]{16,128}")
LOCAL_CALLER_FIELDS = {"secret_access_key", "arn", "session_token", "user_id", "principal_org_id"}


class StartupError(Exception):
    """A setting the user gave is unusable; the message says which and why (never a secret)."""


def mask(secret: str) -> str:
    return "*" * 8 if secret else "(empty)"


def signalwire_from_environment(environ: Mapping[str, str]) -> SignalWireAccount | None:
    """The real SignalWire account when all three variables are set, None when none is."""
    given = [name for name in SIGNALWIRE_VARIABLES if environ.get(name)]
    if not given:
        return None
    if len(given) < len(SIGNALWIRE_VARIABLES):
        missing = ", ".join(name for name in SIGNALWIRE_VARIABLES if name not in given)
        raise StartupError(
            f"{', '.join(given)} set but {missing} not: set all of {', '.join(SIGNALWIRE_VARIABLES)} "
            "to use a real SignalWire space, or none to use the local emulator."
        )
    return SignalWireAccount(
        space_url=environ["SIGNALWIRE_SPACE_URL"],
        project_id=environ["SIGNALWIRE_PROJECT_ID"],
        api_token=environ["SIGNALWIRE_API_TOKEN"],
    )


def slack_from_environment(environ: Mapping[str, str]) -> tuple[SlackApp, bool]:
    """The Slack app to answer, and whether its signing secret was generated here (a local throwaway)."""
    team_ids = tuple(team.strip() for team in environ.get("SLACK_ALLOWED_TEAM_IDS", "").split(",") if team.strip())
    if not all(team.isascii() and team.isalnum() for team in team_ids):
        raise StartupError("SLACK_ALLOWED_TEAM_IDS must be comma-separated Slack team ids, like T0123ABCD.")
    given_secret = environ.get("SLACK_SIGNING_SECRET", "")
    signing_secret = given_secret or secrets.token_hex(16)
    return SlackApp(signing_secret, team_ids or (LOCAL_SLACK_TEAM_ID,)), not given_secret


def scim_bearer_token_from_environment(environ: Mapping[str, str]) -> tuple[str, bool]:
    """The SCIM bearer token, and whether it was generated here (a local throwaway)."""
    given = environ.get("SCIM_BEARER_TOKEN", "")
    if given and not BEARER_TOKEN_PATTERN.fullmatch(given):
        raise StartupError(
            "SCIM_BEARER_TOKEN must be a bearer token (RFC 6750: letters, digits and - . _ ~ + /, "
            "then optional =), as an identity provider sends it."
        )
    return given or secrets.token_urlsafe(32), not given


def scim_settings_file_from_environment(environ: Mapping[str, str]) -> Path | None:
    return Path(environ["SCIM_SETTINGS_FILE"]) if environ.get("SCIM_SETTINGS_FILE") else None


def port_from_environment(environ: Mapping[str, str]) -> int:
    text = environ.get("PORT", "") or str(DEFAULT_PORT)
    if not text.isdigit() or int(text) > 65535:
        raise StartupError(f"PORT must be a number from 0 to 65535 (0 picks a free port), not {text!r}.")
    return int(text)


def caller_from_environment(environ: Mapping[str, str]) -> IamCaller:
    user_arn = environ.get("LOCAL_CALLER_ARN") or LOCAL_DEVELOPER_ARN
    if not IAM_ARN_PATTERN.fullmatch(user_arn):
        raise StartupError(f"LOCAL_CALLER_ARN must be an IAM or STS ARN, not {user_arn!r}.")
    return IamCaller(user_arn=user_arn)


def signing_callers_from_environment(environ: Mapping[str, str]) -> dict[str, SigningCaller]:
    """The access keys of LOCAL_CALLERS and who each signs as. Errors name the key, never a secret."""
    text = environ.get("LOCAL_CALLERS", "").strip()
    if not text:
        return {}
    usage = 'LOCAL_CALLERS must be a JSON object like {"AKIA...": {"secret_access_key": "...", "arn": "arn:aws:..."}}'
    try:
        listed = json.loads(text)
    except json.JSONDecodeError as error:
        raise StartupError(f"{usage}; it is not JSON ({error.msg} at character {error.pos}).") from None
    if not isinstance(listed, dict):
        raise StartupError(f"{usage}.")
    callers: dict[str, SigningCaller] = {}
    for access_key_id, entry in listed.items():
        if not ACCESS_KEY_ID_PATTERN.fullmatch(access_key_id):
            raise StartupError(
                f"LOCAL_CALLERS: {access_key_id!r} is not an access key id (16 to 128 capital letters and digits)."
            )
        if not isinstance(entry, dict) or not {"secret_access_key", "arn"} <= entry.keys():
            raise StartupError(f"LOCAL_CALLERS: {access_key_id} needs a secret_access_key and an arn.")
        if unknown := sorted(entry.keys() - LOCAL_CALLER_FIELDS):
            raise StartupError(
                f"LOCAL_CALLERS: {access_key_id} has unknown fields {', '.join(unknown)} "
                f"(known: {', '.join(sorted(LOCAL_CALLER_FIELDS))})."
            )
        if not all(isinstance(value, str) and value for value in entry.values()):
            raise StartupError(f"LOCAL_CALLERS: every field of {access_key_id} must be a non-empty string.")
        if not IAM_ARN_PATTERN.fullmatch(entry["arn"]):
            raise StartupError(
                f"LOCAL_CALLERS: the arn of {access_key_id} must be an IAM or STS ARN, not {entry['arn']!r}."
            )
        caller = IamCaller.for_arn(entry["arn"], access_key_id, entry.get("principal_org_id"))
        if "user_id" in entry:
            caller = IamCaller(entry["arn"], entry["user_id"], access_key_id, caller.principal_org_id)
        credentials = Credentials(access_key_id, entry["secret_access_key"], entry.get("session_token"))
        callers[access_key_id] = SigningCaller(credentials, caller)
    return callers


def require_sigv4_from_environment(environ: Mapping[str, str]) -> bool:
    text = environ.get("LOCAL_REQUIRE_SIGV4", "").strip()
    if text not in {"", "0", "1"}:
        raise StartupError(f"LOCAL_REQUIRE_SIGV4 must be 1 (unsigned requests are refused) or 0, not {text!r}.")
    return text == "1"


def policy_file_from_environment(environ: Mapping[str, str]) -> Path | None:
    return Path(environ["POLICY_FILE"]) if environ.get("POLICY_FILE") else None


def describe_callers(caller: IamCaller, signing_callers: Mapping[str, SigningCaller], require_sigv4: bool) -> list[str]:
    """The startup lines that say who requests run as: access key ids and ARNs, never a secret."""
    listed = "; ".join(
        f"{key} as {signing.caller.user_arn}{' (session token)' if signing.credentials.session_token else ''}"
        for key, signing in signing_callers.items()
    )
    unsigned = "none: unsigned requests are 403 (LOCAL_REQUIRE_SIGV4=1)" if require_sigv4 else caller.user_arn
    return [
        f"IAM caller: {unsigned}",
        f"SigV4 callers ({SIGV4_SERVICE}, {SIGV4_REGION}): {listed or 'none (set LOCAL_CALLERS)'}; "
        f"signature {'required' if require_sigv4 else 'optional'}",
    ]


def point_aws_sdk_at(endpoint_url: str, environ: MutableMapping[str, str]) -> None:
    """Send every AWS SDK call of this process to `endpoint_url` with throwaway credentials.

    The user's own AWS configuration is hidden so that nothing here can reach a real account.
    """
    for name in [name for name in environ if name.startswith("AWS_ENDPOINT_URL_")]:
        del environ[name]
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        environ.pop(name, None)
    environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",  # moto accepts any credentials
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )


def put_lambda_code_on_path(stack: Stack | None = None) -> None:
    """Every function's code and layers on this process's import path (the profiles are validated
    with the function's own models; the benchmarks import the handlers)."""
    stack = stack or load_stack()
    folders = {
        str(folder) for function in stack.functions.values() for folder in (function.code_dir, *function.layer_dirs)
    }
    sys.path[:0] = sorted(folder for folder in folders if folder not in sys.path)


def shared_setting(stack: Stack, variable: str) -> str:
    """The value every function of the stack has for `variable` (StartupError if they differ)."""
    values = {function.environment.get(variable) for function in stack.functions.values()}
    if len(values) != 1 or None in values:
        raise StartupError(f"template.yaml: the functions do not share one {variable}; make run seeds one")
    return str(values.pop())


def swagger_ui(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Swagger UI of docs/openapi.json at /swagger (`?format=json`: the document), for local runs
    only: the deployed API routes no such path, and the function serving it would pay for it on
    every cold start."""
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import html

    document = OPENAPI_DOCUMENT.read_text(encoding="utf-8")
    if (event.get("queryStringParameters") or {}).get("format") == "json":
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": document}
    assets = Path(html.__file__).parent
    page = html.generate_swagger_html(
        document.replace("</", "<\\/"),
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        "",
        None,
    )
    return {"statusCode": 200, "headers": {"Content-Type": "text/html"}, "body": page}


def create_resources(stack: Stack) -> None:
    """The stack's tables, buckets, queues, topics and roles in moto, as the template declares them."""
    for logical_id in stack.of_type("AWS::DynamoDB::Table"):
        create_table(boto3.client("dynamodb"), stack, logical_id)
    for logical_id, bucket in stack.of_type("AWS::S3::Bucket").items():
        name = stack.physical_ids[logical_id]
        boto3.client("s3").create_bucket(Bucket=name)
        if versioning := bucket["Properties"].get("VersioningConfiguration"):
            boto3.client("s3").put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": versioning["Status"]}
            )
    for logical_id in stack.of_type("AWS::SQS::Queue"):
        boto3.client("sqs").create_queue(QueueName=stack.physical_ids[logical_id].rsplit("/", 1)[-1])
    for logical_id in stack.of_type("AWS::SNS::Topic"):
        boto3.client("sns").create_topic(Name=stack.physical_ids[logical_id].rsplit(":", 1)[-1])
    for role_name, trust in stack.roles.items():
        boto3.client("iam").create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))


def function_environment(function: FunctionSettings, moto_url: str, statements_dir: Path) -> dict[str, str]:
    """What an execution environment of `function` runs with besides the template's variables:
    its role's credentials (from moto's STS) and checks, and AWS at moto's endpoint."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.pop("PYTHONPATH", None)
    credentials = boto3.client("sts").assume_role(RoleArn=function.role_arn, RoleSessionName=function.name)[
        "Credentials"
    ]
    statements_file = statements_dir / f"{function.logical_id}.json"
    statements_file.write_text(
        json.dumps(
            {"function_name": function.name, "role_arn": function.role_arn, "statements": list(function.statements)}
        ),
        encoding="utf-8",
    )
    environment.update(
        {
            "PYTHONPATH": str(LAMBDA_BOOT_DIR),
            LOCAL_ROLE_STATEMENTS: str(statements_file),
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    return environment


def with_local_overrides(function: FunctionSettings) -> FunctionSettings:
    """The function as `make run` runs it: the template's environment, with the local overrides it names."""
    environment = dict(function.environment)
    environment.update({name: value for name, value in LOCAL_ENVIRONMENT_OVERRIDES.items() if name in environment})
    return dataclasses.replace(function, environment=environment)


def lambda_function(function: FunctionSettings) -> LambdaFunction:
    return LambdaFunction(
        name=function.name, memory_limit_in_mb=function.memory_size, timeout_seconds=function.timeout_seconds
    )


def send_invocation_record(queue_arn: str, record: dict[str, Any]) -> None:
    """How Lambda delivers a failed asynchronous invocation's record to an SQS destination."""
    sqs = boto3.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))


def first_answer_status(base_url: str, signer: Credentials | None = None) -> int:
    """Status of a real GET /profiles: it proves the gateway, the handler and SSM all answer.

    Signed with `signer` when given (unsigned requests may be refused).
    """
    host, _, port = base_url.removeprefix("http://").partition(":")
    headers: dict[str, str] = {}
    if signer is not None:
        request = botocore.awsrequest.AWSRequest("GET", f"{base_url}/profiles")
        keys = botocore.credentials.Credentials(signer.access_key_id, signer.secret_access_key, signer.session_token)
        botocore.auth.SigV4Auth(keys, SIGV4_SERVICE, SIGV4_REGION).add_auth(request)
        headers = dict(request.headers.items())
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", "/profiles", headers=headers)
        response = connection.getresponse()
        # Read to the end: closing with the body unread resets the connection, and the gateway's
        # report of that reset (on stderr) could land in the middle of a startup line.
        response.read()
        return response.status
    finally:
        connection.close()


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in (
        "local.environments",
        "local.gateway",
        "local.lambda_invoke",
        "local.signalwire_emulator",
        "local.step_functions",
    ):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    # moto's server logs every AWS call the function makes; only its problems matter here.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # moto logs every failed task at ERROR, quoting the state's input: never shown.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)


def serve(stop_requested: threading.Event) -> None:
    environ = os.environ
    port = port_from_environment(environ)
    caller = caller_from_environment(environ)
    signing_callers = signing_callers_from_environment(environ)
    require_sigv4 = require_sigv4_from_environment(environ)
    policy_file = policy_file_from_environment(environ)
    real_signalwire = signalwire_from_environment(environ)
    slack, slack_secret_generated = slack_from_environment(environ)
    scim_bearer_token, scim_token_generated = scim_bearer_token_from_environment(environ)
    scim_settings_file = scim_settings_file_from_environment(environ)
    profiles_dir = Path(environ.get("PROFILES_DIR") or REPOSITORY_ROOT / "config" / "profiles")
    template_path = Path(environ.get("TEMPLATE_FILE") or TEMPLATE_PATH)
    try:
        stack = load_stack(template_path)
    except (TemplateError, InvalidDocumentException, OSError) as error:
        raise StartupError(f"{template_path} cannot be stood up locally: {error}") from None
    parameters_path = shared_setting(stack, "PARAMETERS_PATH")
    put_lambda_code_on_path(stack)  # profiles are validated with the function's own models
    from sip_provisioning.domain.profile import DEPLOYMENT_POLICY, SCIM_SETTINGS

    with contextlib.ExitStack() as running:
        make_item_operations_atomic()
        moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto_server.start()
        running.callback(moto_server.stop)
        moto_host, moto_port = moto_server.get_host_and_port()
        moto_url = f"http://{moto_host}:{moto_port}"
        point_aws_sdk_at(moto_url, environ)
        enable_execution(moto_url)  # before any function or state machine is created in moto

        if real_signalwire is None:
            emulator = running.enter_context(
                SignalWireEmulator(project_id=EMULATOR_PROJECT_ID, api_token=EMULATOR_API_TOKEN)
            )
            signalwire = SignalWireAccount(
                space_url=emulator.base_url,
                project_id=EMULATOR_PROJECT_ID,
                api_token=EMULATOR_API_TOKEN,
                sip_domain=EMULATOR_SIP_DOMAIN,
            )
        else:
            signalwire = real_signalwire
        print(
            f"{'SignalWire' if real_signalwire else 'SignalWire emulator'}: {signalwire.space_url} "
            f"(project {signalwire.project_id}, api token {mask(signalwire.api_token)})"
        )

        try:
            names = seed_ssm(boto3.client("ssm"), parameters_path, profiles_dir, signalwire)
        except ValueError as error:  # a broken or missing profile; profiles hold no secrets
            raise StartupError(f"the profiles in {profiles_dir} cannot be used: {error}") from None
        names += seed_slack(boto3.client("ssm"), parameters_path, slack)
        if policy_file is not None:
            try:
                names.append(seed_policy(boto3.client("ssm"), parameters_path, policy_file))
            except ValueError as error:
                raise StartupError(f"POLICY_FILE: {error}") from None
            except ClientError as error:  # SSM's own limits, a String parameter's 4 KB
                raise StartupError(f"POLICY_FILE: SSM refused {policy_file}: {error}") from None
            print(f"Deployment policy: {policy_file} as {parameters_path}/{DEPLOYMENT_POLICY}")
        else:
            print(f"Deployment policy: none ({parameters_path}/{DEPLOYMENT_POLICY} does not exist; set POLICY_FILE)")
        try:
            names += seed_scim(boto3.client("ssm"), parameters_path, scim_bearer_token, scim_settings_file)
        except ValueError as error:
            raise StartupError(f"SCIM_SETTINGS_FILE: {error}") from None
        except ClientError as error:  # SSM's own limits, a String parameter's 4 KB
            raise StartupError(f"SCIM_SETTINGS_FILE: SSM refused {scim_settings_file}: {error}") from None
        if scim_settings_file is not None:
            print(f"SCIM settings: {scim_settings_file} as {parameters_path}/{SCIM_SETTINGS}")
        else:
            print(f"SCIM settings: defaults ({parameters_path}/{SCIM_SETTINGS} does not exist; set SCIM_SETTINGS_FILE)")
        create_resources(stack)
        for logical_id in stack.of_type("AWS::S3::Bucket"):
            print(f"Bucket {logical_id}: s3://{stack.physical_ids[logical_id]}")
        tables = ", ".join(stack.physical_ids[logical_id] for logical_id in stack.of_type("AWS::DynamoDB::Table"))
        print(
            f"AWS (moto): {moto_url}; SSM has {len(names)} parameters under {parameters_path}; DynamoDB tables {tables}"
        )

        # Each function in execution environments of its own, as the template sets it up.
        statements_dir = Path(running.enter_context(tempfile.TemporaryDirectory(prefix="make-run-roles-")))
        pools: dict[str, FunctionPool] = {}
        environments: dict[str, dict[str, str]] = {}
        for logical_id, function in stack.functions.items():
            environments[logical_id] = function_environment(function, moto_url, statements_dir)
            pools[logical_id] = FunctionPool(with_local_overrides(function), environments[logical_id])
            running.callback(pools[logical_id].stop)
            concurrency = function.reserved_concurrency or "unreserved"
            print(
                f"Function {logical_id}: {function.name} ({function.handler}, timeout {function.timeout_seconds} s, "
                f"{function.memory_size} MB, reserved concurrency {concurrency})"
            )
        lambda_service = running.enter_context(
            LocalLambdaService(
                [
                    (lambda_function(function), pools[logical_id].handler)
                    for logical_id, function in stack.functions.items()
                ],
                async_settings={function.name: function.async_settings for function in stack.functions.values()},
                on_failure=send_invocation_record,
                invocation_lock=contextlib.nullcontext(),
            )
        )
        for environment in environments.values():  # read when an environment starts
            environment["AWS_ENDPOINT_URL_LAMBDA"] = lambda_service.base_url

        # The state machines, their Lambda tasks (Distributed Map iterations too) in the same pools.
        bridge = LambdaBridge()
        for logical_id, function in stack.functions.items():
            bridge.register(logical_id, lambda_function(function), pools[logical_id].handler)
        running.enter_context(bridge.installed())
        # An explicit endpoint: moto's Lambda holds the functions the state machines name.
        moto_lambda = boto3.client("lambda", endpoint_url=moto_url)
        for function in stack.functions.values():
            moto_lambda.create_function(
                FunctionName=function.name,
                Runtime="python3.13",
                Role=function.role_arn,
                Handler=function.handler,
                Code={"ZipFile": placeholder_code()},
                Timeout=function.timeout_seconds,
                MemorySize=function.memory_size,
            )
        for logical_id, machine in stack.state_machines.items():
            created = boto3.client("stepfunctions").create_state_machine(
                name=machine.name, definition=machine.definition, roleArn=machine.role_arn, type=machine.type
            )
            print(f"State machine {logical_id}: {created['stateMachineArn']}")

        routes = {
            route.key: Route(
                pools[route.function_logical_id].handler,
                lambda_function(stack.functions[route.function_logical_id]),
                iam_authorizer=route.iam_authorizer,
            )
            for route in stack.routes
        }
        routes[SWAGGER_ROUTE_KEY] = Route(swagger_ui, LambdaFunction(name="local-swagger-ui"), iam_authorizer=False)
        try:
            gateway = running.enter_context(
                LocalGateway(
                    None,
                    port=port,
                    caller=caller,
                    routes=routes,
                    invocation_lock=contextlib.nullcontext(),
                    signing_callers=signing_callers,
                    require_sigv4=require_sigv4,
                )
            )
        except OSError as error:
            raise StartupError(
                f"cannot listen on 127.0.0.1:{port} ({error.strerror}); set PORT (0: any free port)"
            ) from None
        for route in stack.routes:
            auth = "IAM" if route.iam_authorizer else "no IAM auth"
            print(f"Route {route.key}: {route.function_logical_id} ({auth})")
        if require_sigv4 and not signing_callers:
            print("warning: LOCAL_REQUIRE_SIGV4=1 and no LOCAL_CALLERS: every IAM route answers 403", file=sys.stderr)
        else:
            signer = next(iter(signing_callers.values())).credentials if require_sigv4 else None
            status = first_answer_status(gateway.base_url, signer)
            if status != 200:
                print(f"warning: GET /profiles answered {status}; see the log above", file=sys.stderr)
        for line in describe_callers(caller, signing_callers, require_sigv4):
            print(line)
        slack_route = next(
            (
                route
                for route in stack.routes
                if LOCAL_ENVIRONMENT_OVERRIDES.keys() & stack.functions[route.function_logical_id].environment.keys()
            ),
            None,
        )
        if slack_route is not None:
            # A generated secret is a throwaway of this run, printed so that a user can sign requests
            # with it; a secret the user gave is theirs and stays masked.
            shown_secret = slack.signing_secret if slack_secret_generated else f"{mask(slack.signing_secret)} (yours)"
            slack_url = f"{gateway.base_url}{slack_route.path}"
            print(
                f"Slack command: {slack_route.method} {slack_url}; signing secret {shown_secret}; "
                f"allowed teams {','.join(slack.allowed_team_ids)}"
            )
            secret_to_paste = slack.signing_secret if slack_secret_generated else "<yours>"
            print(
                f"Try it: SLACK_SIGNING_SECRET={secret_to_paste} .venv/bin/python -m local.slack_sign "
                f"--url {slack_url} --team {slack.allowed_team_ids[0]} profiles"
            )
        # As the Slack secret: a generated token is this run's throwaway, shown once to paste into
        # curl or an identity provider's test connection; a token the user gave stays masked.
        shown_token = scim_bearer_token if scim_token_generated else f"{mask(scim_bearer_token)} (yours)"
        print(f"SCIM bearer token: {shown_token}")
        scim_route = next(
            (r for r in stack.routes if r.path.endswith("/{proxy+}") and not r.iam_authorizer and r is not slack_route),
            None,
        )
        if scim_route is not None:
            print(f"SCIM base URL: {gateway.base_url}{scim_route.path.removesuffix('/{proxy+}')}")
        print(f"Swagger UI: {gateway.base_url}/swagger")
        print(f"Listening on {gateway.base_url}")
        stop_requested.wait()
        print("Stopping")


def main() -> int:
    stop_requested = threading.Event()

    def request_stop(signal_number: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    if isinstance(sys.stdout, io.TextIOWrapper):
        # Each line as it happens, through a pipe too: the startup lines, and Powertools'
        # metrics, which it prints without flushing.
        sys.stdout.reconfigure(line_buffering=True)
    configure_logging()
    try:
        serve(stop_requested)
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
