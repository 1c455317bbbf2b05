"""Writes that are never done twice.

`uploadSecret` and `generateKey` add a new key with a server-chosen kid on every
call, and a key can never be deleted alone: a blind retry after a lost answer
leaves a duplicate forever. So after an *ambiguous* failure (no answer, 5xx,
AADB2C90063) this module waits, re-reads the key set and looks for the key the
write would have made — a kid it did not know before, with the expected kty,
use, nbf and exp — and only if there is none does it write again.

A create answered "already exists", or whose retry meets an existing key set,
counts as done. A first write into a key set created moments ago that meets
"not found" is retried for a short while: the service is eventually consistent.
"""

from __future__ import annotations

import time
from typing import Callable, Collection

from .errors import GraphConflict, GraphError, GraphNotFound
from .graph import GraphClient
from .model import DesiredKey, LiveKey
from .retry import is_ambiguous

SETTLE_SECONDS = 20.0  # how long a new key set may stay invisible to uploads


def ensure_keyset(client: GraphClient, keyset_id: str) -> tuple[str, str]:
    """Creates the key set unless it exists. Returns (the id Graph uses, a remark)."""
    started, tries = time.monotonic(), 0
    while True:
        tries += 1
        try:
            actual = client.create_keyset(keyset_id)
            return actual, ("" if actual == keyset_id else f"the service named it {actual}")
        except GraphConflict:
            return keyset_id, "already existed"
        except GraphError as e:
            if not is_ambiguous(e):
                raise
            client.wait_before_retry(tries, e, started)
            existing = client.get_keyset(keyset_id)
            if existing is not None:
                return existing.id, "created; its answer was lost"


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
            if not fresh or time.monotonic() - started > SETTLE_SECONDS / scale:
                raise
            client.wait_before_retry(tries, e, started)
        except GraphError as e:
            if not is_ambiguous(e):
                raise
            client.wait_before_retry(tries, e, started)
            landed = find_landed(client, keyset_id, key, known_kids)
            if landed is not None:
                return landed, "added; its answer was lost"


def find_landed(
    client: GraphClient, keyset_id: str, key: DesiredKey, known_kids: Collection[str]
) -> LiveKey | None:
    """The key a lost write made, if the key set now holds one."""
    current = client.get_keyset(keyset_id)
    if current is None:
        return None
    return next(
        (k for k in current.keys if k.kid not in known_kids and k.identity == key.identity), None
    )

