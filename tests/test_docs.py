"""The documentation a newcomer reads: every command and option documented, every link inside the
repository resolving, README short with the two first commands on top, and no reference a reader of
this repository cannot open.

`python tests/test_docs.py [COMMAND]` prints the option tables of docs/commands.md, made from the
parser, to paste in when a command's options change.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pytest

from reconciler.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
COMMANDS_DOC = ROOT / "docs" / "commands.md"

# The two commands at the top of README, exactly as a newcomer pastes them (.ci/run runs the second).
DEMO_COMMAND = "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && b2ckeys demo"
TEST_COMMAND = "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && npm ci --prefix .ci/node && pytest"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def documented_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions
            if a.dest != "help" and not isinstance(a, argparse._SubParsersAction)]


def docs() -> list[Path]:
    """The Markdown a reader of the repository is sent to."""
    top = [ROOT / name for name in ("README.md", "ARCHITECTURE.md", "SECURITY.md", "CHANGELOG.md")]
    return top + sorted((ROOT / "docs").glob("*.md")) + [ROOT / "reconciler" / "emulator" / "ASSUMPTIONS.md"]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


# --- (a) every command and every option is in the command reference ---------------------------

@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_command_is_in_the_reference_with_its_options_and_help(name):
    reference = COMMANDS_DOC.read_text()
    assert f"b2ckeys {name}" in reference
    assert f"## `b2ckeys {name}`" in reference, f"docs/commands.md has no section for {name}"
    command = subcommands()[name]
    assert command.description, f"b2ckeys {name} has no description"
    for action in documented_actions(command):
        assert action.help, f"{name} {action.option_strings or action.dest} has no help"
        for flag in action.option_strings:
            if flag.startswith("--"):
                assert flag in reference, f"docs/commands.md does not mention {name} {flag}"


def test_the_root_options_are_in_the_reference():
    reference = COMMANDS_DOC.read_text()
    parser = build_parser()
    assert parser.description
    for action in documented_actions(parser):
        assert action.help, f"{action.option_strings} has no help"
        for flag in action.option_strings:
            if flag.startswith("--"):
                assert flag in reference, f"docs/commands.md does not mention {flag}"


# --- (b) links inside the repository resolve, anchors included ----------------------------------

FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.S | re.M)  # in list items too
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


def prose(text: str) -> str:
    """The text with fenced code blocks and code spans taken out (a link there is not a link)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text as rendered, lowercased, punctuation dropped except
    '-' and '_', each space a '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.lower().strip()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for match in HEADING.finditer(FENCE.sub("", path.read_text())):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def test_slugs_follow_github():
    assert slug("`b2ckeys doctor`") == "b2ckeys-doctor"
    assert slug("Certificates and PKCS#12") == "certificates-and-pkcs12"
    assert slug("Retries, pacing and parallelism") == "retries-pacing-and-parallelism"
    assert slug("Workload identity federation (GitHub Actions, Azure DevOps, AKS)") == \
        "workload-identity-federation-github-actions-azure-devops-aks"
    assert slug("The permission to grant, and the guards") == "the-permission-to-grant-and-the-guards"
    assert slug("B2CKEYS_CA_BUNDLE & more") == "b2ckeys_ca_bundle--more"


def links(path: Path) -> list[str]:
    return [m.group(1) for m in LINK.finditer(prose(path.read_text()))]


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            # ARCHITECTURE.md is being written; README already links to it.
            if dest == ROOT / "ARCHITECTURE.md":
                continue
            broken.append(f"{target}: no such file")
            continue
        if anchor and dest.is_file() and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading '{anchor}' in {rel(dest)}")
    return broken


@pytest.mark.parametrize("path", docs(), ids=rel)
def test_relative_links_resolve(path):
    assert broken_links(path) == []


def test_the_link_check_would_see_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n\n## Some `code` here\n")
    page.write_text(
        "# Page\n\n[ok](other.md#some-code-here) [self](#page) [web](https://example.com/x.md)\n"
        "[gone](missing.md) [bad anchor](other.md#nope) [bad self](#nothing)\n"
        "`[in code](missing-too.md)`\n\n```\n[in a block](missing-three.md)\n```\n"
        "- a list item\n\n  ```sh\n  # not a heading\n  [in an indented block](missing-four.md)\n  ```\n")
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#nope: no heading 'nope' in other.md",
        "#nothing: no heading 'nothing' in page.md",
    ]


