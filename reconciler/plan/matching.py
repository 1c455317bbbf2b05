"""Which live key is which desired key, in one key set (docs/manifests.md: how plans are made). Pure.

- A desired key matches a live key of the same kty and use with the nbf and exp it
  gives; a date it leaves out matches any date, since the service may fill one in
  (`DesiredKey.matches`). A certificate key matches by its thumbprint (x5t).
- Each live key is one desired key's at most, and the pairing is a maximum matching
  (shortest augmenting paths), never a greedy one: desired C (nbf X, exp left out)
  and E (exp Y, nbf left out) with live keys (X, Y) and (X, Q) both find theirs.
- Among the maximum matchings, the one with the most exact matches (no date left to
  chance), then with the most enabled live keys, then with the live keys B2C ranks
  highest (latest nbf, then added last): of two copies of a key, the one kept is the
  one B2C uses.
- A desired key with a date left out never takes a live key that looks made by the
  key set's rotation (the rotating key's kty and use, exp - nbf equal to its
  lifetime): that key is the chain's. The chains (`rotation.split_chain`) are then
  taken from the live keys no fixed key matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..core.model import DesiredKey, LiveKey
from .activekey import is_enabled
from .rotation import split_chain


@dataclass(frozen=True)
class KeySetMatch:
    pairs: tuple[tuple[DesiredKey, LiveKey], ...] = ()  # a fixed desired key and its live key, manifest order
    missing: tuple[DesiredKey, ...] = ()  # fixed desired keys with no live key, in the order to add them
    chains: tuple[tuple[DesiredKey, tuple[LiveKey, ...]], ...] = ()  # a rotating key and its chain
    leftover: tuple[LiveKey, ...] = ()  # live keys nothing claimed, as listed

    def owner(self, live: LiveKey) -> DesiredKey | None:
        """The desired key (fixed or rotating) that claimed `live`, or None."""
        for desired, claimed in self.pairs:
            if claimed is live:
                return desired
        return next((rotating for rotating, chain in self.chains if any(k is live for k in chain)), None)


def add_order(key: DesiredKey) -> tuple:
    """Keys are added in ascending nbf, keys with no nbf first."""
    return (key.nbf is not None, key.nbf or 0, key.exp is not None, key.exp or 0)


def match_keyset(desired: Sequence[DesiredKey], live: Sequence[LiveKey]) -> KeySetMatch:
    """The fixed keys' live keys (a maximum matching), then each rotating key's chain."""
    fixed = [k for k in desired if k.rotate is None]
    rotating = [k for k in desired if k.rotate is not None]
    partner = _assign([[_cost_class(k, candidate, rotating) for candidate in live] for k in fixed], live)
    claimed = {j for j in partner if j is not None}
    pool = [candidate for j, candidate in enumerate(live) if j not in claimed]
    chains = []
    for key in rotating:
        chain, pool = split_chain(key, pool)
        chains.append((key, tuple(chain)))
    return KeySetMatch(
        pairs=tuple((key, live[j]) for key, j in zip(fixed, partner) if j is not None),
        missing=tuple(sorted((key for key, j in zip(fixed, partner) if j is None), key=add_order)),
        chains=tuple(chains),
        leftover=tuple(pool),
    )


def may_claim(key: DesiredKey, live: LiveKey, rotating: Sequence[DesiredKey]) -> bool:
    """`key` (a fixed desired key) may be paired with `live` in a key set with these rotating keys."""
    return _cost_class(key, live, rotating) is not None


def _cost_class(key: DesiredKey, live: LiveKey, rotating: Sequence[DesiredKey]) -> int | None:
    """0: an exact match, 1: a match through a date left out, None: no match."""
    if not key.matches(live):
        return None
    if key.matches_exactly(live):
        return 0
    return None if any(_made_by_rotation(r, live) for r in rotating) else 1


def _made_by_rotation(rotating: DesiredKey, live: LiveKey) -> bool:
    return ((live.kty, live.use) == (rotating.kty, rotating.use) and live.nbf is not None and live.exp is not None
            and live.exp - live.nbf == rotating.rotate.lifetime)


def _assign(classes: list[list[int | None]], live: Sequence[LiveKey]) -> list[int | None]:
    """For each desired row, the live column it is paired with (or None): the pairing of least
    cost, with costs weighted so that more pairs always win, then more exact pairs, then more
    enabled keys, then keys B2C ranks higher. The Hungarian method (shortest augmenting paths
    with potentials), O(n²·m) for n desired and m live keys; a key set's desired keys are few."""
    n, m = len(classes), len(live)
    if n == 0 or m == 0:
        return [None] * n
    only = [[j for j, cls in enumerate(row) if cls is not None] for row in classes]
    if all(len(c) <= 1 for c in only) and len({c[0] for c in only if c}) == sum(1 for c in only if c):
        return [c[0] if c else None for c in only]  # the usual case: one candidate each, none shared
    by_rank = sorted(range(m), key=lambda j: (live[j].nbf is not None, live[j].nbf or 0, j), reverse=True)
    rank = {j: position for position, j in enumerate(by_rank)}  # 0: the key B2C would pick first
    disabled_weight = n * m + 1
    wildcard_weight = disabled_weight * (n + 1)
    unmatched = (n + 1) * (wildcard_weight + disabled_weight + m) + 1
    forbidden = (n + 1) * unmatched

    def cost(i: int, j: int) -> int:
        if j >= m:  # one "no live key" column per desired key
            return unmatched
        cls = classes[i][j]
        if cls is None:
            return forbidden
        return cls * wildcard_weight + (0 if is_enabled(live[j]) else disabled_weight) + rank[j]

    cols = m + n
    u, v = [0] * (n + 1), [0] * (cols + 1)
    row_of, way = [0] * (cols + 1), [0] * (cols + 1)  # 1-based; row_of[0] is the row being placed
    for i in range(1, n + 1):
        row_of[0], j0 = i, 0
        least, used = [None] * (cols + 1), [False] * (cols + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = row_of[j0], None, 0
            for j in range(1, cols + 1):
                if not used[j]:
                    reduced = cost(i0 - 1, j - 1) - u[i0] - v[j]
                    if least[j] is None or reduced < least[j]:
                        least[j], way[j] = reduced, j0
                    if delta is None or least[j] < delta:
                        delta, j1 = least[j], j
            for j in range(cols + 1):
                if used[j]:
                    u[row_of[j]] += delta
                    v[j] -= delta
                else:
                    least[j] -= delta
            j0 = j1
            if row_of[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            row_of[j0] = row_of[j1]
            j0 = j1
    partner: list[int | None] = [None] * n
    for j in range(1, m + 1):
        if row_of[j]:
            partner[row_of[j] - 1] = j - 1
    return partner
