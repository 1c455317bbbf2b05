"""In-memory key sets of one B2C tenant: pure logic, thread-safe, no HTTP.

Secret material is never kept: an uploaded ``k`` or a generated private key is
reduced to its SHA-256 at once (``Key.secret_sha256``), which is all the control
surface shows. Errors are ``StoreError(kind, code, message)``; the HTTP layer maps the
kind to a status.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import itertools
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .jws import int_b64url

PREFIX = "B2C_1A_"
USES = ("sig", "enc")
KTYS = {"rsa": "RSA", "oct": "oct"}
_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")
_INT64_MAX = 2**63 - 1


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


def _invalid(code: str, message: str) -> StoreError:
    return StoreError("invalid", code, message)


def _int64(body: dict[str, Any], name: str) -> Optional[int]:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT64_MAX:
        raise _invalid("BadRequest", f"Cannot convert the literal '{value}' to the expected "
                                     f"type 'Edm.Int64' for the property '{name}'.")
    return value


class KeySetStore:
    def __init__(self, tenant_domain: str, clock: Callable[[], float] = time.time):
        self.tenant_domain = tenant_domain
        self.clock = clock
        self._lock = threading.RLock()
        self._sets: dict[str, KeySet] = {}      # lower-case id -> KeySet
        self._seq = 0

    # -- structure ---------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def reset(self) -> None:
        with self._lock:
            self._sets.clear()

    def _not_found(self, keyset_id: str) -> StoreError:
        return StoreError("not_found", "AADB2C90073",
                          f"KeyContainer with 'id': '{keyset_id}' cannot be found in the "
                          f"directory '{self.tenant_domain}'.")

    def get(self, keyset_id: str) -> KeySet:
        """A snapshot copy (its key list does not change under the caller)."""
        with self._lock:
            found = self._sets.get(keyset_id.lower())
            if found is None:
                raise self._not_found(keyset_id)
            return KeySet(found.id, found.seq, list(found.keys))

    def page(self, after_seq: int, limit: int) -> tuple[list[KeySet], Optional[int]]:
        """Key sets created after ``after_seq``, oldest first; and the seq to continue
        after, or None on the last page."""
        with self._lock:
            # _sets is in seq order: every key set is inserted with a new, higher seq and
            # never moved (create, seed, and the .bak of a delete all add at the end). So
            # a page is a slice found by bisection, not a sort of the whole tenant.
            ordered = list(self._sets.values())
            start = bisect.bisect_right(ordered, after_seq, key=lambda s: s.seq)
            rest = ordered[start:start + limit + 1]
            chosen = [KeySet(s.id, s.seq, list(s.keys)) for s in rest[:limit]]
            return chosen, (chosen[-1].seq if len(rest) > limit else None)

    def create(self, name: str) -> KeySet:
        """Create ``B2C_1A_<name>`` (the prefix is always added, even to a name that
        already has it)."""
        if not _ID_RE.match(name):
            raise _invalid("AADB2C", "The 'keySet' field is invalid in request. "
                                     "Please check the request body and parameters.")
        new_id = PREFIX + name
        with self._lock:
            if new_id.lower() in self._sets:
                raise StoreError("conflict", "AADB2C95028",
                                 f"Can't create trustframework key set with name '{new_id}' "
                                 "because it already exists.")
            created = KeySet(new_id, self._next_seq())
            self._sets[new_id.lower()] = created
            return KeySet(created.id, created.seq, [])

    @contextlib.contextmanager
    def writing(self, keyset_id: str) -> Iterator[KeySet]:
        """Hold the write lock of one key set, or fail at once with AADB2C95053."""
        with self._lock:
            target = self._sets.get(keyset_id.lower())
        if target is None:
            raise self._not_found(keyset_id)
        if not target.lock.acquire(blocking=False):
            raise StoreError("busy", "AADB2C95053",
                             "Multiple concurrent writes to the same object detected. Please "
                             "perform update operations on the same object sequentially.")
        try:
            if target.deleted:
                raise self._not_found(keyset_id)
            yield target
        finally:
            target.lock.release()

    def delete(self, keyset_id: str, *, backup: bool = False) -> None:
        with self.writing(keyset_id) as target, self._lock:
            target.deleted = True
            del self._sets[target.id.lower()]
            if backup:
                bak = KeySet(target.id + ".bak", self._next_seq(), list(target.keys))
                self._sets.pop(bak.id.lower(), None)
                self._sets[bak.id.lower()] = bak

    # -- keys --------------------------------------------------------------------------
    def _check_key(self, target: KeySet, kty: str, use: str,
                   nbf: Optional[int], exp: Optional[int]) -> None:
        if nbf is not None and exp is not None and nbf >= exp:
            raise _invalid("AADB2C95026", f"The uploaded JSON Web Key for tenant "
                                          f"'{self.tenant_domain}' is not in the correct JSON "
                                          "format: 'nbf' must be earlier than 'exp'.")
        if any(k.kty != kty for k in target.keys):
            raise _invalid("AADB2C95032", "One can't mix RSA and Oct types in one key set.")
        if any(k.use != use for k in target.keys):
            raise _invalid("AADB2C95042",
                           "One can't mix signature and encryption usage in one key set.")

    @staticmethod
    def _use(body: dict[str, Any]) -> str:
        use = body.get("use")
        if use is None or use == "":
            raise _invalid("AADB2C90253", "The trustframework keyset parameter 'use' is missing")
        if use not in USES:
            raise _invalid("AADB2C95033", f"Bad use parameter '{use}' for the trustframework key.")
        return use

    def _append(self, target: KeySet, key: Key) -> Key:
        with self._lock:
            key.seq = self._next_seq()
            target.keys.append(key)
        return key

    def generate_key(self, keyset_id: str, body: dict[str, Any]) -> Key:
        use = self._use(body)
        raw_kty = body.get("kty")
        if raw_kty is None or raw_kty == "":
            raise _invalid("AADB2C95030", "Missing kty parameter for the trustframework key.")
        kty = KTYS.get(raw_kty.lower()) if isinstance(raw_kty, str) else None
        if kty is None:
            raise _invalid("AADB2C95031", f"Bad kty '{raw_kty}' for the trustframework key. "
                                          "Must be RSA or oct.")
        nbf, exp = _int64(body, "nbf"), _int64(body, "exp")
        with self.writing(keyset_id) as target:
            self._check_key(target, kty, use, nbf, exp)
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
            return self._append(target, key)

    def upload_secret(self, keyset_id: str, body: dict[str, Any]) -> Key:
        use = self._use(body)
        k = body.get("k")
        if k is None or k == "":
            raise _invalid("AADB2C90253", "The trustframework keyset parameter 'k' is missing")
        if not isinstance(k, str):
            raise _invalid("BadRequest", "Cannot convert the value of the property 'k' to the "
                                         "expected type 'Edm.String'.")
        nbf, exp = _int64(body, "nbf"), _int64(body, "exp")
        digest = hashlib.sha256(k.encode("utf-8")).hexdigest()
        with self.writing(keyset_id) as target:
            self._check_key(target, "oct", use, nbf, exp)
            return self._append(target, Key(secrets.token_urlsafe(32), "oct", use, nbf, exp,
                                            0, digest))

    def upload_certificate(self, keyset_id: str, up: Any) -> Key:
        """Adds the RSA signing key of an uploaded certificate or PKCS#12 (``certs.Uploaded``)."""
        with self.writing(keyset_id) as target:
            self._check_key(target, "RSA", "sig", up.nbf, up.exp)
            return self._append(target, Key(secrets.token_urlsafe(32), "RSA", "sig", up.nbf, up.exp, 0,
                                            up.secret_sha256, n=up.n, e=up.e, x5t=up.x5t, x5c=up.x5c))

    def find_key(self, keyset_id: str, kid: str) -> Key:
        for key in self.get(keyset_id).keys:
            if key.kid == kid:
                return key
        raise StoreError("not_found", "AADB2C90073", f"Key with 'kid': '{kid}' cannot be found "
                                                     f"in the directory '{self.tenant_domain}'.")

    def set_status(self, keyset_id: str, kid: str, status: str) -> None:
        if status not in ("enabled", "disabled"):
            raise _invalid("BadRequest", "The status must be 'enabled' or 'disabled'.")
        with self.writing(keyset_id):
            key = self.find_key(keyset_id, kid)
            with self._lock:
                key.status = status

    def active_key(self, keyset_id: str) -> Key:
        current = self.get(keyset_id)
        key = pick_active(current.keys, self.clock())
        if key is None:
            raise StoreError("no_active_key", "AADB2C90019",
                             f"The key container with id '{current.id}' in tenant "
                             f"'{self.tenant_domain}' does not has a valid key. "
                             "Reason: Valid key not found.")
        return key

    # -- seeding (tests, benchmarks) ----------------------------------------------------
    def seed(self, keysets: Iterable[dict[str, Any]]) -> int:
        """Put key sets straight into the store, as if they had been made through Graph
        long ago: no request, no latency, no throttle, no RSA generation. Returns how
        many were added.

        Each item has the shape of ``dump()`` (``/_emulator/state``) or of a Graph list
        entry: ``{"id": "B2C_1A_Name", "keys": [{"kty": "RSA", "use": "sig", "nbf": ...,
        "exp": ..., "kid": ..., "status": ..., "n": ..., "e": ...}, ...]}``. ``id`` is the
        full id (the prefix is not added). ``kid`` is made when left out; an RSA key
        without ``n``/``e`` gets the public part of one of a few keys made once per
        process (a seeded key has no private part; its ``secretSha256`` is random).
        B2C's rules still hold: a valid id, RSA or oct, sig or enc, nbf before exp, no
        RSA/oct or sig/enc mix. All items are checked before any is added; a bad one
        raises ``StoreError`` (an id that exists already: ``conflict``).
        """
        prepared: list[tuple[str, list[Key]]] = []
        seen: set[str] = set()
        for item in keysets:
            keyset_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(keyset_id, str) or not _ID_RE.match(keyset_id):
                raise _invalid("AADB2C", f"seed: bad key set id {keyset_id!r}")
            if keyset_id.lower() in seen:
                raise StoreError("conflict", "AADB2C95028", f"seed: '{keyset_id}' given twice")
            seen.add(keyset_id.lower())
            holder = KeySet(keyset_id, 0)
            for raw in item.get("keys") or ():
                key = self._seed_key(raw)
                self._check_key(holder, key.kty, key.use, key.nbf, key.exp)
                holder.keys.append(key)
            prepared.append((keyset_id, holder.keys))
        with self._lock:
            clash = next((i for i, _ in prepared if i.lower() in self._sets), None)
            if clash is not None:
                raise StoreError("conflict", "AADB2C95028", f"seed: '{clash}' already exists")
            for keyset_id, keys in prepared:
                created = KeySet(keyset_id, self._next_seq())
                for key in keys:
                    key.seq = self._next_seq()
                created.keys = keys
                self._sets[keyset_id.lower()] = created
        return len(prepared)

    def _seed_key(self, raw: Any) -> Key:
        if not isinstance(raw, dict):
            raise _invalid("BadRequest", "seed: a key must be an object")
        kty = KTYS.get(str(raw.get("kty") or "").lower())
        if kty is None:
            raise _invalid("AADB2C95031", f"seed: bad kty {raw.get('kty')!r}")
        use = self._use(raw)
        status = raw.get("status") or "enabled"
        if status not in ("enabled", "disabled"):
            raise _invalid("BadRequest", f"seed: bad status {status!r}")
        key = Key(str(raw.get("kid") or secrets.token_urlsafe(32)), kty, use,
                  _int64(raw, "nbf"), _int64(raw, "exp"), 0,
                  str(raw.get("secretSha256") or secrets.token_hex(32)), status,
                  x5t=raw.get("x5t") or None)
        if kty == "RSA":
            key.n, key.e = raw.get("n"), raw.get("e")
            if not (key.n and key.e):
                key.n, key.e = _seed_public_key()
        return key

    def dump(self) -> list[dict[str, Any]]:
        """Everything, secrets as SHA-256 only: for ``GET /_emulator/state``."""
        with self._lock:
            sets = sorted(self._sets.values(), key=lambda s: s.seq)
            return [{"id": s.id, "keys": [_dump_key(k) for k in s.keys]} for s in sets]


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


def _dump_key(key: Key) -> dict[str, Any]:
    out: dict[str, Any] = {"kid": key.kid, "kty": key.kty, "use": key.use, "nbf": key.nbf,
                           "exp": key.exp, "status": key.status}
    if key.x5t:
        out["x5t"] = key.x5t
    out["secretSha256"] = key.secret_sha256
    return out
