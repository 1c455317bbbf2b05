"""A lease on the tenant, so that two applies never write at once.

Graph offers no lock, no ETag and no conditional write for key sets. It offers one atomic
step: creating a key set is create-if-absent (a second create of the same id is refused
with AADB2C95028). The lease is therefore a key set, `B2C_1A_B2CKeysLock`:

- **taken** by creating it, then uploading into it a certificate (`leasecert`) whose
  validity says since when and until when the lease holds, and whose subject names the
  holder; the certificate's thumbprint (`x5t`) is the lock ID;
- **kept** by uploading a later certificate every third of its time to live, after
  checking that the lease is still this run's (keys are append-only: one key per renewal);
- **given back** by deleting the key set, then the `<id>.bak` copy a delete leaves;
- **expired** when its latest `exp` lies more than SKEW_SECONDS in the past (clocks
  differ): the holder was killed. An expired lease, or one that shows no certificate for
  ORPHAN_SECONDS (its taker died between the two steps), is taken over: deleted and
  created again. Two runs taking one expired lease over at the same moment can both
  delete before either creates; so a run that took a lease over waits the settle
  window and reads it again, and goes back to waiting if the certificate there is not its own.
- **broken by hand** with `b2ckeys force-unlock LOCK_ID`.

Reads may lag behind writes; the lease never trusts a read to take it, only the create.
`plan` and `drift` read; they never take the lease.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from typing import Callable

from ..core.diagnostics import printable
from ..core.errors import GraphConflict, GraphError, GraphNotFound, LeaseHeld, LeaseLost, ReconcilerError
from ..core.model import LEASE_KEYSET_ID
from .leasecert import lease_certificate, thumbprint
from .leaseread import LEASE_BACKUP_ID, LeaseInfo, force_unlock, is_lease, read_lease, remove
from .retry import is_ambiguous

__all__ = ["LEASE_KEYSET_ID", "LEASE_BACKUP_ID", "Lease", "LeaseInfo", "force_unlock", "is_lease", "read_lease",
           "remove"]

TTL_SECONDS = 600.0  # renewed every third of it, so a holder must miss two renewals to lose it
SKEW_SECONDS = 60.0  # how far two machines' clocks may differ
POLL_SECONDS = 5.0  # at most between two tries while waiting (--lock-timeout)
ORPHAN_SECONDS = 120.0  # a lease key set with no certificate for this long was abandoned


class Lease:
    """This run's lease: `acquire`, `start_renewing`, `release`. `holder` and `run` name
    who holds it (`user@host pid N`, the pipeline run) for whoever finds it taken."""

    def __init__(self, client, *, holder: str, run: str = "", ttl: float = TTL_SECONDS,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        scale = client.policy.scale
        self.client, self.holder, self.run = client, holder, run
        self.ttl = max(ttl / scale, 2.0)  # whole seconds in the certificate: never shorter than that
        self.skew, self.poll = SKEW_SECONDS / scale, max(POLL_SECONDS / scale, 0.02)
        self.orphan = ORPHAN_SECONDS / scale
        self.settle = client.settle_seconds  # already divided by the time scale
        self.clock, self.sleep = clock, sleep
        self.lock_id: str | None = None
        self.since = 0
        self.took_over = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- taking it ----------------------------------------------------------------------

    def acquire(self, timeout: float = 0.0, on_wait: Callable[[LeaseInfo | None], None] | None = None) -> None:
        """Takes the lease, waiting up to `timeout` seconds while another run holds it;
        LeaseHeld (naming the holder) when it is still held then."""
        deadline = time.monotonic() + timeout
        keyless_since: float | None = None
        took_over, waited = False, 0
        while True:
            created = self._create()
            if created is not False and self._claim(verify=took_over or created is None):
                self.took_over = took_over
                return
            info = read_lease(self.client)
            if info is not None and info.lock_id is None:
                keyless_since = keyless_since if keyless_since is not None else time.monotonic()
            else:
                keyless_since = None
            abandoned = keyless_since is not None and time.monotonic() - keyless_since > self.orphan
            if info is not None and (info.expired(self.clock(), self.skew) or abandoned) \
                    and self._remove_if_unchanged(info):
                took_over = True
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise LeaseHeld(_held_message(info, timeout))
            if not waited and on_wait:
                on_wait(info)
            self.sleep(min(self.poll * min(2 ** waited, 16) / 16, left))  # 1/16 of POLL_SECONDS first, then doubling
            waited += 1

    def _create(self) -> bool | None:
        """True: this run created the lease key set; False: it exists; None: not known (the
        answer was lost)."""
        try:
            self.client.create_keyset(LEASE_KEYSET_ID)
            return True
        except GraphConflict:
            return False
        except GraphError as e:
            if is_ambiguous(e):
                return None
            raise

    def _claim(self, *, verify: bool) -> bool:
        """Uploads this run's first certificate into the lease key set. `verify`: the set may
        be another run's too (a create whose answer was lost, a lease taken over), so the lease
        counts as this run's only once a read shows this run's certificate as the first."""
        self.since = int(self.clock())
        der = lease_certificate(self.holder, self.run, self.since, self.since + math.ceil(self.ttl))
        self.lock_id = thumbprint(der)
        try:
            self._upload(der)
        except GraphNotFound:  # the create whose answer was lost did not land
            self.lock_id = None
            return False
        except GraphError as e:
            if is_ambiguous(e) and self._still_ours_after(self.settle):
                return True
            if not verify:
                remove(self.client)
            self.lock_id = None
            raise LeaseLost(f"could not take the tenant lease: {e}") from None
        if verify and not self._still_ours_after(self.settle):
            self.lock_id = None  # another run holds it: wait for it
            return False
        return True

    def _still_ours_after(self, seconds: float) -> bool:
        """Whether the lease shows this run's certificate, read until it does or `seconds` passed."""
        end = time.monotonic() + seconds
        while True:
            info = read_lease(self.client)
            if info is not None and info.lock_id == self.lock_id:
                return True
            if self._taken_by_another(info) or time.monotonic() >= end:
                return False
            self.sleep(min(1.0, self.poll))

    def _taken_by_another(self, info: LeaseInfo | None) -> bool:
        """Whether `info` shows another run's lease, taken after this run's. A lease taken
        before this one is a read that lags behind the writes (its delete does not show yet)."""
        if info is None or info.lock_id in (None, self.lock_id):
            return False
        return info.since is None or info.since >= self.since

    def _remove_if_unchanged(self, seen: LeaseInfo) -> bool:
        """Deletes an expired or abandoned lease, unless it changed since it was read."""
        again = read_lease(self.client)
        if again != seen:
            return False
        remove(self.client)
        return True

    # -- keeping it ---------------------------------------------------------------------

    def renew(self) -> None:
        """Extends the lease by its time to live; LeaseLost when it is no longer this run's."""
        info = read_lease(self.client)
        if self._taken_by_another(info):
            raise LeaseLost(f"the tenant lease was taken over ({info.describe()}); this run stopped starting changes")
        try:
            self._upload(lease_certificate(self.holder, self.run, self.since, int(self.clock() + self.ttl) + 1))
        except GraphNotFound:
            raise LeaseLost("the tenant lease was released by another run (force-unlock); "
                            "this run stopped starting changes") from None

    def start_renewing(self, on_lost: Callable[[str], None]) -> None:
        """Renews in a thread every third of the time to live until `release`."""
        def loop():
            while not self._stop.wait(self.ttl / 3):
                try:
                    self.renew()
                except LeaseLost as e:
                    on_lost(str(e))
                    return
                except ReconcilerError:
                    pass  # a missed renewal: two more come before the lease expires
        self._thread = threading.Thread(target=loop, name="lease-renewal", daemon=True)
        self._thread.start()

    # -- giving it back -----------------------------------------------------------------

    def release(self) -> None:
        """Stops renewing and deletes the lease (and its `.bak`), unless another run holds it now;
        also when the run's deadline just passed (`deadline.finishing`), rather than leave it to expire."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.lock_id is None:
            return
        with self.client.deadline.finishing():
            info = read_lease(self.client)
            if self._taken_by_another(info):
                self.lock_id = None
                raise LeaseLost(f"the tenant lease was taken over ({info.describe()}); left as it is")
            remove(self.client)
        self.lock_id = None

    def _upload(self, der: bytes) -> None:
        self.client.upload_certificate(LEASE_KEYSET_ID, certificate=base64.b64encode(der).decode())


def _held_message(info: LeaseInfo | None, timeout: float) -> str:
    what = info.describe() if info is not None else "a lease being taken"
    waited = f" after waiting {timeout:g} s" if timeout > 0 else ""
    lock_id = printable(info.lock_id) if info is not None and info.lock_id else "LOCK_ID"
    return (f"another run holds the tenant lease{waited}: {what}. Nothing was changed. Wait for it, or rerun "
            f"with --lock-timeout 10m; if its holder is gone, release it with: b2ckeys force-unlock {lock_id}")
