"""Which files a command reads: the manifests named, and those found below folders.

Kept apart from `reader` (which imports the schema check) so that a command can know
its files, and their size, before it pays for those imports (`background`).
"""

from __future__ import annotations

import os
from typing import Sequence

from ..core.diagnostics import Diagnostic, Location, Severity
from ..core.errors import ManifestError
from .confine import escape, repository_root

MANIFEST_SUFFIXES = (".yaml", ".yml")
ENVIRONMENTS_FILE = "b2ckeys.yaml"  # the environments file (`environments`) is not a manifest
DEFAULT_PATHS = ("manifests",)  # what a command reads when given no PATH


def find_manifest_files(paths: Sequence[str]) -> list[str]:
    """Files as given; a folder gives every *.yaml/*.yml below it (hidden ones and the environments
    file, b2ckeys.yaml, skipped), sorted."""
    found: list[str] = []
    missing = []
    for given in paths:
        if os.path.isdir(given):
            found.extend(_walk(given))
        elif os.path.isfile(given):
            found.append(given)
        else:
            missing.append(Diagnostic(Severity.ERROR, "no such file or folder", Location(given)))
    if missing:
        raise ManifestError(missing)
    unique, seen = [], set()
    for f in found:  # a file named twice (itself and through its folder) is read once, at its first mention
        if os.path.realpath(f) not in seen:
            seen.add(os.path.realpath(f))
            unique.append(f)
    if not unique:
        where = ", ".join(paths) or "(no paths given)"
        raise ManifestError.at(None, f"no manifest (*.yaml or *.yml) found in {where}")
    return unique


def _walk(folder: str) -> list[str]:
    """Manifests below `folder`; a symbolic link leading out of its repository is an error."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = os.path.relpath(root, folder)
        parts = () if rel == os.curdir else tuple(rel.split(os.sep))
        found += [parts + (f,) for f in files if f.lower().endswith(MANIFEST_SUFFIXES) and not f.startswith(".")
                  and f != ENVIRONMENTS_FILE]
    paths = [os.path.join(folder, *parts) for parts in sorted(found)]
    repository = repository_root(folder)
    escaped = [Diagnostic(Severity.ERROR, f"refused: {why} (manifests found in a folder must be inside "
                                          "its repository)", Location(p))
               for p in paths if os.path.islink(p) and (why := escape(p, os.curdir, repository))]
    if escaped:
        raise ManifestError(escaped)
    return paths
