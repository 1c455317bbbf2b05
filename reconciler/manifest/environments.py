"""The environments file: one set of manifests, several tenants (dev, test, prod).

`b2ckeys.yaml`, in the current folder or else at the root of its git work tree, names
each environment's tenant and its variables:

    version: 1
    environments:
      dev:
        tenant: contoso-dev.onmicrosoft.com
        variables: {vault: kv-b2c-dev}

`--env NAME` (or B2CKEYS_ENV) selects one. Manifests use its variables as `${NAME}`
inside references and `tenant` (`variables`), and a key set may be limited to some
environments (`environments: [dev]`). With an environments file and no environment
selected, `validate` checks every environment and the other commands refuse.
Without one, nothing changes. The file is checked against
`schemas/environments.schema.json`; every problem is located.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from typing import Mapping

from ..core.diagnostics import Diagnostic, Location, Severity, shown
from ..core.errors import ConfigError, ManifestError
from ..core.shipped import shipped_file
from .confine import repository_root
from .files import ENVIRONMENTS_FILE
from .yamlload import load_document
from .yamltree import Document

FILE_NAME = ENVIRONMENTS_FILE
ENV_VARIABLE = "B2CKEYS_ENV"
SCHEMA_NAME = "environments.schema.json"


@dataclass(frozen=True, slots=True)
class Environment:
    """One environment: its name, tenant and variables, and where the file defines it."""

    name: str
    tenant: str
    variables: tuple[tuple[str, str], ...]
    location: Location


@dataclass(frozen=True, slots=True)
class Scope:
    """What loading manifests for one environment needs: the environment, and every
    environment's name (a key set's `environments:` may only name those)."""

    environment: Environment
    names: tuple[str, ...]
    file: str

    @property
    def name(self) -> str:
        return self.environment.name

    @property
    def tenant(self) -> str:
        return self.environment.tenant


def find_file(start: str | None = None) -> str | None:
    """`b2ckeys.yaml` in `start` (the current folder), else at the root of its git work tree."""
    here = os.path.abspath(start or os.curdir)
    for folder in (here, repository_root(here)):
        candidate = os.path.join(folder, FILE_NAME)
        if os.path.isfile(candidate):
            return os.path.relpath(candidate) if start is None else candidate
    return None


def load_file(path: str) -> tuple[Environment, ...]:
    """Every environment the file defines, in its order; ManifestError with every problem."""
    doc, problems = load_document(path)
    if doc.data is not None and not problems:
        problems = _schema_problems(doc)
    if problems:
        raise ManifestError(problems)
    found = []
    for name, body in doc.data["environments"].items():
        variables = tuple(sorted((body.get("variables") or {}).items()))
        found.append(Environment(name, body["tenant"], variables, doc.key_at(("environments", name))))
    return tuple(found)


def every_scope(environ: Mapping[str, str]) -> tuple[Scope, ...] | None:
    """`validate`: the selected environment (--env, B2CKEYS_ENV), else every one; None
    without an environments file."""
    path = find_file()
    if path is None:
        _refuse_selection_without_file(environ)
        return None
    environments = load_file(path)
    chosen = environ.get(ENV_VARIABLE)
    names = tuple(e.name for e in environments)
    if chosen:
        return (_scope(path, environments, chosen),)
    return tuple(Scope(e, names, path) for e in environments)


def selected_scope(environ: Mapping[str, str], *, command: str, saved: str | None = None) -> Scope | None:
    """The one environment `command` works in: --env (B2CKEYS_ENV), else `saved` (the
    environment a saved plan recorded); None without an environments file. With a file
    and nothing selected, ConfigError listing the environments."""
    path = find_file()
    if path is None:
        _refuse_selection_without_file(environ)
        return None
    environments = load_file(path)
    chosen = environ.get(ENV_VARIABLE) or saved
    if not chosen:
        names = ", ".join(shown(e.name) for e in environments)
        raise ConfigError(f"{path} defines the environments {names}: say which one 'b2ckeys {command}' is for "
                          f"with --env NAME (or {ENV_VARIABLE}=NAME); nothing was read or changed")
    return _scope(path, environments, chosen)


def _scope(path: str, environments: tuple[Environment, ...], name: str) -> Scope:
    names = tuple(e.name for e in environments)
    for environment in environments:
        if environment.name == name:
            return Scope(environment, names, path)
    raise ConfigError(f"no environment '{shown(name)}' in {path} (--env or {ENV_VARIABLE}); it defines: "
                      f"{', '.join(shown(n) for n in names)}")


def _refuse_selection_without_file(environ: Mapping[str, str]) -> None:
    chosen = environ.get(ENV_VARIABLE)
    if chosen:
        here = os.path.abspath(os.curdir)
        raise ConfigError(f"environment '{shown(chosen)}' was selected (--env or {ENV_VARIABLE}), but there is "
                          f"no {FILE_NAME} in {here} nor at the root of its git work tree; run b2ckeys from the "
                          f"folder that holds it, or drop --env")


@functools.lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator  # lazily: only a run with an environments file needs it

    with open(shipped_file("schemas", SCHEMA_NAME), encoding="utf-8") as fh:
        return Draft202012Validator(json.load(fh))


def _schema_problems(doc: Document) -> list[Diagnostic]:
    """Each schema error at the node it is about, in the file's order."""
    found = {}
    for error in _validator().iter_errors(doc.data):
        path = tuple(error.absolute_path)
        where = "the file" if not path else "'" + ".".join(str(p) for p in path) + "'"
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = ", ".join(error.schema.get("properties", {}))
            for extra in (k for k in error.instance if k not in error.schema.get("properties", {})):
                found[doc.key_at(path + (extra,))] = f"unknown property '{shown(extra)}' (allowed: {allowed})"
            continue
        parent = _get(doc.data, path)
        if error.validator == "pattern" and isinstance(parent, dict) and error.instance in parent:  # propertyNames
            bad = error.instance
            what = "an environment" if path == ("environments",) else "a variable"
            found[doc.key_at(path + (bad,))] = (f"'{shown(bad)}' is not a name {what} may have (letters, digits, "
                                                "'_'" + (", '.' and '-'" if what == "an environment" else "") + ")")
            continue
        found.setdefault(doc.at(path), f"{where}: {shown(error.message)}")
    return [Diagnostic(Severity.ERROR, message, location)
            for location, message in sorted(found.items(), key=lambda item: (item[0].line, item[0].column))]


