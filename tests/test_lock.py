"""requirements.lock.txt is current: it installs with `--require-hashes` in a fresh virtual
environment, b2ckeys from this checkout installs on it with `--no-deps --no-build-isolation`,
and `pip check` then passes. So a dependency added or raised in pyproject.toml without
regenerating the lock fails here (shown on a copy of the project). Every requirement carries
sha256 hashes, and the lock holds nothing that b2ckeys and setuptools do not need."""

import re
from importlib.metadata import distributions

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from helpers.locked import LOCK, locked_venv, pip, project_copy, shared, site_packages




def lock_entries(text: str) -> list[tuple[Requirement, list[str]]]:
    """(requirement, its hashes) for each requirement line, continuation lines joined."""
    logical = re.sub(r"\\\n", " ", text)
    entries = []
    for line in logical.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        spec, *options = re.split(r"\s+(?=--)", line)
        hashes = [option.removeprefix("--hash=") for option in options if option.startswith("--hash=")]
        entries.append((Requirement(spec), hashes))
    return entries


def applies(requirement: Requirement, extra: str = "") -> bool:
    return requirement.marker is None or requirement.marker.evaluate({**default_environment(), "extra": extra})


def needed_by(roots: list[str], site) -> set[str]:
    """The distributions roots need on this Python, following Requires-Dist (and the extras asked for)."""
    installed = {canonicalize_name(d.metadata["Name"]): d for d in distributions(path=[str(site)])}
    needed, todo = set(), [(canonicalize_name(root), frozenset()) for root in roots]
    seen = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        needed.add(name)
        for line in installed[name].requires or []:
            requirement = Requirement(line)
            if any(applies(requirement, extra) for extra in {"", *extras}):
                todo.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return needed


def make_locked(folder):
    """A fresh venv: the lock, then b2ckeys from (a copy of) this checkout, without resolving anything."""
    python = locked_venv(folder / "venv")
    pip(python, "install", "--quiet", "--no-deps", "--no-build-isolation", str(project_copy(folder / "checkout")))


@pytest.fixture
def locked(tmp_path_factory):
    with shared(tmp_path_factory, "locked", make_locked) as folder:
        yield folder / "venv" / "bin" / "python"


@pytest.fixture
def locked_to_change(tmp_path_factory):
    with shared(tmp_path_factory, "locked", make_locked, exclusive=True) as folder:
        yield folder / "venv" / "bin" / "python"


def test_every_requirement_in_the_lock_is_pinned_with_sha256_hashes():
    entries = lock_entries(LOCK.read_text())
    assert len(entries) > 10
    for requirement, hashes in entries:
        assert [str(s) for s in requirement.specifier][0].startswith("=="), requirement
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), requirement


def test_the_hash_reader_sees_a_line_without_hashes():
    entries = lock_entries("pyyaml==6.0.4 \\\n    --hash=sha256:" + "a" * 64 + "\nrequests==2.34.2\n")
    assert [(r.name, len(h)) for r, h in entries] == [("pyyaml", 1), ("requests", 0)]


def test_b2ckeys_from_the_checkout_on_the_lock_passes_pip_check(locked):
    checked = pip(locked, "check", check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_lock_holds_exactly_what_b2ckeys_and_setuptools_need_on_this_python(locked):
    site = site_packages(locked)
    needed = needed_by(["b2ckeys", "setuptools"], site) - {"b2ckeys"}
    in_lock = {canonicalize_name(r.name) for r, _ in lock_entries(LOCK.read_text()) if applies(r)}
    installed = {canonicalize_name(d.metadata["Name"]) for d in distributions(path=[str(site)])} - {"pip"}
    assert in_lock - needed == set(), "in the lock, needed by nothing"
    assert needed - in_lock == set(), "needed, not in the lock"
    assert installed == needed | {"b2ckeys"}


def test_a_dependency_added_or_raised_without_regenerating_the_lock_fails_the_check(locked_to_change, tmp_path):
    locked = locked_to_change
    stale = project_copy(tmp_path / "checkout")
    pyproject = stale / "pyproject.toml"
    text = pyproject.read_text()
    assert '"pyyaml>=6.0",' in text
    pyproject.write_text(text.replace('"pyyaml>=6.0",', '"pyyaml>=99", "b2ckeys-test-not-in-the-lock>=1",'))
    try:
        pip(locked, "install", "--quiet", "--no-deps", "--no-build-isolation", "--force-reinstall", str(stale))
        checked = pip(locked, "check", check=False)
    finally:  # the venv back as it was, for the tests that share it
        pip(locked, "install", "--quiet", "--no-deps", "--no-build-isolation", "--force-reinstall",
            str(project_copy(tmp_path / "current")))
    assert checked.returncode == 1
    assert "b2ckeys-test-not-in-the-lock" in checked.stdout
    assert re.search(r"pyyaml>=99, but you have pyyaml 6", checked.stdout, re.IGNORECASE), checked.stdout
