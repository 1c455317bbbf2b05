"""What a key and a key set are: the ``Key``/``KeySet`` records, the ``StoreError`` every
key-set operation raises, B2C's rule for the active key, and the shape of a key in the
state dump. Plain data, no locking, no HTTP.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Optional


class StoreError(Exception):
    """kind: invalid | not_found | conflict | busy | no_active_key"""

    def __init__(self, kind: str, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.kind, self.code, self.message = kind, code, message


@dataclass
class Key:
    kid: str
    kty: str                      # "RSA" or "oct"
    use: str                      # "sig" or "enc"
    nbf: Optional[int]
    exp: Optional[int]
    seq: int
    secret_sha256: str
    status: str = "enabled"
    n: Optional[str] = None
    e: Optional[str] = None
    x5t: Optional[str] = None
    x5c: Optional[list] = None  # the certificate of an uploaded certificate or PKCS#12, base64 DER

    def valid_at(self, now: float) -> bool:
        return (self.status == "enabled" and (self.nbf is None or self.nbf <= now)
                and (self.exp is None or now < self.exp))


@dataclass
class KeySet:
    id: str
    seq: int
    keys: list[Key] = field(default_factory=list)
    deleted: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def pick_active(keys: list[Key], now: float) -> Optional[Key]:
    """B2C's rule: among enabled keys valid now (nbf <= now < exp, a missing bound is
    open), the one with the latest nbf; keys without nbf rank below any with one;
    on a tie the key added last wins."""
    valid = [k for k in keys if k.valid_at(now)]
    if not valid:
        return None
    return max(valid, key=lambda k: (k.nbf is not None, k.nbf or 0, k.seq))


def dump_key(key: Key) -> dict[str, Any]:
    """One key as ``GET /_emulator/state`` shows it: the secret as SHA-256 only."""
    out: dict[str, Any] = {"kid": key.kid, "kty": key.kty, "use": key.use, "nbf": key.nbf,
                           "exp": key.exp, "status": key.status}
    if key.x5t:
        out["x5t"] = key.x5t
    out["secretSha256"] = key.secret_sha256
    return out
