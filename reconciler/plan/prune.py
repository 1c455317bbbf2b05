"""Pruning and its safeguards: which live key sets a plan deletes, which unmanaged keys
it disables, and when apply must refuse. Pure.

Key sets (`prune: true`): a live key set no manifest declares is deleted, unless
- it is protected: named in a top-level `protect:` list, marked `protect: true`
  where it is declared, or one of `ALWAYS_PROTECTED` (the token signing and
  encryption key sets of every custom policy: deleting them stops every sign-in);
- a policy references it (`--policies`);
- it is one of B2C's `….bak` backups, or b2ckeys' own lease key set
  (`is_internal`): never reported, never deleted.
A kept key set is reported as unmanaged with the reason it is kept.

Too much at once (octoDNS's TooMuchChange): deleting more than 30% of the live key
sets, when there are at least 10, makes the plan *unsafe*: `plan` says so, `apply`
refuses it without `--allow-destroy`.

Keys (`disableUnmanagedKeys: true`): each enabled live key no desired key matches
is disabled, except the one B2C would use if disabling it left the key set with no
active key now (counting the keys the same plan adds); that one stays enabled, with
a warning. Already disabled keys are neither changed nor reported.
"""

from __future__ import annotations

from typing import Sequence

from ..core.changes import Action, Change, Reason, Unmanaged
from ..core.diagnostics import Diagnostic, Location, Severity
from ..core.model import DesiredKey, DesiredState, LiveKey, LiveState, by_keyset, is_internal, keyset_id
from .activekey import active_key, is_enabled

ALWAYS_PROTECTED = ("B2C_1A_TokenSigningKeyContainer", "B2C_1A_TokenEncryptionKeyContainer")
THRESHOLD, MIN_EXISTING = 0.30, 10


def protected_ids(desired: DesiredState) -> set[str]:
    return {keyset_id(name).upper() for name in (*desired.protected, *ALWAYS_PROTECTED)}


def deletions(desired: DesiredState, live: LiveState) -> tuple[list[Change], list[Unmanaged]]:
    """The deletes `prune` asks for, and the undeclared key sets left alone (with why)."""
    deletes: list[Change] = []
    kept: list[Unmanaged] = []
    protected, references = protected_ids(desired), by_keyset(desired.references)
    for keyset in sorted(live.keysets, key=lambda k: k.id.upper()):
        if desired.find(keyset.id) is not None or is_internal(keyset.id):
            continue
        refs = references.get(keyset.id.upper())
        if not desired.prune:
            kept.append(Unmanaged(keyset.id))
        elif keyset.id.upper() in protected:
            kept.append(Unmanaged(keyset.id, note="protected: never deleted"))
        elif refs:
            kept.append(Unmanaged(keyset.id, note=f"kept: a policy references it, at {refs[0].location}"))
        else:
            deletes.append(Change(Action.DELETE_KEYSET, keyset.id, reason=Reason.NOT_DECLARED,
                                  detail="no manifest declares it"))
    return deletes, kept


def too_much_change(deletes: int, live: LiveState) -> Diagnostic | None:
    existing = sum(1 for k in live.keysets if not is_internal(k.id))
    if existing < MIN_EXISTING or deletes <= THRESHOLD * existing:
        return None
    return Diagnostic(Severity.WARNING, f"this plan deletes {deletes} of {existing} key sets ({deletes * 100 // existing}%), "
                      f"more than {THRESHOLD:.0%} of at least {MIN_EXISTING}: apply refuses it without --allow-destroy")


def disables(
    keyset_id_: str, live_keys: Sequence[LiveKey], leftover: Sequence[LiveKey], added: Sequence[DesiredKey],
    now: int, location: Location | None,
) -> tuple[list[Change], list[Diagnostic]]:
    """DISABLE_KEY changes for the enabled keys in `leftover` (unmatched live keys), and warnings."""
    wanted = [k for k in leftover if is_enabled(k)]
    if not wanted:
        return [], []
    new = [LiveKey("", k.kty, k.use, k.nbf, k.exp) for k in added]
    warnings = []
    if active_key(list(live_keys) + new, now) is None:
        return [], [Diagnostic(Severity.WARNING, f"key set {keyset_id_} has no active key now; its unmanaged keys "
                               "are left enabled (disableUnmanagedKeys)", location)]
    if active_key(_disabled(live_keys, wanted) + new, now) is None:
        keep = active_key(list(live_keys) + new, now)
        wanted = [k for k in wanted if k.kid != keep.kid]
        warnings.append(Diagnostic(Severity.WARNING, f"key {keep.kid} in {keyset_id_} is not in any manifest, but it is "
                                   "the key B2C uses now and no managed key is valid now: it stays enabled until one is",
                                   location))
    changes = [Change(Action.DISABLE_KEY, keyset_id_, kid=k.kid, location=location, reason=Reason.UNMANAGED_KEY,
                      detail="no desired key matches it") for k in wanted]
    return changes, warnings


def _disabled(keys: Sequence[LiveKey], off: Sequence[LiveKey]) -> list[LiveKey]:
    kids = {k.kid for k in off}
    return [LiveKey(k.kid, k.kty, k.use, k.nbf, k.exp, "disabled", k.x5t) if k.kid in kids else k for k in keys]
