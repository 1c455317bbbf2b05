"""JSON Schema validation of one loaded manifest, errors mapped to file:line:column.

Every schema error is collected (`iter_errors`), rewritten into a short message,
and placed at the node it is about: the offending key for an unknown property,
the mapping that lacks a required property, the value otherwise.

Messages never quote what the user wrote, except for the few fields that can
not hold a secret (`kind`, `kty`, `use`, `version`, `name`) and property names
outside `value`: a string written under `value` may be a literal secret.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple

from ..core.diagnostics import Diagnostic, Severity, shown
from ..core.shipped import shipped_file
from . import names
from .dates import RANGE, TIME_FORMAT, DateRefused, to_epoch
from .schemacheck import compile_check
from .yamltree import Document, Path

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_FILE = shipped_file("schemas", "keysets.schema.json")

LITERAL_SECRET = (
    "a secret must not be written in the manifest; reference it: "
    "value: {env: NAME} or value: {file: path/to/file}"
)
LITERAL_PASSWORD = (
    "a password must not be written in the manifest; reference it: "
    "password: {env: NAME} or password: {file: path/to/file}"
)
_SECRET_FIELDS = ("value", "password")  # what is written under these may be a literal secret
_ECHO = {"kind", "kty", "use", "version", "name"}  # values safe to quote back
_TYPE_WORDS = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "a whole number"}
_PATTERN_MESSAGES = {
    "tenant": "must be a domain (contoso.onmicrosoft.com) or a tenant id (GUID)",
    "env": "must be an environment variable name (letters, digits and '_', not starting with a digit)",
    "lifetime": "must be a whole number of days or hours, e.g. 180d or 12h",
    "renewBefore": "must be a whole number of days or hours, e.g. 30d or 12h",
}
_REQUIRED_HINTS = {
    "kty": " (RSA or oct)",
    "value": " (value: {env: NAME}, value: {file: path/to/file} or value: {keyVault: {vault: NAME, secret: NAME}})",
    "version": " (version: 1)",
    "file": " (file: path/to/certificate, relative to this manifest)",
    "password": " (password: {env: NAME} or password: {file: path/to/file})",
    "lifetime": " (e.g. lifetime: 180d)",
    "renewBefore": " (e.g. renewBefore: 30d)",
}
_CERT = ("certificate", "pkcs12")
_NOT_ALLOWED_HINTS = {  # (kind, property) -> why
    **{("secret", "kty"): " (a secret key is always oct)", ("secret", "rotate"): " (to rotate a secret, add a key "
       "with a later nbf)"},
    **{("generate", name): " (B2C generates the key)" for name in ("value", "file", "password")},
    **{(kind, "kty"): " (a certificate key is RSA)" for kind in _CERT},
    **{(kind, name): " (the certificate's own validity is used)" for kind in _CERT for name in ("nbf", "exp")},
    **{(kind, "value"): " (the key comes from 'file')" for kind in _CERT},
    ("pkcs12", "password"): " with a Key Vault certificate (its PFX has none; b2ckeys re-wraps it with a one-time password)",
    **{(kind, "rotate"): " (only generated keys rotate; to rotate a certificate, add a key with the new one)"
       for kind in _CERT},
    ("secret", "file"): " (use value: {file: path/to/file})",
    ("secret", "password"): " (only kind pkcs12 has a password)",
    ("certificate", "password"): " (a .pfx file with a password is kind pkcs12)",
}


class Problem(NamedTuple):
    """A schema finding: the JSON path it is about and the located diagnostic."""

    path: Path
    diagnostic: Diagnostic


@functools.lru_cache(maxsize=1)
def load_schema() -> dict:
    with open(SCHEMA_FILE, encoding="utf-8") as fh:
        return json.load(fh)


@functools.lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # lazily: only an invalid manifest needs jsonschema's messages

    return Draft202012Validator(_inline_refs(load_schema()))


_ANNOTATIONS = {"title", "description", "examples", "default", "$comment"}


def _inline_refs(schema: dict) -> dict:
    """The schema with each local `$ref` replaced by what it points to: the same rules,
    checked about a third faster (jsonschema resolves every `$ref` anew on every value,
    which for a manifest of thousands of keys costs seconds). The schema has no
    recursive references."""
    defs = schema.get("$defs", {})

    def walk(node):
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: walk(value) for key, value in node.items() if key != "$defs"}
        ref = out.pop("$ref", None)
        if ref is None:
            return out
        target = walk(defs[ref.removeprefix("#/$defs/")])
        if set(out) <= _ANNOTATIONS:
            return {**target, **out}
        return {**out, "allOf": [target, *out.get("allOf", [])]}

    return walk(schema)


@functools.lru_cache(maxsize=1)
def _fast_check():
    return compile_check(_inline_refs(load_schema()))


def validate(doc: Document) -> list[Problem]:
    """Every schema problem of `doc`, sorted by location, duplicates dropped. A valid
    document is told apart quickly (`schemacheck`); jsonschema finds the problems."""
    fast = _fast_check()
    if fast is not None and fast(doc.data):
        return []
    problems = {p: None for e in _validator().iter_errors(doc.data) for p in _problems(doc, e)}
    return sorted(problems, key=lambda p: (p.diagnostic.location, p.diagnostic.message))


def _problems(doc: Document, error: ValidationError) -> Iterator[Problem]:
    path = tuple(error.absolute_path)
    inst, kind = error.instance, error.validator

    def at(where: Path, message: str, key: bool = False) -> Problem:
        location = doc.key_at(where) if key else doc.at(where)
        return Problem(where, Diagnostic(Severity.ERROR, message, location))

    if kind == "additionalProperties":
        allowed = ", ".join(_allowed(error.schema, inst))
        for extra in (k for k in inst if k not in error.schema.get("properties", {})):
            if _field(path) in _SECRET_FIELDS:  # could be a secret written as a key: don't echo it
                yield at(path + (extra,), f"unknown property in '{_field(path)}' (allowed: {allowed})", key=True)
            else:
                yield at(path + (extra,), f"unknown property '{shown(extra)}' (allowed: {allowed})", key=True)
    elif kind == "required":
        for name in (n for n in error.validator_value if n not in inst):
            yield at(path, f"missing required property '{name}'{_REQUIRED_HINTS.get(name, '')}")
    elif kind in ("minimum", "maximum") and isinstance(inst, float) and not inst.is_integer():
        return  # not a whole number: the type's message says what a date may be
    elif kind == "not" and isinstance(inst, dict):
        for name in error.validator_value.get("required", []):
            hint = _NOT_ALLOWED_HINTS.get((inst.get("kind"), name), "")
            yield at(path + (name,), f"'{name}' is not allowed for kind {inst.get('kind')}{hint}", key=True)
    elif kind != "not":
        yield at(path, _message(error, path))


def _message(error: ValidationError, path: Path) -> str:
    field, inst, kind, expected = _field(path), error.instance, error.validator, error.validator_value
    what = _describe(path)
    if field in ("nbf", "exp") and kind in ("type", "pattern"):
        return f"{what} {_date_problem(inst) if kind == 'pattern' else TIME_FORMAT}"
    if kind == "type":
        if field in _SECRET_FIELDS and not isinstance(inst, (dict, list)):
            return LITERAL_SECRET if field == "value" else LITERAL_PASSWORD
        words = [_TYPE_WORDS.get(t, t) for t in ([expected] if isinstance(expected, str) else expected)]
        return f"{what} must be {' or '.join(words)}"
    if kind == "enum":
        return f"{what} must be one of: {', '.join(map(str, expected))}{_got(field, inst)}"
    if kind == "const":
        hint = " (B2C uploads certificates as signing keys)" if field == "use" else ""
        return f"{what} must be {expected}{_got(field, inst)}{hint}"
    if kind == "pattern" and (field == "name" or path[-2:-1] == ("protect",)) and isinstance(inst, str):
        return f"{_describe(path, quote=True, value=inst)} {names.pattern_problem(inst)}"
    if kind == "pattern":
        return f"{_describe(path, quote=True, value=inst)} {_PATTERN_MESSAGES.get(field, 'has the wrong form')}"
    if kind == "minItems":
        return f"{what} must list at least one {'key' if field == 'keys' else 'item'}"
    if kind in ("minProperties", "maxProperties"):
        return f"{what} must be exactly one of {{env: NAME}} or {{file: path/to/file}}"
    if kind == "minLength":
        return f"{what} must not be empty"
    if kind == "maxLength":
        return f"{what} must be at most {expected} characters long"
    if kind in ("minimum", "maximum"):
        return f"{what} {RANGE}"
    return f"{what} does not match the schema ({kind})"


def _date_problem(text: str) -> str:
    """What is wrong with a date the schema's pattern refused, in `dates`' words."""
    try:
        to_epoch(text)
    except DateRefused as e:
        return str(e)
    return TIME_FORMAT  # not reached: the pattern refuses nothing `dates` takes


def _allowed(schema: dict, inst: Any) -> list[str]:
    """The properties allowed here, minus those the instance's `kind` rules out."""
    names = list(schema.get("properties", {}))
    for rule in schema.get("allOf", []):
        if "if" in rule and _validator().evolve(schema=rule["if"]).is_valid(inst):
            then = rule.get("then", {})
            forbidden = {n for part in [then] + then.get("allOf", []) for n in part.get("not", {}).get("required", [])}
            names = [n for n in names if n not in forbidden]
    return names


def _field(path: Path) -> str | None:
    return path[-1] if path and isinstance(path[-1], str) else None


def _describe(path: Path, quote: bool = False, value: Any = None) -> str:
    if not path:
        return "the manifest"
    if isinstance(path[-1], int):
        parent = f"'{path[-2]}'" if len(path) > 1 else "the list"
        return f"entry {path[-1] + 1} of {parent}"
    if quote and path[-1] == "name" and isinstance(value, str):
        return f"key set name '{shown(value)}'"
    return f"'{path[-1]}'"


def _got(field: str | None, inst: Any) -> str:
    if field in _ECHO and isinstance(inst, (str, int, float, bool)) and len(str(inst)) <= 64:
        return f" (got {shown(repr(inst))})"
    return ""
