"""Runs a plan's changes against Graph and reports what happened.

Changes are grouped by key set. Within a group they run in plan order, one
after another (B2C refuses concurrent writes to one key set, AADB2C95053);
groups run in parallel on up to `parallelism` workers. Deletes run last, once
every other change is done: a failure anywhere before them means no key set is
deleted. Each secret (and certificate file) is read just before the call that
needs it. Every write goes through `reconciler.graph.ensure`, so a lost answer never
turns into a duplicate key.

After the first failure, or once `stop` is set (Ctrl-C, SIGTERM), no further
change starts; calls in flight finish. The report lists what was done, what
failed (with Graph's code and request-id) and what was not attempted. Because
the planner matches keys by identity, a new plan shows only what is left, and a
rerun adds no key twice.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from ..core.changes import Action, Change, Plan
from ..core.errors import ReconcilerError
from ..core.model import SecretRef
from ..core.report import ApplyReport, Outcome, Status
from ..graph.client import GraphClient
from ..graph.ensure import ALREADY_EXISTED, ensure_deleted, ensure_disabled, ensure_key, ensure_keyset
from ..manifest import secrets
from ..manifest.certificates import upload_payload
from ..manifest.pfxwrap import rewrap


def apply(
    plan: Plan,
    client: GraphClient,
    *,
    resolve: Callable[[SecretRef], str] = secrets.resolve,
    on_outcome: Callable[[Outcome], None] | None = None,
    on_start: Callable[[Change], None] | None = None,
    parallelism: int = 1,
    stop: threading.Event | None = None,
) -> ApplyReport:
    run = _Run(plan, client, resolve, on_outcome, on_start, stop or threading.Event())
    groups = group_by_keyset(plan.changes)
    deleting = [g for g in groups if g[0][1].action is Action.DELETE_KEYSET]
    for phase in ([g for g in groups if g not in deleting], deleting):
        if parallelism <= 1 or len(phase) <= 1:
            for group in phase:
                run.group(group)
        else:
            with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="apply") as pool:
                for future in [pool.submit(run.group, group) for group in phase]:
                    future.result()
    outcomes = tuple(run.outcomes[index] for index in range(len(plan.changes)))
    return ApplyReport(outcomes, interrupted=run.stop.is_set() and not run.failed.is_set())


def group_by_keyset(changes: tuple[Change, ...]) -> list[list[tuple[int, Change]]]:
    """(plan index, change) per key set (ids compared case-insensitively), each in plan order."""
    groups: dict[str, list[tuple[int, Change]]] = {}
    for index, change in enumerate(changes):
        groups.setdefault(change.keyset_id.upper(), []).append((index, change))
    return list(groups.values())


class _Run:
    def __init__(self, plan, client, resolve, on_outcome, on_start, stop):
        self.client = client
        self.resolve = resolve
        self.on_outcome = on_outcome
        self.on_start = on_start
        self.stop = stop
        self.failed = threading.Event()
        self.outcomes: dict[int, Outcome] = {}  # by index in the plan
        self._lock = threading.Lock()
        self._live = {ks.id.upper(): ks for ks in plan.live.keysets}

    def group(self, changes: list[tuple[int, Change]]) -> None:
        first = changes[0][1]
        current = self._live.get(first.keyset_id.upper())
        keyset_id = current.id if current else first.keyset_id
        known_kids = {k.kid for k in current.keys} if current else set()
        present: list = []  # keys a set that "already existed" held: not added again
        fresh = False
        for index, change in changes:
            if self.stop.is_set() or self.failed.is_set():
                self._record(index, Outcome(change, Status.NOT_ATTEMPTED))
                continue
            if self.on_start:
                self.on_start(change)
            try:
                if change.action is Action.CREATE_KEYSET:
                    keyset_id, detail = ensure_keyset(self.client, change.keyset_id)
                    fresh = True
                    if detail == ALREADY_EXISTED:
                        existing = self._read_settled(keyset_id)
                        if existing is not None:
                            keyset_id, fresh = existing.id, False
                            present = list(existing.keys)
                            known_kids |= {k.kid for k in existing.keys}
                        detail = "already existed (made by another run?); its keys were read before adding any"
                        self._record(index, Outcome(change, Status.DONE, detail, found=True))
                        continue
                elif change.action is Action.DELETE_KEYSET:
                    detail = ensure_deleted(self.client, keyset_id)
                elif change.action is Action.DISABLE_KEY:
                    detail = ensure_disabled(self.client, keyset_id, change.kid)
                else:
                    there = next((k for k in present if change.key.matches(k)), None)
                    if there is not None:
                        present.remove(there)
                        self._record(index, Outcome(change, Status.DONE, f"kid {there.kid}; already there, not added "
                                                    "again", kid=there.kid, found=True))
                        continue
                    new, remark = ensure_key(
                        self.client, keyset_id, change.key, self._writer(change, keyset_id), known_kids, fresh=fresh,
                    )
                    known_kids.add(new.kid)
                    self._record(index, Outcome(change, Status.DONE, f"kid {new.kid}" + (f"; {remark}" if remark else ""),
                                                kid=new.kid))
                    continue
                outcome = Outcome(change, Status.DONE, detail)
            except ReconcilerError as e:
                self.failed.set()
                outcome = Outcome(change, Status.FAILED, str(e))
            self._record(index, outcome)

    def _read_settled(self, keyset_id: str):
        """The key set another run made, read once the settle window passed (its last keys
        may become visible only then), or None if it is still not visible."""
        self.client.sleep(self.client.settle_seconds)
        return self.client.get_keyset(keyset_id)

    def _writer(self, change: Change, keyset_id: str):
        key = change.key
        if change.action is Action.GENERATE_KEY:
            return lambda: self.client.generate_key(
                keyset_id, kty=key.kty, use=key.use, nbf=key.nbf, exp=key.exp
            )
        if change.action is Action.UPLOAD_SECRET:
            # resolved on each try, held only for the call
            return lambda: self.client.upload_secret(
                keyset_id, value=self.resolve(key.secret), use=key.use, nbf=key.nbf, exp=key.exp
            )
        if change.action is Action.UPLOAD_CERTIFICATE:  # the file is read again, and checked, on each try
            return lambda: self.client.upload_certificate(keyset_id, certificate=_payload(key, self.resolve)["key"])
        if change.action is Action.UPLOAD_PKCS12:
            def upload_pkcs12():
                body = _payload(key, self.resolve)
                return self.client.upload_pkcs12(keyset_id, pfx=body["key"], password=body["password"])
            return upload_pkcs12
        raise AssertionError(change.action)  # pragma: no cover - every Action is handled

    def _record(self, index: int, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes[index] = outcome
            if self.on_outcome and outcome.status is not Status.NOT_ATTEMPTED:
                self.on_outcome(outcome)


def _payload(key, resolve) -> dict:
    """The upload's body, read now: from the certificate's file, or its Key Vault secret (`pfxwrap`)."""
    return rewrap(key, resolve(key.file)) if key.file.in_vault else upload_payload(key, resolve)
