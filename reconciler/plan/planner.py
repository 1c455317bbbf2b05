"""plan(desired, live, now) -> Plan: pure, no I/O, no clock (docs/manifests.md: how plans are made).

- A desired key matches a live key when kty, use, nbf and exp are equal (a date
  left out must be absent on the live key too); a certificate key matches by its
  thumbprint (x5t). Each live key matches at most one desired key.
- A missing key set is created, then its keys are added; keys are added in
  ascending nbf within a key set (keys with no nbf first); creates come first,
  then key additions, then disables, deletes last.
- A rotating key (`rotate`) gets a successor when one is due (`rotation`); the
  live keys of its chain are its own, after the fixed keys took theirs.
- Live key sets and keys that nothing desired matches are reported as unmanaged
  and left alone, unless `prune` or `disableUnmanagedKeys` says otherwise, with
  the safeguards of `prune`. B2C's backups (ids ending in `.bak`) are not reported.
- A desired key that has already expired is not uploaded; a warning says so.
- Secret values cannot be read back, so cannot be compared: the plan says so once.
- The active key of each key set the plan changes is shown, now and once applied.
"""

from __future__ import annotations

from ..core.changes import Action, Change, Plan, Reason, Unmanaged
from ..core.diagnostics import Diagnostic, Severity
from ..core.model import DesiredKey, DesiredKeySet, DesiredState, KeyKind, LiveKey, LiveKeySet, LiveState, format_time
from . import prune, rotation
from .activekey import after_changes, is_enabled

SECRETS_NOT_COMPARED = (
    "Graph never returns secret values, so an existing secret key is matched by its "
    "type, use, nbf and exp only. To rotate a secret, add a key with a later nbf."
)

_ADD_ACTION = {KeyKind.GENERATE: Action.GENERATE_KEY, KeyKind.SECRET: Action.UPLOAD_SECRET,
               KeyKind.CERTIFICATE: Action.UPLOAD_CERTIFICATE, KeyKind.PKCS12: Action.UPLOAD_PKCS12}


def plan(desired: DesiredState, live: LiveState, now: int) -> Plan:
    creates: list[Change] = []
    additions: list[Change] = []
    disables: list[Change] = []
    unmanaged: list[Unmanaged] = []
    warnings: list[Diagnostic] = []

    for keyset in sorted(desired.keysets, key=lambda k: k.id.upper()):
        current = live.find(keyset.id)
        if current is None:
            creates.append(Change(Action.CREATE_KEYSET, keyset.id, location=keyset.location))
        target_id = current.id if current else keyset.id
        live_keys = current.keys if current else ()
        adds, leftover = _additions(keyset, live_keys, now, warnings)
        additions += [Change(c.action, target_id, c.key, c.location, reason=c.reason, detail=c.detail) for c in adds]
        if keyset.disable_unmanaged:
            found, notes = prune.disables(target_id, live_keys, leftover, [c.key for c in adds], now, keyset.location)
            disables += found
            warnings += notes
            leftover = [k for k in leftover if is_enabled(k) and k.kid not in {c.kid for c in found}]
        unmanaged.extend(Unmanaged(target_id, k.kid, k) for k in leftover)

    deletes, kept = prune.deletions(desired, live)
    unmanaged += kept
    unsafe = prune.too_much_change(len(deletes), live)
    changes = tuple(creates + additions + disables + deletes)
    active = after_changes(changes, live, now)
    warnings += [Diagnostic(Severity.WARNING, f"key set {a.keyset_id} will have no active key once this plan is "
                            "applied: sign-ins that use it fail with AADB2C90019") for a in active
                 if a.after_kid is None and a.after_change is None]
    notes = ()
    if any(k.kind is KeyKind.SECRET for ks in desired.keysets for k in ks.keys):
        notes = (SECRETS_NOT_COMPARED,)
    return Plan(
        changes=changes,
        unmanaged=tuple(unmanaged),
        warnings=tuple(warnings) + ((unsafe,) if unsafe else ()),
        notes=notes,
        live=live,
        active=tuple(active),
        unsafe=(unsafe,) if unsafe else (),
    )


def _additions(
    keyset: DesiredKeySet, live_keys: tuple[LiveKey, ...], now: int, warnings: list[Diagnostic]
) -> tuple[list[Change], list[LiveKey]]:
    """The key additions of one key set, in nbf order, and the live keys nothing claimed."""
    missing, leftover = match_keys(tuple(k for k in keyset.keys if k.rotate is None), live_keys)
    adds = []
    for key in missing:
        if key.exp is not None and key.exp <= now:
            warnings.append(_expired_warning(keyset, key))
        else:
            adds.append(Change(_ADD_ACTION[key.kind], keyset.id, key, location=key.location))
    for rotating in (k for k in keyset.keys if k.rotate is not None):
        chain, leftover = rotation.split_chain(rotating, leftover)
        due = rotation.successor(rotating, chain, now)
        if due is not None:
            adds.append(Change(Action.GENERATE_KEY, keyset.id, due[0], location=rotating.location,
                               reason=Reason.ROTATION, detail=due[1]))
    return sorted(adds, key=lambda c: _add_order(c.key)), leftover


def match_keys(
    desired: tuple[DesiredKey, ...], live: tuple[LiveKey, ...]
) -> tuple[list[DesiredKey], list[LiveKey]]:
    """Pairs desired keys with live keys of the same identity.

    Returns the desired keys left without a live key, in the order they must be
    added (ascending nbf, no nbf first), and the live keys no desired key claimed.
    """
    pool = list(live)
    missing: list[DesiredKey] = []
    for key in sorted(desired, key=_add_order):
        found = next((i for i, candidate in enumerate(pool) if key.matches(candidate)), None)
        if found is None:
            missing.append(key)
        else:
            del pool[found]
    return missing, pool


def _add_order(key: DesiredKey) -> tuple:
    return (key.nbf is not None, key.nbf or 0, key.exp is not None, key.exp or 0)


def _expired_warning(keyset: DesiredKeySet, key: DesiredKey) -> Diagnostic:
    fix = "renew the certificate" if key.kind.is_certificate else "give it a later exp"
    return Diagnostic(
        Severity.WARNING,
        f"a key of key set {keyset.id} expired already (exp {format_time(key.exp)}); "
        f"it will not be uploaded. Remove it from the manifest or {fix}",
        key.location,
    )


def unmatched_keys(desired: DesiredState, live: LiveState, now: int) -> list[tuple[LiveKeySet, LiveKey]]:
    """The live keys `disableUnmanagedKeys` may disable: in declared key sets that ask for
    it, those no desired key (fixed or rotating) claims."""
    found = []
    for keyset in desired.keysets:
        current = live.find(keyset.id)
        if keyset.disable_unmanaged and current is not None:
            found += [(current, key) for key in _additions(keyset, current.keys, now, [])[1]]
    return found
