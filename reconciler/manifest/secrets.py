"""Resolving secret references (`{env: NAME}`, `{file: PATH}`) at apply time.

No network, no Graph. `problem()` says whether a reference can be resolved now
(validate reports it as a warning: pull-request checks run without secrets;
apply reports it as an error before any Graph call). `resolve()` returns the
value. A file is read only when it is a regular file inside its reference's
root (`reconciler.manifest.confine`), checked again just before it is opened. One rule for
both sources: one trailing line break (`\n` or `\r\n`) is not part of the secret, since
editors end a file with one and `echo` ends a variable with one; `secret_warnings` says so
at each variable that has one, since a variable is set by hand less often than a file is
saved. No message here ever contains a secret value or a file's content.
"""

from __future__ import annotations

import os
import stat
from typing import Mapping

from ..core.diagnostics import Diagnostic, Severity
from ..core.errors import SecretError
from ..core.model import DesiredState, KeyKind, SecretRef
from .confine import escape, read_regular_file, repository_root

MAX_SECRET_BYTES = 64 * 1024


def problem(ref: SecretRef, environ: Mapping[str, str] = os.environ, what: str = "secret file") -> str | None:
    """None when `ref` can be resolved now, else why not (a file is called `what`)."""
    return _read(ref, environ, what)[1]


def resolve(ref: SecretRef, environ: Mapping[str, str] = os.environ) -> str:
    """The secret value; `SecretError` at the reference's location when it cannot be read.
    A Key Vault reference is read by the session (`reconciler.graph.keyvault`), never here."""
    if ref.in_vault:
        raise SecretError(ref.location, f"{ref} is read from Key Vault at apply time, not from this machine")
    value, message = _read(ref, environ)
    if message is not None:
        raise SecretError(ref.location, message)
    return value


def missing_secret_diagnostics(
    state: DesiredState, severity: Severity, environ: Mapping[str, str] = os.environ
) -> list[Diagnostic]:
    """One located diagnostic per secret reference that cannot be resolved now."""
    found = []
    for keyset in state.keysets:
        for key in keyset.keys:
            what = "password file" if key.kind is KeyKind.PKCS12 else "secret file"
            message = problem(key.secret, environ, what) if key.secret is not None else None
            if message is not None:
                found.append(Diagnostic(severity, message, key.secret.location))
    return found


def reference_warnings(state: DesiredState, environ: Mapping[str, str] = os.environ) -> list[Diagnostic]:
    """What `validate` and `plan` say about the secrets before anything needs them (the
    plan holds references only): one located warning per reference apply could not read
    now, saying what to set, then `secret_warnings`."""
    needs = {key.secret.location: "plan and apply need it" if key.kind is KeyKind.PKCS12 else "apply needs it"
             for keyset in state.keysets for key in keyset.keys if key.secret is not None}
    missing = [Diagnostic(d.severity, f"{d.message}; {needs.get(d.location, 'apply needs it')}", d.location)
               for d in missing_secret_diagnostics(state, Severity.WARNING, environ)]
    return missing + secret_warnings(state, environ)


def secret_warnings(state: DesiredState, environ: Mapping[str, str] = os.environ) -> list[Diagnostic]:
    """What validate and apply warn about before using the secrets: files others may read
    (`loose_file_warnings`), and each variable whose trailing line break will not be uploaded."""
    found = loose_file_warnings(state)
    for keyset in state.keysets:
        for key in keyset.keys:
            ref = key.secret
            value = environ.get(ref.name) if ref is not None and ref.source == "env" else None
            if value is not None and _without_line_break(value) != value:
                found.append(Diagnostic(Severity.WARNING, f"environment variable {ref.name} ends with a line break, "
                                        "which b2ckeys drops: one trailing line break is never part of a secret, "
                                        "a variable's as a file's", ref.location))
    return found


