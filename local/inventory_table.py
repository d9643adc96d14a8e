"""The inventory table as template.yaml declares it, for moto in the tests."""

from typing import Any

from local.stack import create_table, load_stack


def create_inventory_table(dynamodb_client: Any, table_name: str) -> None:
    create_table(dynamodb_client, load_stack(), "InventoryTable", table_name)
