"""Manifests → `DesiredState`: load the files (`files` finds them), put in the environment's
`${NAME}` variables (`variables`), check them, merge them.

Each file is read with locations (`yamlload`), checked against the JSON Schema (`schema`),
then for what the schema cannot say: dates (`dates`), a key set declared twice (in one file
or across files), RSA and oct or sig and enc keys in one key set, the same key twice,
different tenants or `prune` settings, rotation settings, reserved key set names (`names`),
a `{file: PATH}` leading out of the repository (`confine`), a key set's `environments`.
Every error of every file is raised together as one `ManifestError`. Certificate files are
read later (`certificates`).
"""

from __future__ import annotations

import contextlib
import gc
import os
from dataclasses import dataclass
from typing import Any, Sequence

from ..core.diagnostics import Diagnostic, Location, Severity
from ..core.errors import ConfigError, ManifestError
from ..core.model import (KEYSET_PREFIX, DesiredKey, DesiredKeySet, DesiredState, KeyKind, KeyType, KeyUse, Rotation,
                          SecretRef, keyset_id, strip_prefix)
from .confine import SECRETS_ROOT_VARIABLE, repository_root
from .dates import DateRefused, to_epoch
from .environments import Scope, keyset_problem, other_tenant
from .files import find_manifest_files
from .names import reserved
from .schema import validate
from .secrets import confinement_problem
from .variables import substitute
from .vaultrefs import vault_ref
from .yamlload import load_document
from .yamltree import Document, Path

_INVALID = object()  # a date that was reported as invalid
_UNITS = {"d": 86_400, "h": 3_600}


@dataclass(frozen=True)
class LoadResult:
    state: DesiredState
    warnings: tuple[Diagnostic, ...] = ()


def load_manifests(paths: Sequence[str], *, secrets_root: str | None = None, scope: Scope | None = None
                   ) -> LoadResult:
    """Load, check and merge the manifests; `ManifestError` with every error found. `secrets_root`
    (B2CKEYS_SECRETS_ROOT): the folder `{file: PATH}` references must stay in (`confine`; by default
    each manifest's repository); `scope`: the environment whose variables and key sets are loaded."""
    if secrets_root:
        if not os.path.isdir(secrets_root):
            raise ConfigError(f"{SECRETS_ROOT_VARIABLE}={secrets_root}: no such folder")
        secrets_root = os.path.realpath(secrets_root)
    files = find_manifest_files(paths)
    merger = _Merger(secrets_root or "", scope)
    with _without_cycle_collection():
        for path in files:
            merger.add(path)
    if merger.errors:
        raise ManifestError(merger.errors)
    tenant = merger.tenant or (scope.tenant if scope else None)  # the environment's tenant is the guard
    state = DesiredState(tuple(merger.keysets), tenant, tuple(files), bool(merger.prune),
                         tuple(sorted(merger.protected, key=str.upper)))
    return LoadResult(state, tuple(merger.warnings))


