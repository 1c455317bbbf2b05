"""A fresh virtual environment made from requirements.lock.txt alone (`--require-hashes
--no-deps`: nothing unpinned is downloaded), and a copy of the project to build or install
from, so that tests running side by side never write build/ or *.egg-info into the clone."""

import os
import shutil
import subprocess
import venv
from pathlib import Path

from helpers.cli import ROOT

LOCK = ROOT / "requirements.lock.txt"
SKIP = (".venv", ".git", "node_modules", "__pycache__", "*.egg-info", ".pytest_cache", ".hypothesis")
BUILD_OUTPUT = {"build", "dist"}  # at the top only: .ci/build is the build script


def pip(python: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """pip of that environment, with this machine's pip settings (PIP_* in the environment)."""
    return subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args], capture_output=True,
                          text=True, timeout=600, check=check, env=os.environ.copy())


def locked_venv(where: Path, lock: Path = LOCK) -> Path:
    """A new virtual environment with the lock installed; its python."""
    venv.EnvBuilder(with_pip=True).create(where)
    python = where / "bin" / "python"
    pip(python, "install", "--quiet", "--require-hashes", "--no-deps", "-r", str(lock))
    return python


def site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return Path(out.strip())


def project_copy(dest: Path) -> Path:
    """The clone's files (not its virtual environment, caches or build output) under dest."""
    patterns = shutil.ignore_patterns(*SKIP)

    def ignore(folder, names):
        top = BUILD_OUTPUT.intersection(names) if Path(folder) == ROOT else set()
        return set(patterns(folder, names)) | top

    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def build(project: Path, out: Path, python: Path) -> tuple[Path, Path]:
    """sdist, then the wheel from that sdist (.ci/build), with the setuptools of python."""
    done = subprocess.run(["bash", str(project / ".ci" / "build"), str(out), str(python)], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    sdist, wheel = done.stdout.split()
    return out / sdist, out / wheel


