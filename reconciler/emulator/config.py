"""Run-time settings of the emulator, changeable through ``POST /_emulator/config``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields, replace
from typing import Any

READ_ROLE = "TrustFrameworkKeySet.Read.All"
WRITE_ROLE = "TrustFrameworkKeySet.ReadWrite.All"
DEFAULT_ROLES = (WRITE_ROLE,)
# The subject of the one federated identity credential of the emulator's app (GitHub Actions form).
DEFAULT_FEDERATED_SUBJECT = "repo:contoso/b2c-keys:ref:refs/heads/main"


@dataclass(frozen=True)
class Settings:
    page_size: int = 2               # key sets per list page
    not_found_status: int = 400      # HTTP status of AADB2C90073 (400 or 404)
    conflict_status: int = 400       # HTTP status of AADB2C95028 (400 or 409)
    roles: tuple[str, ...] = DEFAULT_ROLES   # `roles` claim of tokens issued from now on
    backup_on_delete: bool = False   # DELETE leaves a copy named '<id>.bak'
    federated_subject: str = DEFAULT_FEDERATED_SUBJECT  # `sub` a federated assertion must carry

    def as_dict(self) -> dict[str, Any]:
        return {"page_size": self.page_size, "not_found_status": self.not_found_status,
                "conflict_status": self.conflict_status, "roles": list(self.roles),
                "backup_on_delete": self.backup_on_delete,
                "federated_subject": self.federated_subject}


def _check(name: str, value: Any) -> Any:
    if name == "page_size":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
            raise ValueError("page_size must be an integer from 1 to 1000")
        return value
    if name in ("not_found_status", "conflict_status"):
        allowed = (400, 404) if name == "not_found_status" else (400, 409)
        if value not in allowed or isinstance(value, bool):
            raise ValueError(f"{name} must be one of {list(allowed)}")
        return value
    if name == "roles":
        if not isinstance(value, (list, tuple)) or not all(isinstance(r, str) for r in value):
            raise ValueError("roles must be a list of strings")
        return tuple(value)
    if name == "backup_on_delete":
        if not isinstance(value, bool):
            raise ValueError("backup_on_delete must be true or false")
        return value
    if name == "federated_subject":
        if not isinstance(value, str) or not 0 < len(value) <= 600:
            raise ValueError("federated_subject must be a string of 1 to 600 characters")
        return value
    raise ValueError(f"unknown setting {name!r}")


class Config:
    """Thread-safe holder of the current Settings, with the start values kept for reset."""

    def __init__(self, **start: Any):
        self._current = Settings()
        self._lock = threading.Lock()
        self._initial = self.update(start)

    @property
    def current(self) -> Settings:
        return self._current

    def update(self, changes: dict[str, Any]) -> Settings:
        """Apply all of ``changes`` or none (ValueError names the bad one)."""
        names = {f.name for f in fields(Settings)}
        checked = {}
        for name, value in changes.items():
            if name not in names:
                raise ValueError(f"unknown setting {name!r}; known: {sorted(names)}")
            checked[name] = _check(name, value)
        with self._lock:
            self._current = replace(self._current, **checked)
            return self._current

    def reset(self) -> None:
        with self._lock:
            self._current = self._initial
