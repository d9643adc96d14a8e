"""What `make run` checks of each function's AWS calls (local/permissions.py): the IAM action and
resource a call needs, matched against its role's statements with IAM's wildcards."""

from typing import Any

from local.permissions import is_allowed, refusal, required

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/inventory"
SECRETS = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sip-provisioning/local/endpoints/*-??????"


def allow(action: str | list[str], resource: str | list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def test_a_query_of_an_index_needs_the_index_arn() -> None:
    # Given / When a Query of an inventory index is named
    needed = required("dynamodb", "Query", {"TableName": "inventory", "IndexName": "by_owner"})
    # Then it is dynamodb:Query on the index's ARN
    assert needed == [("dynamodb:Query", f"{TABLE}/index/by_owner")]


def test_a_transaction_needs_the_transaction_and_each_items_action() -> None:
    # Given a transaction that puts one item and checks another
    params = {
        "TransactItems": [
            {"Put": {"TableName": "inventory", "Item": {}}},
            {"ConditionCheck": {"TableName": "inventory", "Key": {}}},
        ]
    }
    # When / Then it needs TransactWriteItems and each item's own action on the table
    assert required("dynamodb", "TransactWriteItems", params) == [
        ("dynamodb:TransactWriteItems", TABLE),
        ("dynamodb:PutItem", TABLE),
        ("dynamodb:TransactWriteItems", TABLE),
        ("dynamodb:ConditionCheckItem", TABLE),
    ]


def test_listing_objects_is_s3_list_bucket_on_the_bucket() -> None:
    # Given / When / Then a ListObjectsV2 is what IAM calls s3:ListBucket, on the bucket itself
    assert required("s3", "ListObjectsV2", {"Bucket": "imports", "Prefix": "bulk-results/"}) == [
        ("s3:ListBucket", "arn:aws:s3:::imports")
    ]


def test_a_secret_named_without_its_suffix_matches_the_templates_six_character_wildcard() -> None:
    # Given a role that may read the secrets under the stage's prefix
    statements = [allow("secretsmanager:GetSecretValue", SECRETS)]
    # When a function reads one by name, and one outside the prefix
    inside = refusal(
        statements, "secretsmanager", "GetSecretValue", {"SecretId": "sip-provisioning/local/endpoints/ada"}
    )
    outside = refusal(statements, "secretsmanager", "GetSecretValue", {"SecretId": "other/ada"})
    # Then the first is allowed and the second refused
    assert inside is None
    assert outside is not None


def test_lambda_invoke_is_checked_as_invoke_function() -> None:
    # Given a role that may invoke one function
    statements = [allow("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:slack")]
    # When it invokes that function by name
    refused = refusal(statements, "lambda", "Invoke", {"FunctionName": "slack", "InvocationType": "Event"})
    # Then the call is allowed
    assert refused is None


def test_actions_match_case_insensitively_and_with_wildcards() -> None:
    # Given a role allowing every SSM read by a wildcard
    statements = [allow("SSM:GetParameters*", "arn:aws:ssm:us-east-1:123456789012:parameter/sip-provisioning/*")]
    # When / Then GetParametersByPath on a path under it is allowed
    assert is_allowed(
        statements, "ssm:GetParametersByPath", "arn:aws:ssm:us-east-1:123456789012:parameter/sip-provisioning/local"
    )


def test_an_explicit_deny_wins_over_an_allow() -> None:
    # Given a role that allows every DynamoDB action and denies deleting items
    statements: list[dict[str, Any]] = [
        allow("dynamodb:*", "*"),
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"},
    ]
    # When / Then a DeleteItem is refused while a GetItem is allowed
    assert not is_allowed(statements, "dynamodb:DeleteItem", TABLE)
    assert is_allowed(statements, "dynamodb:GetItem", TABLE)


def test_an_action_no_statement_names_is_refused() -> None:
    # Given a role that may only read items
    statements = [allow("dynamodb:GetItem", TABLE)]
    # When a function scans the table
    refused = refusal(statements, "dynamodb", "Scan", {"TableName": "inventory"})
    # Then the scan is refused, naming the action and the table
    assert refused == ("dynamodb:Scan", TABLE)
