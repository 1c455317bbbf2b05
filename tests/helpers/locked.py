"""A fresh virtual environment made from requirements.lock.txt alone (`--require-hashes
--no-deps`: nothing unpinned is downloaded), and a copy of the project to build or install
from, so that tests running side by side never write build/ or *.egg-info into the clone.
`shared` makes such a folder once for all pytest-xdist workers of a run."""

import fcntl
import os
import shutil
import subprocess
import venv
from contextlib import contextmanager
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




@contextmanager
def shared(tmp_path_factory, name: str, make, exclusive: bool = False):
    """The folder `name`, made by make(folder) by the first of the run's workers to ask, then
    used by all: held with a shared lock while in use, or an exclusive one to change it."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, above each worker's own
    folder = base / name
    with open(base / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".made").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (folder / ".made").touch()
        if not exclusive:
            fcntl.flock(lock, fcntl.LOCK_SH)  # a downgrade: other readers may come in
        yield folder
