"""The house rules: the layers of ARCHITECTURE.md (import-linter's contracts in
pyproject.toml), no import cycles, lazy imports that say why, small modules, and
shipped manifests that validate."""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from reconciler.manifest.reader import load_manifests

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reconciler"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_LINES = 300


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}  # the package in `root`, not the installed one
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_layers_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers(tmp_path):
    """The contract is live: the core importing the command line is caught."""
    shutil.copytree(PACKAGE, tmp_path / "reconciler", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    model = tmp_path / "reconciler" / "core" / "model.py"
    model.write_text(model.read_text() + "\nfrom ..cli.main import main  # noqa: E402 (deliberately upward)\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "reconciler.core.model -> reconciler.cli.main" in result.stdout


def test_no_module_imports_itself_back():
    """No cycles between modules: function-local imports count too (type hints do not)."""
    graph = grimp.build_graph("reconciler", exclude_type_checking_imports=True)
    cycles = _cycles({m: graph.find_modules_directly_imported_by(m) for m in graph.modules})
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(sorted(c)) for c in cycles)


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def _local_imports(path: Path):
    """Imports inside functions, in any block of them (not under `if TYPE_CHECKING:`), as
    (line number, first of a run of imports)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for n in ast.walk(node)}
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    blocks = {id(block): block for function in functions for node in ast.walk(function)
              for block in (getattr(node, field, None) for field in ("body", "orelse", "finalbody", "handlers"))
              if isinstance(block, list)}
    for block in blocks.values():
        previous_was_import = False
        for statement in block:
            is_import = isinstance(statement, (ast.Import, ast.ImportFrom)) and id(statement) not in typing_only
            if is_import:
                yield statement.lineno, not previous_was_import
            previous_was_import = is_import


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_a_lazy_import_says_why(path):
    """Imports belong at the top; one inside a function is there for start-up time or
    memory, and its first line says so in a comment."""
    lines = path.read_text().splitlines()
    silent = [n for n, first in _local_imports(path) if first and "#" not in lines[n - 1]]
    assert not silent, f"{path.name}: lines {silent} import inside a function without saying why"


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_modules_stay_small(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_help_imports_neither_the_network_nor_yaml():
    """`b2ckeys --help` pays for argparse and the parser only (start-up stays fast)."""
    code = ("import sys; from reconciler.cli import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            "heavy = sorted(m for m in ('requests', 'msal', 'yaml', 'jsonschema', 'cryptography', 'deepdiff') "
            "if m in sys.modules)\nprint('HEAVY', heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_validate_imports_neither_jsonschema_nor_cryptography_for_valid_manifests():
    code = ("import sys; from reconciler.cli import main\n"
            f"main(['validate', {str(ROOT / 'manifests')!r}], environ={{}})\n"
            "print('HEAVY', sorted(m for m in ('requests', 'msal', 'jsonschema', 'cryptography') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


SHIPPED = sorted((ROOT / "manifests").rglob("*.yaml")) + sorted((ROOT / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_manifests_validate_and_name_the_schema(path):
    first = path.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/keysets.schema.json"
    assert (path.parent / "../schemas/keysets.schema.json").resolve().is_file()
    assert load_manifests([str(path)]).state.keysets
