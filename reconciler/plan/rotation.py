"""Rotation of generated keys, `rotate: {lifetime: 180d, renewBefore: 30d}`. Pure.

The *chain* of a rotating key is every live key of its key set that no fixed
desired key claimed, with the rotating key's kty and use and both an nbf and an
exp. From the chain and `now` the planner adds at most one key:

- when no key of the chain is valid now (there is none yet, or all expired or are
  disabled): a key valid from the start of the current UTC day (of the hour, for
  a lifetime too short to start at midnight), for `lifetime`.
  Starting at midnight rather than at `now` keeps a plan the same all day, so a
  saved plan can still be applied hours after it was made;
- else, when the chain's newest key (latest exp) has `renewBefore` or less left:
  its successor, valid from `renewBefore/2` before that key expires, for
  `lifetime`. It is published at once and B2C switches to it at its nbf (the
  latest valid nbf wins), so relying parties see it in the key set's JWKS before
  anything is signed with it, and the old key stays published while tokens it
  signed are still in use. Its dates come from the live keys only: planning again
  later in the window gives the same key.

Right after an apply the newest key has at least `lifetime - renewBefore/2` left,
more than `renewBefore` (the manifest requires renewBefore <= lifetime/2): so a
plan right after an apply shows no change, and one key is added per lifetime.
"""

from __future__ import annotations

from typing import Sequence

from ..core.model import DesiredKey, LiveKey, format_time
from .activekey import is_enabled, is_valid_at

DAY, HOUR = 86_400, 3_600


def split_chain(key: DesiredKey, pool: Sequence[LiveKey]) -> tuple[list[LiveKey], list[LiveKey]]:
    """(the chain of the rotating `key`, the rest of `pool`)."""
    chain, rest = [], []
    for live in pool:
        member = (live.kty, live.use) == (key.kty, key.use) and live.nbf is not None and live.exp is not None
        (chain if member else rest).append(live)
    return chain, rest


def successor(key: DesiredKey, chain: Sequence[LiveKey], now: int) -> tuple[DesiredKey, str] | None:
    """The key to add now, and why in words; None when the chain needs nothing."""
    rotation = key.rotate
    assert rotation is not None
    if not any(is_valid_at(live, now) for live in chain):
        nbf = now - now % DAY
        if nbf + rotation.lifetime - rotation.renew_before <= now:  # a short lifetime: the hour, not the day
            nbf = now - now % HOUR
        why = "no key of the chain is valid now" if chain else "first key"
        return _key(key, nbf, nbf + rotation.lifetime), why
    newest = max((k for k in chain if is_enabled(k) and k.exp > now), key=lambda k: (k.exp, k.nbf))
    if newest.exp - now > rotation.renew_before:
        return None
    nbf = newest.exp - rotation.renew_before // 2
    why = f"successor of key {newest.kid}, which expires {format_time(newest.exp)}"
    return _key(key, nbf, nbf + rotation.lifetime), why


def _key(template: DesiredKey, nbf: int, exp: int) -> DesiredKey:
    return DesiredKey(template.kind, template.kty, template.use, nbf, exp, location=template.location)
