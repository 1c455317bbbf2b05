"""SECURITY.md maps each threat to tests: every test it names must exist."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def named_tests() -> list[tuple[str, str]]:
    """(file, test) for `tests/x.py::name` and the `::name` that follow it in the same cell."""
    found = []
    for line in (ROOT / "SECURITY.md").read_text().splitlines():
        for cell in line.split("|"):
            current = None
            for match in re.finditer(r"`(tests/[\w/]+\.py)?::(\w+)`", cell):
                current = match.group(1) or current
                assert current, f"'::{match.group(2)}' with no file before it in: {cell.strip()}"
                found.append((current, match.group(2)))
    return found


def test_every_test_security_md_names_exists():
    named = named_tests()
    assert len(named) > 50
    missing = []
    for file, name in named:
        tree = ast.parse((ROOT / file).read_text())
        if name not in {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}:
            missing.append(f"{file}::{name}")
    assert missing == []


def test_the_new_security_test_files_are_all_referenced():
    named = {f"{file}::{name}" for file, name in named_tests()}
    for file in ("test_hostile_yaml.py", "test_secret_files.py", "test_secret_hygiene.py",
                 "test_transport_security.py", "test_fuzz.py", "test_hostile_policies.py",
                 "test_certificate_files.py", "test_markdown_safety.py", "test_signin_origin.py",
                 "test_credential_file_modes.py", "test_hostile_tenant.py", "test_hostile_answers.py",
                 "test_manifest_edges.py", "test_hostile_servers.py"):
        tree = ast.parse((ROOT / "tests" / file).read_text())
        tests = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
        unmapped = [t for t in tests if f"tests/{file}::{t}" not in named]
        assert unmapped == [], f"SECURITY.md does not map {file}: {unmapped}"
