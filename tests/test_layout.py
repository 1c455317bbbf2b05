"""Project-wide rules: module layering, shipped manifests, documented commands."""

import ast
from pathlib import Path

import pytest

from reconciler.cli import build_parser
from reconciler.manifest import load_manifests

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reconciler"

# module -> imports it must not make (design section 2)
FORBIDDEN = {
    "model": {"yaml", "requests", "msal", "jsonschema", "reconciler.graph", "reconciler.cli", "reconciler.auth"},
    "manifest": {"reconciler.graph", "reconciler.cli", "requests", "msal"},
    "schema": {"reconciler.graph", "reconciler.cli", "requests", "msal"},
    "secrets": {"reconciler.cli", "reconciler.graph", "requests"},
    "credentials": {"reconciler.cli", "reconciler.graph", "reconciler.auth", "requests", "msal"},
    "auth": {"reconciler.cli", "reconciler.graph", "reconciler.preflight"},
    "preflight": {"reconciler.cli", "reconciler.graph", "msal"},
    "doctor": {"reconciler.cli"},
    "graph": {"reconciler.cli", "reconciler.planner"},
    "planner": {"reconciler.graph", "reconciler.auth", "reconciler.cli", "requests", "msal"},
    "render": {"reconciler.graph", "requests", "msal"},
    "applier": {"reconciler.cli"},
    "activekey": {"reconciler.graph", "reconciler.cli", "requests", "msal"},
    "drift": {"reconciler.graph", "reconciler.auth", "reconciler.cli", "requests", "msal"},
    "export": {"reconciler.graph", "reconciler.auth", "reconciler.cli", "requests", "msal", "yaml"},
    "livediff": {"reconciler.graph", "reconciler.cli", "requests", "msal"},
    "render_json": {"reconciler.graph", "reconciler.cli", "requests", "msal"},
    "render_drift": {"reconciler.graph", "reconciler.cli", "requests", "msal"},
    "render_markdown": {"reconciler.graph", "reconciler.cli", "requests", "msal"},
    "planfile": {"reconciler.graph", "reconciler.auth", "reconciler.cli", "requests", "msal"},
    "diagnostics": {"yaml", "requests", "msal", "jsonschema", "reconciler.graph", "reconciler.cli"},
    "rotation": {"reconciler.graph", "reconciler.auth", "reconciler.cli", "requests", "msal"},
    "prune": {"reconciler.graph", "reconciler.auth", "reconciler.cli", "requests", "msal"},
    "policies": {"reconciler.graph", "reconciler.auth", "reconciler.cli", "requests", "msal", "xml"},
    "certificates": {"reconciler.graph", "reconciler.auth", "reconciler.cli", "requests", "msal"},
    "steps": {"reconciler.cli", "requests", "msal"},
    "graph_lifecycle": {"reconciler.cli", "reconciler.planner"},
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
