"""One version string, sip_provisioning/version.py: the project's and the OpenAPI document's."""

import json
import tomllib
from pathlib import Path

from local.export_openapi import render_openapi
from sip_provisioning.version import __version__

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def test_the_root_pyproject_reads_its_version_from_the_package_version_module() -> None:
    # Given the root pyproject.toml
    pyproject = tomllib.loads((REPOSITORY_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    # When its version is resolved as setuptools resolves `attr` (package-dir root, dotted module)
    attribute = pyproject["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    module, _, name = attribute.rpartition(".")
    root = REPOSITORY_ROOT / pyproject["tool"]["setuptools"]["package-dir"][""]
    source = (root / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
    # Then it is dynamic and is the one line of the version module
    assert "version" in pyproject["project"]["dynamic"]
    assert "version" not in pyproject["project"]
    assert source == f'{name} = "{__version__}"\n'


def test_the_openapi_document_carries_the_package_version() -> None:
    # Given the generated OpenAPI document
    document = json.loads(render_openapi())
    # Then its info.version is the package's
    assert document["info"]["version"] == __version__
