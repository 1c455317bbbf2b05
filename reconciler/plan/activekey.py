"""Which key of a key set B2C uses at a given time (B2C's rule: among enabled keys valid at that time, the one with the latest nbf). Pure.

Among the *enabled* keys (a key whose status Graph leaves out counts as enabled)
that are valid at `t` (nbf <= t < exp; a missing bound is open), the one with the
latest nbf is active; keys with no nbf rank below any key with one; on a tie the
key listed last (added last) wins. B2C's getActiveKey is the authority; this is
the local model of it, used to warn before sign-ins fail with AADB2C90019.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from ..core.changes import Action, ActiveKey, Change
from ..core.model import LiveKey, LiveState


def is_enabled(key: LiveKey) -> bool:
    return key.status is None or key.status.lower() == "enabled"


def is_valid_at(key: LiveKey, t: int) -> bool:
    """Enabled, and t within [nbf, exp)."""
    return is_enabled(key) and (key.nbf is None or key.nbf <= t) and (key.exp is None or t < key.exp)


def active_key(keys: Sequence[LiveKey], t: int) -> LiveKey | None:
    """The key B2C would use at time `t` (epoch seconds), or None when no key is valid then."""
    best: tuple | None = None
    for index, key in enumerate(keys):
        if is_valid_at(key, t):
            rank = (key.nbf is not None, key.nbf or 0, index)
            if best is None or rank > best[0]:
                best = (rank, key)
    return best[1] if best else None


def next_valid_from(keys: Sequence[LiveKey], t: int) -> int | None:
    """The earliest time after `t` at which some enabled key becomes valid (its nbf), if any."""
    starts = [k.nbf for k in keys if is_enabled(k) and k.nbf is not None and k.nbf > t
              and (k.exp is None or k.nbf < k.exp)]
    return min(starts) if starts else None


def after_changes(changes: Sequence[Change], live: LiveState, now: int) -> list[ActiveKey]:
    """The active key now and once `changes` are made, for each key set they add keys to or
    disable keys in. A new key has no kid yet: `ActiveKey.after_change` points at its change."""
    touched: dict[str, list[LiveKey]] = {}
    disabled: set[tuple[str, str]] = set()
    for index, change in enumerate(changes):
        if change.action.adds_key or change.action is Action.DISABLE_KEY:
            current = live.find(change.keyset_id)
            keys = touched.setdefault(change.keyset_id, list(current.keys) if current else [])
            if change.action is Action.DISABLE_KEY:
                disabled.add((change.keyset_id, change.kid))
            else:
                key = change.key
                keys.append(LiveKey(f"#{index}", key.kty, key.use, key.nbf, key.exp))
    views = []
    for keyset, keys in touched.items():
        before = active_key([k for k in keys if not k.kid.startswith("#")], now)
        after = active_key([replace(k, status="disabled") if (keyset, k.kid) in disabled else k for k in keys], now)
        new = after is not None and after.kid.startswith("#")
        views.append(ActiveKey(keyset, before.kid if before else None,
                               None if after is None or new else after.kid, int(after.kid[1:]) if new else None))
    return views


def named_by_answer(answer: LiveKey | None, keys: Sequence[LiveKey]) -> tuple[str | None, str]:
    """The kid of the key B2C's getActiveKey answer names, as (kid, ""); (None, "") when the
    answer is "no active key"; (None, why) when the answer cannot be tied to one key listed.

    An answer without a kid is the enabled listed key that has the fields the answer
    carries (kty, and use, nbf, exp and x5t where the answer has them; the documented
    example has no kid and no nbf), when exactly one key has them."""
    if answer is None:
        return None, ""
    if answer.kid:
        return answer.kid, ""
    fits = [k for k in keys if is_enabled(k) and _carries(answer, k)]
    if len(fits) == 1:
        return fits[0].kid, ""
    which = "no key listed has" if not fits else f"{len(fits)} keys listed have"
    return None, f"getActiveKey named no kid, and {which} the fields it gave"


def _carries(answer: LiveKey, key: LiveKey) -> bool:
    """`key` has every field the kid-less `answer` gives."""
    given = [(answer.use, key.use), (answer.nbf, key.nbf), (answer.exp, key.exp),
             ((answer.x5t or "").rstrip("="), (key.x5t or "").rstrip("="))]
    return answer.kty == key.kty and all(want == got for want, got in given if want not in (None, ""))
