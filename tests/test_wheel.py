"""A built wheel carries what b2ckeys needs at run time (the schema, the starter pack)
as package data, and, installed in a fresh virtual environment, runs `b2ckeys demo`
from a folder that is not the clone."""

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_wheel_installed_in_a_fresh_venv_runs_the_demo(tmp_path):
    built = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(built), str(ROOT)],
                   check=True, timeout=300, capture_output=True)
    (wheel,) = built.glob("b2ckeys-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "reconciler/schemas/keysets.schema.json" in names
    assert "reconciler/examples/starter-pack.yaml" in names
    assert not [n for n in names if n.startswith(("tests/", "reconciler/data/"))]

    fresh = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(fresh)
    python = fresh / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet",
                    str(wheel)], check=True, timeout=300, capture_output=True)
    # the dependencies (requests, msal, ...) from this environment, after the wheel's own files
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([str(fresh / "bin" / "b2ckeys"), "demo"], cwd=elsewhere, capture_output=True, text=True,
                            timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Demo complete" in result.stdout
    assert f"$ b2ckeys validate {site}/reconciler/examples/starter-pack.yaml" in result.stdout
