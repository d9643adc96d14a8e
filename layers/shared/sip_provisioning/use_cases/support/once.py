"""At most one operation per (caller, Idempotency-Key) for 24 hours, around any use case.

The key is bound to its first request (operation, username and body) for the whole window,
whatever that first attempt's outcome: the same key with anything else is refused, never run.
A repeat of a completed operation gets its answer again; a repeat of one that failed or whose
function died runs again as a retry of the same attempt, with the same attempt id and nonce, so
it can recognise what the earlier attempt may have done and derive the same password.

The record never holds a password: a generated password is derived from the record's random
nonce (see `domain.passwords`), so a replay re-derives it and the store alone reveals nothing.
"""

import hashlib
import json
from collections.abc import Callable

from pydantic import BaseModel, SecretStr

from sip_provisioning.use_cases.ports import Attempt, OnceStore


def fingerprint(operation: str, username: str, body: BaseModel | None) -> str:
    """What "the same request" compares: the operation, the username and the parsed body, any
    password in it reduced to a hash first (the record must not hold it)."""
    document = body.model_dump(mode="json", exclude_unset=True) if body is not None else {}
    password = getattr(body, "password", None)
    if isinstance(password, SecretStr):
        document["password"] = hashlib.sha256(password.get_secret_value().encode("utf-8", "surrogatepass")).hexdigest()
    canonical = json.dumps([operation, username, document], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def run_keyed[T: BaseModel](
    store: OnceStore,
    *,
    caller_identity: str,
    key: str | None,
    operation: str,
    username: str,
    body: BaseModel | None,
    busy_seconds: float,
    answer_model: type[T],
    work: Callable[[Attempt], T],
    restore: Callable[[T, Attempt], T] = lambda answer, _attempt: answer,
) -> T:
    """Run `work` at most once per (caller, key); without a key, once, as a fresh attempt."""
    if key is None:
        return work(Attempt.unkeyed())
    return store.run(
        scope=f"{caller_identity}\n{key}",
        request_fingerprint=fingerprint(operation, username, body),
        busy_seconds=busy_seconds,
        answer_model=answer_model,
        work=work,
        restore=restore,
    )
