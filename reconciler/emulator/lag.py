"""Read-after-write lag (the reading ``read-lag=SECONDS``): reads see the tenant as it was
SECONDS ago; writes, and ``/_emulator/state``, see the true state at once.

``History`` keeps, while the lag is on, the versions of each key set written within the
last SECONDS: ``(time, snapshot or None)``, the first at time -inf being the state
before the first write. A key set with no history is seen as it truly is. A read at time
T sees, for each key set with history, its last version written at or before
``T - lag``; history older than that is dropped as reads come. A deleted key set (and
the ``.bak`` its delete adds) is seen late the same way.

``History`` holds no lock of its own: the store calls it under its lock.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Optional

from .keymodel import KeySet

Version = tuple[float, Optional[KeySet]]


def snapshot(keyset: Optional[KeySet]) -> Optional[KeySet]:
    """A copy that later writes do not change (keys copied too: a status is changed in place)."""
    if keyset is None:
        return None
    return KeySet(keyset.id, keyset.seq, [dataclasses.replace(k) for k in keyset.keys])


class History:
    def __init__(self, lag: Callable[[], float], clock: Callable[[], float]):
        self.lag, self.clock = lag, clock
        self._versions: dict[str, list[Version]] = {}

    @property
    def on(self) -> bool:
        return self.lag() > 0

    def clear(self) -> None:
        self._versions.clear()

    def forget(self, key: str) -> None:
        self._versions.pop(key, None)

    def record(self, key: str, before: Optional[KeySet], after: Optional[KeySet]) -> None:
        """One write to key set ``key`` (lower-case id), given copies of it before and after."""
        if not self.on:
            self._versions.clear()
            return
        now = self.clock()
        versions = self._versions.get(key)
        if versions is None or versions[-1][0] <= now - self.lag():
            versions = self._versions[key] = [(-math.inf, before)]   # none, or settled
        versions.append((now, after))

    def visible(self, current: dict[str, KeySet]) -> dict[str, KeySet]:
        """What a read sees now, from the true ``current`` key sets (lower-case id -> set);
        ``current`` itself when nothing lags."""
        if not self._versions:
            return current
        horizon = self.clock() - self.lag()
        seen = dict(current)
        for key, versions in list(self._versions.items()):
            if versions[-1][0] <= horizon:
                del self._versions[key]              # settled: the true state is seen
                continue
            shown = [keyset for at, keyset in versions if at <= horizon][-1]
            if shown is None:
                seen.pop(key, None)
            else:
                seen[key] = shown
        return seen
