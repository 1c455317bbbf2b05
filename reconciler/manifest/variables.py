"""`${NAME}` variables of the environments file, put into a loaded manifest.

Substitution runs on the located tree (`yamltree.Document`) before the schema check,
so every later step sees plain values and every problem keeps its file:line:column.

Variables are allowed only where a value says *where* something is, never *what* is
declared:
- inside a reference: every string under `value:` or `password:` (`{env: ...}`,
  `{file: ...}`, `{keyVault: {...}}`), and `file:` of a certificate (a path, or every
  string under `keyVault:`);
- the top-level `tenant`.
Anywhere else (key set names, kinds, dates, ...) a `${NAME}` is an error: custom
policies reference key sets by fixed names, so a key set is the same in every
environment, and only where its secrets come from differs.

`$${` is a literal `${`. A `$` not followed by `{` is itself. A string written directly
under `value:` or `password:` (a literal secret, which the schema refuses) is neither
changed nor quoted.
"""

from __future__ import annotations

import re
from typing import Any

from ..core.diagnostics import Diagnostic, Severity, shown
from .environments import FILE_NAME, Scope
from .yamltree import Document, Path

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)(\}?)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SECRET_FIELDS = ("value", "password")
_REFERENCE_FIELDS = _SECRET_FIELDS + ("file",)
WHY = ("policies reference key sets by fixed names, so a key set is the same in every environment; only "
       "where its secrets come from (env:, file:, keyVault:) and the tenant may differ")


def substitute(doc: Document, scope: Scope | None) -> list[Diagnostic]:
    """Puts the variables of `scope`'s environment into `doc.data`, in place; the problems
    found, located. Without an environments file (`scope` None), a `${NAME}` is an error."""
    problems: list[Diagnostic] = []
    _walk(doc, doc.data, (), scope, problems)
    return problems


def _walk(doc: Document, node: Any, path: Path, scope: Scope | None, problems: list[Diagnostic]) -> Any:
    if isinstance(node, dict):
        for key in node:
            node[key] = _walk(doc, node[key], path + (key,), scope, problems)
        return node
    if isinstance(node, list):
        for i, item in enumerate(node):
            node[i] = _walk(doc, item, path + (i,), scope, problems)
        return node
    if not isinstance(node, str) or "$" not in node:
        return node
    where = _place(path)
    if where == "literal":
        return node  # a literal secret: the schema refuses it without quoting it
    if where == "elsewhere":
        found = next((m for m in _TOKEN.finditer(node) if m.group(0) != "$${"), None)
        if found:
            problems.append(_error(doc, path, f"'{shown(found.group(0))}' in '{path[-1]}': variables are allowed "
                                              f"only inside references and in tenant: {WHY}"))
        return node
    return _replace(doc, node, path, scope, problems)


def _place(path: Path) -> str:
    """"reference" (variables allowed), "literal" (a string right under value/password)
    or "elsewhere"."""
    if path == ("tenant",):
        return "reference"
    if len(path) >= 5 and path[0] == "keySets" and path[2] == "keys" and path[4] in _REFERENCE_FIELDS:
        if len(path) == 5 and path[4] in _SECRET_FIELDS:
            return "literal"
        return "reference"
    return "elsewhere"


def _replace(doc: Document, text: str, path: Path, scope: Scope | None, problems: list[Diagnostic]) -> str:
    values = dict(scope.environment.variables) if scope else {}
    out, end = [], 0
    for m in _TOKEN.finditer(text):
        out.append(text[end:m.start()])
        end = m.end()
        if m.group(0) == "$${":
            out.append("${")
            continue
        name, closed = m.group(1), m.group(2)
        problem = _problem(name, closed, scope, values)
        if problem:
            problems.append(_error(doc, path, problem))
            return text
        out.append(values[name])
    out.append(text[end:])
    result = "".join(out)
    if "${" in result and path[-1] in ("env", "tenant"):  # the schema lets ${ through for editors only
        what = "an environment variable name" if path[-1] == "env" else "a tenant"
        problems.append(_error(doc, path, f"a literal ${{ (written $${{) cannot be part of {what}"))
    return result


def _problem(name: str, closed: str, scope: Scope | None, values: dict[str, str]) -> str | None:
    if not closed:
        return "'${' is not closed: write ${NAME}, or $${ for a literal ${"
    if not _NAME.match(name):
        return (f"'${{{shown(name)}}}' is not a variable name (letters, digits and '_', not starting with a "
                f"digit); write $${{ for a literal ${{")
    if scope is None:
        return (f"'${{{name}}}' is a variable, but there is no environments file ({FILE_NAME}) here or at the "
                f"root of the git work tree to define it; add one (docs/environments.md), or write $${{ for a "
                f"literal ${{")
    if name not in values:
        defined = ", ".join(sorted(values)) or "no variables"
        return (f"unknown variable '${{{name}}}': environment '{scope.name}' ({scope.environment.location}) "
                f"defines {defined}; add {name} under its variables")
    return None


def _error(doc: Document, path: Path, message: str) -> Diagnostic:
    return Diagnostic(Severity.ERROR, message, doc.at(path))
