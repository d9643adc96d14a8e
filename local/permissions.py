"""Each function's AWS calls checked against its role's statements, in its execution environment.

`make run` gives every environment the statements of its function's role (template.yaml, as
translated: inline policies, SAM's generated ones and the stack's own managed policies) in the
file named by `LOCAL_ROLE_STATEMENTS`; `local/lambda_boot/sitecustomize.py` then calls
`install_checks` before the runtime imports the handler. Every call any boto3 client of the
process makes is checked before it is sent (botocore's `before-parameter-build` event); a call
no statement allows fails as AWS fails it, with `AccessDeniedException`, and the log names the
function, the action and the resource.

What is checked:
- the action, as IAM names it (`s3:ListObjectsV2` is `s3:ListBucket`, `lambda:Invoke` is
  `lambda:InvokeFunction`, a DynamoDB transaction is the transaction and each item's action),
  against `Action`/`NotAction` with IAM's wildcards, case-insensitively;
- the resource, as an ARN built from the call's parameters (tables and their indexes, S3
  buckets and objects, SSM parameters and paths, secrets with Secrets Manager's random
  `-XXXXXX` suffix, functions, queues, topics, state machines and executions), against
  `Resource`/`NotResource` with `*` and `?`; a call whose resource this module cannot name is
  checked on its action alone;
- `Deny` statements win over `Allow`.
What is not: `Condition` blocks (a statement applies as if its condition held), resource-based
policies, permission boundaries, SCPs, session policies, and AWS managed policies (the
functions' are CloudWatch Logs and X-Ray, which nothing local calls).
"""

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

REGION = os.environ.get("AWS_REGION", "us-east-1")
ACCOUNT_ID = "123456789012"
# What an ARN for a secret named without its suffix looks like to IAM: the suffix is random.
SECRET_SUFFIX = "-AbCdEf"  # noqa: S105 - six characters of an ARN, no secret
ROLE_STATEMENTS_VARIABLE = "LOCAL_ROLE_STATEMENTS"

