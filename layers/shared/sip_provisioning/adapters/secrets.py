"""Secrets Manager: the one place a generated password rests (CONTRACT.md section 5).

One secret per username, `<prefix><username>`, value `{"username", "password", "sip_uri"}`. A
reset writes a new version of it, a delete schedules it for deletion (7 days to recover), and a
username created again gets it back, restored if it was scheduled for deletion. Its `sip:` tags
always describe the endpoint as it is now: each write sets them all and removes the one that no
longer applies (`sip:owner` of an endpoint without an owner).
"""

import json
import unicodedata
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from pydantic import SecretStr

from sip_provisioning.domain.errors import FieldError
from sip_provisioning.domain.records import SecretLabels

RECOVERY_WINDOW_DAYS = 7
# Secrets Manager's limits (API reference, CreateSecret and Tag).
MAX_NAME_LENGTH = 512
MAX_TAG_VALUE_LENGTH = 256
OWNER_TAG = "sip:owner"
_ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# What a secret name may hold (ASCII letters, digits and /_+=.@-) and, beside Unicode letters,
# separators and numbers, a tag value (_.:/=+-@). Anything else, and "+" itself, is written as
# "+<hex>+", its code point in hex, so that distinct texts never share a name or a tag value.
_NAME_SAFE = frozenset(_ALPHANUMERIC + "/_=.@-")
_TAG_SAFE_SYMBOLS = frozenset("_.:/=-@")
_TAG_SAFE_CATEGORIES = frozenset("LZN")
# AWS reserves tag values starting with "aws:", in any case: its first character is escaped.
_RESERVED_TAG_PREFIX = "aws:"


def _escaped(character: str) -> str:
    return f"+{ord(character):x}+"


def safe_name(username: str) -> str:
    return "".join(character if character in _NAME_SAFE else _escaped(character) for character in username)


def tag_value(text: str) -> str:
    """`text` as a tag value Secrets Manager takes (its length still to be checked)."""
    value = "".join(
        character
        if character in _TAG_SAFE_SYMBOLS or unicodedata.category(character)[0] in _TAG_SAFE_CATEGORIES
        else _escaped(character)
        for character in text
    )
    if value[: len(_RESERVED_TAG_PREFIX)].lower() == _RESERVED_TAG_PREFIX:
        return _escaped(value[0]) + value[1:]
    return value


def _tags(labels: SecretLabels) -> dict[str, str]:
    tags = {"sip:username": labels.username, "sip:profile": labels.profile, "sip:created-by": labels.created_by}
    if labels.owner is not None:
        tags[OWNER_TAG] = labels.owner
    return {key: tag_value(text) for key, text in tags.items()}


# Which field of the endpoint each tag describes, as a refusal names it.
_TAGGED_FIELDS = {
    "sip:username": "username",
    "sip:profile": "profile",
    "sip:created-by": "created_by",
    OWNER_TAG: "owner",
}


class SecretsManagerStore:
    def __init__(self, client: Callable[[], Any], prefix: str) -> None:
        self._client = client  # built on first use: response delivery never needs it
        self._prefix = prefix

    def unfit(self, labels: SecretLabels) -> list[FieldError]:
        """What of the endpoint Secrets Manager could not hold as its secret's name and tags:
        checked before anything is created or changed, so no password is left without its secret."""
        refusals = [
            FieldError(
                field=_TAGGED_FIELDS[key],
                message=f"as the password secret's {key} tag it is {len(value)} characters long, over the "
                f"{MAX_TAG_VALUE_LENGTH} Secrets Manager takes (each character outside letters, digits, "
                "spaces and _.:/=-@ takes several)",
            )
            for key, value in _tags(labels).items()
            if len(value) > MAX_TAG_VALUE_LENGTH
        ]
        name = self._name(labels.username)
        if len(name) > MAX_NAME_LENGTH:
            refusals.append(
                FieldError(
                    field="username",
                    message=f"the password secret's name would be {len(name)} characters long, over the "
                    f"{MAX_NAME_LENGTH} Secrets Manager takes (each character outside ASCII letters, digits "
                    "and /_=.@- takes several)",
                )
            )
        return refusals

    def put_password(self, labels: SecretLabels, password: SecretStr, sip_uri: str) -> str:
        """Write the password as the username's secret (a new version if it exists); its ARN."""
        name = self._name(labels.username)
        value = json.dumps({"username": labels.username, "password": password.get_secret_value(), "sip_uri": sip_uri})
        tag_list = [{"Key": key, "Value": text} for key, text in _tags(labels).items()]
        try:
            return str(self._client().create_secret(Name=name, SecretString=value, Tags=tag_list)["ARN"])
        except ClientError as error:
            # It exists, perhaps scheduled for deletion (AWS says InvalidRequestException then).
            if error.response["Error"]["Code"] not in {"ResourceExistsException", "InvalidRequestException"}:
                raise
        if "DeletedDate" in self._client().describe_secret(SecretId=name):  # a returning username
            self._client().restore_secret(SecretId=name)
        answer = self._client().put_secret_value(SecretId=name, SecretString=value)
        self._retag(name, labels)
        return str(answer["ARN"])

    def label(self, labels: SecretLabels) -> None:
        """Bring the username's secret's tags up to date with its endpoint (a PATCH of its owner
        or profile). A secret gone or scheduled for deletion outside the service is left alone."""
        try:
            self._retag(self._name(labels.username), labels)
        except ClientError as error:
            if error.response["Error"]["Code"] not in {"ResourceNotFoundException", "InvalidRequestException"}:
                raise

    def schedule_deletion(self, username: str) -> None:
        try:
            self._client().delete_secret(SecretId=self._name(username), RecoveryWindowInDays=RECOVERY_WINDOW_DAYS)
        except ClientError as error:
            # No secret (the password went in the answer), or already scheduled: nothing to do.
            if error.response["Error"]["Code"] not in {"ResourceNotFoundException", "InvalidRequestException"}:
                raise

    def _name(self, username: str) -> str:
        return self._prefix + safe_name(username)

    def _retag(self, name: str, labels: SecretLabels) -> None:
        tags = _tags(labels)
        self._client().tag_resource(SecretId=name, Tags=[{"Key": key, "Value": text} for key, text in tags.items()])
        if OWNER_TAG not in tags:  # tagging adds and overwrites, never removes: the stale owner goes here
            self._client().untag_resource(SecretId=name, TagKeys=[OWNER_TAG])
