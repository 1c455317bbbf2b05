"""`b2ckeys probe`'s questions to a real tenant: which reading of the undocumented behaviours
of `trustFramework/keySets` it follows (the emulator offers each as a `--reading`).

It makes one throw-away key set, `B2C_1A_B2CKeysProbe<random letters>`, and asks, in order:
create it with the prefix given (kept or doubled?), read it until it shows (lag), create it
again (400 or 409?), read a missing key set (400 or 404?), upload a secret valid only a
year from now and ask for the active key (400 or 404?), upload a secret without dates (are
dates filled in? does getActiveKey's answer carry `kid`?), list every page (do items carry
`keys`? page size, next link form), delete it (is a `.bak` left?) and delete the `.bak`.
About 15 requests when every write shows at once. Whatever fails, what it made is deleted
(`finally`); the report says what could not be determined and anything left behind.
"""

from __future__ import annotations

import secrets
import string
import time
from typing import Callable

from ..core import probe as q
from ..core.errors import ReconcilerError
from ..core.model import KEYSET_PREFIX, format_time
from ..core.probe import ProbeReport, not_reached
from . import probe_findings as read
from .answers import NOT_FOUND_CODES
from .probing import Conversation, ProbeStopped, keyset_path

NAME = "B2CKeysProbe"
YEAR = 365 * 24 * 3600
MAX_BACKUPS = 3                 # a .bak of a .bak of ...: deleted this deep at most


def new_secret() -> str:
    """The value uploaded as a throw-away key's `k`: random, never shown."""
    return secrets.token_urlsafe(32)


def _letters(count: int) -> str:
    return "".join(secrets.choice(string.ascii_letters) for _ in range(count))


def probe_tenant(client, *, tenant: str, time_scale: float = 1.0,
                 on_step: Callable[[str], None] | None = None) -> ProbeReport:
    """Asks every question of the module docstring of `client`'s tenant (signed in with the
    write permission); `on_step` hears each step as it starts."""
    return Probe(client, tenant=tenant, time_scale=time_scale, on_step=on_step).run()


