"""A saved plan read back (`b2ckeys show PLANFILE`): the `Plan` a plan file's data describes,
to render exactly as `plan` rendered it, and the check that the file is as `plan --out`
wrote it. Pure: the file is read by `planfile.read`, the plan rendered by `render`.

A plan file is not signed: its digests find a damaged or hand-edited file, not a forger
who recomputes them (`apply` re-plans and compares anyway).
"""

from __future__ import annotations

from ..core.changes import ActiveKey, Duplicate, Plan, Unmanaged
from ..core.diagnostics import Diagnostic, Severity
from ..core.errors import ConfigError
from ..core.model import KeyType, KeyUse, LiveKey, LiveKeySet, LiveState
from . import planfile
from .data import plan_data

TAMPERED = "the plan file was changed after b2ckeys wrote it, or is damaged"


def saved_digest(data: dict) -> str:
    """The digest `plan --out` writes over what the file says (not `madeIn`, kept for messages)."""
    parts = {part: data.get(part) for part in ("manifests", "live", "plan")}
    if "environment" in data:  # plans made with an environments file record theirs
        parts["environment"] = data["environment"]
    return planfile.digest(parts)


def check_intact(path: str, data: dict) -> None:
    """ConfigError, naming the file and the part, unless every digest the file holds matches."""
    if "digest" in data and data["digest"] != saved_digest(data):  # older plan files have none
        raise ConfigError(f"{path}: {TAMPERED} (its digest does not match its content); make the plan again")
    for part in ("manifests", "live"):
        record = {k: v for k, v in data[part].items() if k != "digest"}
        if data[part].get("digest") != planfile.digest(record):
            raise ConfigError(f"{path}: {TAMPERED} (its '{part}' part does not match its digest); make the plan again")


def saved_plan(path: str, data: dict) -> Plan:
    """The plan as `plan` had it, rebuilt from a plan file's data; ConfigError naming the file
    when it cannot be, or when it does not render back to the JSON the file holds."""
    check_intact(path, data)
    saved = data["plan"]
    try:
        live = live_state(data["live"])
        warnings = tuple(_diagnostic(d) for d in saved["warnings"])
        plan = Plan(
            changes=planfile.changes(data),
            unmanaged=tuple(_unmanaged(u) for u in saved["unmanaged"]),
            warnings=warnings,
            notes=tuple(str(n) for n in saved["notes"]),
            live=live,
            active=tuple(_active(a) for a in saved["activeKeys"]),
            unsafe=warnings[-1:] if saved["summary"]["needsAllowDestroy"] else (),  # the planner's last warning
            duplicates=tuple(_duplicate(d) for d in saved["duplicates"]),
        )
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise ConfigError(f"{path}: {TAMPERED} ({type(e).__name__} in its 'plan' part)") from None
    if plan_data(plan) != saved:
        raise ConfigError(f"{path}: {TAMPERED} (its 'plan' part does not read back as it was written)")
    return plan


def live_state(record: dict) -> LiveState:
    return LiveState(tuple(LiveKeySet(str(ks["id"]), tuple(live_key(k) for k in ks["keys"]))
                           for ks in record["keySets"]))


def live_key(data: dict) -> LiveKey:
    use = data.get("use")
    return LiveKey(str(data["kid"]), KeyType.parse(data["kty"]), KeyUse(use) if use in ("sig", "enc") else use,
                   planfile.parse_time(data.get("nbf")), planfile.parse_time(data.get("exp")),
                   data.get("status"), data.get("x5t"))


def _diagnostic(data: dict) -> Diagnostic:
    return Diagnostic(Severity(data["severity"]), str(data["message"]), planfile.parse_location(data.get("location")))


def _unmanaged(data: dict) -> Unmanaged:
    key = live_key(data["key"]) if data.get("key") is not None else None
    return Unmanaged(str(data["keySet"]), data.get("kid"), key, str(data.get("note") or ""))


def _duplicate(data: dict) -> Duplicate:
    return Duplicate(str(data["keySet"]), tuple(str(k) for k in data["kids"]), live_key(data["key"]))


def _active(data: dict) -> ActiveKey:
    after = data["afterApply"] or {}
    return ActiveKey(str(data["keySet"]), data["now"], after.get("kid"), after.get("change"))
