"""Microsoft's SCIM validation collection (the Postman collection Entra ID's documentation points
to, `../shared/third_party/scim-validation/` beside the repository) run by `newman` against
`/scim/v2` under `python -m local.run` (what `make run` starts).

newman is the one `package-lock.json` pins, installed by `npm ci` (a prerequisite of `make test`).
Its JSON report is read assertion by assertion: every one of the "User tests" folder passes but
those that ask for more than CONTRACT.md section 8 serves, each named in EXCUSED with its reason."""

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_make_run import REPOSITORY_ROOT, LocalRun, end, start_local_run

COLLECTION = REPOSITORY_ROOT.parent / "shared" / "third_party" / "scim-validation" / "PostmanCollection.json"
NEWMAN = REPOSITORY_ROOT / "node_modules" / ".bin" / "newman"
USER_TESTS = "User tests"
NEWMAN_TIMEOUT_SECONDS = 300
# (request, assertion) of the collection's checks beyond section 8, and why each is excused.
EXCUSED = {
    # A filter on displayName: the service filters users on userName, externalId and id only.
    ("Get User Filters", "Body contians id1"),
}


@pytest.fixture(scope="module")
def token() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def scim_run(token: str) -> Iterator[LocalRun]:
    run = start_local_run({"SCIM_BEARER_TOKEN": token})
    try:
        run.wait_until_listening()
        yield run
    finally:
        end(run)


def folder_items(folder: str) -> list[dict[str, Any]]:
    """The requests of the collection's `folder`, in order."""
    collection = json.loads(COLLECTION.read_text(encoding="utf-8"))
    [items] = [item["item"] for item in collection["item"] if item["name"] == folder]
    return list(items)


def written_assertions(item: dict[str, Any]) -> int:
    """How many `pm.test` assertions the request's test scripts hold."""
    scripts = [event["script"]["exec"] for event in item.get("event", []) if event["listen"] == "test"]
    return sum(line.count("pm.test(") for script in scripts for line in script)


def run_newman(local_run: LocalRun, token: str, folder: str, report: Path) -> dict[str, Any]:
    """newman's JSON report of `folder` run against the run's /scim/v2 with `token`."""
    assert NEWMAN.exists(), f"{NEWMAN} is missing: run `npm ci` in {REPOSITORY_ROOT} (`make test` does)"
    assert COLLECTION.exists(), f"{COLLECTION} is missing: the shared directory belongs beside the repository"
    host, port = local_run.base_url.removeprefix("http://").split(":")
    variables = {"Protocol": "http", "Server": host, "Port": f":{port}", "Api": "scim/v2", "token": token}
    completed = subprocess.run(  # noqa: S603 - the pinned newman, with arguments built here
        [str(NEWMAN), "run", str(COLLECTION), "--folder", folder, "--reporters", "json"]
        + ["--reporter-json-export", str(report), "--disable-unicode"]
        + [argument for name, value in variables.items() for argument in ("--env-var", f"{name}={value}")],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=NEWMAN_TIMEOUT_SECONDS,
        check=False,  # newman exits 1 when any assertion fails; the report says which
    )
    assert report.exists(), f"newman wrote no report:\n{completed.stdout}{completed.stderr}"
    newman_run: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))["run"]
    return newman_run


def test_microsofts_user_tests_pass_but_the_checks_beyond_section_8(
    scim_run: LocalRun, token: str, tmp_path: Path
) -> None:
    # Given the run's /scim/v2 with its bearer token, and the collection's "User tests" folder
    # When newman runs the folder
    run = run_newman(scim_run, token, USER_TESTS, tmp_path / "newman.json")
    # Then every request got an answer and ran all its assertions, and every assertion passed
    # but exactly the excused ones
    executions = run["executions"]
    items = folder_items(USER_TESTS)
    assert run["error"] is None
    assert [execution["item"]["name"] for execution in executions] == [item["name"] for item in items]
    assert [execution["item"]["name"] for execution in executions if "requestError" in execution] == []
    assert [len(execution.get("assertions", [])) for execution in executions] == list(map(written_assertions, items))
    failed = {
        (execution["item"]["name"], assertion["assertion"])
        for execution in executions
        for assertion in execution.get("assertions", [])
        if assertion.get("error") is not None
    }
    assert failed == EXCUSED, [failure["error"]["message"] for failure in run["failures"]]
