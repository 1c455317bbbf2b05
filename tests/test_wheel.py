"""The release artifacts, built as the release workflow builds them (.ci/build: the sdist, then
the wheel from that sdist, with the lock's setuptools): the sdist holds what a build needs, the
wheel carries what b2ckeys needs at run time as package data, and the wheel, installed with the
lock (`--require-hashes`) in a fresh virtual environment, runs `b2ckeys demo` from a folder that
is not the clone, with a minimal environment."""

import subprocess
import tarfile
import zipfile

import pytest

from helpers.cli import ROOT
from helpers.locked import build, locked_venv, pip, project_copy, shared, site_packages


def make_release(folder):
    python = locked_venv(folder / "venv")
    build(project_copy(folder / "project"), folder / "dist", python)
    [wheel] = (folder / "dist").glob("*.whl")
    pip(python, "install", "--quiet", "--no-deps", str(wheel))


@pytest.fixture
def built(tmp_path_factory):
    """(python of a fresh locked venv with the wheel installed, sdist, wheel), made once per run."""
    with shared(tmp_path_factory, "release", make_release) as folder:
        [sdist], [wheel] = (folder / "dist").glob("*.tar.gz"), (folder / "dist").glob("*.whl")
        yield folder / "venv" / "bin" / "python", sdist, wheel


def test_the_sdist_holds_what_a_build_and_a_locked_install_need(built):
    _, sdist, _ = built
    top = sdist.name.removesuffix(".tar.gz")
    names = {name.removeprefix(top + "/") for name in tarfile.open(sdist).getnames()}
    needed = {"pyproject.toml", "README.md", "PKG-INFO", "requirements.lock.txt", "schemas/keysets.schema.json",
              "examples/starter-pack.yaml", "reconciler/cli/__init__.py", "reconciler/emulator/ASSUMPTIONS.md"}
    needed |= {path.name for path in ROOT.glob("LICEN[CS]E*")}
    assert needed <= names, needed - names
    assert not [name for name in names if name.startswith(("tests/", ".venv/", ".git/", ".ci/node/"))]


def test_the_wheel_carries_the_schema_and_the_starter_pack_and_nothing_of_the_tests(built):
    _, _, wheel = built
    names = zipfile.ZipFile(wheel).namelist()
    assert "reconciler/schemas/keysets.schema.json" in names
    assert "reconciler/examples/starter-pack.yaml" in names
    assert "reconciler/examples/starter/b2ckeys.yaml" in names  # the demo's two environments
    assert "reconciler/examples/starter/manifests/starter-pack.yaml" in names
    assert "reconciler/emulator/ASSUMPTIONS.md" in names
    assert not [n for n in names if n.startswith(("tests/", "reconciler/data/"))]


def test_the_wheel_with_the_lock_satisfies_its_own_requirements(built):
    python, _, _ = built
    checked = pip(python, "check", check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_wheel_installed_with_the_lock_runs_the_demo_from_another_folder(built, tmp_path):
    python, _, _ = built
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([str(python.parent / "b2ckeys"), "demo"], cwd=elsewhere, capture_output=True, text=True,
                            timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Demo complete" in result.stdout
    site = site_packages(python)
    assert f"In {site}/reconciler/examples/starter (b2ckeys.yaml and manifests/):" in result.stdout  # package data
    assert "$ b2ckeys validate manifests/\nValid for environment dev" in result.stdout
