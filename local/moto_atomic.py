"""moto's DynamoDB with each item operation atomic, as DynamoDB's are.

moto reads the current item, evaluates the condition and writes in separate steps, so two
concurrent requests can both pass a condition DynamoDB lets only one of them pass. `make run`
serves many execution environments at once: without this, a race it shows could be moto's own.
"""

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

_OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "transact_write_items")
_lock = threading.RLock()


def _serialised(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def run(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return operation(*args, **kwargs)

    return run


def make_item_operations_atomic() -> None:
    """For the rest of this process (the moto server `make run` starts runs in it)."""
    for name in _OPERATIONS:
        operation = getattr(DynamoDBBackend, name)
        if not getattr(operation, "__wrapped__", None):
            setattr(DynamoDBBackend, name, _serialised(operation))
