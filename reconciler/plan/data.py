"""Plans, live state and drift reports as JSON-safe data: a stable, versioned format.

`FORMAT_VERSION` is bumped only for a change a consumer could trip over (a field
removed, renamed or changing meaning); new fields may appear within a version.
Times are RFC 3339 in UTC (`2026-01-01T00:00:00Z`) or null. Secrets appear as
references (`{"env": "NAME"}` or `{"file": "path"}`), never as values: there is
no value anywhere in a Plan to write. Pure; docs/gitops.md documents the shape.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.changes import Action, ActiveKey, Change, Duplicate, Plan, Unmanaged
from ..core.diagnostics import Diagnostic, Location
from ..core.model import DesiredKey, KeyKind, LiveKey, LiveState, SecretRef, format_time
from .duplicates import how_to_fix

FORMAT_VERSION = 1


def dumps(data: Any) -> str:
    """Indented JSON, letters as they are (not `\\u` escapes), but every character `printable`
    would escape (controls, C1, DEL, bidi and other invisible characters, line separators,
    surrogates) written as a JSON escape: the same values, nothing a terminal obeys or reorders."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return "\n".join(line if line.isprintable() else _escaped(line) for line in text.split("\n")) + "\n"


def _escaped(line: str) -> str:
    """A line of JSON text with its hidden characters as `\\uXXXX` (only strings can hold them)."""
    out = []
    for c in line:
        if c.isprintable():
            out.append(c)
        elif ord(c) > 0xFFFF:  # a surrogate pair, as JSON writes characters beyond the BMP
            high, low = divmod(ord(c) - 0x10000, 0x400)
            out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
        else:
            out.append(f"\\u{ord(c):04x}")
    return "".join(out)


def time_data(epoch: int | None) -> str | int | None:
    """RFC 3339, or the epoch number itself when it is outside years 1-9999."""
    if epoch is None:
        return None
    try:
        return format_time(epoch)
    except (OverflowError, OSError, ValueError):
        return epoch


def location_data(location: Location | None) -> str | None:
    return str(location) if location else None


def desired_key_data(key: DesiredKey) -> dict:
    data: dict[str, Any] = {"kind": key.kind.value, "kty": key.kty.value, "use": key.use.value,
                            "nbf": time_data(key.nbf), "exp": time_data(key.exp)}
    if key.kind.is_certificate:
        data["x5t"] = key.x5t
        data["file"] = vault_ref_data(key.file) if key.file.in_vault else key.file.name
    if key.secret is not None:
        data["password" if key.kind is KeyKind.PKCS12 else "secret"] = (
            vault_ref_data(key.secret) if key.secret.in_vault else {key.secret.source: key.secret.name})
    return data


def vault_ref_data(ref: SecretRef) -> dict:
    """A Key Vault reference as plans and plan files hold it: where, and the version planned; never a value."""
    data: dict[str, Any] = {"vault": ref.vault, "name": ref.name}
    if ref.version:
        data["version"] = ref.version
    if ref.pinned:
        data["pinned"] = True
    return {"keyVault": data}


def vault_ref_from_data(data: dict, location: Location) -> SecretRef:
    return SecretRef("keyVault", str(data["name"]), location, vault=str(data["vault"]),
                     version=str(data.get("version") or ""), pinned=bool(data.get("pinned")))


def live_key_data(key: LiveKey) -> dict:
    """Metadata only: Graph never returns secret material, and LiveKey holds none."""
    return {"kid": key.kid, "kty": key.kty.value, "use": getattr(key.use, "value", key.use),
            "nbf": time_data(key.nbf), "exp": time_data(key.exp), "status": key.status, "x5t": key.x5t}


def change_data(change: Change) -> dict:
    data: dict[str, Any] = {"action": change.action.value, "keySet": change.keyset_id}
    if change.kid is not None:
        data["kid"] = change.kid
    if change.key is not None:
        data["key"] = desired_key_data(change.key)
    if change.reason is not None:
        data["reason"] = change.reason.value
        data["detail"] = change.detail
    data["location"] = location_data(change.location)
    return data


def unmanaged_data(item: Unmanaged) -> dict:
    data: dict[str, Any] = {"keySet": item.keyset_id, "kid": item.kid}
    if item.key is not None:
        data["key"] = live_key_data(item.key)
    if item.note:
        data["note"] = item.note
    return data


