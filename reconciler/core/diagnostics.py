"""Located findings, Terraform-style: a `Diagnostic` is a severity, a message and the
`Location` (file, line, column) it is about. Part of the model (`reconciler.core.model`
re-exports these); no I/O. Messages are shown `printable`: one line, no control characters.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


def printable(text: str) -> str:
    """`text` as b2ckeys shows anything it did not write itself (what the tenant and Graph say:
    key set ids, kids, x5t, statuses, messages, the lease's holder; names from manifests):
    every character Python does not count printable is written as its escape (`\\x1b`,
    `\\u202e`): controls (C0, DEL, C1 such as NEL), format characters (bidi embeddings,
    overrides and isolates U+202A-202E and U+2066-2069, LRM/RLM, ZWJ, BOM, soft hyphen),
    the line and paragraph separators, spaces other than ' ', surrogates, private-use and
    unassigned code points. The result is one line, drives no terminal and reorders no text.
    Every renderer uses it (the JSON form writes the same characters as JSON escapes)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(text: str, limit: int = 64) -> str:
    """Something a manifest said, fit to quote in a message: printable, and cut short."""
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"

@dataclass(frozen=True, slots=True, order=True)
class Location:
    """A place in a source file; line and column count from 1."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.column}"
        return self.path


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about the input, terraform-style: severity, message, where."""

    severity: Severity
    message: str
    location: Location | None = None

    def __str__(self) -> str:
        label = "warning: " if self.severity is Severity.WARNING else ""
        if self.location:
            return printable(f"{self.location}: {label}{self.message}")
        return printable(f"{label or 'error: '}{self.message}")