def _get(data, path):
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def keyset_problem(scope: Scope | None, listed: list[str]) -> str | None:
    """What is wrong with a key set's `environments:` list, or None."""
    if scope is None:
        return (f"'environments' limits a key set to some environments of the environments file ({FILE_NAME}), "
                "but there is none here or at the root of the git work tree; add one, or remove 'environments'")
    unknown = [n for n in listed if n not in scope.names]
    if unknown:
        return (f"no environment '{shown(unknown[0])}' in {scope.file}; it defines: "
                f"{', '.join(shown(n) for n in scope.names)}")
    return None


def other_tenant(scope: Scope, tenant: str) -> str:
    return (f"tenant '{shown(tenant)}' is not the tenant of environment '{scope.name}' ({scope.tenant}, "
            f"{scope.environment.location}); leave tenant out of the manifests (the environment's tenant is the "
            "guard), or make them the same")


def labelled(found: dict[str, list[Diagnostic]], names: tuple[str, ...]) -> list[Diagnostic]:
    """The diagnostics of several environments, each once, saying which environments it
    is about ("every environment" when it is about each of several)."""
    where: dict[Diagnostic, list[str]] = {}
    for name, diagnostics in found.items():
        for d in diagnostics:
            where.setdefault(d, []).append(name)
    out = []
    for d, envs in where.items():
        said = ("every environment" if len(envs) == len(names) > 1
                else f"environment{'s' if len(envs) > 1 else ''} {', '.join(envs)}")
        out.append(Diagnostic(d.severity, f"{d.message} [{said}]", d.location))
    return out
