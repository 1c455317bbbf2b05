"""How a run holds the tenant lease (`reconciler.graph.lease`): the options `apply` takes
(`--lock`, `--lock-timeout`), who the holder is, and keeping the lease while changes are
made (renewed in a thread; when it is lost, no further change starts).
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
from dataclasses import dataclass
from typing import Callable, Mapping

from ..core.errors import LeaseLost, ReconcilerError
from ..graph.lease import Lease, LeaseInfo


@dataclass(frozen=True)
class LeaseOptions:
    """`enabled` False is `--lock=false` (unsafe: two applies may then add the same key);
    `timeout`: seconds to wait for another run's lease (`--lock-timeout`, default 0: fail
    at once); `on_wait`: told once, with what the tenant shows, when a wait begins."""

    enabled: bool = True
    timeout: float = 0.0
    on_wait: Callable[[LeaseInfo | None], None] | None = None


def holder(command: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """(who: `apply by user@host pid N`, the pipeline run if any) for the lease certificate."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container's user may have no name
        user = "?"
    who = f"{command} by {user}@{socket.gethostname()} pid {os.getpid()}"
    if environ.get("GITHUB_RUN_ID"):
        run = f"GitHub {environ.get('GITHUB_REPOSITORY', '?')} run {environ['GITHUB_RUN_ID']}"
    elif environ.get("BUILD_BUILDID"):
        run = f"Azure DevOps {environ.get('SYSTEM_TEAMPROJECT', '?')} build {environ['BUILD_BUILDID']}"
    else:
        run = ""
    return who, run


class HeldLease:
    """A lease taken for one run. While `keeping(stop)`, it is renewed; if it is lost,
    `stop` is set (no further change starts) and `lost` says why."""

    def __init__(self, client, command: str, environ: Mapping[str, str], options: LeaseOptions):
        who, run = holder(command, environ)
        self.lease = Lease(client, holder=who, run=run)
        self.lease.acquire(options.timeout, options.on_wait)
        self.lost: str | None = None
        self._stop: threading.Event | None = None
        self.lease.start_renewing(self._on_lost)

    @property
    def lock_id(self) -> str | None:
        return self.lease.lock_id

    def watch(self, stop: threading.Event) -> None:
        """Sets `stop` when the lease is lost (now, or later)."""
        self._stop = stop
        if self.lost:
            stop.set()

    def _on_lost(self, why: str) -> None:
        self.lost = why
        if self._stop is not None:
            self._stop.set()

    def release(self) -> str | None:
        """Gives the lease back; a problem to report, or None."""
        try:
            self.lease.release()
        except LeaseLost as e:
            return self.lost or str(e)
        except ReconcilerError as e:  # released or not, the run's own outcome comes first
            return f"the tenant lease could not be released ({e}); it expires by itself, or use b2ckeys force-unlock {self.lock_id}"
        return self.lost
