"""Secrets Manager: the one place a generated password rests (CONTRACT.md section 5).

One secret per username, `<prefix><username>`, value `{"username", "password", "sip_uri"}`. A
reset writes a new version of it, a delete schedules it for deletion (7 days to recover), and a
username created again gets it back, restored if it was scheduled for deletion.
"""

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from pydantic import SecretStr

RECOVERY_WINDOW_DAYS = 7
_ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# What a secret name and a tag value may hold. Anything else is written as "+<hex>+", its code
# point in hex (in a name "+" too), so that every username keeps a name of its own.
_NAME_SAFE = frozenset(_ALPHANUMERIC + "/_=.@-")
_TAG_SAFE = frozenset(_ALPHANUMERIC + " _.:/=+-@")


def _escaped(text: str, safe: frozenset[str]) -> str:
    return "".join(character if character in safe else f"+{ord(character):x}+" for character in text)


def safe_name(username: str) -> str:
    return _escaped(username, _NAME_SAFE)


class SecretsManagerStore:
    def __init__(self, client: Callable[[], Any], prefix: str) -> None:
        self._client = client  # built on first use: response delivery never needs it
        self._prefix = prefix

    def put_password(
        self, username: str, password: SecretStr, sip_uri: str, *, profile: str, created_by: str, owner: str | None
    ) -> str:
        """Write the password as the username's secret (a new version if it exists); its ARN."""
        name = self._prefix + safe_name(username)
        value = json.dumps({"username": username, "password": password.get_secret_value(), "sip_uri": sip_uri})
        tags = {"sip:username": username, "sip:profile": profile, "sip:created-by": created_by}
        if owner is not None:
            tags["sip:owner"] = owner
        tag_list = [{"Key": key, "Value": _escaped(text, _TAG_SAFE)} for key, text in tags.items()]
        try:
            return str(self._client().create_secret(Name=name, SecretString=value, Tags=tag_list)["ARN"])
        except ClientError as error:
            # It exists, perhaps scheduled for deletion (AWS says InvalidRequestException then).
            if error.response["Error"]["Code"] not in {"ResourceExistsException", "InvalidRequestException"}:
                raise
        if "DeletedDate" in self._client().describe_secret(SecretId=name):  # a returning username
            self._client().restore_secret(SecretId=name)
        answer = self._client().put_secret_value(SecretId=name, SecretString=value)
        self._client().tag_resource(SecretId=name, Tags=tag_list)
        return str(answer["ARN"])

    def schedule_deletion(self, username: str) -> None:
        try:
            self._client().delete_secret(
                SecretId=self._prefix + safe_name(username), RecoveryWindowInDays=RECOVERY_WINDOW_DAYS
            )
        except ClientError as error:
            # No secret (the password went in the answer), or already scheduled: nothing to do.
            if error.response["Error"]["Code"] not in {"ResourceNotFoundException", "InvalidRequestException"}:
                raise
