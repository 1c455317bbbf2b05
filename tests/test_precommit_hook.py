"""The pre-commit hook fires on manifests only (pre-commit matches `files:` with re.search on
the path from the repository's root), and its comment shows how to point it at another folder."""

import re

import pytest
import yaml

from helpers.cli import ROOT

HOOKS = ROOT / ".pre-commit-hooks.yaml"


def pattern() -> re.Pattern:
    [hook] = yaml.safe_load(HOOKS.read_text())
    return re.compile(hook["files"])


@pytest.mark.parametrize("path", ["manifests/a.yaml", "manifests/sub/b.yml", "manifests/tenant.yml"])
def test_the_hook_fires_on_a_manifest(path):
    assert pattern().search(path)


@pytest.mark.parametrize("path", [".github/workflows/x.yml", "docker-compose.yml", "examples/x.yaml",
                                  "src/manifests/a.yaml", "manifests/notes.md", "manifests.yaml"])
def test_the_hook_ignores_other_files(path):
    assert not pattern().search(path)


def test_the_comment_shows_files_and_args_for_another_folder():
    comment = HOOKS.read_text()
    args = re.search(r"# args: \[(\S+)/\]", comment).group(1)
    files = re.compile(re.search(r"# files: (\S+)", comment).group(1))
    assert files.search(f"{args}/keys.yaml") and not files.search("manifests/keys.yaml")
