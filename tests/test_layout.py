"""Project-wide rules: module layering, shipped manifests, documented commands."""

import ast
from pathlib import Path

import pytest

from reconciler.cli.main import build_parser
from reconciler.manifest.reader import load_manifests

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reconciler"

# module -> imports it must not make (design section 2)
FORBIDDEN = {
    "model": {"yaml", "requests", "msal", "jsonschema", "reconciler.graph.client", "reconciler.cli.main", "reconciler.signin.auth"},
    "manifest": {"reconciler.graph.client", "reconciler.cli.main", "requests", "msal"},
    "schema": {"reconciler.graph.client", "reconciler.cli.main", "requests", "msal"},
    "secrets": {"reconciler.cli.main", "reconciler.graph.client", "requests"},
    "credentials": {"reconciler.cli.main", "reconciler.graph.client", "reconciler.signin.auth", "requests", "msal"},
    "auth": {"reconciler.cli.main", "reconciler.graph.client", "reconciler.signin.preflight"},
    "preflight": {"reconciler.cli.main", "reconciler.graph.client", "msal"},
    "doctor": {"reconciler.cli.main"},
    "graph": {"reconciler.cli.main", "reconciler.plan.planner"},
    "planner": {"reconciler.graph.client", "reconciler.signin.auth", "reconciler.cli.main", "requests", "msal"},
    "render": {"reconciler.graph.client", "requests", "msal"},
    "applier": {"reconciler.cli.main"},
    "activekey": {"reconciler.graph.client", "reconciler.cli.main", "requests", "msal"},
    "drift": {"reconciler.graph.client", "reconciler.signin.auth", "reconciler.cli.main", "requests", "msal"},
    "export": {"reconciler.graph.client", "reconciler.signin.auth", "reconciler.cli.main", "requests", "msal", "yaml"},
    "livediff": {"reconciler.graph.client", "reconciler.cli.main", "requests", "msal"},
    "render_json": {"reconciler.graph.client", "reconciler.cli.main", "requests", "msal"},
    "render_drift": {"reconciler.graph.client", "reconciler.cli.main", "requests", "msal"},
    "render_markdown": {"reconciler.graph.client", "reconciler.cli.main", "requests", "msal"},
    "planfile": {"reconciler.graph.client", "reconciler.signin.auth", "reconciler.cli.main", "requests", "msal"},
    "diagnostics": {"yaml", "requests", "msal", "jsonschema", "reconciler.graph.client", "reconciler.cli.main"},
    "rotation": {"reconciler.graph.client", "reconciler.signin.auth", "reconciler.cli.main", "requests", "msal"},
    "prune": {"reconciler.graph.client", "reconciler.signin.auth", "reconciler.cli.main", "requests", "msal"},
    "policies": {"reconciler.graph.client", "reconciler.signin.auth", "reconciler.cli.main", "requests", "msal", "xml"},
    "certificates": {"reconciler.graph.client", "reconciler.signin.auth", "reconciler.cli.main", "requests", "msal"},
    "steps": {"reconciler.cli.main", "requests", "msal"},
    "graph_lifecycle": {"reconciler.cli.main", "reconciler.plan.planner"},
}


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                package = path.parent.relative_to(ROOT).parts
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
                found.add(module)
                found.update(f"{module}.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
    return found


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_layering(module):
    imported = imports_of(PACKAGE / f"{module}.py")
    bad = {name for name in imported for banned in FORBIDDEN[module]
           if name == banned or name.startswith(banned + ".")}
    assert not bad, f"reconciler.{module} must not import {sorted(bad)}"


def test_emulator_stands_apart_from_the_rest():
    for path in (PACKAGE / "emulator").glob("*.py"):
        outside = {name for name in imports_of(path)
                   if name.startswith("reconciler.") and not name.startswith("reconciler.emulator")}
        assert not outside, f"{path.name} imports {sorted(outside)}"


SHIPPED = sorted((ROOT / "manifests").rglob("*.yaml")) + sorted((ROOT / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_manifests_validate_and_name_the_schema(path):
    first = path.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/keysets.schema.json"
    assert (path.parent / "../schemas/keysets.schema.json").resolve().is_file()
    assert load_manifests([str(path)]).state.keysets


def subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_command_is_documented_and_has_help(name):
    readme = (ROOT / "README.md").read_text()
    assert f"b2ckeys {name}" in readme
    command = subcommands()[name]
    assert command.description
    for action in command._actions:
        if action.dest != "help":
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
            for flag in action.option_strings:
                if flag.startswith("--"):
                    assert flag in readme, f"README does not mention {name} {flag}"
