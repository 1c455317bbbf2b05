"""What each of `b2ckeys probe`'s observations means: the tenant's answers (as `Answer`s,
pages, lags) turned into `Finding`s, naming the reading when it is not the emulator's
default. No requests here: `graph.probe` asks, this reads.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from ..core import probe as q
from ..core.model import KEYSET_PREFIX
from ..core.probe import Finding
from .probing import LAG_REPORTED, Answer, Lag, Page

EMULATOR_PAGE_SIZE = 2          # the emulator's default page size: a page-size reading is any other


def finding(question: str, determined: bool, observed: str, reading: str | None = None, **facts) -> Finding:
    return Finding(question, determined, observed, reading if determined else None, tuple(facts.items()))


def prefix(requested: str, answer: Answer, answered: str) -> Finding:
    facts = dict(requested=requested, answered=answered or None, location=answer.location)
    sent = f'POST {{"id": "{requested}"}}'
    if answered.lower() == requested.lower():
        return finding(q.PREFIX, True, f"{sent} answered that id: the prefix is kept", **facts)
    if answered.lower() == (KEYSET_PREFIX + requested).lower():
        return finding(q.PREFIX, True, f"{sent} answered {answered}: the prefix is doubled",
                       "prefix-doubled", **facts)
    return finding(q.PREFIX, False, f"{sent} answered the id {answered!r}, neither kept nor doubled", **facts)


def duplicate(answer: Answer) -> Finding:
    facts = dict(status=answer.status, code=answer.code)
    if answer.ok:
        return finding(q.DUPLICATE, False, f"a second create of the same id succeeded ({answer.shown()})",
                       **facts)
    if answer.status in (400, 409):
        return finding(q.DUPLICATE, True, f"a second create of the same id: {answer.shown()}",
                       "conflict-409" if answer.status == 409 else None, **facts)
    return finding(q.DUPLICATE, False, f"a second create of the same id: {answer.shown()}, neither 400 nor 409",
                   **facts)


def status_400_or_404(question: str, answer: Answer, reading: str, *, what: str) -> Finding:
    facts = dict(status=answer.status, code=answer.code)
    if answer.status in (400, 404):
        return finding(question, True, f"{what}: {answer.shown()}", reading if answer.status == 404 else None,
                       **facts)
    return finding(question, False, f"{what}: {answer.shown()}, neither 400 nor 404", **facts)


def dates(answered: dict, read: dict) -> Finding:
    facts = dict(answer_has_nbf="nbf" in answered, answer_has_exp="exp" in answered,
                 read_nbf=read.get("nbf"), read_exp=read.get("exp"))
    what = "uploadSecret without nbf and exp"
    if read.get("nbf") is None and read.get("exp") is None:
        return finding(q.DATES, True, f"{what}: read back without dates", **facts)
    return finding(q.DATES, True, f"{what}: read back with nbf {read.get('nbf')}, exp {read.get('exp')}",
                   "default-dates", **facts)


def active_kid(answer: Answer, undated_kid: str) -> Finding:
    fields = tuple(sorted(k for k in answer.body if not k.startswith("@")))
    facts = dict(status=answer.status, code=answer.code, fields=fields,
                 names_the_valid_key=(answer.body.get("kid") == undated_kid) if answer.ok else None)
    if not answer.ok:
        return finding(q.ACTIVE_KID, False, f"getActiveKey with a valid key: {answer.shown()}", **facts)
    if answer.body.get("kid"):
        return finding(q.ACTIVE_KID, True, "getActiveKey with a valid key: the answer carries kid", **facts)
    return finding(q.ACTIVE_KID, True, "getActiveKey with a valid key: the answer has no kid",
                   "getactivekey-no-kid", **facts)


def listed(pages: list[Page], item: dict | None, kids: list[str]) -> list[Finding]:
    """The list's shape (our key set's item), its page size and next link form."""
    counts = tuple(len(page.items) for page in pages)
    links = [page.next_link for page in pages if page.next_link]
    found = []
    if item is None:
        found.append(finding(q.LIST_SHAPE, False, "the throw-away key set never showed in the list"))
    elif "keys" not in item:
        found.append(finding(q.LIST_SHAPE, True, "list items carry no keys", "list-without-keys",
                             keys_field=False))
    else:
        shown = {k.get("kid") for k in item.get("keys") or () if isinstance(k, dict)}
        complete = set(kids) <= shown
        found.append(finding(q.LIST_SHAPE, complete, "list items carry keys" if complete else
                             f"list items carry keys, but {len(set(kids) - shown)} of {len(kids)} were missing",
                             keys_field=True, keys_listed=len(shown), keys_in_get=len(kids)))
    facts = dict(pages=len(pages), per_page=counts, key_sets=sum(counts))
    if len(pages) >= 2:
        size = counts[0]
        found.append(finding(q.PAGE_SIZE, True, f"{_sets(size)} a page ({sum(counts)} in {len(pages)} pages)",
                             None if size == EMULATOR_PAGE_SIZE else f"page-size={size}", **facts))
    else:
        found.append(finding(q.PAGE_SIZE, False, f"one page of {_sets(sum(counts))}: too few to tell the page "
                             f"size (at least {sum(counts)})", **facts))
    if links:
        relative = not urlsplit(links[0]).scheme
        found.append(finding(q.NEXT_LINK, True, "the next link is relative" if relative else
                             "the next link is an absolute URL", "relative-next-link" if relative else None,
                             form="relative" if relative else "absolute"))
    else:
        found.append(finding(q.NEXT_LINK, False, "no second page, so no next link to look at"))
    return found


def _sets(count: int) -> str:
    return f"{count} key set{'' if count == 1 else 's'}"


def backup(keyset: str, seen: bool, deleted: list[str]) -> Finding:
    """`seen`: GET showed `<keyset>.bak` after the DELETE; `deleted`: the backups a DELETE
    then removed (a .bak, and a .bak of it, ...)."""
    facts = dict(seen_by_get=seen, deleted=tuple(deleted), backup_of_backup=len(deleted) > 1)
    more = f"; deleting it left {', '.join(deleted[1:])}" if len(deleted) > 1 else ""
    if seen:
        return finding(q.BACKUP, True, f"DELETE left {keyset}.bak{more}", **facts)
    if deleted:
        return finding(q.BACKUP, False, f"GET did not show {keyset}.bak after the DELETE, yet deleting it "
                       "succeeded", **facts)
    return finding(q.BACKUP, True, f"DELETE left no {keyset}.bak", "delete-without-bak", **facts)


def read_lag(lags: list[Lag]) -> Finding:
    """From every wait for a write to show: the longest, as `read-lag=S` (whole seconds,
    rounded up) when more than half a second."""
    facts = {lag.what: (round(lag.low, 2), round(lag.high, 2), lag.reads) for lag in lags}
    timed_out = [lag for lag in lags if lag.timed_out]
    if timed_out:
        return finding(q.READ_LAG, False, f"{timed_out[0].what}: not seen within {timed_out[0].high:.0f} s "
                       "(a longer lag than the probe waits, or the write was lost)", **facts)
    worst = max(lags, key=lambda lag: lag.low)
    if worst.low <= LAG_REPORTED:
        return finding(q.READ_LAG, True, f"every write showed within {max(lag.high for lag in lags):.1f} s",
                       **facts)
    return finding(q.READ_LAG, True, f"{worst.what}: showed after {worst.low:.1f} to {worst.high:.1f} s",
                   f"read-lag={math.ceil(worst.low)}", **facts)
