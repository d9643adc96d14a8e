"""Imported by Python at the start of every `make run` execution environment (this folder is on
its PYTHONPATH): the role's checks are in place before the runtime imports the handler.

local/permissions.py is loaded from its file, so that the function's own import path holds only
its code and layers, as in Lambda."""

import importlib.util
import os
from pathlib import Path

if os.environ.get("LOCAL_ROLE_STATEMENTS"):
    _spec = importlib.util.spec_from_file_location("_local_permissions", Path(__file__).parents[1] / "permissions.py")
    assert _spec is not None
    assert _spec.loader is not None
    _permissions = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_permissions)
    _permissions.install_from_environment()
