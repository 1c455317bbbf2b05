"""Keys present twice in a live key set: a problem plan and drift report, never a change. Pure.

Keys cannot be deleted one by one in B2C, so a key added twice stays for ever; the
fix is to disable the extra copy. A live key is an extra copy when it is enabled and
- (in a declared key set) no desired key claimed it, but it matches a fixed desired
  key that has its live key already (`reconciler.plan.matching`'s rule, dates left
  out matching any date): that desired key is present twice; or
- it has the same kty, use, nbf and exp (and x5t) as another enabled live key of the
  key set, in any key set, declared or not. Two such keys that two different desired
  keys claimed are not copies: the manifests ask for both.
The kept key comes first in `Duplicate.kids`: the one a desired key claimed, else the
one B2C uses of them (the one listed last). A disabled copy is not counted, nor
reported as unmanaged: disabling it was the fix. B2C's backups and b2ckeys' lease
(`is_internal`) are never looked at.
"""

from __future__ import annotations

from typing import Sequence

from ..core.changes import Action, Change, Duplicate
from ..core.model import DesiredKey, DesiredKeySet, LiveKey, LiveKeySet, is_internal
from .activekey import is_enabled
from .matching import KeySetMatch, match_keyset, may_claim


def find_duplicates(live_keyset: LiveKeySet, desired_keyset: DesiredKeySet | None) -> tuple[Duplicate, ...]:
    """The keys present more than once in `live_keyset`, matched with `desired_keyset`'s keys
    (None: a key set no manifest declares) as the planner matches them."""
    if is_internal(live_keyset.id):
        return ()
    desired = desired_keyset.keys if desired_keyset is not None else ()
    return duplicates_in(live_keyset.id, live_keyset.keys, match_keyset(desired, live_keyset.keys), desired)


def copy_of(match: KeySetMatch, live: LiveKey, desired: Sequence[DesiredKey]) -> LiveKey | None:
    """For a live key nothing claimed: the live key of the first fixed desired key it matches too."""
    rotating = [k for k in desired if k.rotate is not None]
    return next((kept for key, kept in match.pairs if may_claim(key, live, rotating)), None)


def duplicates_in(keyset_id: str, keys: Sequence[LiveKey], match: KeySetMatch,
                  desired: Sequence[DesiredKey]) -> tuple[Duplicate, ...]:
    """As `find_duplicates`, from the planner's own `match` of `desired` with `keys`."""
    if len(keys) < 2:
        return ()
    position = {id(key): j for j, key in enumerate(keys)}
    extras: dict[int, list[int]] = {}  # the kept key's position -> the extra copies' positions
    for live in match.leftover:
        kept = copy_of(match, live, desired) if is_enabled(live) else None
        if kept is not None:
            extras.setdefault(position[id(kept)], []).append(position[id(live)])
    taken = {j for found in extras.values() for j in found}
    same: dict[tuple, list[int]] = {}
    for j, key in enumerate(keys):
        if is_enabled(key) and j not in taken:
            same.setdefault(_identity(key), []).append(j)
    fixed = {id(live) for _, live in match.pairs}
    for members in same.values():
        wanted = [j for j in members if id(keys[j]) in fixed]
        kept = wanted[0] if wanted else max(members)  # equal nbf: B2C uses the key listed last
        found = [j for j in members if j != kept and j not in wanted]
        if found:
            extras.setdefault(kept, []).extend(found)
    return tuple(Duplicate(keyset_id, (keys[kept].kid, *(keys[j].kid for j in sorted(found))), keys[kept])
                 for kept, found in sorted(extras.items()))


def _identity(key: LiveKey) -> tuple:
    return (key.kty, getattr(key.use, "value", key.use), key.nbf, key.exp, (key.x5t or "").rstrip("=") or None)


def how_to_fix(duplicate: Duplicate, changes: Sequence[Change] = ()) -> str:
    """In words, how to disable the extra copies (or that `changes`, the plan, disables them)."""
    extra = duplicate.extra
    planned = {c.kid for c in changes if c.action is Action.DISABLE_KEY and c.keyset_id == duplicate.keyset_id}
    if set(extra) <= planned:
        return f"this plan disables the extra {'copy' if len(extra) == 1 else 'copies'} (disableUnmanagedKeys)"
    paths = ", ".join(f"/trustFramework/keySets/{duplicate.keyset_id}/keys_v2/{kid}" for kid in extra)
    return (f"disable the extra {'copy' if len(extra) == 1 else 'copies'}: disableUnmanagedKeys: true on key set "
            f"{duplicate.keyset_id}, then apply; or PATCH {paths} with {{\"status\": \"disabled\"}}; "
            "or disable it in the Azure portal")