# botocore's operation -> the IAM action, where they differ.
_ACTIONS = {
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "ListObjectVersions"): "ListBucketVersions",
    ("s3", "GetObjectAttributes"): "GetObject",
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeAsync"): "InvokeFunction",
}
_TRANSACTION_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def _pattern(text: str, *, ignore_case: bool) -> re.Pattern[str]:
    expression = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(expression, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(patterns: Iterable[str], value: str, *, ignore_case: bool) -> bool:
    return any(_pattern(pattern, ignore_case=ignore_case).fullmatch(value) for pattern in patterns)


def _applies(statement: Mapping[str, Any], action: str, resource: str | None) -> bool:
    if "Action" in statement:
        if not _matches(_listed(statement["Action"]), action, ignore_case=True):
            return False
    elif _matches(_listed(statement.get("NotAction")), action, ignore_case=True):
        return False
    if resource is None:  # not named locally: the action decides
        return True
    if "Resource" in statement:
        return _matches(_listed(statement["Resource"]), resource, ignore_case=False)
    return not _matches(_listed(statement.get("NotResource")), resource, ignore_case=False)


def is_allowed(statements: Iterable[Mapping[str, Any]], action: str, resource: str | None) -> bool:
    """Whether `statements` allow `action` on `resource` (None: any resource), Deny first."""
    applying = [statement for statement in statements if _applies(statement, action, resource)]
    if any(statement.get("Effect") == "Deny" for statement in applying):
        return False
    return any(statement.get("Effect") == "Allow" for statement in applying)


# -- from a call to what IAM authorises ---------------------------------------------------------


def _table(name: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"


def _parameter(name: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{name if name.startswith('/') else '/' + name}"


def _secret(secret_id: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{secret_id}{SECRET_SUFFIX}"


def _function(name: str) -> str:
    if name.startswith("arn:"):
        return ":".join(name.split(":")[:7])
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


def _queue(url: str) -> str:
    account, name = urlsplit(url).path.strip("/").split("/")[-2:]
    return f"arn:aws:sqs:{REGION}:{account}:{name}"


def required(service: str, operation: str, params: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """Every (IAM action, resource ARN or None) one call needs."""
    action = f"{service}:{_ACTIONS.get((service, operation), operation)}"
    if service == "dynamodb":
        if operation == "TransactWriteItems" or operation == "TransactGetItems":
            needed: list[tuple[str, str | None]] = []
            for item in params.get("TransactItems", []):
                ((kind, body),) = item.items()
                table = _table(body["TableName"])
                if operation == "TransactWriteItems":
                    needed.append((action, table))
                needed.append((f"dynamodb:{_TRANSACTION_ITEM_ACTIONS[kind]}", table))
            return needed
        if operation in {"BatchGetItem", "BatchWriteItem"}:
            return [(action, _table(name)) for name in params.get("RequestItems", {})]
        if "TableName" in params:
            table = _table(params["TableName"])
            return [(action, f"{table}/index/{params['IndexName']}" if params.get("IndexName") else table)]
    if service == "s3" and "Bucket" in params:
        if "Key" in params and operation not in {"ListObjectsV2", "ListObjects"}:
            return [(action, f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")]
        return [(action, f"arn:aws:s3:::{params['Bucket']}")]
    if service == "ssm":
        if "Path" in params:
            return [(action, _parameter(params["Path"]))]
        if "Name" in params:
            return [(action, _parameter(params["Name"]))]
        if "Names" in params:
            return [(action, _parameter(name)) for name in params["Names"]]
    if service == "secretsmanager":
        if "SecretId" in params:
            return [(action, _secret(params["SecretId"]))]
        if "Name" in params:
            return [(action, _secret(params["Name"]))]
    if service == "lambda" and "FunctionName" in params:
        return [(action, _function(params["FunctionName"]))]
    if service == "sqs" and "QueueUrl" in params:
        return [(action, _queue(params["QueueUrl"]))]
    if service == "sns" and "TopicArn" in params:
        return [(action, params["TopicArn"])]
    if service == "states":
        for key in ("stateMachineArn", "executionArn"):
            if key in params:
                return [(action, params[key])]
    return [(action, None)]


# -- in an execution environment ----------------------------------------------------------------


def refusal(
    statements: Iterable[Mapping[str, Any]], service: str, operation: str, params: Mapping[str, Any]
) -> tuple[str, str | None] | None:
    """The first (action, resource) of the call its statements do not allow; None when all are."""
    listed = list(statements)
    for action, resource in required(service, operation, params):
        if not is_allowed(listed, action, resource):
            return action, resource
    return None


def install_checks(statements: list[Mapping[str, Any]], function_name: str, role_arn: str) -> None:
    """Check every AWS call of this process against `statements` before it is sent."""
    import botocore.session
    from botocore.exceptions import ClientError

    def check(params: Mapping[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.signing_name
        refused = refusal(statements, service, model.name, params)
        if refused is None:
            return
        action, resource = refused
        on = resource or "*"
        role_name = role_arn.rsplit("/", 1)[-1]
        message = (
            f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/{function_name} is not authorized to "
            f"perform: {action} on resource: {on} because no identity-based policy allows the {action} action"
        )
        print(f"AccessDenied: function {function_name} may not {action} on {on} (role {role_name})", file=sys.stderr)
        error = {"Error": {"Code": "AccessDeniedException", "Message": message}}
        raise ClientError(error, model.name)

    original_init: Callable[..., None] = botocore.session.Session.__init__

    def session_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.register("before-parameter-build", check)

    botocore.session.Session.__init__ = session_init


def install_from_environment() -> None:
    """`install_checks` with the statements `make run` wrote for this environment's function."""
    path = os.environ.get(ROLE_STATEMENTS_VARIABLE)
    if not path:
        return
    with open(path, encoding="utf-8") as file:
        document = json.load(file)
    install_checks(document["statements"], document["function_name"], document["role_arn"])
