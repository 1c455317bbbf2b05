"""B2C's validation rules for key-set requests: the key-set id, ``use``, ``kty``,
``nbf``/``exp`` as Edm.Int64, nbf before exp, and no RSA/oct or sig/enc mix within one
key set. Each rule raises ``StoreError("invalid", ...)`` with B2C's code and message.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from .keymodel import KeySet, StoreError

PREFIX = "B2C_1A_"
USES = ("sig", "enc")
KTYS = {"rsa": "RSA", "oct": "oct"}
ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")
_INT64_MAX = 2**63 - 1


def invalid(code: str, message: str) -> StoreError:
    return StoreError("invalid", code, message)


def int64(body: dict[str, Any], name: str) -> Optional[int]:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT64_MAX:
        raise invalid("BadRequest", f"Cannot convert the literal '{value}' to the expected "
                                    f"type 'Edm.Int64' for the property '{name}'.")
    return value


def parse_use(body: dict[str, Any]) -> str:
    use = body.get("use")
    if use is None or use == "":
        raise invalid("AADB2C90253", "The trustframework keyset parameter 'use' is missing")
    if use not in USES:
        raise invalid("AADB2C95033", f"Bad use parameter '{use}' for the trustframework key.")
    return use


def parse_kty(body: dict[str, Any]) -> str:
    """``kty`` of a generateKey body, case-insensitive: "RSA" or "oct"."""
    raw_kty = body.get("kty")
    if raw_kty is None or raw_kty == "":
        raise invalid("AADB2C95030", "Missing kty parameter for the trustframework key.")
    kty = KTYS.get(raw_kty.lower()) if isinstance(raw_kty, str) else None
    if kty is None:
        raise invalid("AADB2C95031", f"Bad kty '{raw_kty}' for the trustframework key. "
                                     "Must be RSA or oct.")
    return kty


def check_key(tenant_domain: str, target: KeySet, kty: str, use: str,
              nbf: Optional[int], exp: Optional[int]) -> None:
    """May a key of this kty/use/nbf/exp join ``target``?"""
    if nbf is not None and exp is not None and nbf >= exp:
        raise invalid("AADB2C95026", f"The uploaded JSON Web Key for tenant "
                                     f"'{tenant_domain}' is not in the correct JSON "
                                     "format: 'nbf' must be earlier than 'exp'.")
    if any(k.kty != kty for k in target.keys):
        raise invalid("AADB2C95032", "One can't mix RSA and Oct types in one key set.")
    if any(k.use != use for k in target.keys):
        raise invalid("AADB2C95042",
                      "One can't mix signature and encryption usage in one key set.")
