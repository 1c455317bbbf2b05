"""The key sets B2C custom policies reference: `StorageReferenceId="B2C_1A_…"`.

A line scan, not an XML parser. Each `*.xml` file below the given folders is read
as text (UTF-8, a BOM allowed), XML comments are blanked out keeping every line
where it was, and each StorageReferenceId attribute is found by a regular
expression with its line and column. Nothing is expanded or fetched (no entities,
no DTD, no external resources), so a hostile file can neither hang nor blow up
the scan; a file over 16 MiB is refused, only regular files are read (no FIFO),
and a symbolic link leading out of the folder's repository is refused, as for
manifests (`reconciler.manifest.confine`).

`undeclared(state)` then says, per key set, where a policy references one that no
manifest declares. These are errors for `validate`: a policy that references a
missing key set fails at upload or at sign-in, and an undeclared key set that
exists is one a `prune: true` run would delete (plan keeps it: see `prune`).
"""

from __future__ import annotations

import bisect
import os
import re
from typing import Sequence

from ..core.diagnostics import Diagnostic, Location, Severity
from ..core.errors import ManifestError
from ..core.model import KEYSET_PREFIX, DesiredState, PolicyReference, by_keyset
from .confine import escape, read_regular_file, repository_root

MAX_POLICY_BYTES = 16 * 1024 * 1024
_REFERENCE = re.compile(r"""\bStorageReferenceId\s*=\s*(["'])([^"'<>]*)\1""")
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def find_policy_files(folders: Sequence[str]) -> list[str]:
    found, missing = [], []
    for folder in folders:
        if not os.path.isdir(folder):
            missing.append(Diagnostic(Severity.ERROR, "--policies: no such folder", Location(folder)))
            continue
        repository = repository_root(folder)
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for path in (os.path.join(root, f) for f in sorted(files) if f.lower().endswith(".xml")):
                why = escape(path, os.curdir, repository) if os.path.islink(path) else None
                if why:  # a link in a pull request to a file outside: never read
                    missing.append(Diagnostic(Severity.ERROR, f"refused: {why} (policy files found in a folder "
                                              "must be inside its repository)", Location(path)))
                else:
                    found.append(path)
    if missing:
        raise ManifestError(missing)
    return found


def scan_text(path: str, text: str) -> tuple[list[PolicyReference], list[Diagnostic]]:
    """Every key-set reference of one policy file, in order, and why some cannot be checked."""
    blanked = _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    newlines = [m.start() for m in re.finditer("\n", blanked)]
    references, notes = [], []
    for match in _REFERENCE.finditer(blanked):
        start = match.start(2)
        line = bisect.bisect_left(newlines, start)  # newlines before the match
        location = Location(path, line + 1, start - (newlines[line - 1] + 1 if line else 0) + 1)
        value = match.group(2).strip()
        if value[: len(KEYSET_PREFIX)].upper() == KEYSET_PREFIX.upper() and _ID.match(value):
            references.append(PolicyReference(value, location))
        else:
            notes.append(Diagnostic(Severity.WARNING, f"StorageReferenceId {value[:80]!r} is not a key set id "
                                    "(B2C_1A_ and letters, digits, '_', '-', '.'); not checked", location))
    return references, notes


def scan_policies(folders: Sequence[str]) -> tuple[tuple[PolicyReference, ...], list[Diagnostic]]:
    """The references of every policy file below `folders`, with diagnostics."""
    references: list[PolicyReference] = []
    diagnostics: list[Diagnostic] = []
    files = find_policy_files(folders)
    if not files:
        diagnostics.append(Diagnostic(Severity.WARNING, "--policies: no *.xml policy file found",
                                      Location(", ".join(folders))))
    for path in files:
        text, problem = _read(path)
        if problem:
            diagnostics.append(Diagnostic(Severity.ERROR, problem, Location(path)))
            continue
        found, notes = scan_text(path, text)
        references += found
        diagnostics += notes
    return tuple(references), diagnostics


def _read(path: str) -> tuple[str, str | None]:
    """Regular files only, opened without blocking (a FIFO named *.xml cannot hang the scan)."""
    try:
        if os.path.getsize(path) > MAX_POLICY_BYTES:
            return "", f"policy file is larger than {MAX_POLICY_BYTES >> 20} MiB; not read"
        return read_regular_file(path, MAX_POLICY_BYTES).decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return "", "policy file is not UTF-8 text"
    except ValueError as e:  # not a regular file, or grown past the limit since
        return "", f"policy file is {e}; not read"
    except OSError as e:
        return "", f"policy file cannot be read: {e.strerror or type(e).__name__}"


def undeclared(state: DesiredState, severity: Severity = Severity.ERROR) -> list[Diagnostic]:
    """One diagnostic per referenced key set no manifest declares, at its first reference."""
    out = []
    for refs in by_keyset(state.references).values():
        if state.find(refs[0].keyset_id) is None:
            more = f" (and {len(refs) - 1} more reference{'s' if len(refs) > 2 else ''})" if len(refs) > 1 else ""
            out.append(Diagnostic(severity, f"policy references key set {refs[0].keyset_id}, which no manifest "
                                  f"declares{more}", refs[0].location))
    return out
