"""Writes that are never done twice.

`uploadSecret` and `generateKey` add a new key with a server-chosen kid on every
call, and a key can never be deleted alone: a blind retry after a lost answer
leaves a duplicate forever. So after an *ambiguous* failure (no answer, 5xx,
AADB2C90063, an answer that cannot be read) this module waits, re-reads the key set
and looks for the key the write would have made — a kid it did not know before, with
the expected kty, use, nbf and exp, or for a certificate the expected thumbprint
(x5t) — and only if the key stayed absent through the *settle window* does it write
again.

The settle window (`client.settle_seconds`, B2CKEYS_SETTLE_SECONDS, default 10 s)
covers read-after-write lag: a key that has landed may be invisible to reads for a
while, so one read that misses it proves nothing. The set is read about once a second
(`client.settle_interval`) until the key shows up or the window, counted from the
failure, has passed. A lost answer costs up to the window in waiting and about one GET a
second; an answer that arrives costs nothing.

A delete whose answer was lost is done when the key set is gone (a delete that
meets "not found" is done too); a disable, when `keys_v2` shows the key disabled;
both are read through the same window before they are sent again.

A create answered "already exists", or whose retry meets an existing key set,
counts as done. A first write into a key set created moments ago that meets
"not found" is retried for a short while: the service is eventually consistent.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Collection, TypeVar

from ..core.errors import GraphAnswerUnreadable, GraphConflict, GraphError, GraphNotFound
from ..core.model import DesiredKey, LiveKey
from .client import GraphClient
from .retry import is_ambiguous

ALREADY_EXISTED = "already existed"  # ensure_keyset's remark for a create answered "already exists"
FRESH_KEYSET_SECONDS = 20.0  # how long a new key set may stay invisible to uploads

T = TypeVar("T")


def ensure_keyset(client: GraphClient, keyset_id: str) -> tuple[str, str]:
    """Creates the key set unless it exists. Returns (the id Graph uses, a remark)."""
    started, tries = time.monotonic(), 0
    while True:
        tries += 1
        try:
            actual = client.create_keyset(keyset_id)
            return actual, ("" if actual == keyset_id else f"the service named it {actual}")
        except GraphConflict:
            return keyset_id, ALREADY_EXISTED
        except GraphError as e:
            if not is_ambiguous(e):
                raise
            client.wait_before_retry(tries, e, started)
            existing = client.get_keyset(keyset_id)
            if existing is not None:
                return existing.id, f"created; {_fate(e)}"


def ensure_key(
    client: GraphClient,
    keyset_id: str,
    key: DesiredKey,
    write: Callable[[], LiveKey],
    known_kids: Collection[str],
    *,
    fresh: bool = False,
) -> tuple[LiveKey, str]:
    """Adds `key` by calling `write()`, at most once in effect. Returns (the key, a remark).

    `known_kids` are the kids the key set held before this write; `fresh` says the
    key set was created in this run.
    """
    started, tries = time.monotonic(), 0
    scale = client.policy.scale
    while True:
        tries += 1
        try:
            return write(), ""
        except GraphNotFound as e:
            if not fresh or time.monotonic() - started > FRESH_KEYSET_SECONDS / scale:
                raise
            client.wait_before_retry(tries, e, started)
        except GraphError as e:
            if not is_ambiguous(e):
                raise
            failed = time.monotonic()
            client.wait_before_retry(tries, e, started)
            landed = read_until_settled(client, failed, lambda: find_landed(client, keyset_id, key, known_kids))
            if landed is not None:
                return landed, f"added; {_fate(e)}"


def find_landed(
    client: GraphClient, keyset_id: str, key: DesiredKey, known_kids: Collection[str]
) -> LiveKey | None:
    """The key a lost write made, if the key set now holds one: a kid not known before that
    `key` matches, where a date the manifest leaves out matches any date (the service may
    fill in nbf and exp of a key written without them)."""
    current = client.get_keyset(keyset_id)
    if current is None:
        return None
    return next(
        (k for k in current.keys if k.kid not in known_kids and key.matches(_undated_as(key, k))), None
    )


def read_until_settled(client: GraphClient, since: float, read: Callable[[], T | None]) -> T | None:
    """`read()` until it finds something, or until the settle window that began at `since`
    (monotonic) has passed without: then None. One read at least, and one after the window's
    end; a read every `client.settle_interval` in between."""
    deadline = since + client.settle_seconds
    while True:
        found = read()
        left = deadline - time.monotonic()
        if found is not None or left <= 0:
            return found
        client.sleep(min(client.settle_interval, left))


def ensure_deleted(client: GraphClient, keyset_id: str) -> str:
    """Deletes the key set unless it is gone already. Returns a remark."""
    started, tries = time.monotonic(), 0
    while True:
        tries += 1
        try:
            client.delete_keyset(keyset_id)
            return ""
        except GraphNotFound:
            return "it was gone already" if tries == 1 else "deleted; its answer was lost"
        except GraphError as e:
            if not is_ambiguous(e):
                raise
            failed = time.monotonic()
            client.wait_before_retry(tries, e, started)
            if read_until_settled(client, failed, lambda: client.get_keyset(keyset_id) is None or None):
                return f"deleted; {_fate(e)}"


def ensure_disabled(client: GraphClient, keyset_id: str, kid: str) -> str:
    """Disables one key (PATCH keys_v2 status). Returns a remark."""
    started, tries = time.monotonic(), 0
    while True:
        tries += 1
        try:
            client.disable_key(keyset_id, kid)
            return ""
        except GraphError as e:
            if not is_ambiguous(e):
                raise
            failed = time.monotonic()
            client.wait_before_retry(tries, e, started)
            if read_until_settled(client, failed, lambda: _is_disabled(client, keyset_id, kid) or None):
                return f"disabled; {_fate(e)}"


def _undated_as(key: DesiredKey, live: LiveKey) -> LiveKey:
    """`live` without the dates `key` leaves out."""
    if key.kind.is_certificate:
        return live
    return dataclasses.replace(live, nbf=live.nbf if key.nbf is not None else None,
                               exp=live.exp if key.exp is not None else None)


def _is_disabled(client: GraphClient, keyset_id: str, kid: str) -> bool:
    return (client.key_status(keyset_id, kid) or "").lower() == "disabled"


def _fate(error: GraphError) -> str:
    """What became of a write's answer, for the remark."""
    return "its answer could not be read" if isinstance(error, GraphAnswerUnreadable) else "its answer was lost"
