"""The plan as data: one `Change` per Graph write, with its `Action` (and a `Reason`
for people), what stays unmanaged, keys present twice, the active keys, and the `Plan`
that holds them.
Built by `reconciler.plan.planner`, rendered by `reconciler.render`, run by
`reconciler.session.applier`. No I/O here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .diagnostics import Diagnostic, Location
from .model import DesiredKey, LiveKey, LiveState


class Action(str, enum.Enum):
    """One Graph write per change; `glyph` is how plans show it (Terraform's `+ ~ -`)."""

    CREATE_KEYSET = "create_keyset"
    GENERATE_KEY = "generate_key"
    UPLOAD_SECRET = "upload_secret"
    UPLOAD_CERTIFICATE = "upload_certificate"
    UPLOAD_PKCS12 = "upload_pkcs12"
    DISABLE_KEY = "disable_key"  # PATCH …/keys_v2/{kid} {"status": "disabled"}
    DELETE_KEYSET = "delete_keyset"

    @property
    def glyph(self) -> str:
        return {Action.DISABLE_KEY: "~", Action.DELETE_KEYSET: "-"}.get(self, "+")

    @property
    def order(self) -> int:  # creates, key additions, disables, deletes last (octoDNS's class ordering)
        return {Action.CREATE_KEYSET: 0, Action.DISABLE_KEY: 2, Action.DELETE_KEYSET: 3}.get(self, 1)

    @property
    def adds_key(self) -> bool:
        return self.order == 1


class Reason(str, enum.Enum):
    """Why a change is planned, for people only (Terraform's ActionReason); apply never reads it."""

    ROTATION = "rotation"  # a successor for a rotating key
    NOT_DECLARED = "not_declared"  # prune: no manifest declares the key set
    UNMANAGED_KEY = "unmanaged_key"  # disableUnmanagedKeys: no desired key matches the key


@dataclass(frozen=True, slots=True)
class Change:
    """One planned Graph call. `key` is set for key additions, `kid` for DISABLE_KEY."""

    action: Action
    keyset_id: str
    key: DesiredKey | None = None
    location: Location | None = field(default=None, compare=False)
    kid: str | None = None
    reason: Reason | None = None
    detail: str = ""  # the reason in words, e.g. "key abc expires 2026-07-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class Unmanaged:
    """A live key set no manifest declares (kid None), or a live key no desired key matches."""

    keyset_id: str
    kid: str | None = None
    key: LiveKey | None = None
    note: str = ""  # e.g. why a key set is kept although prune is on


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A key present more than once in a live key set (`reconciler.plan.duplicates`): `kids`
    are the live keys holding it, the one kept first (the one a desired key matched, else the
    one B2C uses of them), then the extra ones to disable; `key` is the kept one."""

    keyset_id: str
    kids: tuple[str, ...]
    key: LiveKey

    @property
    def extra(self) -> tuple[str, ...]:
        return self.kids[1:]


@dataclass(frozen=True, slots=True)
class ActiveKey:
    """A changed key set's active key by B2C's rule, now and once applied (`after_change`:
    the index in `Plan.changes` of a new key that will be the active one)."""

    keyset_id: str
    now_kid: str | None
    after_kid: str | None = None
    after_change: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    changes: tuple[Change, ...] = ()
    unmanaged: tuple[Unmanaged, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()
    notes: tuple[str, ...] = ()  # plain remarks, e.g. "secret values cannot be compared"
    live: LiveState = LiveState()  # what the plan was computed from (Terraform's prior state)
    active: tuple[ActiveKey, ...] = ()
    unsafe: tuple[Diagnostic, ...] = ()  # why apply refuses this plan without --allow-destroy
    duplicates: tuple[Duplicate, ...] = ()  # keys present twice in the tenant: a problem, not a change

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    @property
    def keysets_to_create(self) -> int:
        return self.count(Action.CREATE_KEYSET)

    @property
    def keys_to_add(self) -> int:
        return sum(1 for c in self.changes if c.action.adds_key)
