"""Making keys: the material of a generated RSA or oct key, and the keys of a seed item
(with a small per-process pool of RSA public keys for seeded keys that bring none).

Secret material is never kept: a generated private key or secret is reduced to its
SHA-256 at once (``Key.secret_sha256``).
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
from typing import Any, Optional

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .jws import int_b64url
from .keymodel import Key
from .keyrules import KTYS, int64, invalid, parse_use


def generate(kty: str, use: str, nbf: Optional[int], exp: Optional[int]) -> Key:
    """A new key with fresh material (``seq`` 0: the store numbers it when adding it)."""
    key = Key(secrets.token_urlsafe(32), kty, use, nbf, exp, 0, "")
    if kty == "RSA":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = private.private_bytes(serialization.Encoding.DER,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        numbers = private.public_key().public_numbers()
        key.n, key.e = int_b64url(numbers.n), int_b64url(numbers.e)
        key.secret_sha256 = hashlib.sha256(der).hexdigest()
    else:
        key.secret_sha256 = hashlib.sha256(secrets.token_bytes(64)).hexdigest()
    return key


def seed_key(raw: Any) -> Key:
    """One key of a seed item (see ``KeySetStore.seed``); ``seq`` 0."""
    if not isinstance(raw, dict):
        raise invalid("BadRequest", "seed: a key must be an object")
    kty = KTYS.get(str(raw.get("kty") or "").lower())
    if kty is None:
        raise invalid("AADB2C95031", f"seed: bad kty {raw.get('kty')!r}")
    use = parse_use(raw)
    status = raw.get("status") or "enabled"
    if status not in ("enabled", "disabled"):
        raise invalid("BadRequest", f"seed: bad status {status!r}")
    key = Key(str(raw.get("kid") or secrets.token_urlsafe(32)), kty, use,
              int64(raw, "nbf"), int64(raw, "exp"), 0,
              str(raw.get("secretSha256") or secrets.token_hex(32)), status,
              x5t=raw.get("x5t") or None)
    if kty == "RSA":
        key.n, key.e = raw.get("n"), raw.get("e")
        if not (key.n and key.e):
            key.n, key.e = _seed_public_key()
    return key


_SEED_KEYS: list[tuple[str, str]] = []
_SEED_POOL = 4


_SEED_LOCK = threading.Lock()
_SEED_TURN = itertools.count()


def _seed_public_key() -> tuple[str, str]:
    """(n, e) of one of a few RSA-2048 keys made on first use, in turn, for seeded keys."""
    with _SEED_LOCK:
        while len(_SEED_KEYS) < _SEED_POOL:
            numbers = rsa.generate_private_key(public_exponent=65537,
                                               key_size=2048).public_key().public_numbers()
            _SEED_KEYS.append((int_b64url(numbers.n), int_b64url(numbers.e)))
        return _SEED_KEYS[next(_SEED_TURN) % _SEED_POOL]
