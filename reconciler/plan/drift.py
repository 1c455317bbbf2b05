"""drift(desired, live, now, window) -> DriftReport: is the tenant as the manifests say,
and will every key set keep a working key? Pure: no I/O, no clock.

What is reported (each with its exit bit, as docs/commands.md says):

- 2: changes pending: the plan is not empty.
- 4: unmanaged: live key sets no manifest declares, live keys no desired key
  matches, and keys present twice in a key set (`reconciler.plan.duplicates`);
  B2C's `.bak` backups and b2ckeys' lease key set are ignored, as the planner does.
- 8: key problems: a declared key set missing from the tenant (every sign-in that uses
  it fails now; bit 2 says its create is pending), and, checked on every live key set
  (managed or not, backups and the lease aside),
  with the active-key rule of `reconciler.plan.activekey`:
  - a key set with no active key now, or none at the end of the window;
  - the key that expired last, in a key set that has no active key now;
  - a key that expires within the window while it is the active key, with no
    other key to take over at that moment;
  - a key set whose active key by that rule is not the one B2C's getActiveKey
    names (`graph_active`, one extra GET per key set, made by `b2ckeys drift`
    only). B2C's answer is the authority: when it disagrees, the expiry checks
    above, which rest on the local rule, cannot be trusted for that key set (a
    disabled key the list answer does not show as disabled, say), and when B2C
    says "no active key" sign-ins fail now. So a disagreement is a key problem.
    An answer with no kid is tied to a listed key by its other fields
    (`activekey.named_by_answer`); when none or several fit, the check is
    unknown, said so, and not a disagreement.

An expired or expiring key that another key has taken over from (or will take
over from) is rotation working as intended and is not reported: keys cannot be
deleted, so reporting every old key would keep a nightly job red forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from ..core.changes import Change, Duplicate, Plan, Unmanaged
from ..core.model import DesiredState, LiveKey, LiveKeySet, LiveState, SecretRef, format_time, is_internal
from .activekey import active_key, is_enabled, named_by_answer, next_valid_from
from .planner import plan as make_plan

DAY = 86_400
DEFAULT_WINDOW_DAYS = 30

CHANGES_PENDING, UNMANAGED, KEY_PROBLEMS = 2, 4, 8
MISSING_REASON = ("declared in a manifest but missing from the tenant: every sign-in that uses it fails "
                  "now; 'b2ckeys apply' creates it")


@dataclass(frozen=True)
class KeyExpiry:
    """A live key whose expiry leaves its key set without an active key."""

    keyset_id: str
    kid: str
    exp: int
    expired: bool  # True: exp <= now; False: exp within the window


@dataclass(frozen=True)
class NoActiveKey:
    """A key set B2C cannot sign or decrypt with (AADB2C90019) now and/or at the window's end."""

    keyset_id: str
    now: bool
    window_end: bool
    reason: str
    missing: bool = False  # declared in a manifest, absent from the tenant


@dataclass(frozen=True)
class ActiveCheck:
    """A key set's active key by the local rule, and by B2C's getActiveKey when it was asked
    (`checked`); `unknown` says why B2C's answer could not be compared, when it could not."""

    keyset_id: str
    local_kid: str | None
    graph_kid: str | None = None
    checked: bool = False
    unknown: str = ""

    @property
    def agree(self) -> bool:
        return not self.checked or self.local_kid == self.graph_kid


@dataclass(frozen=True)
class VaultSecret:
    """A Key Vault secret a key's value comes from, as the vault has it now (metadata only):
    the version planned, its exp, and a newer enabled version when there is one."""

    keyset_id: str
    ref: SecretRef  # with the version planned
    exp: int | None
    newer: str | None = None  # a newer enabled version's id, not the one planned (pinned)


@dataclass(frozen=True)
class DriftReport:
    plan: Plan
    now: int
    window_days: int
    expired: tuple[KeyExpiry, ...] = ()
    expiring: tuple[KeyExpiry, ...] = ()
    no_active: tuple[NoActiveKey, ...] = ()
    active: tuple[ActiveCheck, ...] = ()
    vault_expiring: tuple[VaultSecret, ...] = ()  # a vault secret whose exp is within the window (bit 8)
    vault_newer: tuple[VaultSecret, ...] = ()  # a newer enabled version than the one uploaded (bit 2)

    @property
    def window_end(self) -> int:
        return self.now + self.window_days * DAY

    @property
    def changes(self) -> tuple[Change, ...]:
        return self.plan.changes

    @property
    def unmanaged(self) -> tuple[Unmanaged, ...]:
        return self.plan.unmanaged

    @property
    def duplicates(self) -> tuple[Duplicate, ...]:
        return self.plan.duplicates

    @property
    def disagreements(self) -> tuple[ActiveCheck, ...]:
        return tuple(a for a in self.active if not a.agree)

    @property
    def key_problems(self) -> int:
        return (len(self.expired) + len(self.expiring) + len(self.no_active) + len(self.disagreements)
                + len(self.vault_expiring))

    @property
    def exit_code(self) -> int:
        """0 when there is nothing to report, else the OR of 2, 4 and 8."""
        return ((CHANGES_PENDING if self.changes or self.vault_newer else 0) | (UNMANAGED if self.unmanaged or self.duplicates else 0)
                | (KEY_PROBLEMS if self.key_problems else 0))


