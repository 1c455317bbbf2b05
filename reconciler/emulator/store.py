"""In-memory key-set state of one B2C tenant: the key sets, their order, per-set write
locks, and the operations on them (create, delete, replace keys, add key, status, active
key, seed, dump). Thread-safe, no HTTP. Reads called with ``lagged=True`` see the tenant
as it was ``lag()`` seconds ago (``lag.py``); writes always see the true state. What a key is lives in ``keymodel``, B2C's request rules in
``keyrules``, key material in ``keymaking``.

Secret material is never kept: an uploaded ``k`` or a generated private key is
reduced to its SHA-256 at once (``Key.secret_sha256``), which is all the control
surface shows. Errors are ``StoreError(kind, code, message)``; the HTTP layer maps the
kind to a status.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import secrets
import threading
import time
from typing import Any, Callable, Iterable, Iterator, Optional

from .keymaking import generate, seed_key
from .lag import History, snapshot

# Key, StoreError and pick_active are also imported from here by tests
# (tests/test_emulator.py, tests/test_bench_smoke.py).
from .keymodel import Key, KeySet, StoreError, dump_key, pick_active
from .keyrules import ID_RE, PREFIX, check_key, int64, invalid, parse_kty, parse_use


# A missing nbf/exp filled in under the reading default-dates: now, and now + 2 years.
DEFAULT_LIFETIME = 730 * 86400


class KeySetStore:
    def __init__(self, tenant_domain: str, clock: Callable[[], float] = time.time,
                 lag: Callable[[], float] = lambda: 0.0):
        self.tenant_domain = tenant_domain
        self.clock = clock
        self._lock = threading.RLock()
        self._sets: dict[str, KeySet] = {}      # lower-case id -> KeySet
        self._seq = 0
        self.history = History(lag, lambda: self.clock())

    # -- structure ---------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def reset(self) -> None:
        with self._lock:
            self._sets.clear()
            self.history.clear()

    @contextlib.contextmanager
    def _recorded(self, *keys: str) -> Iterator[None]:
        """Note a write to these key sets (lower-case ids) for lagged reads. Under _lock."""
        if not self.history.on:
            self.history.clear()
            yield
            return
        before = {key: snapshot(self._sets.get(key)) for key in keys}
        yield
        for key in keys:
            self.history.record(key, before[key], snapshot(self._sets.get(key)))

    def _seen(self, lagged: bool) -> dict[str, KeySet]:
        return self.history.visible(self._sets) if lagged else self._sets

    def _not_found(self, keyset_id: str) -> StoreError:
        return StoreError("not_found", "AADB2C90073",
                          f"KeyContainer with 'id': '{keyset_id}' cannot be found in the "
                          f"directory '{self.tenant_domain}'.")

    def get(self, keyset_id: str, *, lagged: bool = False) -> KeySet:
        """A snapshot copy (its key list does not change under the caller)."""
        with self._lock:
            found = self._seen(lagged).get(keyset_id.lower())
            if found is None:
                raise self._not_found(keyset_id)
            return KeySet(found.id, found.seq, list(found.keys))

    def count(self, *, lagged: bool = False) -> int:
        with self._lock:
            return len(self._seen(lagged))

    def page(self, after_seq: int, limit: int, *,
             lagged: bool = False) -> tuple[list[KeySet], Optional[int]]:
        """Key sets created after ``after_seq``, oldest first; and the seq to continue
        after, or None on the last page."""
        with self._lock:
            # _sets is in seq order: every key set is inserted with a new, higher seq and
            # never moved (create, seed, and the .bak of a delete all add at the end). So
            # a page is a slice found by bisection, not a sort of the whole tenant. A
            # lagged view mixes in older versions, and is sorted.
            seen = self._seen(lagged)
            ordered = (list(seen.values()) if seen is self._sets
                       else sorted(seen.values(), key=lambda s: s.seq))
            start = bisect.bisect_right(ordered, after_seq, key=lambda s: s.seq)
            rest = ordered[start:start + limit + 1]
            chosen = [KeySet(s.id, s.seq, list(s.keys)) for s in rest[:limit]]
            return chosen, (chosen[-1].seq if len(rest) > limit else None)

    def create(self, name: str, *, double_prefix: bool = False) -> KeySet:
        """Create ``B2C_1A_<name>``; a name that starts with the prefix (any case) is kept
        as it is, unless ``double_prefix`` (the reading prefix-doubled)."""
        kept = name.lower().startswith(PREFIX.lower()) and not double_prefix
        if not ID_RE.match(name) or (kept and len(name) == len(PREFIX)):
            raise invalid("AADB2C", "The 'keySet' field is invalid in request. "
                                    "Please check the request body and parameters.")
        new_id = name if kept else PREFIX + name
        with self._lock:
            if new_id.lower() in self._sets:
                raise StoreError("conflict", "AADB2C95028",
                                 f"Can't create trustframework key set with name '{new_id}' "
                                 "because it already exists.")
            with self._recorded(new_id.lower()):
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
        """Delete a key set; with ``backup`` leave a copy ``<id>.bak`` (replacing an older
        one), except for a key set that is itself a backup."""
        with self.writing(keyset_id) as target, self._lock:
            bak_id = target.id + ".bak"
            backup = backup and not target.id.lower().endswith(".bak")
            with self._recorded(target.id.lower(), *((bak_id.lower(),) if backup else ())):
                target.deleted = True
                del self._sets[target.id.lower()]
                if backup:
                    bak = KeySet(bak_id, self._next_seq(), list(target.keys))
                    self._sets.pop(bak.id.lower(), None)
                    self._sets[bak.id.lower()] = bak

    def replace_keys(self, keyset_id: str, keys: list[Key]) -> KeySet:
        """PUT: the key set's keys become ``keys`` (checked by ``jwkbody``)."""
        with self.writing(keyset_id) as target, self._lock, self._recorded(target.id.lower()):
            for key in keys:
                key.seq = self._next_seq()
            target.keys = list(keys)
            return KeySet(target.id, target.seq, list(target.keys))

    # -- keys --------------------------------------------------------------------------
    def _append(self, target: KeySet, key: Key) -> Key:
        with self._lock, self._recorded(target.id.lower()):
            key.seq = self._next_seq()
            target.keys.append(key)
        return key

    def _dates(self, body: dict[str, Any], defaults: bool) -> tuple[Optional[int], Optional[int]]:
        nbf, exp = int64(body, "nbf"), int64(body, "exp")
        if defaults:
            now = int(self.clock())
            nbf = now if nbf is None else nbf
            exp = now + DEFAULT_LIFETIME if exp is None else exp
        return nbf, exp

    def generate_key(self, keyset_id: str, body: dict[str, Any], *,
                     default_dates: bool = False) -> Key:
        use = parse_use(body)
        kty = parse_kty(body)
        nbf, exp = self._dates(body, default_dates)
        with self.writing(keyset_id) as target:
            check_key(self.tenant_domain, target, kty, use, nbf, exp)
            return self._append(target, generate(kty, use, nbf, exp))

    def upload_secret(self, keyset_id: str, body: dict[str, Any], *,
                      default_dates: bool = False) -> Key:
        use = parse_use(body)
        k = body.get("k")
        if k is None or k == "":
            raise invalid("AADB2C90253", "The trustframework keyset parameter 'k' is missing")
        if not isinstance(k, str):
            raise invalid("BadRequest", "Cannot convert the value of the property 'k' to the "
                                        "expected type 'Edm.String'.")
        nbf, exp = self._dates(body, default_dates)
        digest = hashlib.sha256(k.encode("utf-8")).hexdigest()
        with self.writing(keyset_id) as target:
            check_key(self.tenant_domain, target, "oct", use, nbf, exp)
            return self._append(target, Key(secrets.token_urlsafe(32), "oct", use, nbf, exp,
                                            0, digest))

    def upload_certificate(self, keyset_id: str, up: Any) -> Key:
        """Adds the RSA signing key of an uploaded certificate or PKCS#12 (``certs.Uploaded``)."""
        with self.writing(keyset_id) as target:
            check_key(self.tenant_domain, target, "RSA", "sig", up.nbf, up.exp)
            return self._append(target, Key(secrets.token_urlsafe(32), "RSA", "sig", up.nbf, up.exp, 0,
                                            up.secret_sha256, n=up.n, e=up.e, x5t=up.x5t, x5c=up.x5c))

    def find_key(self, keyset_id: str, kid: str, *, lagged: bool = False) -> Key:
        for key in self.get(keyset_id, lagged=lagged).keys:
            if key.kid == kid:
                return key
        raise StoreError("not_found", "AADB2C90073", f"Key with 'kid': '{kid}' cannot be found "
                                                     f"in the directory '{self.tenant_domain}'.")

    def set_status(self, keyset_id: str, kid: str, status: str) -> None:
        if status not in ("enabled", "disabled"):
            raise invalid("BadRequest", "The status must be 'enabled' or 'disabled'.")
        with self.writing(keyset_id) as target:
            key = self.find_key(keyset_id, kid)
            with self._lock, self._recorded(target.id.lower()):
                key.status = status

    def active_key(self, keyset_id: str, *, lagged: bool = False) -> Key:
        current = self.get(keyset_id, lagged=lagged)
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
            if not isinstance(keyset_id, str) or not ID_RE.match(keyset_id):
                raise invalid("AADB2C", f"seed: bad key set id {keyset_id!r}")
            if keyset_id.lower() in seen:
                raise StoreError("conflict", "AADB2C95028", f"seed: '{keyset_id}' given twice")
            seen.add(keyset_id.lower())
            holder = KeySet(keyset_id, 0)
            for raw in item.get("keys") or ():
                key = seed_key(raw)
                check_key(self.tenant_domain, holder, key.kty, key.use, key.nbf, key.exp)
                holder.keys.append(key)
            prepared.append((keyset_id, holder.keys))
        with self._lock:
            clash = next((i for i, _ in prepared if i.lower() in self._sets), None)
            if clash is not None:
                raise StoreError("conflict", "AADB2C95028", f"seed: '{clash}' already exists")
            for keyset_id, keys in prepared:
                self.history.forget(keyset_id.lower())   # seeded "long ago": seen at once
                created = KeySet(keyset_id, self._next_seq())
                for key in keys:
                    key.seq = self._next_seq()
                created.keys = keys
                self._sets[keyset_id.lower()] = created
        return len(prepared)

    def dump(self) -> list[dict[str, Any]]:
        """Everything, secrets as SHA-256 only: for ``GET /_emulator/state``."""
        with self._lock:
            sets = sorted(self._sets.values(), key=lambda s: s.seq)
            return [{"id": s.id, "keys": [dump_key(k) for k in s.keys]} for s in sets]
