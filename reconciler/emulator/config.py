"""Run-time settings of the emulator, changeable through ``POST /_emulator/config``.

Besides the flat settings there are two nested ones (partial objects merge into the
current values):

* ``throttle``: ``{"app_per_minute": 200, "tenant_per_minute": 300, "time_scale": 1,
  "retry_after": true}``. Posting an object turns throttling on (unless it says
  ``"enabled": false``); ``null`` or ``false`` turns it off. Off by default.
* ``latency``: ``{"fixed_ms": 0, "jitter_ms": 0, "seed": 0}``; ``null`` means none.

``readings`` is a list of reading names (``readings.py``). Setting it replaces the active
readings: every setting a reading drives goes back to its start value (the value given
to the constructor, readings aside), then the new readings apply, then any other setting
in the same update.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from . import readings as _readings

READ_ROLE = "TrustFrameworkKeySet.Read.All"
WRITE_ROLE = "TrustFrameworkKeySet.ReadWrite.All"
DEFAULT_ROLES = (WRITE_ROLE,)
# The subject of the one federated identity credential of the emulator's app (GitHub Actions form).
DEFAULT_FEDERATED_SUBJECT = "repo:contoso/b2c-keys:ref:refs/heads/main"


@dataclass(frozen=True)
class ThrottleSettings:
    enabled: bool = False
    app_per_minute: int = 200        # per app (token `appid`) per tenant, sliding minute
    tenant_per_minute: int = 300     # all apps of the tenant, sliding minute
    time_scale: float = 1.0          # 60 makes a "minute" last one real second
    retry_after: bool = True         # send Retry-After with the 429

    @property
    def window_seconds(self) -> float:
        """The sliding window in real seconds."""
        return 60.0 / self.time_scale


@dataclass(frozen=True)
class LatencySettings:
    fixed_ms: float = 0.0            # added to every Graph and token request
    jitter_ms: float = 0.0           # plus uniform 0..jitter_ms, from a Random(seed)
    seed: int = 0


@dataclass(frozen=True)
class Settings:
    page_size: int = 2               # key sets per list page
    not_found_status: int = 400      # HTTP status of AADB2C90073 (400 or 404)
    conflict_status: int = 400       # HTTP status of AADB2C95028 (400 or 409)
    no_active_key_status: int = 400  # HTTP status of getActiveKey's AADB2C90019 (400 or 404)
    active_key_kid: bool = True      # getActiveKey's answer carries `kid`
    list_keys: bool = True           # the list's items carry `keys`
    default_dates: bool = False      # generateKey/uploadSecret fill a missing nbf/exp
    read_lag: float = 0.0            # seconds before reads see a write
    next_link: str = "absolute"      # @odata.nextLink: "absolute" URL or "relative" reference
    double_prefix: bool = False      # create adds B2C_1A_ even to an id that has it
    backup_on_delete: bool = True    # DELETE leaves a copy named '<id>.bak'
    vault_versions_empty: bool = False  # Key Vault: versions of a missing secret are [] (not 404)
    readings: tuple[str, ...] = ()   # the active readings (readings.py), canonical names
    roles: tuple[str, ...] = DEFAULT_ROLES   # `roles` claim of tokens issued from now on
    federated_subject: str = DEFAULT_FEDERATED_SUBJECT  # `sub` a federated assertion must carry
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)
    latency: LatencySettings = field(default_factory=LatencySettings)

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out.update(readings=list(self.readings), roles=list(self.roles),
                   throttle=asdict(self.throttle), latency=asdict(self.latency))
        return out


def _number(name: str, value: Any, *, low: float, integer: bool = False,
            above: bool = False) -> Any:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if integer:
        ok = ok and float(value).is_integer()
    if not ok or (value <= low if above else value < low):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {kind} {'above' if above else 'of at least'} {low:g}")
    return int(value) if integer else float(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    return value


def _nested(name: str, value: Any, current: Any) -> Any:
    """Merge a partial ``throttle``/``latency`` object into ``current``."""
    default = type(current)()
    if value is None or value is False:
        return default
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object, or null to turn it off")
    known = {f.name for f in fields(current)}
    for key in value:
        if key not in known:
            raise ValueError(f"unknown {name} setting {key!r}; known: {sorted(known)}")
    checks = {
        "enabled": lambda v: _flag("throttle.enabled", v),
        "app_per_minute": lambda v: _number("throttle.app_per_minute", v, low=1, integer=True),
        "tenant_per_minute": lambda v: _number("throttle.tenant_per_minute", v, low=1,
                                               integer=True),
        "time_scale": lambda v: _number("throttle.time_scale", v, low=0, above=True),
        "retry_after": lambda v: _flag("throttle.retry_after", v),
        "fixed_ms": lambda v: _number("latency.fixed_ms", v, low=0),
        "jitter_ms": lambda v: _number("latency.jitter_ms", v, low=0),
        "seed": lambda v: _number("latency.seed", v, low=-2**63, integer=True),
    }
    checked = {key: checks[key](v) for key, v in value.items()}
    if name == "throttle":
        checked.setdefault("enabled", True)
    return replace(current, **checked)


def _check(name: str, value: Any, current: Any) -> Any:
    if name == "page_size":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
            raise ValueError("page_size must be an integer from 1 to 1000")
        return value
    if name in ("not_found_status", "conflict_status", "no_active_key_status"):
        allowed = (400, 409) if name == "conflict_status" else (400, 404)
        if value not in allowed or isinstance(value, bool):
            raise ValueError(f"{name} must be one of {list(allowed)}")
        return value
    if name == "read_lag":
        seconds = _number(name, value, low=0)
        if seconds > _readings.MAX_READ_LAG:
            raise ValueError(f"read_lag must be at most {_readings.MAX_READ_LAG:g} seconds")
        return seconds
    if name == "next_link":
        if value not in ("absolute", "relative"):
            raise ValueError("next_link must be 'absolute' or 'relative'")
        return value
    if name == "roles":
        if not isinstance(value, (list, tuple)) or not all(isinstance(r, str) for r in value):
            raise ValueError("roles must be a list of strings")
        return tuple(value)
    if name in ("backup_on_delete", "active_key_kid", "list_keys", "default_dates",
                "double_prefix", "vault_versions_empty"):
        return _flag(name, value)
    if name == "federated_subject":
        if not isinstance(value, str) or not 0 < len(value) <= 600:
            raise ValueError("federated_subject must be a string of 1 to 600 characters")
        return value
    if name in ("throttle", "latency"):
        return _nested(name, value, current)
    raise ValueError(f"unknown setting {name!r}")


class Config:
    """Thread-safe holder of the current Settings, with the start values kept for reset."""

    def __init__(self, **start: Any):
        self._current = Settings()
        self._lock = threading.Lock()
        self._base = self.update({k: v for k, v in start.items() if k != "readings"})
        self._initial = self.update({"readings": start.get("readings") or []})

    @property
    def current(self) -> Settings:
        return self._current

    def update(self, changes: dict[str, Any]) -> Settings:
        """Apply all of ``changes`` or none (ValueError names the bad one)."""
        names = {f.name for f in fields(Settings)}
        with self._lock:
            checked: dict[str, Any] = {}
            if "readings" in changes:
                active, driven = _readings.canonical(changes["readings"])
                base = getattr(self, "_base", Settings())   # not yet set while __init__ runs
                checked = {name: getattr(base, name) for name in _readings.DRIVEN}
                checked.update({name: _check(name, value, None) for name, value in driven.items()})
                checked["readings"] = active
            for name, value in changes.items():
                if name == "readings":
                    continue
                if name not in names:
                    raise ValueError(f"unknown setting {name!r}; known: {sorted(names)}")
                checked[name] = _check(name, value, getattr(self._current, name))
            self._current = replace(self._current, **checked)
            return self._current

    def reset(self) -> None:
        with self._lock:
            self._current = self._initial