def duplicate_data(item: Duplicate, plan: Plan) -> dict:
    """A key present more than once: `kids` (the kept one first), `kept`, `extra` (the copies to
    disable), the kept key's metadata (`key`) and the copies' (`extraKeys`), and `fix` in words."""
    current = plan.live.find(item.keyset_id)
    by_kid = {k.kid: k for k in current.keys} if current else {}
    return {"keySet": item.keyset_id, "kids": list(item.kids), "kept": item.kids[0], "extra": list(item.extra),
            "key": live_key_data(item.key),
            "extraKeys": [live_key_data(by_kid[kid]) for kid in item.extra if kid in by_kid],
            "fix": how_to_fix(item, plan.changes)}


def active_data(view: ActiveKey) -> dict:
    """`afterApply`: {"kid": ...} of a live key, {"change": index} of a new one, or null."""
    after = {"kid": view.after_kid} if view.after_kid else {"change": view.after_change} \
        if view.after_change is not None else None
    return {"keySet": view.keyset_id, "now": view.now_kid, "afterApply": after}


def diagnostic_data(d: Diagnostic) -> dict:
    return {"severity": d.severity.value, "message": d.message, "location": location_data(d.location)}


def plan_data(plan: Plan) -> dict:
    """The plan as `b2ckeys plan --format json` prints it and plan files embed it."""
    return {
        "format_version": FORMAT_VERSION,
        "summary": {
            "keySetsToCreate": plan.keysets_to_create,
            "keysToAdd": plan.keys_to_add,
            "keysToDisable": plan.count(Action.DISABLE_KEY),
            "keySetsToDelete": plan.count(Action.DELETE_KEYSET),
            "unmanaged": len(plan.unmanaged),
            "duplicates": len(plan.duplicates),
            "empty": plan.is_empty,
            "needsAllowDestroy": bool(plan.unsafe),
        },
        "changes": [change_data(c) for c in plan.changes],
        "activeKeys": [active_data(a) for a in plan.active],
        "unmanaged": [unmanaged_data(u) for u in plan.unmanaged],
        "duplicates": [duplicate_data(d, plan) for d in plan.duplicates],
        "warnings": [diagnostic_data(d) for d in plan.warnings],
        "notes": list(plan.notes),
    }


def live_data(live: LiveState) -> dict:
    """The live state's metadata, key sets sorted by id and keys by kid (a canonical form)."""
    return {
        "keySets": [
            {"id": ks.id, "keys": [live_key_data(k) for k in sorted(ks.keys, key=lambda k: k.kid)]}
            for ks in sorted(live.keysets, key=lambda ks: (ks.id.upper(), ks.id))
        ]
    }


def drift_data(report) -> dict:
    """A `reconciler.plan.drift.DriftReport` as `b2ckeys drift --format json` prints it."""
    plan = plan_data(report.plan)
    return {
        "format_version": FORMAT_VERSION,
        "now": time_data(report.now),
        "expiryWindowDays": report.window_days,
        "windowEnd": time_data(report.window_end),
        "exitCode": report.exit_code,
        "summary": {
            "changesPending": len(report.changes),
            "unmanaged": len(report.unmanaged),
            "duplicates": len(report.duplicates),
            "keyProblems": report.key_problems,
            "activeKeyDisagreements": len(report.disagreements),
        },
        "changes": plan["changes"],
        "unmanaged": plan["unmanaged"],
        "duplicates": plan["duplicates"],
        "expired": [_expiry(e) for e in report.expired],
        "expiring": [_expiry(e) for e in report.expiring],
        "noActiveKey": [
            {"keySet": n.keyset_id, "now": n.now, "windowEnd": n.window_end, "missing": n.missing, "reason": n.reason}
            for n in report.no_active
        ],
        "activeKeys": [
            {"keySet": a.keyset_id, "rule": a.local_kid, "getActiveKey": a.graph_kid if a.checked else None,
             "checked": a.checked, "agree": a.agree, **({"unknown": a.unknown} if a.unknown else {})}
            for a in report.active
        ],
        "warnings": plan["warnings"],
        "notes": plan["notes"],
        **({"vaultSecrets": [_vault_secret(v, report) for v in report.vault_expiring + report.vault_newer]}
           if report.vault_expiring or report.vault_newer else {}),
    }


def _vault_secret(v, report) -> dict:
    """A vault secret drift reports: expiring (bit 8) or with a newer version not uploaded (bit 2)."""
    return {"keySet": v.keyset_id, **vault_ref_data(v.ref)["keyVault"], "exp": time_data(v.exp),
            "expiring": v in report.vault_expiring, "newerVersion": v.newer, "location": location_data(v.ref.location)}


def _expiry(e) -> dict:
    return {"keySet": e.keyset_id, "kid": e.kid, "exp": time_data(e.exp)}