def drift(desired: DesiredState, live: LiveState, now: int, window_days: int = DEFAULT_WINDOW_DAYS,
          graph_active: Mapping[str, LiveKey | None] | None = None,
          vault_secrets: Sequence[VaultSecret] = ()) -> DriftReport:
    """`graph_active`: key set id -> the key B2C's getActiveKey answered (None: it said there is
    none); a key set missing from it was not asked. `vault_secrets`: the Key Vault secrets the
    manifests reference: one whose exp is within the window is a key problem (the secret, a
    Facebook app secret say, stops working then, whatever B2C's key says); a newer enabled
    version than a pinned one is pending (an unpinned reference's is a change in the plan)."""
    end = now + window_days * DAY
    expired: list[KeyExpiry] = []
    expiring: list[KeyExpiry] = []
    no_active: list[NoActiveKey] = []
    active: list[ActiveCheck] = []
    graph_active = graph_active or {}
    for keyset in sorted(live.keysets, key=lambda k: k.id.upper()):
        if is_internal(keyset.id):
            continue
        keys = keyset.keys
        local = active_key(keys, now)
        graph_kid, unknown = named_by_answer(graph_active.get(keyset.id), keys)
        active.append(ActiveCheck(keyset.id, local.kid if local else None, graph_kid,
                                  keyset.id in graph_active and not unknown, unknown))
        none_now, none_at_end = local is None, active_key(keys, end) is None
        if none_now or none_at_end:
            at = now if none_now else end
            no_active.append(NoActiveKey(keyset.id, none_now, none_at_end, why_no_active_key(keys, at)))
        if none_now:
            last = _last_expired(keys, now)
            if last is not None:
                expired.append(KeyExpiry(keyset.id, last.kid, last.exp, True))
        expiring.extend(_expiring_without_successor(keyset, now, end))
    expiring.sort(key=lambda e: (e.exp, e.keyset_id.upper(), e.kid))
    no_active += [NoActiveKey(ks.id, True, True, MISSING_REASON, missing=True)
                  for ks in desired.keysets if live.find(ks.id) is None]
    no_active.sort(key=lambda n: n.keyset_id.upper())
    vault_expiring = tuple(v for v in vault_secrets if v.exp is not None and v.exp <= end)
    vault_newer = tuple(v for v in vault_secrets if v.newer)
    return DriftReport(make_plan(desired, live, now), now, window_days,
                       tuple(expired), tuple(expiring), tuple(no_active), tuple(active), vault_expiring, vault_newer)


def why_no_active_key(keys: tuple[LiveKey, ...], t: int) -> str:
    """In words: why no key of the key set is valid at `t`."""
    if not keys:
        return "it has no keys"
    enabled = [k for k in keys if is_enabled(k)]
    if not enabled:
        return "all its keys are disabled"
    reasons = []
    last = _last_expired(keys, t)
    if last is not None:
        reasons.append(f"its last key expired on {format_time(last.exp)}")
    upcoming = next_valid_from(keys, t)
    if upcoming is not None:
        reasons.append(f"its next key is valid from {format_time(upcoming)}")
    return "; ".join(reasons) or "none of its keys is valid then"


def _last_expired(keys: tuple[LiveKey, ...], t: int) -> LiveKey | None:
    expired = [k for k in keys if is_enabled(k) and k.exp is not None and k.exp <= t]
    return max(expired, key=lambda k: k.exp) if expired else None


def _expiring_without_successor(keyset: LiveKeySet, now: int, end: int) -> list[KeyExpiry]:
    found = []
    for key in keyset.keys:
        if key.exp is None or not now < key.exp <= end or not is_enabled(key):
            continue
        if active_key(keyset.keys, key.exp - 1) == key and active_key(keyset.keys, key.exp) is None:
            found.append(KeyExpiry(keyset.id, key.kid, key.exp, False))
    return found
