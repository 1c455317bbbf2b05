"""Runs a plan's changes in order against Graph and reports what happened.

Each secret is resolved just before the call that needs it and dropped after.
On the first failure no further change starts; the report lists what was done,
what failed (with Graph's code and request-id) and what was not attempted.
Because the planner matches keys by identity, a new plan after a failure shows
only what is left, and a rerun adds no key twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Protocol

from . import secrets
from .errors import GraphConflict, ReconcilerError
from .model import Action, Change, LiveKey, Plan, SecretRef


class KeySetWriter(Protocol):
    """The part of GraphClient the applier uses."""

    def create_keyset(self, name: str) -> str: ...
    def generate_key(self, keyset_id: str, **kw) -> LiveKey: ...
    def upload_secret(self, keyset_id: str, **kw) -> LiveKey: ...


class Status(str, enum.Enum):
    DONE = "done"
    FAILED = "failed"
    NOT_ATTEMPTED = "not attempted"


@dataclass(frozen=True)
class Outcome:
    change: Change
    status: Status
    detail: str = ""  # the new kid, the id Graph chose, or the error


@dataclass(frozen=True)
class ApplyReport:
    outcomes: tuple[Outcome, ...]

    @property
    def ok(self) -> bool:
        return all(o.status is Status.DONE for o in self.outcomes)

    def with_status(self, status: Status) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is status]

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def apply(
    plan: Plan,
    client: KeySetWriter,
    *,
    resolve: Callable[[SecretRef], str] = secrets.resolve,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> ApplyReport:
    outcomes: list[Outcome] = []
    created_ids: dict[str, str] = {}  # id we asked for -> id the service chose
    failed = False
    for change in plan.changes:
        if failed:
            outcomes.append(Outcome(change, Status.NOT_ATTEMPTED))
            continue
        try:
            detail = _run(change, client, created_ids, resolve)
            outcome = Outcome(change, Status.DONE, detail)
        except ReconcilerError as e:
            failed = True
            outcome = Outcome(change, Status.FAILED, str(e))
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
    return ApplyReport(tuple(outcomes))


def _run(change: Change, client: KeySetWriter, created_ids: dict[str, str],
         resolve: Callable[[SecretRef], str]) -> str:
    keyset_id = created_ids.get(change.keyset_id, change.keyset_id)
    if change.action is Action.CREATE_KEYSET:
        try:
            actual = client.create_keyset(change.keyset_id)
        except GraphConflict:
            return "already existed"
        created_ids[change.keyset_id] = actual
        return "" if actual == change.keyset_id else f"the service named it {actual}"
    key = change.key
    assert key is not None
    if change.action is Action.GENERATE_KEY:
        new = client.generate_key(keyset_id, kty=key.kty, use=key.use, nbf=key.nbf, exp=key.exp)
    elif change.action is Action.UPLOAD_SECRET:
        assert key.secret is not None
        new = client.upload_secret(keyset_id, value=resolve(key.secret), use=key.use, nbf=key.nbf, exp=key.exp)
    else:  # pragma: no cover - every Action is handled above
        raise AssertionError(change.action)
    return f"kid {new.kid}"
