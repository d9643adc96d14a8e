"""The inventory table as template.yaml declares it, for moto in `make run` and the tests."""

from typing import Any

# Index name -> its partition key; every index sorts by username and projects every attribute.
INDEXES = {"by_profile": "profile", "by_owner": "owner", "by_username": "listing", "by_status": "status"}


def create_inventory_table(dynamodb_client: Any, table_name: str) -> None:
    attributes = {"username", "record", *INDEXES.values()}
    dynamodb_client.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in sorted(attributes)],
        KeySchema=[{"AttributeName": "username", "KeyType": "HASH"}, {"AttributeName": "record", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": partition, "KeyType": "HASH"},
                    {"AttributeName": "username", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, partition in INDEXES.items()
        ],
    )
