"""What `apply` reports: one `Outcome` per planned change (done, failed, not
attempted), and the `ApplyReport` that holds them and gives the exit code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .changes import Change


class Status(str, enum.Enum):
    DONE = "done"
    FAILED = "failed"
    NOT_ATTEMPTED = "not attempted"


@dataclass(frozen=True, slots=True)
class Outcome:
    change: Change
    status: Status
    detail: str = ""  # the new kid, a remark, or the error
    kid: str = ""  # the key a key addition made (or found already there)
    found: bool = False  # nothing was written: another run had made it already


@dataclass(frozen=True, slots=True)
class ApplyReport:
    outcomes: tuple[Outcome, ...]
    interrupted: bool = False
    # what the checks after the changes found: duplicate keys, keys not visible yet, the lease
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(o.status is Status.DONE for o in self.outcomes) and not self.problems

    def with_status(self, status: Status) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is status]

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1