@contextlib.contextmanager
def _without_cycle_collection():
    """Loading makes hundreds of thousands of small objects with no reference cycles among
    them; meanwhile the cyclic collector would walk the growing heap again and again (a fifth
    of the time of a large load). Reference counting frees them; the collector runs after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Merger:
    """Accumulates key sets and diagnostics over files, in order."""

    def __init__(self, secrets_root: str = "", scope: Scope | None = None) -> None:
        self.secrets_root, self.scope = secrets_root, scope
        self.keysets: list[DesiredKeySet] = []
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.tenant: str | None = None
        self._tenant_at: Location | None = None
        self._declared: dict[str, Location] = {}  # upper-case id → first declaration
        self.prune: bool | None = None
        self._prune_at: Location | None = None
        self.protected: set[str] = set()

    def add(self, path: str) -> None:
        doc, diagnostics = load_document(path)
        if doc.data is not None:
            diagnostics += substitute(doc, self.scope)  # ${NAME} variables, before the schema sees the values
            problems = validate(doc)
            said = {d.location for d in diagnostics}  # the loader's word on a value is enough
            diagnostics += [p.diagnostic for p in problems if p.diagnostic.location not in said]
            diagnostics += _FileChecker(doc, {p.path for p in problems}, self).run()
        for d in sorted(diagnostics, key=lambda d: (d.location.line, d.location.column) if d.location else (0, 0)):
            (self.errors if d.severity is Severity.ERROR else self.warnings).append(d)

    def declare(self, keyset: DesiredKeySet) -> Diagnostic | None:
        first = self._declared.get(keyset.id.upper())
        if first is not None:
            return _error(keyset.location, f"key set '{keyset.id}' is declared twice: also at {first}")
        self._declared[keyset.id.upper()] = keyset.location
        self.keysets.append(keyset)
        return None

    def guard_tenant(self, tenant: str, location: Location) -> Diagnostic | None:
        if self.scope and tenant.lower() != self.scope.tenant.lower():  # the environment's tenant is the guard
            return _error(location, other_tenant(self.scope, tenant))
        if self.tenant is None:
            self.tenant, self._tenant_at = tenant, location
        elif tenant.lower() != self.tenant.lower():
            return _error(location, f"tenant '{tenant}' differs from tenant '{self.tenant}' at {self._tenant_at}: "
                                    "all manifests of one run must name the same tenant")
        return None

    def set_prune(self, prune: bool, location: Location) -> Diagnostic | None:
        if self.prune is None:
            self.prune, self._prune_at = prune, location
        elif prune != self.prune:
            return _error(location, f"prune: {str(prune).lower()} differs from prune: {str(self.prune).lower()} at "
                                    f"{self._prune_at}: prune applies to the whole run, so manifests must agree")
        return None

    def protect(self, name: str) -> None:
        if not any(p.upper() == keyset_id(name).upper() for p in self.protected):
            self.protected.add(keyset_id(name))


class _FileChecker:
    """Builds one file's key sets from schema-valid parts and runs the semantic checks."""

    def __init__(self, doc: Document, bad: set[Path], merger: _Merger):
        self.doc, self.bad, self.merger = doc, bad, merger
        self.out: list[Diagnostic] = []

    def run(self) -> list[Diagnostic]:
        data = self.doc.data
        tenant = data.get("tenant")
        if isinstance(tenant, str) and self._ok(("tenant",)):
            self._emit(self.merger.guard_tenant(tenant, self.doc.at(("tenant",))))
        if isinstance(data.get("prune"), bool) and self._ok(("prune",)):
            self._emit(self.merger.set_prune(data["prune"], self.doc.at(("prune",))))
        protect = data.get("protect")
        if isinstance(protect, list) and self._ok(("protect",)):
            for name in protect:
                self.merger.protect(name)
        keysets = data.get("keySets")
        if keysets == []:
            self.out.append(Diagnostic(Severity.WARNING, "this manifest declares no key sets", self.doc.at(("keySets",))))
        for i, item in enumerate(keysets if isinstance(keysets, list) else []):
            keyset = self._keyset(("keySets", i), item)
            if keyset is not None:
                self._emit(self.merger.declare(keyset))
        return self.out

    def _keyset(self, path: Path, item: Any) -> DesiredKeySet | None:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not self._ok(path + ("name",)):
            return None
        name = strip_prefix(item["name"])
        if not name:
            self._emit(_error(self.doc.at(path + ("name",)), f"key set name must not be just the {KEYSET_PREFIX} prefix"))
            return None
        why = reserved(name)
        if why:
            self._emit(_error(self.doc.at(path + ("name",)), f"key set name '{item['name']}' {why}"))
            return None
        only = item.get("environments")
        if isinstance(only, list) and self._ok(path + ("environments",)):
            problem = keyset_problem(self.merger.scope, only)
            self._emit(problem and _error(self.doc.at(path + ("environments",)), problem))
            if problem or self.merger.scope.name not in only:  # not this environment's key set
                return None
        listed = item.get("keys")
        keys = [self._key(path + ("keys", j), k) for j, k in enumerate(listed if isinstance(listed, list) else [])]
        keys = [k for k in keys if k is not None]
        self._check_keys(keyset_id(name), keys)
        if item.get("protect") is True:
            self.merger.protect(name)
        return DesiredKeySet(name, tuple(keys), self.doc.at(path), item.get("protect") is True,
                             item.get("disableUnmanagedKeys") is True)

    def _key(self, path: Path, item: Any) -> DesiredKey | None:
        if not self._ok(path) or not isinstance(item, dict):
            return None
        kind = KeyKind(item["kind"])
        nbf, exp = self._epoch(path + ("nbf",), item), self._epoch(path + ("exp",), item)
        if nbf is _INVALID or exp is _INVALID:
            return None
        if nbf is not None and exp is not None and nbf >= exp:
            exp_line = self.doc.at(path + ("exp",)).line
            self._emit(_error(self.doc.at(path + ("nbf",)), f"'nbf' must be before 'exp' (line {exp_line})"))
            return None
        secret = self._ref(path + ("value",), item) or self._ref(path + ("password",), item)
        certificate = self._ref(path + ("file",), item) if kind.is_certificate else None
        rotate = self._rotation(path + ("rotate",), item)
        if _INVALID in (secret, certificate, rotate):
            return None
        if secret is not None and secret.in_vault and not secret.pinned and (nbf, exp) != (None, None):
            written = path + ("nbf" if nbf is not None else "exp",)
            self._emit(Diagnostic(Severity.WARNING, VAULT_DATES, self.doc.at(written)))
        kty = KeyType(item["kty"]) if kind is KeyKind.GENERATE else KeyType.OCT if kind is KeyKind.SECRET else KeyType.RSA
        return DesiredKey(kind, kty, KeyUse(item.get("use", "sig")), nbf, exp, secret, self.doc.at(path),
                          file=certificate, rotate=rotate)

    def _ref(self, path: Path, item: dict) -> Any:
        """The reference at `path` (`file: PATH` for a certificate), None when absent, _INVALID (reported) for a file out of its root."""
        if path[-1] not in item:
            return None
        if isinstance(item[path[-1]], dict) and "keyVault" in item[path[-1]]:  # reconciler.manifest.vaultrefs
            return vault_ref(item[path[-1]]["keyVault"], self.doc.at(path + ("keyVault",)))
        source, name = ("file", item["file"]) if path[-1] == "file" else next(iter(item[path[-1]].items()))
        base_dir = os.path.dirname(self.doc.path)
        root = (self.merger.secrets_root or repository_root(base_dir)) if source == "file" else ""
        ref = SecretRef(source, name, self.doc.at(path), base_dir, root)
        what = {"file": f"{'PKCS#12' if item.get('kind') == 'pkcs12' else 'certificate'} file",
                "password": "password file"}.get(path[-1], "secret file")
        refused = confinement_problem(ref, what) if source == "file" else None
        if refused:
            self._emit(_error(ref.location, refused))
            return _INVALID
        return ref

    def _rotation(self, path: Path, item: dict) -> Any:
        """Rotation in seconds, None when absent, _INVALID (reported) when it cannot work."""
        if "rotate" not in item:
            return None
        for date in ("nbf", "exp"):
            if date in item:
                self._emit(_error(self.doc.at(path[:-1] + (date,)), f"'{date}' is not allowed with 'rotate' "
                                                                    "(rotation computes each key's nbf and exp)"))
                return _INVALID
        lifetime, renew = (int(item["rotate"][n][:-1]) * _UNITS[item["rotate"][n][-1]] for n in ("lifetime", "renewBefore"))
        if 2 * renew > lifetime:
            self._emit(_error(self.doc.at(path + ("renewBefore",)), "'renewBefore' must be at most half of 'lifetime' "
                              "(the successor takes over renewBefore/2 before its predecessor expires)"))
            return _INVALID
        return Rotation(lifetime, renew)

    def _epoch(self, path: Path, item: dict) -> Any:
        """Epoch seconds, None when absent, _INVALID (reported) when not a date B2C takes (`dates`)."""
        value = item.get(path[-1])
        if value is None:
            return None
        try:
            return to_epoch(value)
        except DateRefused as e:
            self._emit(_error(self.doc.at(path), f"'{path[-1]}' {e}"))
            return _INVALID

    def _check_keys(self, kid: str, keys: list[DesiredKey]) -> None:
        if not keys:
            return
        first = keys[0]
        for attr, code in (("kty", "AADB2C95032"), ("use", "AADB2C95042")):
            other = next((k for k in keys if getattr(k, attr) is not getattr(first, attr)), None)
            if other is not None:
                a, b = getattr(first, attr).value, getattr(other, attr).value
                pair = " and ".join(sorted((a, b), key=lambda v: v not in ("RSA", "sig")))
                self._emit(_error(other.location, f"B2C refuses to mix {pair} keys in one key set ({code}); "
                                                  f"the first key, at line {first.location.line}, is {a}"))
        rotating = [k for k in keys if k.rotate is not None]
        if len(rotating) > 1:
            self._emit(_error(rotating[1].location, f"key set '{kid}' has two rotating keys; one rotation per key set "
                                                    f"(the first is at line {rotating[0].location.line})"))
        seen: dict[tuple, DesiredKey] = {}
        for key in keys:
            if key.rotate is not None:
                continue  # its keys get dates of their own: they never collide with a fixed key
            earlier = seen.setdefault(key.identity, key)
            if earlier is not key:
                self._emit(_error(key.location, f"the same key (kty, use, nbf, exp) is declared twice in key set "
                                                f"'{kid}': also at line {earlier.location.line}"))

    def _ok(self, path: Path) -> bool:
        """No schema problem at `path` or below it."""
        return not any(p[: len(path)] == path for p in self.bad)

    def _emit(self, diagnostic: Diagnostic | None) -> None:
        if diagnostic is not None:
            self.out.append(diagnostic)


VAULT_DATES = ("dates written here win over the Key Vault version's: a new version in the vault makes no new "
               "key, so it is never uploaded; leave nbf and exp out to rotate with the vault, or pin a version")


def _error(location: Location | None, message: str) -> Diagnostic:
    return Diagnostic(Severity.ERROR, message, location)
