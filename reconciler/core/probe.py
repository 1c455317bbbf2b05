"""What `b2ckeys probe` found out about a tenant: one `Finding` per question the API's
documentation leaves open, and the `ProbeReport` that holds them.

A finding names the *reading* the tenant follows when it differs from the emulator's
default (the name `b2ckeys emulator --reading` takes), or none when the tenant behaves
as the emulator does by default; a question the probe could not answer is marked not
determined, saying why. `facts` are the raw observations (status codes, codes, field
presence, seconds, counts) as JSON-safe scalars; never a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

Fact = Union[str, int, float, bool, None, tuple]

# the questions, in the order the probe asks them and the report shows them
PREFIX = "prefix"
DUPLICATE = "duplicate-create"
NOT_FOUND = "not-found"
ACTIVE_NONE = "getactivekey-none"
ACTIVE_KID = "getactivekey-kid"
DATES = "default-dates"
LIST_SHAPE = "list-shape"
PAGE_SIZE = "page-size"
NEXT_LINK = "next-link"
READ_LAG = "read-lag"
BACKUP = "delete-bak"
QUESTIONS = (PREFIX, DUPLICATE, NOT_FOUND, ACTIVE_NONE, ACTIVE_KID, DATES, LIST_SHAPE, PAGE_SIZE,
             NEXT_LINK, READ_LAG, BACKUP)


@dataclass(frozen=True, slots=True)
class Finding:
    question: str                   # one of QUESTIONS
    determined: bool
    observed: str                   # one line: what the tenant answered, or why it is not known
    reading: str | None = None      # the reading's name when it differs from the emulator's default
    facts: tuple[tuple[str, Fact], ...] = ()

    def fact(self, name: str) -> Fact:
        return dict(self.facts).get(name)


def not_reached(question: str) -> Finding:
    return Finding(question, False, "not reached: the probe stopped before this question")


@dataclass(frozen=True, slots=True)
class ProbeReport:
    tenant: str                     # the token's tenant id
    started: str                    # RFC 3339, UTC
    seconds: float
    keyset: str                     # the throw-away key set's id (as the tenant named it)
    findings: tuple[Finding, ...]   # one per question, in QUESTIONS order
    requests: int                   # Graph requests the probe made (retries included)
    deleted: tuple[str, ...]        # what it made and deleted again, backups included
    left: tuple[str, ...] = ()      # what it made and could not delete (with why)
    failure: str | None = None      # the step that failed unexpectedly, and the answer

    @property
    def readings(self) -> tuple[str, ...]:
        """The readings this tenant follows that differ from the emulator's defaults."""
        return tuple(f.reading for f in self.findings if f.determined and f.reading)

    @property
    def undetermined(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.determined)

    @property
    def ok(self) -> bool:
        return self.failure is None and not self.left
