"""`PATCH /Users/{id}` (RFC 7644 §3.5.2): the operations of a PatchOp applied to a user, all or
none. scim2-models reads and applies them, and accepts on its own what identity providers send
beside the RFC: `op` in any case ("Replace", "Add"), an operation without `path` whose value is
an object of attributes (`{"op": "replace", "value": {"active": false}}`, names case-insensitive
and URN-prefixed ones included), and Entra's "True"/"False" strings for booleans.

The enterprise `manager` as its id alone (`"value": "<id>"`), Entra's, is read by the model
itself (resources.AsSentManager). One more of Entra's forms is rewritten here, one operation at a
time: an `add` or `replace` of `emails[type eq "work"].value` (any multi-valued attribute, any
sub-attribute) on a user with no such entry yet, which adds the entry `{"type": "work", "value": ...}`
instead of finding no target."""

from typing import Any

from pydantic import ValidationError
from scim2_models import URN, Context, NoTargetException, PatchOp, PatchOperation, SCIMException
from scim2_models.path import AttrPath, CompareOperator, Comparison, ValuePath

from sip_provisioning.callers.scim.errors import scim_error_from
from sip_provisioning.callers.scim.resources import ScimUser

_UserPatch = PatchOp[ScimUser]
_UserPatchOperation = PatchOperation[ScimUser]


def apply_patch(user: ScimUser, body: object) -> ScimUser:
    """`user` as the PatchOp `body` changes it (`user` itself is left as it was); any refusal is the
    `ScimError` RFC 7644 names: `invalidSyntax`, `invalidPath`, `invalidValue`, `mutability` (such
    as a change to `id`, `meta` or the SIP extension), `noTarget`."""
    try:
        request = _UserPatch.model_validate(body, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        patched = user.model_copy(deep=True)
        for operation in request.operations or []:
            _apply(operation, patched)
    except (SCIMException, ValidationError) as refusal:
        raise scim_error_from(refusal) from None
    return patched


def _apply(operation: PatchOperation[ScimUser], user: ScimUser) -> None:
    try:
        _UserPatch(operations=[operation]).patch(user)
    except NoTargetException:
        entry = _entry_for_an_unmatched_selection(operation)
        if entry is None:
            raise
        _UserPatch(operations=[entry]).patch(user)


def _entry_for_an_unmatched_selection(operation: PatchOperation[ScimUser]) -> PatchOperation[ScimUser] | None:
    """`attr[type eq "x"].sub` set to v as the `add` of `attr: [{"type": "x", "sub": v}]`."""
    selection = operation.path.ast if operation.path is not None else None
    if (
        operation.op is PatchOperation.Op.remove
        or not isinstance(selection, ValuePath)
        or selection.sub_attr is None
        or not isinstance(selection.val_filter, Comparison)
        or selection.val_filter.op is not CompareOperator.eq
        or selection.val_filter.attr_path.sub_attr is not None
    ):
        return None
    entry = {selection.val_filter.attr_path.attr: selection.val_filter.value, selection.sub_attr: operation.value}
    return _operation(PatchOperation.Op.add, _attribute(selection.attr_path), [entry])


def _attribute(attr_path: AttrPath) -> str:
    return f"{URN(attr_path.uri)}:{attr_path.attr}" if attr_path.uri else attr_path.attr


def _operation(op: PatchOperation.Op, path: str, value: Any) -> PatchOperation[ScimUser]:
    return _UserPatchOperation.model_validate(
        {"op": op, "path": path, "value": value}, scim_ctx=Context.RESOURCE_PATCH_REQUEST
    )