class Probe:
    def __init__(self, client, *, tenant: str, time_scale: float = 1.0,
                 on_step: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.graph = Conversation(client, time_scale=time_scale, clock=clock, sleep=sleep)
        self.client, self.tenant, self.clock = client, tenant, clock
        self.on_step = on_step or (lambda line: None)
        self.requested = KEYSET_PREFIX + NAME + _letters(10)
        self.keyset = self.requested
        self.pending: list[str] = []        # made (or perhaps made) and not deleted yet
        self.deleted: list[str] = []
        self.left: list[str] = []
        self.kids: list[str] = []
        self.last_write = 0.0               # monotonic time the last key upload was answered
        self.backups: bool | None = None    # does a DELETE leave a .bak? None: not known yet
        self.found: dict = {}
        self.step = "starting"

    def run(self) -> ProbeReport:
        started, began, before = time.time(), self.clock(), self.client.request_count
        failure = None
        try:
            self._ask_all()
        except ReconcilerError as e:
            failure = f"{self.step}: {e}"
        finally:
            self._clean_up()
        if self.graph.lags:
            self.found[q.READ_LAG] = read.read_lag(self.graph.lags)
        return ProbeReport(
            tenant=self.tenant, started=format_time(int(started)), seconds=round(self.clock() - began, 1),
            keyset=self.keyset, findings=tuple(self.found.get(n) or not_reached(n) for n in q.QUESTIONS),
            requests=self.client.request_count - before, deleted=tuple(self.deleted), left=tuple(self.left),
            failure=failure)

    def _doing(self, step: str) -> None:
        self.step = step
        self.on_step(step)

    # -- the questions, in order ------------------------------------------------------------

    def _ask_all(self) -> None:
        self._create()
        self._doing(f"creating {self.requested} again")
        self._note(read.duplicate(self._post_create()))
        self._doing("reading a key set that does not exist")
        missing = self.graph.ask("GET", keyset_path(KEYSET_PREFIX + NAME + "Missing" + _letters(10)))
        self._note(read.status_400_or_404(q.NOT_FOUND, missing, "not-found-404", what="GET of a missing key set"))
        now = int(time.time())
        self._upload("a secret valid only from a year ahead", nbf=now + YEAR, exp=now + 2 * YEAR)
        self._doing("asking for the active key while no key is valid")
        none = self.graph.ask("GET", keyset_path(self.keyset) + "/getActiveKey")
        self._note(read.status_400_or_404(q.ACTIVE_NONE, none, "getactivekey-404",
                                          what="getActiveKey with no valid key"))
        answered, key = self._upload("a secret without nbf or exp")
        self._note(read.dates(answered, key))
        self._doing("asking for the active key")
        active = self.graph.ask("GET", keyset_path(self.keyset) + "/getActiveKey")
        self._note(read.active_kid(active, key.get("kid")))
        self._list()
        removed = self._remove(self.keyset)
        if removed is None:
            raise ProbeStopped(f"{self.keyset} could not be deleted")
        self._note(read.backup(self.keyset, *removed))

    def _note(self, finding) -> None:
        self.found[finding.question] = finding

    def _post_create(self):
        answer = self.graph.ask("POST", "/trustFramework/keySets", {"id": self.requested})
        made = str(answer.body.get("id") or _location_id(answer.location) or "") if answer.ok else ""
        if made and made.lower() not in (k.lower() for k in self.pending + [self.keyset]):
            self.pending.append(made)  # an unexpected second key set: deleted too
        return answer

    def _create(self) -> None:
        self._doing(f"creating {self.requested}")
        self.pending += [self.requested, KEYSET_PREFIX + self.requested]  # either, until the answer says
        answer = self.graph.ask("POST", "/trustFramework/keySets", {"id": self.requested})
        since = self.clock()
        if not answer.ok:
            self.pending = []  # refused: nothing was made
            raise ProbeStopped(f"the create answered {answer.shown()}")
        answered = str(answer.body.get("id") or _location_id(answer.location) or "")
        if answered:
            self.pending, self.keyset = [answered], answered
        self._note(read.prefix(self.requested, answer, answered))
        self._doing(f"reading {self.keyset} until it shows")
        if self.graph.until("create, then GET", since, lambda: self.graph.get_keyset(self.keyset)) is None:
            raise ProbeStopped(f"{self.keyset} did not show in GET within {self.graph.bound:.0f} s")

    def _upload(self, what: str, **dates: int) -> tuple[dict, dict]:
        """Uploads a throw-away secret, then reads the key set until the new key shows in it:
        (the upload's answer, the key as read back)."""
        self._doing(f"uploading {what}")
        answer = self.graph.ask("POST", keyset_path(self.keyset) + "/uploadSecret",
                                {"use": "sig", "k": new_secret(), **dates})
        self.last_write = since = self.clock()
        kid = answer.body.get("kid") if answer.ok else None
        if not kid:
            raise ProbeStopped(f"uploadSecret answered {answer.shown()}{' without a kid' if answer.ok else ''}")
        self.kids.append(kid)

        def key_shown() -> dict | None:
            keyset = self.graph.get_keyset(self.keyset) or {}
            return next((k for k in keyset.get("keys") or () if isinstance(k, dict) and k.get("kid") == kid), None)

        self._doing(f"reading {self.keyset} until key {len(self.kids)} shows")
        key = self.graph.until(f"key {len(self.kids)} added, then GET", since, key_shown)
        if key is None:
            raise ProbeStopped(f"the key uploaded to {self.keyset} did not show within {self.graph.bound:.0f} s")
        return answer.body, key

    def _list(self) -> None:
        self._doing("listing every key set")
        last: dict = {}

        def shown() -> dict | None:
            last["pages"] = pages = self.graph.list_pages()
            last["item"] = item = next((i for p in pages for i in p.items if isinstance(i, dict)
                                        and str(i.get("id") or "").lower() == self.keyset.lower()), None)
            if item is None or ("keys" in item and not set(self.kids) <= {
                    k.get("kid") for k in item.get("keys") or () if isinstance(k, dict)}):
                return None
            return item

        self.graph.until("key 2 added, then the list", self.last_write, shown)
        for finding in read.listed(last["pages"], last["item"], self.kids):
            self._note(finding)

    # -- deleting what was made -------------------------------------------------------------

    def _remove(self, keyset_id: str) -> tuple[bool, list[str]] | None:
        """Deletes `keyset_id`, then the backup the tenant keeps of it, and a backup of that
        backup, ...: (whether GET showed the .bak, the backups deleted), or None when the key
        set could not be deleted (or was not there). A backup is deleted even when GET did not
        show it (yet): the DELETE finds it if it is there."""
        since = self._delete(keyset_id)
        if since is None:
            return None
        seen = False
        if self.backups is not False:
            bak = keyset_id + ".bak"
            self._doing(f"looking for {bak}")
            seen = self.graph.until("DELETE, then GET .bak", since, lambda: self.graph.get_keyset(bak),
                                    bound=self.graph.settle_bound(), record_miss=False) is not None
        backups: list[str] = []
        current = keyset_id
        while (self.backups is not False or seen) and len(backups) < MAX_BACKUPS:
            if self._delete(current + ".bak", blind=True) is None:
                break
            current += ".bak"
            backups.append(current)
        else:
            if backups:
                self.left.append(f"{current}.bak, perhaps (backups of backups {MAX_BACKUPS} deep: the probe "
                                 "stops there)")
        if self.backups is None:
            self.backups = seen or bool(backups)
        return seen, backups

    def _delete(self, keyset_id: str, *, blind: bool = False) -> float | None:
        """DELETE: the monotonic time it was answered, or None: not there, or left (`self.left`).
        `blind`: it may not exist, and any refusal means it was not deleted, nothing more."""
        self._doing(f"deleting {keyset_id}{', if there is one' if blind else ''}")
        self.pending = [k for k in self.pending if k.lower() != keyset_id.lower()]
        try:
            answer = self.graph.ask("DELETE", keyset_path(keyset_id))
        except ReconcilerError as e:
            self.left.append(f"{keyset_id}{', if it exists' if blind else ''} ({e})")
            return None
        if answer.ok:
            self.deleted.append(keyset_id)
            return self.clock()
        if not blind and answer.status != 404 and answer.code not in NOT_FOUND_CODES:
            self.left.append(f"{keyset_id} (DELETE answered {answer.shown()})")
        return None

    def _clean_up(self) -> None:
        """After a failure: whatever is still pending (both possible ids when a create's
        answer was lost), and its backups."""
        while self.pending:
            self._remove(self.pending[0])


def _location_id(location: str | None) -> str:
    """The id in a create's Location: /trustFramework/keySets('B2C_1A_x') or .../keySets/B2C_1A_x."""
    tail = (location or "").rstrip("/").rsplit("/", 1)[-1]
    return tail.split("('", 1)[1].rstrip("')") if "('" in tail else tail
