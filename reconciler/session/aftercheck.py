"""What `apply` checks after its changes, before it gives the tenant lease back.

1. Every key it added is visible to reads. Graph may show a write only some seconds
   later (read-after-write lag); a run that released the lease at once would let the next
   run plan from a stale tenant and add the same keys again. So the key sets it touched
   are read again until each added key shows, bounded by the settle window
   (B2CKEYS_SETTLE_SECONDS). Few key sets are read one by one; many, with one listing.
2. No key identity is present twice in a key set it touched (`plan.duplicates`):
   keys cannot be deleted one by one in Graph, so a duplicate is reported, with how to
   disable the extra key.
"""

from __future__ import annotations

import time
from typing import Callable

from ..core.changes import Action
from ..core.model import DesiredState, LiveKeySet
from ..core.report import ApplyReport, Status
from ..plan.duplicates import find_duplicates, how_to_fix

LIST_ABOVE = 10  # more key sets to read than this: one listing (a page per 100 or so) beats a GET each


def check_after_apply(client, state: DesiredState, report: ApplyReport,
                      monotonic: Callable[[], float] = time.monotonic) -> list[str]:
    """Problems found in the key sets `report` added keys to (empty: all is well)."""
    added: dict[str, set[str]] = {}
    ids: dict[str, str] = {}
    for outcome in report.outcomes:
        if outcome.status is Status.DONE and (outcome.kid or outcome.change.action is Action.CREATE_KEYSET):
            upper = outcome.change.keyset_id.upper()
            ids[upper] = outcome.change.keyset_id
            added.setdefault(upper, set()).update({outcome.kid} if outcome.kid else ())
    if not added:
        return []
    settle = client.settle_seconds
    end = monotonic() + settle
    seen: dict[str, LiveKeySet] = {}
    waiting = dict(added)
    while True:
        for keyset in _read(client, [ids[k] for k in waiting]):
            seen[keyset.id.upper()] = keyset
        waiting = {k: kids for k, kids in waiting.items()
                   if k not in seen or not kids <= {key.kid for key in seen[k].keys}}
        if not waiting or monotonic() >= end:
            break
        client.sleep(min(client.settle_interval, max(0.0, end - monotonic())))
    problems = [f"key set {ids[k]}: the keys just added ({', '.join(sorted(kids))}) are not visible "
                f"to reads after {settle:g} s; wait before the next plan, or it may add them again "
                "(B2CKEYS_SETTLE_SECONDS sets how long apply waits)" for k, kids in sorted(waiting.items())]
    desired = {ks.id.upper(): ks for ks in state.keysets}
    for upper, keyset in sorted(seen.items()):
        for duplicate in find_duplicates(keyset, desired.get(upper)):
            problems.append(f"key set {duplicate.keyset_id} holds the same key more than once: kid "
                            f"{duplicate.kids[0]} is present again as {', '.join(duplicate.extra)}; "
                            f"{how_to_fix(duplicate)}")
    return problems


def _read(client, keyset_ids: list[str]) -> list[LiveKeySet]:
    if len(keyset_ids) > LIST_ABOVE:
        wanted = {i.upper() for i in keyset_ids}
        return [ks for ks in client.list_keysets().keysets if ks.id.upper() in wanted]
    found = []
    for keyset_id in keyset_ids:
        keyset = client.get_keyset(keyset_id)
        if keyset is not None:
            found.append(keyset)
    return found

