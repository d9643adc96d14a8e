"""The docs stay true to the tree: the layout page names what is there and only what is there, the
operating page's alarm table is the template's alarms, the index lists every page, every link
lands, and the walkthrough checker tells a drifted example."""

import re
from fnmatch import fnmatchcase
from pathlib import Path

from tests.docs_walkthrough import DOCS, INDEX, INDEX_ENTRY, REPOSITORY_ROOT, Step, mismatch, steps_of
from tests.unit.test_template import load_template

LAYOUT = DOCS / "layout.md"
OPERATING = DOCS / "operating.md"
ALARM_ROW = re.compile(r"^\| `(?P<alarm>[\w*]+Alarm)` \|", re.MULTILINE)
PACKAGE = REPOSITORY_ROOT / "layers" / "shared" / "sip_provisioning"
FUNCTIONS = REPOSITORY_ROOT / "functions"
PAGES = [REPOSITORY_ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
BACKTICKED = re.compile(r"`([^`\s]+)`")
TABLE_ROW_FIRST_CELL = re.compile(r"^\| `([^`]+)` \|", re.MULTILINE)
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (?P<title>.+)$", re.MULTILINE)


def layout_paths() -> set[str]:
    """Every repository path the layout page names: a table's first cell, or any backticked path."""
    text = LAYOUT.read_text()
    named = {path for path in BACKTICKED.findall(text) if "/" in path and "://" not in path}
    return named | set(TABLE_ROW_FIRST_CELL.findall(text))


def anchor(title: str) -> str:
    """The id GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def anchors_of(page: Path) -> set[str]:
    return {anchor(heading["title"].strip()) for heading in HEADING.finditer(page.read_text())}


def test_every_path_the_layout_page_names_exists() -> None:
    # Given the paths the layout page names
    named = layout_paths()
    # When each is looked for in the repository
    missing = sorted(path for path in named if not (REPOSITORY_ROOT / path).exists())
    # Then every one is there
    assert named
    assert missing == []


def test_the_layout_page_names_every_package_directory_and_top_level_module() -> None:
    # Given the package's directories (those with an __init__.py) and its top-level modules
    packages = {f"{directory.parent.relative_to(REPOSITORY_ROOT)}/" for directory in PACKAGE.rglob("__init__.py")} - {
        f"{PACKAGE.relative_to(REPOSITORY_ROOT)}/"
    }
    modules = {
        str(module.relative_to(REPOSITORY_ROOT)) for module in PACKAGE.glob("*.py") if module.name != "__init__.py"
    }
    # When the layout page's paths are read
    named = layout_paths()
    # Then each is named there
    assert sorted((packages | modules) - named) == []


def test_the_layout_page_names_every_function_entry() -> None:
    # Given the function folders
    entries = {f"{folder.relative_to(REPOSITORY_ROOT)}/" for folder in FUNCTIONS.iterdir() if folder.is_dir()}
    # When the layout page's paths are read
    named = layout_paths()
    # Then each is named there
    assert entries
    assert sorted(entries - named) == []


def test_the_operating_pages_alarm_table_names_every_alarm_of_the_template_and_no_other() -> None:
    # Given the template's alarms and the rows of the operating page's alarm table (`*` for any run)
    alarms = {
        name for name, resource in load_template()["Resources"].items() if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    rows = ALARM_ROW.findall(OPERATING.read_text())
    # When each is matched against the other
    undocumented = sorted(alarm for alarm in alarms if not any(fnmatchcase(alarm, row) for row in rows))
    unknown = sorted(row for row in rows if not any(fnmatchcase(alarm, row) for alarm in alarms))
    # Then every alarm has its row, and every row an alarm
    assert undocumented == []
    assert unknown == []


def test_the_docs_name_every_route_of_the_template() -> None:
    # Given the template's HTTP API routes, as `METHOD /path`
    routes = {
        f"{event['Properties']['Method'].upper()} {event['Properties']['Path']}"
        for resource in load_template()["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }
    # When the pages under docs/ are read
    docs = "\n".join(page.read_text() for page in DOCS.glob("*.md"))
    # Then each route is named on one of them
    assert routes
    assert sorted(route for route in routes if f"`{route}`" not in docs) == []


def test_the_index_numbers_every_page_of_the_docs_once() -> None:
    # Given the pages under docs/ besides the index
    pages = sorted(page.name for page in DOCS.glob("*.md") if page != INDEX)
    # When the index's numbered list is read
    listed = [entry["page"] for entry in INDEX_ENTRY.finditer(INDEX.read_text())]
    # Then it lists each page exactly once
    assert sorted(listed) == pages


def test_every_relative_link_of_the_readme_and_the_docs_lands_on_a_file_and_heading_that_exist() -> None:
    # Given every relative link of the README and the docs
    broken = []
    for page in PAGES:
        for link in LINK.finditer(page.read_text()):
            target, _, fragment = link["target"].partition("#")
            if re.match(r"^[a-z]+:", target):
                continue
            path = (page.parent / target).resolve() if target else page
            # When its file, and its heading when it names one, are looked for
            if not path.exists():
                broken.append(f"{page.name}: {link['target']}")
            elif fragment and path.suffix == ".md" and fragment not in anchors_of(path):
                broken.append(f"{page.name}: {link['target']} (no such heading)")
    # Then every one lands
    assert broken == []


def test_an_example_that_prints_other_fields_than_its_page_shows_is_a_mismatch() -> None:
    # Given a step whose page shows a profile of "office"
    step = Step("docs/api.md", "curl ...", '{"profile": "office", "changed": []}')
    # When the command prints another profile
    why = mismatch(step, '{"endpoint": {}, "profile": "default", "changed": []}\n')
    # Then the mismatch is reported
    assert why is not None


def test_an_example_that_prints_at_least_the_fields_its_page_shows_matches() -> None:
    # Given a step whose page shows two fields
    step = Step("docs/api.md", "curl ...", '{"profile": "office", "changed": ["codecs"]}')
    # When the command prints those and more
    why = mismatch(step, '{"endpoint": {"id": "x"}, "profile": "office", "changed": ["codecs"]}\n')
    # Then it matches
    assert why is None


def test_an_error_answer_a_page_does_not_show_is_a_mismatch() -> None:
    # Given a step whose page shows no output
    step = Step("docs/api.md", "curl ...", None)
    # When the command answers a problem document
    why = mismatch(step, '{"type": "username-taken", "status": 409, "title": "Username taken"}\n')
    # Then the mismatch is reported
    assert why is not None


def test_every_page_of_the_walkthrough_has_blocks_that_parse_into_steps() -> None:
    # Given the pages the walkthrough reads
    # When their blocks are split into steps
    steps = [step for page in PAGES for step in steps_of(page)]
    # Then there are steps, each with commands
    assert steps
    assert all(step.commands.strip() for step in steps)
