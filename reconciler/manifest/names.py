"""Key set names in a manifest, by the rule Graph's ids are known to follow.

A key set id is `B2C_1A_` and a name of letters, digits, '_', '.' and '-', 200 characters
at most with the prefix (so 193 after it). Those are the characters of every id seen in
tenants, scripts and B2C's own `<id>.bak` backups, and the length the emulator takes
(reconciler/emulator/ASSUMPTIONS.md, row 4); Graph documents neither. Other tools' stricter
rules (letters only) are their own, and would refuse key sets tenants already hold. The
schema's pattern says the same (`schemas/keysets.schema.json`); this module words what is
wrong and names the names b2ckeys keeps to itself.
"""

from __future__ import annotations

import re

from ..core.model import KEYSET_PREFIX, LEASE_KEYSET_ID, is_backup, is_internal, keyset_id, strip_prefix

MAX_ID = 200  # characters of a key set id, the prefix included
MAX_NAME = MAX_ID - len(KEYSET_PREFIX)
CHARACTERS = "letters, digits, '_', '.' and '-'"
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")  # YAML reads these unquoted as their text, but for:
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def fits(name: str) -> bool:
    """Whether a manifest can declare this name (the prefix optional, in any case)."""
    bare = strip_prefix(name)
    return bool(_NAME.fullmatch(bare)) and len(bare) <= MAX_NAME


def as_yaml(name: str) -> str:
    """A name that `fits`, written so that YAML reads it as text: `1.5`, `123` or `No`
    quoted, `FacebookSecret` not."""
    return name if _PLAIN.fullmatch(name) and name.lower() not in _YAML_WORDS else f'"{name}"'


def pattern_problem(name: str) -> str:
    """What is wrong with a name the schema's pattern refused, after "key set name 'X' "."""
    bare = strip_prefix(name)
    if _NAME.fullmatch(bare) and len(bare) > MAX_NAME:
        return (f"is {len(bare)} characters long after {KEYSET_PREFIX}; a key set id is at most {MAX_ID} "
                f"characters, {KEYSET_PREFIX} included, so a name at most {MAX_NAME} after it")
    return f"may contain only {CHARACTERS}, after an optional {KEYSET_PREFIX} prefix"


def reserved(name: str) -> str | None:
    """Why a name b2ckeys keeps to itself (or one that says the prefix twice) cannot be
    declared, or None. `name` is as written, less one prefix."""
    if strip_prefix(name) != name:  # B2C keeps an id that has the prefix: this one would never be found
        return (f"says {KEYSET_PREFIX} twice: b2ckeys adds it once (write '{strip_prefix(name)}' or "
                f"'{KEYSET_PREFIX}{strip_prefix(name)}')")
    full = keyset_id(strip_prefix(name))
    if not is_internal(full):
        return None
    if is_backup(full):
        return ("is reserved: B2C keeps its backups of deleted key sets as <id>.bak, and b2ckeys never "
                "manages them; choose a name that does not end with .bak")
    return f"is reserved: {LEASE_KEYSET_ID} is b2ckeys' tenant lease, held while apply writes"