def loose_file_warnings(state: DesiredState) -> list[Diagnostic]:
    """A warning at each private file whose file group or others may read: a `file:` secret
    (a secret value, a PKCS#12 password) and a PKCS#12 file (it holds a private key). A
    `certificate` file is public and not warned about."""
    found = []
    for keyset in state.keysets:
        for key in keyset.keys:
            private = [(key.secret, "secret file")] + ([(key.file, "PKCS#12 file")] if key.kind is KeyKind.PKCS12 else [])
            found += [d for ref, what in private if ref is not None and (d := _loose(ref, what)) is not None]
    return found


def _loose(ref: SecretRef, what: str) -> Diagnostic | None:
    if ref.source != "file" or os.name == "nt" or confinement_problem(ref):
        return None
    try:
        mode = os.stat(file_path(ref)).st_mode
    except (OSError, ValueError):
        return None
    if not (stat.S_ISREG(mode) and mode & (stat.S_IRGRP | stat.S_IROTH)):
        return None
    who = " and ".join(w for w, bit in (("group", stat.S_IRGRP), ("others", stat.S_IROTH)) if mode & bit)
    return Diagnostic(Severity.WARNING, f"{what} {file_path(ref)} is readable by {who} "
                      f"(mode {stat.S_IMODE(mode):04o}); make it private: chmod 600 {file_path(ref)}", ref.location)


def file_path(ref: SecretRef) -> str:
    """Where a `file:` reference points: relative to the manifest's folder."""
    return os.path.join(ref.base_dir, ref.name)


def root_of(ref: SecretRef) -> str:
    return ref.root or repository_root(ref.base_dir)


def confinement_problem(ref: SecretRef, what: str = "secret file") -> str | None:
    """Why a `file:` reference (a secret, a password, a certificate or PKCS#12 file: `what`)
    is refused (it leads outside its root), or None."""
    reason = escape(ref.name, ref.base_dir, root_of(ref))
    if reason is None:
        return None
    return (f"{what} {ref.name} is refused: {reason}; a {what} must be inside the repository, "
            "or inside B2CKEYS_SECRETS_ROOT when that is set")


def _read(ref: SecretRef, environ: Mapping[str, str], what: str = "secret file"
          ) -> tuple[str, None] | tuple[None, str]:
    if ref.source == "env":
        return _read_env(ref.name, environ)
    if ref.source == "file":
        refused = confinement_problem(ref, what)
        if refused:
            return None, refused
        return _read_file(file_path(ref), what)
    if ref.in_vault:  # offline, only its shape is checked (the schema did); the session reads the vault
        return "", None
    return None, f"unknown secret source '{ref.source}' (use env or file)"


def _read_env(name: str, environ: Mapping[str, str]) -> tuple[str, None] | tuple[None, str]:
    value = environ.get(name)
    if value is None:
        return None, f"environment variable {name} is not set"
    value = _without_line_break(value)
    if value == "":
        return None, f"environment variable {name} is empty"
    return value, None


def _read_file(path: str, what: str = "secret file") -> tuple[str, None] | tuple[None, str]:
    if not os.path.exists(path):
        return None, f"{what} {path} does not exist"
    if os.path.isdir(path):
        return None, f"{what} {path} is a folder"
    try:
        raw = read_regular_file(os.path.realpath(path), MAX_SECRET_BYTES)  # the path just checked
    except OSError as e:
        return None, f"{what} {path} cannot be read: {e.strerror or type(e).__name__}"
    except ValueError as e:
        return None, f"{what} {path} is {e}"
    try:
        value = raw.decode("utf-8-sig")  # a BOM (Windows editors) is not part of the secret
    except UnicodeDecodeError:
        return None, f"{what} {path} is not valid UTF-8"
    value = _without_line_break(value)
    if value == "":
        return None, f"{what} {path} is empty"
    return value, None


def _without_line_break(value: str) -> str:
    """`value` without one trailing line break, the rule for every secret."""
    return value[:-2] if value.endswith("\r\n") else value[:-1] if value.endswith("\n") else value
