"""What the tenant shows of its lease (`reconciler.graph.lease`): reading it, describing it
to whoever finds it held, and deleting it (when given back, taken over, or force-unlocked),
with the `.bak` copy B2C keeps of a deleted key set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote

from ..core.diagnostics import printable
from ..core.errors import GraphAnswerUnreadable, GraphError, GraphNotFound, LeaseLost
from ..core.model import LEASE_KEYSET_ID, format_time
from .keyshape import epoch
from .leasecert import certificate_facts
from .retry import is_ambiguous

LEASE_BACKUP_ID = LEASE_KEYSET_ID + ".bak"


def is_lease(keyset_id: str) -> bool:
    """The lease key set, or the `.bak` its delete leaves (any case)."""
    return keyset_id.lower() in (LEASE_KEYSET_ID.lower(), LEASE_BACKUP_ID.lower())


@dataclass(frozen=True)
class LeaseInfo:
    """What the tenant shows of the lease. `lock_id` None: the key set exists but holds no
    certificate (being taken, or abandoned)."""

    lock_id: str | None
    holder: str | None = None
    since: int | None = None
    expires: int | None = None

    def expired(self, now: float, skew: float) -> bool:
        return self.expires is not None and self.expires + skew < now

    def describe(self) -> str:
        if self.lock_id is None:
            return "a lease being taken (no certificate in it yet)"
        parts = [f"lock ID {printable(self.lock_id)}"]
        if self.holder:
            parts.append(f"held by {printable(self.holder)}")
        if self.since is not None:
            parts.append(f"since {format_time(self.since)}")
        if self.expires is not None:
            parts.append(f"expires {format_time(self.expires)} unless renewed")
        return ", ".join(parts)


def read_lease(client) -> LeaseInfo | None:
    """The lease as the tenant shows it now, or None when there is none (or none yet visible)."""
    try:
        data = client._call("GET", _path(LEASE_KEYSET_ID)).json()
    except GraphNotFound:
        return None
    except (ValueError, RecursionError):  # not JSON, or nested past Python's recursion limit
        raise GraphError("Graph sent the tenant lease in a shape b2ckeys does not understand") from None
    keys = [k for k in (data.get("keys") or ()) if isinstance(k, dict)] if isinstance(data, dict) else []
    if not keys:
        return LeaseInfo(None)
    dated = [(_epoch(k.get("exp")), k) for k in keys]
    # the first certificate: the earliest end, and on a tie the lowest thumbprint, as every reader sees it
    first = min(dated, key=lambda pair: (math.inf if pair[0] is None else pair[0], str(pair[1].get("x5t"))))[1]
    holder, since, until = certificate_facts(first.get("x5c"))
    ends = [e for e, _ in dated if e is not None]
    return LeaseInfo(
        lock_id=str(first.get("x5t") or first.get("kid") or "?"),
        holder=holder,
        since=_epoch(first.get("nbf")) if first.get("nbf") is not None else since,
        expires=max(ends) if ends else until,
    )


def remove(client) -> None:
    """Deletes the lease key set and the `.bak` copy its delete leaves; gone already is fine."""
    for keyset_id in (LEASE_KEYSET_ID, LEASE_BACKUP_ID):
        for attempt in range(3):
            try:
                client.delete_keyset(keyset_id)
                break
            except GraphNotFound:
                break
            except GraphError as e:
                if not is_ambiguous(e) or attempt == 2:
                    raise


def force_unlock(client, lock_id: str) -> LeaseInfo:
    """Deletes the lease if its lock ID is `lock_id`; returns what was released."""
    info = read_lease(client)
    if info is None:
        raise LeaseLost("the tenant has no lease: nothing to unlock")
    if info.lock_id is not None and info.lock_id != lock_id:
        raise LeaseLost(f"the tenant's lease is {info.describe()}, not {printable(lock_id)}: nothing was "
                        "released. Check that its holder is gone, then rerun with that lock ID")
    remove(client)
    return info


def _epoch(value) -> int | None:
    """A date of the lease's key, or None when it is not one b2ckeys takes (`keyshape.epoch`)."""
    try:
        return epoch(value, "date")
    except GraphAnswerUnreadable:
        return None


def _path(keyset_id: str) -> str:
    return "/trustFramework/keySets/" + quote(keyset_id, safe="")