def test_repository_paths_named_in_the_docs_exist():
    """A module or file path written in backticks (`reconciler/plan/activekey.py`) must exist: the
    package was regrouped, and an old path sends a reader nowhere."""
    missing = []
    pattern = re.compile(r"`((?:reconciler|tests|bench|examples|schemas)/[\w./-]*\w)(?:::\w+)?`")
    for path in docs():
        if path.name == "CHANGELOG.md":  # history names the paths of its time
            continue
        for name in pattern.findall(path.read_text()):
            if not (ROOT / name).exists():
                missing.append(f"{rel(path)}: {name}")
    assert missing == []


def test_the_json_example_in_plan_formats_has_the_real_shape():
    """docs/gitops.md shows `plan --format json`: its fields are the real ones."""
    import json

    from helpers.golden import starter_plan
    from reconciler.plan.data import plan_data

    section = (ROOT / "docs" / "gitops.md").read_text().split("## Plan formats", 1)[1]
    example = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    real = plan_data(starter_plan())
    assert example.keys() == real.keys() and example["summary"].keys() == real["summary"].keys()
    by_action = {c["action"]: c for c in real["changes"]}
    for change in example["changes"]:
        assert change.keys() == by_action[change["action"]].keys()
        if "key" in change:
            assert change["key"].keys() == by_action[change["action"]]["key"].keys()


# --- (c) README: short, and the two first commands on top ---------------------------------------

def test_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move the detail to docs/"


def test_readme_starts_with_the_two_commands():
    text = README.read_text()
    first_block = re.search(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M)
    assert first_block, "README.md has no command block"
    commands = [line.strip() for line in first_block.group(1).splitlines()]
    assert DEMO_COMMAND in commands
    assert TEST_COMMAND in commands
    assert commands.index(DEMO_COMMAND) < commands.index(TEST_COMMAND)
    # nothing but a title and a few lines before it
    assert text[: first_block.start()].count("\n") < 20


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    for step in ("python3 -m venv .venv", ". .venv/bin/activate", "-e '.[test]'", "npm ci --prefix .ci/node", "pytest"):
        assert step in script


# --- (d) no reference a reader cannot open --------------------------------------------------------

UNREACHABLE = [
    (re.compile(r"design\s+(?:section\s+)?\d", re.I), "a design document section"),
    (re.compile(r"design\s+section", re.I), "a design document section"),
    (re.compile(r"graph-api\.md", re.I), "graph-api.md"),
    (re.compile(r"\bissues?\s+#?\d+", re.I), "an issue number"),
]


def reader_docs() -> list[Path]:
    """The docs, and the code's own docstrings and messages."""
    return docs() + sorted(p for folder in ("reconciler", "bench") for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", reader_docs(), ids=rel)
def test_no_reference_a_reader_cannot_open(path):
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        for pattern, what in UNREACHABLE:
            for match in pattern.finditer(line):
                found.append(f"{rel(path)}:{number}: {what}: {match.group(0)!r}")
    assert found == []


def test_the_reference_check_would_see_one():
    lines = ["as design 3.2 says", "see graph-api.md §4", "(issue 7)", "fixed in issue #12",
             "design section 2"]
    for line in lines:
        assert any(p.search(line) for p, _ in UNREACHABLE), line
    for line in ["opens an issue when drift is found", "the design of the planner", "issues"]:
        assert not any(p.search(line) for p, _ in UNREACHABLE), line


# --- the option tables of docs/commands.md, made from the parser ------------------------------------

def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("*", "\\*")


def _name(action: argparse.Action) -> str:
    if not action.option_strings:
        name = action.metavar or action.dest
        return f"{name} ..." if action.nargs in ("*", "+") else name
    name = ", ".join(action.option_strings)
    if action.nargs != 0:
        if action.metavar:
            name += f" {action.metavar}"
        elif action.choices:
            name += " {" + ",".join(action.choices) + "}"
        else:
            name += f" {action.dest.upper()}"
    return name


def options_markdown(parser: argparse.ArgumentParser) -> str:
    usage = " ".join(parser.format_usage().split()).removeprefix("usage: ")
    rows = ["```text", usage, "```", "", "| option | meaning |", "|---|---|"]
    formatter = parser._get_formatter()
    for action in documented_actions(parser):
        help = formatter._expand_help(action) if action.help else ""  # %(default)s, %%
        rows.append(f"| `{_name(action)}` | {_cell(help)} |")
    return "\n".join(rows)


if __name__ == "__main__":
    wanted = sys.argv[1:]
    if not wanted or "b2ckeys" in wanted:
        print("b2ckeys\n\n" + options_markdown(build_parser()) + "\n")
    for name, command in subcommands().items():
        if not wanted or name in wanted:
            print(f"b2ckeys {name}\n\n" + options_markdown(command) + "\n")
