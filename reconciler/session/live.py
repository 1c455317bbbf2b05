"""The live state as plan and drift need it: the tenant's key sets, and the status of
the keys `disableUnmanagedKeys` may touch and of keys present twice (the list answer may
leave it out).
"""

from __future__ import annotations

import dataclasses

from ..core.diagnostics import Diagnostic, Severity
from ..core.errors import GraphAuthError
from ..core.model import DesiredState, LiveKeySet, LiveState
from ..graph.lease import is_lease
from ..plan.planner import unmatched_keys


def read_live(client, state: DesiredState, now: int, *, listed: LiveState | None = None
              ) -> tuple[LiveState, list[Diagnostic]]:
    """The tenant's key sets (`listed`, when the caller listed them already), but the tenant
    lease (`graph.lease`) and its `.bak`, which are b2ckeys' own; for key sets
    with `disableUnmanagedKeys`, the status of each unmanaged key the list answer leaves
    out, and in every key set that of each extra copy of a key present twice (a disabled
    copy is no longer a problem), from `keys_v2` (one GET per key). Graph gives
    keys_v2 to ReadWrite.All only: with a read-only app the statuses stay unknown, and a
    warning says what that means for the plan."""

    live = client.list_keysets() if listed is None else listed
    if any(is_lease(ks.id) for ks in live.keysets):  # b2ckeys' own, coming and going with each apply
        live = LiveState(tuple(ks for ks in live.keysets if not is_lease(ks.id)))
    wanted = [(keyset.id, key.kid) for keyset, key in unmatched_keys(state, live, now)
              if key.status is None and keyset.id and key.kid]
    statuses = {}
    try:
        for pair in wanted:
            statuses[pair] = client.key_status(*pair)
    except GraphAuthError:
        return live, [Diagnostic(Severity.WARNING, "the status of unmanaged keys cannot be read (Graph's keys_v2 "
                                 "needs TrustFrameworkKeySet.ReadWrite.All): keys disableUnmanagedKeys disabled "
                                 "already may be shown as keys to disable, and disabled copies as keys "
                                 "present more than once")]
    if not statuses:
        return live, []
    return LiveState(tuple(_with_statuses(keyset, statuses) for keyset in live.keysets)), []


def _with_statuses(keyset: LiveKeySet, statuses: dict) -> LiveKeySet:
    keys = tuple(dataclasses.replace(k, status=statuses.get((keyset.id, k.kid), k.status)) for k in keyset.keys)
    return dataclasses.replace(keyset, keys=keys)
